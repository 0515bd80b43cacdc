//! The `berth.*` labels every created resource carries; listing and cleanup go by
//! these, never by name patterns.
//!
//! Labels are input from outside: an image's own `LABEL`s are copied onto every
//! container run from it, and anyone who can use the engine can create a container
//! with any labels. So berth writes every `berth.*` label it later reads on
//! everything it creates (overriding an image's), and [`Ownership::classify`] parses
//! them into typed values at the boundary: a resource whose run id is missing or
//! malformed is [`Ownership::Foreign`] and never acted on.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::owner::HostIdentity;
use crate::run_id::RunId;

/// Present on everything berth creates.
pub const MANAGED_BY: &str = "berth.managed-by";
/// Value of [`MANAGED_BY`].
pub const MANAGED_BY_VALUE: &str = "berth";
/// The run a resource belongs to.
pub const RUN_ID: &str = "berth.run-id";
/// `agent`, `sidecar`, `service` or `proxy`.
pub const ROLE: &str = "berth.role";
/// The berth runtime that created it (`docker`, `gvisor`, `apple`).
pub const RUNTIME: &str = "berth.runtime";
/// The OCI runtime the container runs under (`runc`, `runsc`, ...).
pub const OCI_RUNTIME: &str = "berth.oci-runtime";
/// The sandbox's base name.
pub const SANDBOX: &str = "berth.sandbox";
/// The docker mode (`none`, `host`, `dind`).
pub(crate) const DOCKER_MODE: &str = "berth.docker-mode";
/// The pid of the berth process that launched the run.
pub const OWNER_PID: &str = "berth.owner-pid";
/// `true` when the run was started with `-d` and outlives its berth process.
pub const DETACHED: &str = "berth.detached";
/// `true` when the run's main process has a terminal (`run -t`).
pub const TTY: &str = "berth.tty";
/// When a detached run's TTL expires, seconds since the Unix epoch, or [`NEVER`].
pub const EXPIRES: &str = "berth.expires";
/// Where the launching berth process ran: `<boot id>/<pid namespace inode>`
/// (see [`HostIdentity`]), or [`UNKNOWN`].
pub const OWNER_HOST: &str = "berth.owner-host";
/// The warm pool a run was created for (its key), on pool members only.
pub const POOL: &str = "berth.pool";
/// Value of [`EXPIRES`] for a run without a TTL.
pub const NEVER: &str = "never";
/// Value of [`OWNER_HOST`] when the launching host has no identity to give.
pub const UNKNOWN: &str = "unknown";
/// Value of [`ROLE`] on berth's shared network, which belongs to no run.
pub const ROLE_NETWORK: &str = "network";

/// When a run's TTL expires, as its label says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Expiry {
    /// No TTL.
    Never,
    /// Seconds since the Unix epoch.
    At(i64),
    /// The label is missing or not understood: the run is never judged expired.
    Unknown,
}

impl Expiry {
    /// Parses the [`EXPIRES`] label.
    pub(crate) fn parse(value: Option<&str>) -> Self {
        match value {
            Some(NEVER) => Self::Never,
            Some(at) if !at.is_empty() && at.bytes().all(|b| b.is_ascii_digit()) => {
                at.parse().map_or(Self::Unknown, Self::At)
            }
            _ => Self::Unknown,
        }
    }

    /// The label value for `expires_at`.
    pub(crate) fn label(expires_at: Option<i64>) -> String {
        expires_at.map_or_else(|| NEVER.to_owned(), |at| at.to_string())
    }
}

/// The labels of a resource that belongs to a run, parsed. A label that is missing
/// or not understood is `None` (or [`Expiry::Unknown`]): unknown, never a guess.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunLabels {
    /// The run.
    pub run_id: RunId,
    /// The launching berth process.
    pub owner_pid: Option<u32>,
    /// Where that process ran.
    pub owner_host: Option<HostIdentity>,
    /// Whether the run was started with `-d`.
    pub detached: Option<bool>,
    /// When its TTL expires.
    pub expires: Expiry,
}

/// Whether a run's main process has a terminal, as its [`TTY`] label says; `None`
/// when the label is missing (a run from before it was written) or not understood.
pub fn tty(labels: &BTreeMap<String, String>) -> Option<bool> {
    match labels.get(TTY).map(String::as_str) {
        Some("true") => Some(true),
        Some("false") => Some(false),
        _ => None,
    }
}

/// Whose a resource carrying `berth.managed-by=berth` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ownership {
    /// It belongs to a run.
    Run(RunLabels),
    /// berth's shared resource (such as the shared network, role [`ROLE_NETWORK`]):
    /// it belongs to no run and is never removed with one.
    Shared {
        /// Its role.
        role: String,
    },
    /// Its labels fail berth's checks: berth did not create it and never acts on it.
    Foreign {
        /// Which check failed.
        reason: String,
    },
}

impl Ownership {
    /// Classifies a resource by its labels. Pure; never fails.
    pub fn classify(labels: &BTreeMap<String, String>) -> Self {
        let get = |key: &str| labels.get(key).map(String::as_str);
        if get(MANAGED_BY) != Some(MANAGED_BY_VALUE) {
            return Self::Foreign {
                reason: format!("it has no {MANAGED_BY}={MANAGED_BY_VALUE} label"),
            };
        }
        let run_id = match get(RUN_ID) {
            None => {
                return match get(ROLE) {
                    Some(ROLE_NETWORK) => Self::Shared {
                        role: ROLE_NETWORK.to_owned(),
                    },
                    _ => Self::Foreign {
                        reason: format!("it has no {RUN_ID} label"),
                    },
                };
            }
            Some(value) => match RunId::parse(value) {
                Ok(id) => id,
                Err(_) => {
                    let shown: String = value.chars().take(40).collect();
                    return Self::Foreign {
                        reason: format!(
                            "its {RUN_ID} label \"{}\" is not a run id",
                            shown.escape_debug()
                        ),
                    };
                }
            },
        };
        Self::Run(RunLabels {
            run_id,
            owner_pid: get(OWNER_PID)
                .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|p| p.parse().ok()),
            owner_host: get(OWNER_HOST).and_then(HostIdentity::parse),
            detached: match get(DETACHED) {
                Some("true") => Some(true),
                Some("false") => Some(false),
                _ => None,
            },
            expires: Expiry::parse(get(EXPIRES)),
        })
    }

    /// Classifies a container: berth's shared resources are networks, so a
    /// container that claims a shared role without a run id is foreign.
    pub fn classify_container(labels: &BTreeMap<String, String>) -> Self {
        match Self::classify(labels) {
            Self::Shared { role } => Self::Foreign {
                reason: format!(
                    "it has no {RUN_ID} label (the role \"{}\" is a network's, not a container's)",
                    role.escape_debug()
                ),
            },
            other => other,
        }
    }

    /// The run it belongs to, if any.
    pub fn run_id(&self) -> Option<&RunId> {
        match self {
            Self::Run(labels) => Some(&labels.run_id),
            _ => None,
        }
    }

    /// Why it is foreign, if it is.
    pub fn foreign_reason(&self) -> Option<&str> {
        match self {
            Self::Foreign { reason } => Some(reason),
            _ => None,
        }
    }
}

/// Lowercases and keeps `[a-z0-9_.-]`, so a name is valid for every engine.
pub(crate) fn sanitize_name(raw: &str) -> String {
    let mut out: String = raw
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    while out.starts_with(['-', '.', '_']) {
        out.remove(0);
    }
    out.truncate(40);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_run_s_labels_are_parsed() {
        let labels = map(&[
            (MANAGED_BY, "berth"),
            (RUN_ID, "0123456789ab"),
            (OWNER_PID, "42"),
            (OWNER_HOST, "abcd-12/4026531836"),
            (DETACHED, "true"),
            (EXPIRES, "1700000000"),
        ]);
        let Ownership::Run(run) = Ownership::classify(&labels) else {
            panic!("not a run");
        };
        assert_eq!(run.run_id, "0123456789ab");
        assert_eq!(run.owner_pid, Some(42));
        assert_eq!(run.owner_host, HostIdentity::new("abcd-12", 4_026_531_836));
        assert_eq!(run.detached, Some(true));
        assert_eq!(run.expires, Expiry::At(1_700_000_000));
    }

    #[test]
    fn bad_values_are_unknown_never_a_guess() {
        let labels = map(&[
            (MANAGED_BY, "berth"),
            (RUN_ID, "0123456789ab"),
            (OWNER_PID, "-1"),
            (OWNER_HOST, UNKNOWN),
            (DETACHED, "yes"),
            (EXPIRES, "-5"),
        ]);
        let Ownership::Run(run) = Ownership::classify(&labels) else {
            panic!("not a run");
        };
        assert_eq!(
            (run.owner_pid, run.owner_host, run.detached, run.expires),
            (None, None, None, Expiry::Unknown)
        );
        assert_eq!(Expiry::parse(Some(NEVER)), Expiry::Never);
        assert_eq!(
            Expiry::parse(Some("99999999999999999999999")),
            Expiry::Unknown
        );
        assert_eq!(Expiry::label(None), NEVER);
        assert_eq!(Expiry::label(Some(5)), "5");
    }

    #[test]
    fn a_missing_or_malformed_run_id_is_foreign() {
        for labels in [
            map(&[(MANAGED_BY, "berth")]),
            map(&[(MANAGED_BY, "berth"), (RUN_ID, "")]),
            map(&[(MANAGED_BY, "berth"), (RUN_ID, "../../../canary")]),
            map(&[(MANAGED_BY, "berth"), (RUN_ID, "0123456789AB")]),
            map(&[(MANAGED_BY, "berth"), (ROLE, "agent")]),
            map(&[(MANAGED_BY, "other"), (RUN_ID, "0123456789ab")]),
        ] {
            let owner = Ownership::classify(&labels);
            assert!(owner.foreign_reason().is_some(), "{labels:?}: {owner:?}");
            assert_eq!(owner.run_id(), None);
        }
    }

    #[test]
    fn the_shared_network_is_berth_s_but_no_run_s() {
        let labels = map(&[(MANAGED_BY, "berth"), (ROLE, ROLE_NETWORK)]);
        assert_eq!(
            Ownership::classify(&labels),
            Ownership::Shared {
                role: ROLE_NETWORK.to_owned()
            }
        );
        // A container cannot pass as the shared network.
        assert!(
            Ownership::classify_container(&labels)
                .foreign_reason()
                .is_some()
        );
    }

    #[test]
    fn sanitizes() {
        assert_eq!(super::sanitize_name("My Project!"), "my-project-");
        assert_eq!(super::sanitize_name("..x"), "x");
    }
}
