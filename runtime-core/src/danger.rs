//! Dangers: what a plan asks for that weakens the sandbox's isolation from the host
//! (the engine socket, a private privileged engine, capabilities that break
//! isolation, sensitive host paths, host secrets), and how a person acknowledges
//! them.
//!
//! A `berth.toml` can come with a cloned repository, so nothing in it can
//! acknowledge its own dangers: the acknowledgement is a command-line flag
//! (`--allow KIND`) or a per-user [`Approval`] of the file's exact bytes, recorded
//! by `berth allow` under the state directory (the way direnv's `allow` works) and
//! void as soon as the file, or what its paths resolve to, changes.

use std::collections::BTreeSet;
use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::host::HostFacts;

/// The kinds of danger, each acknowledged by name (`--allow docker-host`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum DangerKind {
    /// docker mode `host`: the engine socket, root-equivalent on the host.
    DockerHost,
    /// docker mode `dind`: a privileged container.
    Dind,
    /// A capability that breaks isolation (SYS_ADMIN, SYS_PTRACE, ...).
    Capability,
    /// A host path that is a system directory, the home directory itself, a
    /// credentials directory, the engine socket's directory or berth's state,
    /// mounted or sent as a build context.
    SensitivePath,
    /// A variable of berth's environment passed into the sandbox.
    HostSecret,
}

impl DangerKind {
    /// Every kind, in the order they are listed.
    pub(crate) const ALL: [Self; 5] = [
        Self::DockerHost,
        Self::Dind,
        Self::Capability,
        Self::SensitivePath,
        Self::HostSecret,
    ];

    /// The name `--allow` takes.
    pub fn name(self) -> &'static str {
        match self {
            Self::DockerHost => "docker-host",
            Self::Dind => "dind",
            Self::Capability => "capability",
            Self::SensitivePath => "sensitive-path",
            Self::HostSecret => "host-secret",
        }
    }
}

impl fmt::Display for DangerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DangerKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|k| k.name()).collect();
                format!("unknown danger `{s}`: expected one of {}", names.join(", "))
            })
    }
}

/// One danger of a plan.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Danger {
    /// Its kind.
    pub kind: DangerKind,
    /// What exactly, for a person (paths resolved, names spelled out; never a
    /// secret's value).
    pub detail: String,
}

impl fmt::Display for Danger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.kind, self.detail)
    }
}

/// Capabilities that let a process reach past its container, with why.
const BREAKING_CAPABILITIES: &[(&str, &str)] = &[
    ("ALL", "every capability"),
    (
        "SYS_ADMIN",
        "mounts, namespaces and most of the kernel's administration",
    ),
    ("SYS_MODULE", "loading kernel modules into the host kernel"),
    ("SYS_RAWIO", "raw I/O to devices and ports"),
    ("SYS_PTRACE", "tracing and reading the memory of processes"),
    (
        "DAC_READ_SEARCH",
        "reading any file by handle, a known container escape",
    ),
    ("SYS_BOOT", "rebooting the host"),
    ("SYS_TIME", "setting the host's clock"),
    ("NET_ADMIN", "reconfiguring the network, firewall included"),
    ("MAC_ADMIN", "changing the host's mandatory access control"),
    ("MAC_OVERRIDE", "bypassing mandatory access control"),
    ("BPF", "loading BPF programs into the host kernel"),
    ("PERFMON", "observing the host's performance events"),
    ("SYSLOG", "reading the host kernel's log and addresses"),
    ("LINUX_IMMUTABLE", "changing immutable files"),
    ("AUDIT_CONTROL", "changing the host's audit rules"),
    ("SYS_RESOURCE", "overriding resource limits"),
    ("CHECKPOINT_RESTORE", "checkpointing other processes"),
];

/// Why capability `name` (upper case, without `CAP_`) breaks isolation, if it does.
pub(crate) fn breaking_capability(name: &str) -> Option<&'static str> {
    BREAKING_CAPABILITIES
        .iter()
        .find(|(cap, _)| *cap == name)
        .map(|(_, why)| *why)
}

/// Directories of the host system: refused as a mount or build context when the
/// path is one of them, inside one, or contains one.
const SYSTEM_DIRS: &[&str] = &[
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/proc",
    "/run",
    "/sbin",
    "/sys",
    "/usr",
    "/var/run",
    "/var/lib/docker",
    "/var/lib/containerd",
    "/System",
    "/Library",
    "/private/etc",
    "/private/var/run",
];

/// Directories shared by everything on the host: refused when the path is one
/// of them or contains one; a project inside them is fine.
const SHARED_DIRS: &[&str] = &[
    "/home",
    "/Users",
    "/root",
    "/var",
    "/var/lib",
    "/opt",
    "/srv",
    "/mnt",
    "/media",
    "/tmp",
    "/var/tmp",
    "/private",
    "/private/var",
    "/private/tmp",
    "/Volumes",
];

/// Directories under the home directory that hold credentials.
const CREDENTIAL_DIRS: &[&str] = &[
    ".ssh",
    ".gnupg",
    ".aws",
    ".azure",
    ".config/gcloud",
    ".kube",
    ".docker",
    ".password-store",
    ".netrc",
    ".git-credentials",
];

/// How a path relates to a directory.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Relation {
    Is,
    Inside,
    Contains,
}

fn relate(path: &Path, dir: &Path) -> Option<Relation> {
    if path == dir {
        Some(Relation::Is)
    } else if path.starts_with(dir) {
        Some(Relation::Inside)
    } else if dir.starts_with(path) {
        Some(Relation::Contains)
    } else {
        None
    }
}

/// Why host path `resolved` (a real path) must not be handed to a sandbox, if so.
pub(crate) fn sensitive_path(resolved: &Path, host: &HostFacts) -> Option<String> {
    if resolved == Path::new("/") {
        return Some("is the host's root directory".to_owned());
    }
    let says = |relation: Relation, what: &str, dir: &Path| {
        let how = match relation {
            Relation::Is => "is",
            Relation::Inside => "is inside",
            Relation::Contains => "contains",
        };
        format!("{how} {what} {}", dir.display())
    };
    let home = host.home.as_deref().filter(|h| *h != Path::new("/"));
    let mut owned: Vec<(PathBuf, String)> = Vec::new();
    if let Some(state) = &host.state_dir {
        owned.push((state.clone(), "berth's own state,".to_owned()));
    }
    if let Some(dir) = host
        .socket
        .as_ref()
        .and_then(crate::host::SocketFacts::path)
        .and_then(Path::parent)
    {
        let dir = host.resolved(dir).to_path_buf();
        owned.push((dir, "the engine socket's directory,".to_owned()));
    }
    if let Some(home) = home {
        for sub in CREDENTIAL_DIRS {
            owned.push((home.join(sub), format!("credentials (~/{sub}),")));
        }
    }
    let in_home = match home.map(|home| (home, relate(resolved, home))) {
        Some((_, Some(Relation::Inside))) => true,
        Some((home, Some(relation))) => {
            return Some(says(relation, "your home directory,", home));
        }
        _ => false,
    };
    for (dir, what) in &owned {
        if let Some(relation) = relate(resolved, dir) {
            return Some(says(relation, what, dir));
        }
    }
    if in_home {
        // A project inside the home directory is the usual case.
        return None;
    }
    for dir in SYSTEM_DIRS.iter().map(Path::new) {
        if let Some(relation) = relate(resolved, dir) {
            return Some(says(relation, "the system directory", dir));
        }
    }
    for dir in SHARED_DIRS.iter().map(Path::new) {
        match relate(resolved, dir) {
            Some(Relation::Inside) | None => {}
            Some(relation) => {
                return Some(says(
                    relation,
                    "the directory shared by the whole host,",
                    dir,
                ));
            }
        }
    }
    None
}

/// The dangers of `dangers` that neither `allowed` (from `--allow`) nor
/// `approval` (recorded by `berth allow` for this very file) acknowledges.
pub fn unacknowledged<'a>(
    dangers: &'a [Danger],
    allowed: &BTreeSet<DangerKind>,
    approval: Option<&Approval>,
) -> Vec<&'a Danger> {
    dangers
        .iter()
        .filter(|d| !allowed.contains(&d.kind))
        .filter(|d| approval.is_none_or(|a| !a.dangers.contains(d)))
        .collect()
}

/// What `berth allow` recorded for one config file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// The config file's real path.
    pub config: PathBuf,
    /// SHA-256 of the file's bytes when it was approved.
    pub digest: String,
    /// The dangers accepted, exactly as the plan stated them.
    pub dangers: Vec<Danger>,
    /// When, seconds since the Unix epoch.
    pub at: i64,
}

/// The approvals of this user: one 0600 JSON file per config file, named by the
/// digest of the config's real path, in a 0700 directory.
#[derive(Debug, Clone)]
pub struct ApprovalStore {
    root: PathBuf,
}

impl ApprovalStore {
    /// A store at `root`.
    pub(crate) fn at(root: PathBuf) -> Self {
        Self { root }
    }

    /// The store under berth's state directory (`$XDG_STATE_HOME/berth/approvals`).
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let runs = crate::state::RunStore::from_env(var)?;
        let base = runs.root().parent().unwrap_or(runs.root());
        Ok(Self::at(base.join("approvals")))
    }

    fn file(&self, config: &Path) -> PathBuf {
        let key = crate::config::sha256_hex(config.as_os_str().as_encoded_bytes());
        self.root.join(format!("{key}.json"))
    }

    /// The approval of `config` (a real path) whose digest is still `digest`;
    /// `None` when there is none, it is unreadable, or the file changed since.
    pub fn lookup(&self, config: &Path, digest: &str) -> Option<Approval> {
        let text = fs::read(self.file(config)).ok()?;
        let approval: Approval = serde_json::from_slice(&text).ok()?;
        (approval.config == config && approval.digest == digest).then_some(approval)
    }

    /// Records `approval`, replacing an earlier one of the same file.
    pub fn save(&self, approval: &Approval) -> Result<PathBuf, Error> {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
        let io = Error::io;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.root)
            .map_err(io("create", &self.root))?;
        fs::set_permissions(&self.root, fs::Permissions::from_mode(0o700))
            .map_err(io("restrict", &self.root))?;
        let path = self.file(&approval.config);
        let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
        let text = serde_json::to_vec_pretty(approval)
            .map_err(|e| io("encode", &path)(std::io::Error::other(e)))?;
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io("write", &tmp))?;
        file.write_all(&text).map_err(io("write", &tmp))?;
        file.sync_all().map_err(io("sync", &tmp))?;
        fs::rename(&tmp, &path).map_err(io("replace", &path))?;
        fs::File::open(&self.root)
            .and_then(|dir| dir.sync_all())
            .map_err(io("sync", &self.root))?;
        Ok(path)
    }

    /// Forgets the approval of `config`; `true` when there was one.
    pub fn revoke(&self, config: &Path) -> Result<bool, Error> {
        let path = self.file(config);
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(Error::Io {
                operation: "remove",
                path,
                source,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::SocketFacts;

    fn host() -> HostFacts {
        HostFacts {
            os: crate::host::Os::Linux,
            socket: Some(SocketFacts::Usable {
                path: "/var/run/docker.sock".into(),
                source: "default path".to_owned(),
                gid: 999,
                mode: 0o660,
            }),
            engine: None,
            cap_bounding_set: None,
            env_names: BTreeSet::new(),
            paths: [(
                PathBuf::from("/var/run"),
                crate::host::HostPath::Found {
                    resolved: "/run".into(),
                    is_dir: true,
                },
            )]
            .into(),
            home: Some("/home/dev".into()),
            state_dir: Some("/home/dev/.local/state/berth".into()),
            helper: None,
        }
    }

    #[test]
    fn sensitive_paths_are_named_with_why() {
        let host = host();
        let cases: Vec<(&str, Option<&str>)> = vec![
            ("/", Some("is the host's root directory")),
            ("/etc", Some("is the system directory /etc")),
            ("/etc/ssl", Some("is inside the system directory /etc")),
            (
                "/run/user/1000",
                Some("is inside the engine socket's directory, /run"),
            ),
            ("/var", Some("contains the system directory /var/run")),
            (
                "/var/lib",
                Some("contains the system directory /var/lib/docker"),
            ),
            ("/home/dev", Some("is your home directory, /home/dev")),
            ("/home", Some("contains your home directory, /home/dev")),
            (
                "/home/dev/.ssh/keys",
                Some("is inside credentials (~/.ssh), /home/dev/.ssh"),
            ),
            (
                "/home/dev/.local",
                Some("contains berth's own state, /home/dev/.local/state/berth"),
            ),
            (
                "/tmp",
                Some("is the directory shared by the whole host, /tmp"),
            ),
            ("/home/dev/src/project", None),
            ("/tmp/project", None),
            ("/srv/www/project", None),
            ("/home/other", None),
        ];
        for (path, want) in cases {
            assert_eq!(
                sensitive_path(Path::new(path), &host).as_deref(),
                want,
                "{path}"
            );
        }
    }

    #[test]
    fn acknowledgement_by_flag_or_by_exact_approval() {
        let dangers = vec![
            Danger {
                kind: DangerKind::DockerHost,
                detail: "socket".to_owned(),
            },
            Danger {
                kind: DangerKind::HostSecret,
                detail: "TOKEN".to_owned(),
            },
        ];
        let none = BTreeSet::new();
        assert_eq!(unacknowledged(&dangers, &none, None).len(), 2);
        let flags = BTreeSet::from([DangerKind::HostSecret]);
        assert_eq!(unacknowledged(&dangers, &flags, None), vec![&dangers[0]]);
        let approval = Approval {
            config: "/p/berth.toml".into(),
            digest: "d".to_owned(),
            dangers: vec![dangers[0].clone()],
            at: 0,
        };
        assert_eq!(
            unacknowledged(&dangers, &none, Some(&approval)),
            vec![&dangers[1]]
        );
        assert!(unacknowledged(&dangers, &flags, Some(&approval)).is_empty());
    }

    #[test]
    fn approvals_end_when_the_file_changes_and_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = ApprovalStore::at(dir.path().join("approvals"));
        let config = PathBuf::from("/p/berth.toml");
        let approval = Approval {
            config: config.clone(),
            digest: "abc".to_owned(),
            dangers: Vec::new(),
            at: 1,
        };
        let file = store.save(&approval).unwrap();
        assert_eq!(store.lookup(&config, "abc"), Some(approval));
        assert_eq!(store.lookup(&config, "abd"), None);
        assert_eq!(store.lookup(Path::new("/q/berth.toml"), "abc"), None);
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(&dir.path().join("approvals")), 0o700);
        assert!(store.revoke(&config).unwrap());
        assert!(!store.revoke(&config).unwrap());
        assert_eq!(store.lookup(&config, "abc"), None);
    }

    #[test]
    fn kinds_parse_by_name() {
        for kind in DangerKind::ALL {
            assert_eq!(kind.name().parse::<DangerKind>(), Ok(kind));
        }
        assert!("everything".parse::<DangerKind>().is_err());
    }
}
