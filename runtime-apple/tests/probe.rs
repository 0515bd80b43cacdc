//! Whether Apple `container` is usable, as the probe reports it: off macOS without
//! an explicit CLI, with the services running or not, with a CLI too old for
//! `--format`, with no CLI at all; and a missing kernel, which shows at create.

mod support;

use runtime_apple::{AppleRuntime, Runner};
use runtime_core::{Availability, Error, Os, Runtime};
use support::{Fixture, busybox, within};

fn unavailable(availability: &Availability) -> (&str, &str) {
    match availability {
        Availability::Unavailable { reason, fix } => (reason, fix),
        other => panic!("expected unavailable, got {other:?}"),
    }
}

/// Off macOS, a `container` found on PATH is something else: no operation runs it.
#[tokio::test]
async fn off_macos_nothing_runs_without_an_explicit_cli() {
    if Os::current() == Os::Macos {
        return;
    }
    let rt = AppleRuntime::with_runner(Runner::new(support::double(), false));
    let report = rt.probe().await;
    let (reason, fix) = unavailable(&report.availability);
    assert!(reason.contains("runs only on macOS"), "{reason}");
    assert!(fix.contains("--runtime docker"), "{fix}");
    let listed = rt.list(true).await;
    assert!(
        matches!(listed, Err(Error::Unavailable { .. })),
        "{listed:?}"
    );
    assert!(rt.runner().history().is_empty(), "nothing was run");
}

#[tokio::test]
async fn the_double_is_available() {
    let fx = Fixture::new("1", &[]);
    let report = fx.runtime.probe().await;
    assert_eq!(report.availability, Availability::Available);
    let argv = fx.runtime.runner().history();
    assert_eq!(argv.len(), 1, "{argv:?}");
    assert_eq!(argv[0][1..], ["system", "status", "--format", "json"]);
}

#[tokio::test]
async fn stopped_services_say_system_start() {
    for mode in ["not-running", "unregistered"] {
        let fx = Fixture::new("1", &[("BERTH_APPLE_DOUBLE_SYSTEM", mode)]);
        let report = fx.runtime.probe().await;
        let (reason, fix) = unavailable(&report.availability);
        assert!(
            reason.contains("not running") || reason.contains("not registered"),
            "{reason}"
        );
        assert!(fix.contains("container system start"), "{fix}");
    }
}

#[tokio::test]
async fn a_cli_older_than_0_11_asks_for_an_upgrade() {
    let fx = Fixture::new("0", &[("BERTH_APPLE_DOUBLE_SYSTEM", "legacy")]);
    let report = fx.runtime.probe().await;
    let (reason, fix) = unavailable(&report.availability);
    assert!(reason.contains("older than 0.11"), "{reason}");
    assert!(fix.contains("0.12 or later"), "{fix}");
    let argv = fx.runtime.runner().history();
    assert_eq!(argv.len(), 2, "json first, then text: {argv:?}");
    assert_eq!(argv[1][1..], ["system", "status"]);
}

#[tokio::test]
async fn a_cli_older_than_0_12_is_refused_with_the_version_needed() {
    let fx = Fixture::new("0", &[("BERTH_APPLE_DOUBLE_VERSION", "0.11.0")]);
    let report = fx.runtime.probe().await;
    let (reason, fix) = unavailable(&report.availability);
    assert_eq!(
        reason,
        "this `container` is 0.11.0, and berth needs 0.12.0 or later (for --cap-drop)"
    );
    assert!(fix.contains("0.12 or later"), "{fix}");
    // 0.0.0: a build without a release version, not judged.
    for accepted in ["0.12.0", "1.2.2", "0.0.0"] {
        let fx = Fixture::new("0", &[("BERTH_APPLE_DOUBLE_VERSION", accepted)]);
        let report = fx.runtime.probe().await;
        assert_eq!(report.availability, Availability::Available, "{accepted}");
    }
}

#[tokio::test]
async fn a_missing_cli_says_install_it() {
    let rt = AppleRuntime::with_program("/nonexistent/bin/container");
    let report = rt.probe().await;
    let (reason, fix) = unavailable(&report.availability);
    assert!(reason.contains("/nonexistent/bin/container"), "{reason}");
    assert!(fix.contains("install"), "{fix}");
    let listed = rt.list(true).await;
    assert!(
        matches!(listed, Err(Error::Unavailable { .. })),
        "{listed:?}"
    );
}

#[tokio::test]
async fn a_missing_kernel_is_unavailable_with_the_kernel_fix() {
    let fx = Fixture::new("1", &[("BERTH_APPLE_DOUBLE_SYSTEM", "no-kernel")]);
    let plan = busybox(&["true"]);
    let spec = fx.spec(&plan, "kernel");
    match within("create", fx.runtime.create(&spec)).await {
        Err(Error::Unavailable { reason, fix, .. }) => {
            assert!(reason.contains("kernel"), "{reason}");
            assert_eq!(
                fix,
                "install the recommended kernel with `container system kernel set --recommended`"
            );
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
}
