//! Facts about the host that resolution depends on, gathered through an injected
//! [`HostEnv`] so that tests never touch the real environment or filesystem.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The operating system berth runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Os {
    /// Linux.
    Linux,
    /// macOS.
    Macos,
    /// Anything else.
    Other,
}

impl Os {
    /// The OS this binary was built for.
    pub fn current() -> Self {
        if cfg!(target_os = "linux") {
            Self::Linux
        } else if cfg!(target_os = "macos") {
            Self::Macos
        } else {
            Self::Other
        }
    }
}

impl fmt::Display for Os {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Linux => "linux",
            Self::Macos => "macos",
            Self::Other => "other",
        })
    }
}

/// What `stat` (following symlinks) says about a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStat {
    /// Owning user id.
    pub uid: u32,
    /// Owning group id.
    pub gid: u32,
    /// Permission bits and file type, as `st_mode`.
    pub mode: u32,
    /// Whether it is a unix socket.
    pub is_socket: bool,
}

/// The host as resolution sees it: environment variables and file metadata.
pub trait HostEnv {
    /// An environment variable, if set and valid UTF-8.
    fn var(&self, name: &str) -> Option<String>;
    /// `stat(2)` of `path`, following symlinks.
    fn stat(&self, path: &Path) -> std::io::Result<FileStat>;
    /// The capability bounding set of this process (`CapBnd` in /proc/self/status).
    fn cap_bounding_set(&self) -> Option<u64>;
    /// The operating system.
    fn os(&self) -> Os;
    /// `realpath(3)` of `path`: absolute, every symlink followed.
    fn canonicalize(&self, path: &Path) -> std::io::Result<PathBuf>;
    /// The static helper binary berth would mount into sandboxes as their init,
    /// or why there is none (see [`crate::helper::locate`]).
    fn helper(&self) -> Result<PathBuf, String>;
}

/// The real host.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealHost;

impl HostEnv for RealHost {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    fn stat(&self, path: &Path) -> std::io::Result<FileStat> {
        use nix::sys::stat::SFlag;
        let st = nix::sys::stat::stat(path).map_err(std::io::Error::from)?;
        let kind =
            SFlag::from_bits_truncate(st.st_mode as nix::libc::mode_t & SFlag::S_IFMT.bits());
        Ok(FileStat {
            uid: st.st_uid,
            gid: st.st_gid,
            mode: st.st_mode as u32,
            is_socket: kind == SFlag::S_IFSOCK,
        })
    }

    fn cap_bounding_set(&self) -> Option<u64> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("CapBnd:"))
            .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
    }

    fn os(&self) -> Os {
        Os::current()
    }

    fn canonicalize(&self, path: &Path) -> std::io::Result<PathBuf> {
        std::fs::canonicalize(path)
    }

    fn helper(&self) -> Result<PathBuf, String> {
        crate::helper::locate(|name| self.var(name))
    }
}

/// What a host path named by the config really is, found before resolution so that
/// resolution itself stays pure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum HostPath {
    /// It exists; `resolved` is its real path (symlinks followed).
    Found {
        /// The real path.
        resolved: PathBuf,
        /// Whether it is a directory.
        is_dir: bool,
    },
    /// It does not exist (or cannot be resolved).
    Missing {
        /// What the system said.
        reason: String,
    },
}

impl HostPath {
    /// Resolves `path` on `host`.
    pub fn probe(host: &dyn HostEnv, path: &Path) -> Self {
        match host.canonicalize(path) {
            Ok(resolved) => {
                let is_dir = host
                    .stat(&resolved)
                    .is_ok_and(|st| st.mode & 0o170_000 == 0o040_000);
                Self::Found { resolved, is_dir }
            }
            Err(err) => Self::Missing {
                reason: err.to_string(),
            },
        }
    }
}

/// The engine socket as a backend found it on the host (the Docker backend looks
/// at `DOCKER_HOST`, the rootless socket, then the default path): each outcome is
/// distinct because each has a different fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum SocketFacts {
    /// A socket whose group can read and write it: mountable with its gid.
    Usable {
        /// Socket path (as found; the engine follows symlinks when mounting).
        path: PathBuf,
        /// Where the path came from, in words (such as `DOCKER_HOST`).
        source: String,
        /// Owning group id.
        gid: u32,
        /// Permission bits, such as 0o660.
        mode: u32,
    },
    /// Owned by group 0: adding that group would hand the sandbox root's group.
    RootGroup {
        /// Socket path.
        path: PathBuf,
        /// Where the path came from, in words (such as `DOCKER_HOST`).
        source: String,
        /// Permission bits.
        mode: u32,
    },
    /// The group cannot read and write it (for example mode 0600).
    NoGroupAccess {
        /// Socket path.
        path: PathBuf,
        /// Where the path came from, in words (such as `DOCKER_HOST`).
        source: String,
        /// Owning group id.
        gid: u32,
        /// Permission bits.
        mode: u32,
    },
    /// Nothing at the path, or not a socket.
    Missing {
        /// The path looked at.
        path: PathBuf,
        /// Where the path came from, in words (such as `DOCKER_HOST`).
        source: String,
        /// What stat said.
        reason: String,
    },
    /// The engine is reached over TCP or SSH (from `DOCKER_HOST` or a docker
    /// context): it is not on this host, so no host path can be mounted into a
    /// sandbox; its own socket is on its host, where only the engine can look.
    Remote {
        /// The endpoint, as berth shows it (such as `tcp://box:2376 (TLS)`).
        docker_host: String,
        /// The engine's socket as the engine's host has it, when berth asked
        /// ([`crate::Runtime::remote_socket`]; only for docker `host` mode and
        /// `doctor`); `None` when nobody asked.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        on_host: Option<RemoteSocket>,
    },
}

/// A remote engine's socket, as a probe on the engine's own host found it (the
/// Docker backend runs a short-lived container there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum RemoteSocket {
    /// The socket on the engine's host that answers as this engine.
    Found {
        /// Its path on the engine's host (meaningful there only).
        path: PathBuf,
        /// Owning group id, on the engine's host.
        gid: u32,
        /// Permission bits, such as 0o660.
        mode: u32,
        /// Whether this came from berth's cache of an earlier probe of the same
        /// engine rather than a probe just now.
        #[serde(default)]
        cached: bool,
    },
    /// The probe ran and found no socket of this engine.
    Missing {
        /// What it found instead, in words.
        reason: String,
    },
    /// The probe could not run (the engine refused it, the helper is missing).
    Unknown {
        /// Why, in words.
        reason: String,
    },
}

impl RemoteSocket {
    /// One phrase for `doctor` and `plan`.
    pub fn describe(&self) -> String {
        match self {
            Self::Found {
                path,
                gid,
                mode,
                cached,
            } => format!(
                "its socket on that host is {}: group {gid}, mode {mode:04o} ({})",
                path.display(),
                if *cached {
                    "from berth's cache of an earlier probe"
                } else {
                    "probed just now"
                }
            ),
            Self::Missing { reason } => format!("no socket of it found on that host ({reason})"),
            Self::Unknown { reason } => {
                format!("where its socket is on that host is unknown ({reason})")
            }
        }
    }
}

impl SocketFacts {
    /// Whether the engine is not on this host.
    pub fn is_remote(&self) -> bool {
        matches!(self, Self::Remote { .. })
    }

    /// The socket's path, when it is a local one.
    pub(crate) fn path(&self) -> Option<&Path> {
        match self {
            Self::Usable { path, .. }
            | Self::RootGroup { path, .. }
            | Self::NoGroupAccess { path, .. }
            | Self::Missing { path, .. } => Some(path),
            Self::Remote { .. } => None,
        }
    }

    /// The facts about a socket at `path` (found through `source`), from what
    /// `stat` said about it.
    pub fn from_stat(path: PathBuf, source: String, stat: std::io::Result<FileStat>) -> Self {
        match stat {
            Err(err) => Self::Missing {
                path,
                source,
                reason: err.to_string(),
            },
            Ok(st) if !st.is_socket => Self::Missing {
                path,
                source,
                reason: "not a unix socket".to_owned(),
            },
            Ok(st) => {
                let mode = st.mode & 0o7777;
                if st.gid == 0 {
                    Self::RootGroup { path, source, mode }
                } else if mode & 0o060 != 0o060 {
                    Self::NoGroupAccess {
                        path,
                        source,
                        gid: st.gid,
                        mode,
                    }
                } else {
                    Self::Usable {
                        path,
                        source,
                        gid: st.gid,
                        mode,
                    }
                }
            }
        }
    }

    /// One line for `doctor` and `plan`.
    pub fn describe(&self) -> String {
        match self {
            Self::Usable {
                path,
                source,
                gid,
                mode,
            } => {
                format!(
                    "{} ({source}): group {gid}, mode {mode:04o}",
                    path.display()
                )
            }
            Self::RootGroup { path, source, mode } => format!(
                "{} ({source}): owned by group 0 (root), mode {mode:04o}",
                path.display()
            ),
            Self::NoGroupAccess {
                path,
                source,
                gid,
                mode,
            } => format!(
                "{} ({source}): group {gid} cannot read and write it (mode {mode:04o})",
                path.display()
            ),
            Self::Missing {
                path,
                source,
                reason,
            } => {
                format!("{} ({source}): missing ({reason})", path.display())
            }
            Self::Remote {
                docker_host,
                on_host: None,
            } => {
                format!("{docker_host}: a remote engine, no socket on this host")
            }
            Self::Remote {
                docker_host,
                on_host: Some(remote),
            } => format!(
                "{docker_host}: a remote engine, no socket on this host; {}",
                remote.describe()
            ),
        }
    }
}

/// An OCI runtime registered with the engine (`docker info` → `Runtimes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OciRuntime {
    /// The name containers ask for (`runc`, `runsc`, `runsc-kvm`, ...).
    pub name: String,
    /// The binary's path, when the engine reports one.
    pub path: Option<String>,
    /// Arguments the engine passes to it.
    #[serde(default)]
    pub args: Vec<String>,
}

/// What the container engine reported about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineFacts {
    /// Engine version, such as `20.10.24`.
    pub version: String,
    /// Negotiated API version, such as `1.41`.
    pub api_version: String,
    /// The runtime containers get when they name none.
    pub default_runtime: Option<String>,
    /// Registered OCI runtimes, sorted by name.
    pub runtimes: Vec<OciRuntime>,
    /// CPUs the engine's host has (`NCPU`), when reported; caps berth's default
    /// cpu limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ncpu: Option<u32>,
    /// Memory the engine's host has, in bytes (`MemTotal`), when reported; caps
    /// berth's default memory limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem_total: Option<u64>,
}

/// Everything resolution knows about the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostFacts {
    /// The operating system.
    pub os: Os,
    /// The engine socket a backend would hand a sandbox in docker `host` mode;
    /// `None` when no backend that has one was asked.
    #[serde(default)]
    pub socket: Option<SocketFacts>,
    /// The engine, when it answered.
    pub engine: Option<EngineFacts>,
    /// This process's capability bounding set; `None` when unknown.
    pub cap_bounding_set: Option<u64>,
    /// Names of the host environment variables that are set (never their values);
    /// used to check `[secrets]` before anything is created.
    #[serde(default)]
    pub env_names: BTreeSet<String>,
    /// The real paths of the host paths the config names (workspace, build context,
    /// Dockerfile) and of the engine socket's directory, keyed by the absolute path
    /// as written. A path absent here is taken as written.
    #[serde(default)]
    pub paths: BTreeMap<PathBuf, HostPath>,
    /// The user's home directory, resolved; `None` when unknown.
    #[serde(default)]
    pub home: Option<PathBuf>,
    /// berth's own state directory (`$XDG_STATE_HOME/berth`), resolved when it
    /// exists, else as named; `None` when unknown.
    #[serde(default)]
    pub state_dir: Option<PathBuf>,
    /// The static helper binary (berth-init), when installed and usable; `None`
    /// when not, and sandboxes get the engine's init and exec.
    #[serde(default)]
    pub helper: Option<PathBuf>,
}

impl HostFacts {
    /// Gathers the local facts; `engine` comes from a backend's probe and
    /// `socket` from [`crate::Runtime::engine_socket`]. `paths` are the host paths
    /// a config names ([`crate::Config::host_paths`]).
    pub fn gather(
        host: &dyn HostEnv,
        secret_names: &[String],
        paths: &[PathBuf],
        engine: Option<EngineFacts>,
        socket: Option<SocketFacts>,
    ) -> Self {
        let resolve = |p: &Path| host.canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        let mut path_facts: BTreeMap<PathBuf, HostPath> = paths
            .iter()
            .map(|p| (p.clone(), HostPath::probe(host, p)))
            .collect();
        if let Some(dir) = socket
            .as_ref()
            .and_then(SocketFacts::path)
            .and_then(Path::parent)
        {
            path_facts.insert(dir.to_path_buf(), HostPath::probe(host, dir));
        }
        let home = host
            .var("HOME")
            .filter(|h| h.starts_with('/'))
            .map(|h| resolve(Path::new(&h)));
        let state_dir = crate::state::RunStore::from_env(|name| host.var(name))
            .ok()
            .and_then(|store| store.root().parent().map(resolve));
        Self {
            os: host.os(),
            socket,
            engine,
            cap_bounding_set: host.cap_bounding_set(),
            env_names: secret_names
                .iter()
                .filter(|n| host.var(n).is_some())
                .cloned()
                .collect(),
            paths: path_facts,
            home,
            state_dir,
            helper: host.helper().ok(),
        }
    }

    /// The real path of `path` when it was resolved, else `path` itself.
    pub(crate) fn resolved<'a>(&'a self, path: &'a Path) -> &'a Path {
        match self.paths.get(path) {
            Some(HostPath::Found { resolved, .. }) => resolved,
            _ => path,
        }
    }
}

/// Linux capability names by number, for the privileged-equivalent of dind.
pub(crate) const CAPABILITY_NAMES: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// The capabilities named in [`CAPABILITY_NAMES`] that are missing from `set`.
pub(crate) fn missing_capabilities(set: u64) -> Vec<&'static str> {
    CAPABILITY_NAMES
        .iter()
        .enumerate()
        .filter(|(bit, _)| set & (1u64 << bit) == 0)
        .map(|(_, name)| *name)
        .collect()
}
