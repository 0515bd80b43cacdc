//! What each runtime can do on this host. Backends compute a [`Capabilities`] from
//! [`crate::HostFacts`] with a pure function; [`crate::prepare`] enforces it.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::host::OciRuntime;

/// A berth runtime backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeKind {
    /// Docker with runc.
    Docker,
    /// Docker with gVisor (runsc).
    Gvisor,
    /// Apple `container`.
    Apple,
}

impl RuntimeKind {
    /// Every backend, in `doctor` order.
    pub const ALL: [Self; 3] = [Self::Docker, Self::Gvisor, Self::Apple];

    /// The lowercase name used on the command line and in labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Docker => "docker",
            Self::Gvisor => "gvisor",
            Self::Apple => "apple",
        }
    }
}

impl fmt::Display for RuntimeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for RuntimeKind {
    type Err = String;

    /// Parses a name (any case); `auto` is not a kind: see [`RuntimeChoice`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == lower)
            .ok_or_else(|| format!("unknown runtime `{lower}`: expected docker, gvisor or apple"))
    }
}

/// A runtime as asked for (`--runtime`, the config's `runtime`, `BERTH_RUNTIME`):
/// one [`RuntimeKind`], or `auto` ([`RuntimeChoice::AUTO`]), which picks the most
/// isolated runtime available.
///
/// ```
/// use runtime_core::{RuntimeChoice, RuntimeKind};
/// let choice: RuntimeChoice = "gvisor".parse().unwrap();
/// assert_eq!(choice.kind(), Some(RuntimeKind::Gvisor));
/// assert_eq!("auto".parse::<RuntimeChoice>().unwrap(), RuntimeChoice::AUTO);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RuntimeChoice(Option<RuntimeKind>);

impl RuntimeChoice {
    /// `auto`.
    pub const AUTO: Self = Self(None);

    /// Every name a choice is written as, in `--help` order.
    pub const NAMES: [&'static str; 4] = ["docker", "gvisor", "apple", "auto"];

    /// The kind asked for; `None` for `auto`.
    pub fn kind(self) -> Option<RuntimeKind> {
        self.0
    }

    /// What the choice runs sandboxes on, in a few words (for `--help`).
    pub fn describe(self) -> &'static str {
        match self.0 {
            Some(RuntimeKind::Docker) => "Docker with runc",
            Some(RuntimeKind::Gvisor) => "Docker with gVisor (runsc)",
            Some(RuntimeKind::Apple) => "Apple `container` (macOS)",
            None => {
                "gVisor if registered and it passes berth's self-test, else Docker, else Apple on macOS"
            }
        }
    }
}

impl From<RuntimeKind> for RuntimeChoice {
    fn from(kind: RuntimeKind) -> Self {
        Self(Some(kind))
    }
}

impl fmt::Display for RuntimeChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.map_or("auto", RuntimeKind::as_str))
    }
}

impl std::str::FromStr for RuntimeChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("auto") {
            return Ok(Self::AUTO);
        }
        s.parse::<RuntimeKind>().map(Self::from).map_err(|_| {
            format!(
                "unknown runtime `{}`: expected docker, gvisor, apple or auto",
                s.to_ascii_lowercase()
            )
        })
    }
}

impl Serialize for RuntimeChoice {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RuntimeChoice {
    /// Exactly one of [`RuntimeChoice::NAMES`] (lowercase, as in a config file).
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        if Self::NAMES.contains(&name.as_str()) {
            name.parse().map_err(serde::de::Error::custom)
        } else {
            Err(serde::de::Error::unknown_variant(&name, &Self::NAMES))
        }
    }
}

/// Whether a runtime can be used at all on this host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Availability {
    /// Ready.
    Available,
    /// Not usable, with why and what to do.
    Unavailable {
        /// Why, lowercase.
        reason: String,
        /// What to do about it.
        fix: String,
    },
    /// Running, but berth may not talk to it: permission denied on its socket.
    Denied {
        /// The socket.
        path: std::path::PathBuf,
        /// What to do (names the group to join).
        fix: String,
    },
}

impl Availability {
    /// Whether the runtime can be used.
    pub fn is_available(&self) -> bool {
        matches!(self, Self::Available)
    }

    /// Why not and what to do, when the runtime cannot be used.
    pub fn problem(&self) -> Option<(String, String)> {
        match self {
            Self::Available => None,
            Self::Unavailable { reason, fix } => Some((reason.clone(), fix.clone())),
            Self::Denied { path, fix } => Some((
                format!("permission denied on the engine socket {}", path.display()),
                fix.clone(),
            )),
        }
    }

    /// The error a command that needs `runtime` fails with, when it cannot be used.
    pub fn to_error(&self, runtime: RuntimeKind) -> Option<crate::Error> {
        match self {
            Self::Available => None,
            Self::Unavailable { reason, fix } => Some(crate::Error::Unavailable {
                runtime,
                reason: reason.clone(),
                fix: fix.clone(),
            }),
            Self::Denied { path, fix } => Some(crate::Error::PermissionDenied {
                path: path.clone(),
                fix: fix.clone(),
            }),
        }
    }
}

/// Whether a runtime can do one thing a config may ask for; when it cannot, the
/// backend says why and what to do, and resolution refuses (or notes) with those
/// words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Support {
    /// Yes.
    Supported,
    /// Not on this runtime, or not as it is set up here.
    Unsupported {
        /// Why, lowercase.
        reason: String,
        /// What to do instead.
        fix: String,
    },
}

impl Support {
    /// Why not and what to do, when unsupported.
    pub fn problem(&self) -> Option<(&str, &str)> {
        match self {
            Self::Supported => None,
            Self::Unsupported { reason, fix } => Some((reason, fix)),
        }
    }
}

/// Which resource limits a runtime enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitSupport {
    /// CPU quota.
    pub cpus: bool,
    /// Memory limit.
    pub memory: bool,
    /// Process-count limit.
    pub pids: bool,
}

/// How a runtime applies the limits it enforces, where that differs from the
/// number asked for. The backend writes each text; resolution puts it among the
/// plan's warnings. The default says nothing: limits are applied as asked.
///
/// ```
/// use runtime_core::LimitNotes;
/// let notes = LimitNotes::new("Example VM").with_whole_cpus("it gives a virtual machine whole CPUs");
/// assert!(notes.whole_cpus.is_some() && notes.pids.is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LimitNotes {
    /// The runtime as the notes name it, such as "Apple `container`".
    pub runtime_name: String,
    /// Set when the runtime grants whole CPUs only: why. A fractional `cpus` is
    /// rounded up, and the plan warns "cpus 1.5 on {runtime_name} is 2: {why}".
    pub whole_cpus: Option<String>,
    /// Set when a limit left unlimited still gets one from the runtime: what it
    /// gets, warned as written when `cpus` or `memory` is unlimited.
    pub unlimited: Option<String>,
    /// Set when a pids limit is something else than a cap on the sandbox's
    /// process count: what it is. The plan warns "pids 64 on {runtime_name} is
    /// {what}".
    pub pids: Option<String>,
}

impl LimitNotes {
    /// No notes yet, for a runtime named `runtime_name` in them.
    pub fn new(runtime_name: impl Into<String>) -> Self {
        Self {
            runtime_name: runtime_name.into(),
            ..Self::default()
        }
    }

    /// CPUs are granted whole, because `why`.
    pub fn with_whole_cpus(mut self, why: impl Into<String>) -> Self {
        self.whole_cpus = Some(why.into());
        self
    }

    /// A limit left unlimited gets what `what` says.
    pub fn with_unlimited(mut self, what: impl Into<String>) -> Self {
        self.unlimited = Some(what.into());
        self
    }

    /// A pids limit is `what`.
    pub fn with_pids(mut self, what: impl Into<String>) -> Self {
        self.pids = Some(what.into());
        self
    }
}

/// What one runtime can do on this host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    /// The runtime described.
    pub runtime: RuntimeKind,
    /// Whether it can be used at all.
    pub availability: Availability,
    /// The engine OCI runtime containers are created with (`runsc` for gVisor).
    pub oci_runtime: Option<OciRuntime>,
    /// Mounting the host engine socket (docker `host` mode).
    pub socket_mount: Support,
    /// Running privileged (docker `dind` mode).
    pub privileged: Support,
    /// Resolving container names on user-defined networks.
    pub user_network_dns: Support,
    /// An egress allowlist (`[network] policy = "allowlist"`): the sandbox on a
    /// network whose only way out is berth's proxy.
    pub egress_proxy: Support,
    /// Running berth-init (the static helper binary, bind-mounted read-only from
    /// this host) as the sandbox's PID 1, in place of the engine's init.
    pub init: Support,
    /// berth-init serving exec over a Unix socket it makes in a host directory
    /// mounted into the sandbox (see [`crate::init`]).
    pub init_exec: Support,
    /// Whether the runtime really runs ordinary tools: what its self-test found
    /// (a runtime whose kernel interface misses calls that `ls` and `stat` make
    /// fails it). Auto selection skips a runtime that failed.
    pub functional: Support,
    /// Whether `network = "none"` is possible.
    pub network_none: bool,
    /// Enforced limits.
    pub limits: LimitSupport,
    /// How the enforced limits differ from the numbers asked for.
    pub limit_notes: LimitNotes,
    /// Whether the backend switches a sandbox whose image runs as root (or names no
    /// user) to a non-root user at launch, once it has inspected the image.
    pub non_root_fallback: bool,
    /// Joining a berth-owned network, shared by every run, rather than the
    /// engine's default one.
    pub shared_network: Support,
    /// The engine's own network a sandbox joins when it has no berth-owned one
    /// (`bridge` for Docker).
    pub default_network: String,
    /// What to do when the engine socket the backend reported (for docker `host`
    /// mode) is missing: how to start that engine or point berth at its socket.
    pub engine_socket_fix: String,
    /// Setting `no-new-privileges` on the sandbox's processes.
    pub no_new_privileges: Support,
    /// Whether a tmpfs mount can carry a mode and an owner (Apple's `--tmpfs` takes
    /// only a path).
    pub tmpfs_options: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_choice_name_parses_displays_and_deserializes_to_itself() {
        for name in RuntimeChoice::NAMES {
            let choice: RuntimeChoice = name.parse().expect(name);
            assert_eq!(choice.to_string(), name);
            let from_toml: RuntimeChoice =
                toml::Value::String(name.to_owned()).try_into().expect(name);
            assert_eq!(from_toml, choice);
        }
        assert_eq!(
            "GVisor".parse::<RuntimeChoice>(),
            Ok(RuntimeKind::Gvisor.into())
        );
        assert_eq!("auto".parse::<RuntimeKind>().ok(), None);
        let err = toml::Value::String("Docker".to_owned())
            .try_into::<RuntimeChoice>()
            .expect_err("a config value is exact");
        assert!(
            err.to_string().contains("unknown variant `Docker`"),
            "{err}"
        );
    }
}
