//! Whether Apple `container` can be used here: off macOS it cannot (unless an
//! explicit container-compatible CLI is named, as the tests' double is); on macOS,
//! `container system status --format json` says whether the services run, and a
//! CLI too old for `--format` is recognised by its text and asked to upgrade.
//!
//! A missing kernel does not show in `system status`; it shows when a container is
//! created, as `Unavailable` with `container system kernel set --recommended` (see
//! [`crate::error::AppleError::into_core`]). The probe still recognises it when a
//! CLI reports it here.

use std::time::Duration;

use runtime_core::{Availability, Os, ProbeReport};

use crate::argv;
use crate::error::{AppleError, FIX_INSTALL, FIX_KERNEL, FIX_SYSTEM_START, message_of};
use crate::model::{self, ServiceState, SystemStatus};
use crate::runner::{Captured, Runner};

/// How long the probe waits for the CLI.
pub(crate) const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// The exit code of Apple's argument parser for a usage error (`EX_USAGE`).
pub(crate) const EXIT_USAGE: i32 = 64;

/// What to do when the CLI is too old for berth.
const FIX_UPGRADE: &str =
    "upgrade Apple's `container` to 0.12 or later (berth needs --format json and --cap-drop)";

fn unavailable(reason: impl Into<String>, fix: impl Into<String>) -> ProbeReport {
    ProbeReport {
        availability: Availability::Unavailable {
            reason: reason.into(),
            fix: fix.into(),
        },
        engine: None,
    }
}

/// Probes the CLI that `runner` runs, on a host running `os`.
pub(crate) async fn probe(runner: &Runner, os: Os) -> ProbeReport {
    if os != Os::Macos && !runner.is_explicit() {
        return unavailable(
            format!("Apple `container` runs only on macOS, and this host is {os}"),
            "use --runtime docker or --runtime gvisor",
        );
    }
    match tokio::time::timeout(PROBE_TIMEOUT, probe_status(runner)).await {
        Ok(report) => report,
        Err(_) => unavailable(
            format!(
                "`container system status` did not answer within {}s",
                PROBE_TIMEOUT.as_secs()
            ),
            "restart Apple's container services (`container system stop`, then `container system start`)",
        ),
    }
}

async fn probe_status(runner: &Runner) -> ProbeReport {
    let captured = match runner.capture(&argv::system_status()).await {
        Ok(captured) => captured,
        Err(err) => return spawn_failed(runner, err),
    };
    if is_usage_error(&captured, "--format") {
        return probe_text(runner).await;
    }
    let text = format!("{}\n{}", captured.stdout, captured.stderr).to_ascii_lowercase();
    if text.contains("kernel not configured") || text.contains("default kernel not found") {
        return unavailable(
            format!(
                "no default kernel is configured ({})",
                message_of(&captured.stderr)
            ),
            FIX_KERNEL,
        );
    }
    match model::parse_system_status(&captured.stdout) {
        Ok(status) => judge(&status),
        Err(parse) if captured.status.success() => unavailable(
            AppleError::Parse {
                argv: captured.argv,
                source: parse,
                output: crate::error::prefix(&captured.stdout),
            }
            .to_string(),
            "check that BERTH_APPLE_CONTAINER (or `container` on PATH) is Apple's container CLI",
        ),
        Err(_) => unavailable(
            format!(
                "`container system status` failed: {}",
                message_of(&captured.stderr)
            ),
            FIX_SYSTEM_START,
        ),
    }
}

/// CLIs before 0.11 print `system status` as text.
async fn probe_text(runner: &Runner) -> ProbeReport {
    let captured = match runner.capture(&argv::system_status_text()).await {
        Ok(captured) => captured,
        Err(err) => return spawn_failed(runner, err),
    };
    match model::parse_system_status_text(&captured.stdout) {
        Some(status) => judge(&status),
        None => unavailable(
            AppleError::Unrecognized {
                argv: captured.argv,
                output: crate::error::prefix(&captured.stdout),
            }
            .to_string(),
            FIX_UPGRADE,
        ),
    }
}

fn judge(status: &SystemStatus) -> ProbeReport {
    match &status.state {
        ServiceState::Running if status.from_text => unavailable(
            "this `container` CLI is older than 0.11 (its `system status` has no --format)",
            FIX_UPGRADE,
        ),
        ServiceState::Running => {
            let version = status
                .api_server_version
                .as_deref()
                .and_then(model::ApiVersion::parse)
                // ReleaseVersion.swift: 0.0.0 is a build without a release version.
                .filter(|v| *v != model::ApiVersion::UNRELEASED);
            match version {
                Some(version) if version < model::MINIMUM_VERSION => unavailable(
                    format!(
                        "this `container` is {version}, and berth needs {} or later (for --cap-drop)",
                        model::MINIMUM_VERSION
                    ),
                    FIX_UPGRADE,
                ),
                _ => ProbeReport {
                    availability: Availability::Available,
                    engine: None,
                },
            }
        }
        ServiceState::NotRunning => unavailable(
            "Apple's container services are not running (`container system status`: not running)",
            FIX_SYSTEM_START,
        ),
        ServiceState::Unregistered => unavailable(
            "Apple's container services are not registered with launchd (`container system status`: unregistered)",
            FIX_SYSTEM_START,
        ),
        ServiceState::Other(other) => unavailable(
            format!("`container system status` reports {other:?}"),
            FIX_SYSTEM_START,
        ),
    }
}

fn spawn_failed(runner: &Runner, err: AppleError) -> ProbeReport {
    match &err {
        AppleError::Spawn { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            let reason = if runner.is_explicit() {
                format!(
                    "the container CLI named by BERTH_APPLE_CONTAINER ({}) does not exist",
                    runner.program().display()
                )
            } else {
                "Apple's `container` CLI is not installed (no `container` on PATH)".to_owned()
            };
            unavailable(reason, FIX_INSTALL)
        }
        _ => unavailable(
            runtime_core::Error::engine(runtime_core::RuntimeKind::Apple, "probe", err).report(),
            FIX_INSTALL,
        ),
    }
}

/// Whether a command failed as Apple's argument parser fails on an unknown option.
pub(crate) fn is_usage_error(captured: &Captured, option: &str) -> bool {
    captured.status.code() == Some(EXIT_USAGE)
        && captured
            .stderr
            .contains(&format!("Unknown option '{option}'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Off macOS, an implicit `container` (found on PATH) is something else: the
    /// probe says so without running it.
    #[tokio::test]
    async fn off_macos_only_an_explicit_cli_is_probed() {
        let implicit = Runner::new("/nonexistent/container", false);
        let report = probe(&implicit, Os::Linux).await;
        match report.availability {
            Availability::Unavailable { reason, fix } => {
                assert_eq!(
                    reason,
                    "Apple `container` runs only on macOS, and this host is linux"
                );
                assert!(fix.contains("--runtime docker"), "{fix}");
            }
            other => panic!("expected unavailable, got {other:?}"),
        }
        assert!(implicit.history().is_empty(), "nothing was run");
        let explicit = Runner::new("/nonexistent/container", true);
        let report = probe(&explicit, Os::Linux).await;
        assert_eq!(explicit.history().len(), 1, "an explicit CLI is probed");
        assert!(
            matches!(&report.availability, Availability::Unavailable { reason, .. } if reason.contains("/nonexistent/container")),
            "{report:?}"
        );
    }
}
