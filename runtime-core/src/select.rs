//! Which runtime a command uses: `--runtime`, then the config's `runtime`, then
//! `BERTH_RUNTIME`, then auto. The source is kept so `plan` and `doctor` can say it.

use std::fmt;

use serde::Serialize;

use crate::capabilities::{Capabilities, RuntimeChoice, RuntimeKind};
use crate::error::Error;
use crate::host::Os;

/// The environment variable that picks a runtime.
pub const ENV_VAR: &str = "BERTH_RUNTIME";

/// What chose the runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SelectionSource {
    /// `--runtime`.
    Flag,
    /// `[sandbox] runtime` in the config.
    Config,
    /// The `BERTH_RUNTIME` variable.
    Env,
    /// Nothing asked: the default.
    Default,
}

impl fmt::Display for SelectionSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Flag => "--runtime",
            Self::Config => "runtime in the config",
            Self::Env => "BERTH_RUNTIME",
            Self::Default => "default",
        })
    }
}

/// The requested runtime and what requested it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Selection {
    /// What was asked for (possibly `auto`).
    pub requested: RuntimeChoice,
    /// Who asked.
    pub source: SelectionSource,
}

/// Applies the selection order.
pub fn select(
    flag: Option<RuntimeChoice>,
    config: Option<RuntimeChoice>,
    env: Option<&str>,
) -> Result<Selection, Error> {
    if let Some(requested) = flag {
        return Ok(Selection {
            requested,
            source: SelectionSource::Flag,
        });
    }
    if let Some(requested) = config {
        return Ok(Selection {
            requested,
            source: SelectionSource::Config,
        });
    }
    if let Some(value) = env.map(str::trim).filter(|v| !v.is_empty()) {
        let requested = value.parse().map_err(|message: String| Error::Usage {
            message: format!("{ENV_VAR}: {message}"),
        })?;
        return Ok(Selection {
            requested,
            source: SelectionSource::Env,
        });
    }
    Ok(Selection {
        requested: RuntimeChoice::AUTO,
        source: SelectionSource::Default,
    })
}

/// The runtime a choice means, given each runtime's capabilities on this host:
/// auto picks gVisor when available, else Docker, else Apple on macOS.
pub fn resolve_choice(
    choice: RuntimeChoice,
    os: Os,
    capabilities: &[Capabilities],
) -> Result<RuntimeKind, Error> {
    let available = |kind: RuntimeKind| {
        capabilities
            .iter()
            .any(|c| c.runtime == kind && c.availability.is_available())
    };
    match choice.kind() {
        Some(kind) => Ok(kind),
        None => {
            if available(RuntimeKind::Gvisor) {
                Ok(RuntimeKind::Gvisor)
            } else if available(RuntimeKind::Docker) {
                Ok(RuntimeKind::Docker)
            } else if os == Os::Macos && available(RuntimeKind::Apple) {
                Ok(RuntimeKind::Apple)
            } else if let Some(denied) = capabilities
                .iter()
                .find(|c| matches!(c.availability, crate::Availability::Denied { .. }))
            {
                // The engine runs but refuses berth: that is the fix the user needs.
                Err(denied
                    .availability
                    .to_error(denied.runtime)
                    .unwrap_or_else(|| Error::Usage {
                        message: "no runtime is available".to_owned(),
                    }))
            } else {
                let reasons: Vec<String> = capabilities
                    .iter()
                    .filter_map(|c| {
                        c.availability
                            .problem()
                            .map(|(reason, _)| format!("{}: {reason}", c.runtime))
                    })
                    .collect();
                Err(Error::Unavailable {
                    runtime: RuntimeKind::Docker,
                    reason: format!("no runtime is available ({})", reasons.join("; ")),
                    fix: "run `berth doctor` to see what each runtime needs".to_owned(),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capabilities::{Availability, LimitSupport, Support};

    fn caps(runtime: RuntimeKind, available: bool) -> Capabilities {
        Capabilities {
            runtime,
            availability: if available {
                Availability::Available
            } else {
                Availability::Unavailable {
                    reason: "not here".to_owned(),
                    fix: "install it".to_owned(),
                }
            },
            oci_runtime: None,
            socket_mount: Support::Supported,
            privileged: Support::Supported,
            user_network_dns: Support::Supported,
            network_none: true,
            limits: LimitSupport {
                cpus: true,
                memory: true,
                pids: true,
            },
            non_root_fallback: true,
            shared_network: Support::Supported,
            default_network: "bridge".to_owned(),
            tmpfs_options: true,
        }
    }

    #[test]
    fn flag_beats_config_beats_env_beats_default() {
        let s = select(
            Some(RuntimeKind::Docker.into()),
            Some(RuntimeKind::Apple.into()),
            Some("gvisor"),
        )
        .unwrap();
        assert_eq!(
            (s.requested, s.source),
            (RuntimeKind::Docker.into(), SelectionSource::Flag)
        );
        let s = select(None, Some(RuntimeKind::Apple.into()), Some("gvisor")).unwrap();
        assert_eq!(
            (s.requested, s.source),
            (RuntimeKind::Apple.into(), SelectionSource::Config)
        );
        let s = select(None, None, Some("gvisor")).unwrap();
        assert_eq!(
            (s.requested, s.source),
            (RuntimeKind::Gvisor.into(), SelectionSource::Env)
        );
        let s = select(None, None, Some("")).unwrap();
        assert_eq!(
            (s.requested, s.source),
            (RuntimeChoice::AUTO, SelectionSource::Default)
        );
        let err = select(None, None, Some("podman")).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("BERTH_RUNTIME"), "{err}");
    }

    #[test]
    fn auto_prefers_gvisor_then_docker_then_apple_on_macos() {
        let all = |g, d, a| {
            vec![
                caps(RuntimeKind::Docker, d),
                caps(RuntimeKind::Gvisor, g),
                caps(RuntimeKind::Apple, a),
            ]
        };
        let auto = |os, c: &[Capabilities]| resolve_choice(RuntimeChoice::AUTO, os, c);
        assert_eq!(
            auto(Os::Linux, &all(true, true, false)).unwrap(),
            RuntimeKind::Gvisor
        );
        assert_eq!(
            auto(Os::Linux, &all(false, true, false)).unwrap(),
            RuntimeKind::Docker
        );
        assert_eq!(
            auto(Os::Macos, &all(false, false, true)).unwrap(),
            RuntimeKind::Apple
        );
        assert_eq!(
            auto(Os::Linux, &all(false, false, true))
                .unwrap_err()
                .exit_code(),
            4
        );
        // An explicit choice is honoured even when unavailable (launch says why).
        assert_eq!(
            resolve_choice(
                RuntimeKind::Docker.into(),
                Os::Linux,
                &all(true, false, false)
            )
            .unwrap(),
            RuntimeKind::Docker
        );
    }
}
