//! The fully resolved [`Plan`]: what a backend creates, and what `berth plan` shows a
//! person before anything exists. It holds env *names* for secrets, never values.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::capabilities::RuntimeKind;
use crate::config::{DockerMode, NetworkPolicy};
use crate::danger::Danger;
use crate::egress::Policy;
use crate::error::Error;
use crate::host::{HostEnv, HostPath};
use crate::size::ByteSize;

/// Where the image comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ImageSource {
    /// An image reference that must be present locally (or pullable).
    Reference {
        /// The reference, such as `debian:bookworm-slim`.
        reference: String,
    },
    /// Built from a Dockerfile before the run.
    Build {
        /// The Dockerfile: its real path, inside the context.
        dockerfile: PathBuf,
        /// The build context: its real path.
        context: PathBuf,
        /// The Dockerfile as the config wrote it, when that differs.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        declared_dockerfile: Option<PathBuf>,
        /// The context as the config wrote it, when that differs.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        declared_context: Option<PathBuf>,
        /// The tag given to the result.
        tag: String,
        /// Build arguments.
        args: BTreeMap<String, String>,
    },
}

impl ImageSource {
    /// The reference the container is created from.
    pub fn reference(&self) -> &str {
        match self {
            Self::Reference { reference } => reference,
            Self::Build { tag, .. } => tag,
        }
    }
}

/// What a mount is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MountPurpose {
    /// The agent's workspace.
    Workspace,
    /// The host engine socket (docker `host`).
    DockerSocket,
    /// A remote engine's socket (docker `host`): a path on that engine's host.
    RemoteDockerSocket,
    /// The private engine's storage (docker `dind`).
    DindStorage,
    /// The host cgroup tree, writable, for a private engine without `--privileged`.
    Cgroup,
    /// Scratch space (`/tmp`) on a read-only root filesystem.
    Scratch,
    /// Runtime state (`/run`) on a read-only root filesystem.
    Run,
    /// The sandbox user's home directory.
    Home,
}

/// Who owns a tmpfs mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TmpfsOwner {
    /// Root, with the mount's mode deciding who may write.
    Root,
    /// The user the sandbox runs as, once the backend knows it; when that user is a
    /// name rather than a uid, the mount is world-writable with the sticky bit.
    SandboxUser,
}

/// One mount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Mount {
    /// A host path.
    Bind {
        /// Host path: the real path, every symlink resolved.
        source: PathBuf,
        /// The path as the config wrote it, made absolute, when it differs from
        /// `source` (a symlink on the way); checked again at create time.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        declared: Option<PathBuf>,
        /// Path inside.
        target: String,
        /// Read-only.
        read_only: bool,
        /// Why it is there.
        purpose: MountPurpose,
    },
    /// An anonymous volume owned by the run and removed with it.
    Volume {
        /// Path inside.
        target: String,
        /// Why it is there.
        purpose: MountPurpose,
    },
    /// A writable tmpfs (exec allowed, no setuid, no devices), gone with the sandbox;
    /// it counts against the memory limit.
    Tmpfs {
        /// Path inside.
        target: String,
        /// Permission bits of its root, such as `0o1777`.
        mode: u32,
        /// Who owns it.
        owner: TmpfsOwner,
        /// Why it is there.
        purpose: MountPurpose,
    },
}

/// Where an environment value comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "from", rename_all = "kebab-case")]
pub enum EnvValue {
    /// A literal from `[env]`.
    Literal {
        /// The value.
        value: String,
    },
    /// A host variable of the same name, read at launch; never stored.
    HostSecret,
    /// A host variable bound to hosts: the sandbox gets a placeholder, and the
    /// egress proxy adds the value (read at launch, kept in its memory only) to
    /// requests for these hosts.
    BoundSecret {
        /// The hosts, as rules (`host:port`).
        hosts: Vec<String>,
        /// The file the value is read from at launch, instead of the environment.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file: Option<PathBuf>,
    },
}

/// One environment variable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvVar {
    /// Its name.
    pub name: String,
    /// Where its value comes from.
    #[serde(flatten)]
    pub value: EnvValue,
}

/// Network topology.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkPlan {
    /// The configured policy.
    pub policy: NetworkPolicy,
    /// The engine network mode the sandbox joins (`bridge`, `none`).
    pub mode: String,
    /// User-defined networks created for (and removed with) the run.
    pub create: Vec<String>,
    /// The berth-owned bridge network the sandbox joins (its name is `mode`),
    /// created on first use, shared by every run and kept between runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared: Option<String>,
    /// For `policy = "allowlist"`: what the run's egress proxy lets through. The
    /// sandbox joins an internal network of its own, with no gateway, whose only
    /// way out is the proxy: a sidecar on it and on an egress network of the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress: Option<Policy>,
    /// Extra certificate authorities (a PEM file) the proxy trusts for the
    /// upstreams of bound secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_ca: Option<PathBuf>,
}

/// How the agent reaches Docker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "kebab-case")]
pub enum DockerAccess {
    /// No Docker.
    None,
    /// The host engine socket, with its group.
    Host {
        /// Host socket path.
        socket: PathBuf,
        /// Where it is mounted inside.
        target: String,
        /// Supplementary group id added to the sandbox user; `None` when the user
        /// is root and needs none (the socket's group is root or has no access).
        gid: Option<u32>,
        /// The endpoint of the remote engine whose socket this is (`socket` and
        /// `gid` are then its host's); `None` for an engine on this host.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        remote: Option<String>,
    },
    /// A private engine inside the sandbox.
    Dind {
        /// How privilege is granted.
        privilege: DindPrivilege,
    },
}

impl DockerAccess {
    /// The configured mode this access came from.
    pub(crate) fn mode(&self) -> DockerMode {
        match self {
            Self::None => DockerMode::None,
            Self::Host { .. } => DockerMode::Host,
            Self::Dind { .. } => DockerMode::Dind,
        }
    }
}

/// How a dind sandbox gets its privilege.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum DindPrivilege {
    /// `--privileged`: the host's bounding set holds every capability.
    Privileged,
    /// The equivalent spelled out, because the bounding set lacks some capabilities
    /// and `--privileged` would fail with "unable to apply caps".
    Equivalent {
        /// Capabilities missing from the host's bounding set.
        missing: Vec<String>,
    },
}

/// Security settings of the sandbox container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Security {
    /// Run `--privileged`.
    pub privileged: bool,
    /// Capabilities dropped.
    pub cap_drop: Vec<String>,
    /// Capabilities added back.
    pub cap_add: Vec<String>,
    /// `no-new-privileges`.
    pub no_new_privileges: bool,
    /// Extra `--security-opt` values (such as `seccomp=unconfined`).
    pub security_opt: Vec<String>,
    /// Device cgroup rules (such as `a *:* rwm`).
    pub device_cgroup_rules: Vec<String>,
    /// Use the host cgroup namespace.
    pub cgroupns_host: bool,
    /// No masked or read-only paths under /proc and /sys (`systempaths=unconfined`).
    pub system_paths_unconfined: bool,
    /// Read-only root filesystem.
    pub read_only_rootfs: bool,
}

/// The non-root user a sandbox runs as when its image runs as root or names no user
/// and the config sets none. The image's user is known only when the backend checks
/// the image at launch, so the plan carries the policy and the backend applies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NonRootUser {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
}

impl fmt::Display for NonRootUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.uid, self.gid)
    }
}

/// A hardened default berth applied because the config was silent, with the one
/// key that loosens it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedDefault {
    /// What was applied, such as `memory 4GiB`.
    pub what: String,
    /// The `berth.toml` key and value that loosen it.
    pub loosen: String,
}

/// Resource limits to apply.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// CPUs.
    pub cpus: Option<f64>,
    /// Memory in bytes.
    pub memory: Option<ByteSize>,
    /// Process count.
    pub pids: Option<i64>,
}

/// Who is the sandbox's PID 1, and how exec reaches its processes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitPlan {
    /// berth-init's binary on this host, mounted read-only at
    /// [`crate::init::HELPER`] and made PID 1; `None`: the engine's init.
    pub helper: Option<PathBuf>,
    /// The exec path of the sandbox's runs.
    pub exec: crate::init::ExecPath,
}

impl Default for InitPlan {
    fn default() -> Self {
        Self {
            helper: None,
            exec: crate::init::ExecPath::Engine {
                reason: "berth-init is not in use".to_owned(),
            },
        }
    }
}

impl std::fmt::Display for InitPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.helper {
            Some(_) => f.write_str("berth-init (reaps, forwards signals)")?,
            None => f.write_str("the engine's")?,
        }
        write!(f, "; exec through {}", self.exec)
    }
}

/// The resolved sandbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The sandbox's base name.
    pub name: String,
    /// The backend.
    pub runtime: RuntimeKind,
    /// The engine OCI runtime (`runc`, `runsc`, ...), when the backend has one.
    pub oci_runtime: Option<String>,
    /// The image.
    pub image: ImageSource,
    /// Command; the image's default when `None`.
    pub command: Option<Vec<String>>,
    /// Working directory inside.
    pub workdir: Option<String>,
    /// User inside, as configured; when `None`, the image's default, subject to
    /// [`Plan::non_root_user`].
    pub user: Option<String>,
    /// The user the backend switches to when `user` is `None` and the image runs as
    /// root or names no user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub non_root_user: Option<NonRootUser>,
    /// The home directory (a tmpfs owned by the sandbox user); backends set `HOME`
    /// to it unless the environment already names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home: Option<String>,
    /// Supplementary groups for the user.
    pub group_add: Vec<u32>,
    /// Mounts.
    pub mounts: Vec<Mount>,
    /// Environment (secret values excluded).
    pub env: Vec<EnvVar>,
    /// Network.
    pub network: NetworkPlan,
    /// Docker access.
    pub docker: DockerAccess,
    /// PID 1 and the exec path.
    #[serde(default)]
    pub init: InitPlan,
    /// Security.
    pub security: Security,
    /// Limits.
    pub limits: Limits,
    /// Labels (without `berth.run-id`, which a launch assigns).
    pub labels: BTreeMap<String, String>,
    /// Hardened defaults applied because the config was silent.
    #[serde(default)]
    pub defaults: Vec<AppliedDefault>,
    /// Hardened defaults this runtime cannot apply, each with why.
    #[serde(default)]
    pub not_applied: Vec<String>,
    /// Things a person should know before launching.
    pub warnings: Vec<String>,
    /// What weakens the sandbox's isolation from the host; each needs an
    /// acknowledgement that cannot come from the config file (see [`crate::danger`]).
    pub dangers: Vec<Danger>,
    /// The warm pool runs of this plan claim from (`[pool]`), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<crate::pool::PoolPlan>,
}

impl Plan {
    /// The environment to create the sandbox with: literal values from the plan,
    /// and each secret's value as `lookup` finds it (this process's environment,
    /// for berth); a secret `lookup` does not find is left out.
    pub fn environment(&self, lookup: impl Fn(&str) -> Option<String>) -> Vec<(String, String)> {
        self.env
            .iter()
            .filter_map(|var| match &var.value {
                EnvValue::Literal { value } => Some((var.name.clone(), value.clone())),
                EnvValue::HostSecret => lookup(&var.name).map(|v| (var.name.clone(), v)),
                // The sandbox gets the run's placeholder: see `Sandbox`.
                EnvValue::BoundSecret { .. } => None,
            })
            .collect()
    }

    /// The secrets bound to hosts, each with its value as `lookup` finds it and a
    /// fresh placeholder; one `lookup` does not find is left out.
    pub fn credentials(
        &self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Vec<crate::egress::Credential> {
        self.env
            .iter()
            .filter_map(|var| match &var.value {
                EnvValue::BoundSecret { hosts, file } => Some(crate::egress::Credential {
                    name: var.name.clone(),
                    placeholder: crate::egress::Credential::placeholder(),
                    value: match file {
                        // A file the launch cannot read leaves the secret out, as
                        // an unset variable does; its plan said where it comes from.
                        Some(path) => std::fs::read_to_string(path)
                            .ok()
                            .map(|v| v.trim_end_matches(['\r', '\n']).to_owned())?,
                        None => lookup(&var.name)?,
                    },
                    hosts: hosts.iter().filter_map(|h| h.parse().ok()).collect(),
                }),
                _ => None,
            })
            .collect()
    }

    /// The labels of one run: [`Plan::labels`] plus `berth.run-id`.
    pub(crate) fn labels_for_run(&self, run_id: &str) -> BTreeMap<String, String> {
        let mut labels = self.labels.clone();
        labels.insert(crate::labels::RUN_ID.to_owned(), run_id.to_owned());
        labels
    }

    /// Names of the host variables passed as secrets.
    pub fn secret_names(&self) -> impl Iterator<Item = &str> {
        self.env
            .iter()
            .filter(|e| e.value == EnvValue::HostSecret)
            .map(|e| e.name.as_str())
    }

    /// The preflight summary a person reads before anything is created.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let oci = self
            .oci_runtime
            .as_deref()
            .map(|r| format!(" (OCI runtime {r})"))
            .unwrap_or_default();
        let _ = writeln!(out, "sandbox   {}", self.name);
        let _ = writeln!(out, "runtime   {}{oci}", self.runtime);
        match &self.image {
            ImageSource::Reference { reference } => {
                let _ = writeln!(out, "image     {reference}");
            }
            ImageSource::Build {
                dockerfile,
                context,
                tag,
                ..
            } => {
                let _ = writeln!(
                    out,
                    "image     {tag}, built from {} (context {})",
                    dockerfile.display(),
                    context.display()
                );
            }
        }
        let command = self
            .command
            .as_ref()
            .map_or_else(|| "(image default)".to_owned(), |c| shell_words(c));
        let _ = writeln!(out, "command   {command}");
        let user = match (&self.user, &self.non_root_user) {
            (Some(user), _) => user.clone(),
            (None, Some(fallback)) => {
                format!("the image's, or {fallback} when that is root or unset")
            }
            (None, None) => "(image default)".to_owned(),
        };
        let _ = writeln!(
            out,
            "user      {user}{}",
            if self.group_add.is_empty() {
                String::new()
            } else {
                format!(
                    ", extra groups {}",
                    self.group_add
                        .iter()
                        .map(u32::to_string)
                        .collect::<Vec<_>>()
                        .join(",")
                )
            }
        );
        if let Some(home) = &self.home {
            let _ = writeln!(out, "home      {home} (HOME, writable)");
        }
        let _ = writeln!(out, "init      {}", self.init);
        if let Some(pool) = &self.pool {
            let _ = match &pool.cold {
                None => writeln!(
                    out,
                    "pool      {} kept started (key {}, unclaimed ones live {}s); `berth run` claims one, `berth pool up` starts them",
                    pool.size, pool.key, pool.ttl_secs
                ),
                Some(reason) => writeln!(out, "pool      none: runs start cold: {reason}"),
            };
        }
        let _ = writeln!(
            out,
            "workdir   {}",
            self.workdir.as_deref().unwrap_or("(image default)")
        );
        if self.mounts.is_empty() {
            let _ = writeln!(out, "mounts    none");
        }
        for (i, mount) in self.mounts.iter().enumerate() {
            let head = if i == 0 { "mounts   " } else { "         " };
            let _ = writeln!(out, "{head} {mount}");
        }
        if self.env.is_empty() {
            let _ = writeln!(out, "env       none");
        }
        for (i, var) in self.env.iter().enumerate() {
            let head = if i == 0 { "env      " } else { "         " };
            let from = match &var.value {
                EnvValue::Literal { .. } => "set in config".to_owned(),
                EnvValue::HostSecret => "secret, from the host environment at launch".to_owned(),
                EnvValue::BoundSecret { hosts, file } => format!(
                    "placeholder; the egress proxy adds the value from {} to requests for {} only",
                    file.as_ref().map_or_else(
                        || "the host environment".to_owned(),
                        |f| f.display().to_string()
                    ),
                    hosts.join(", ")
                ),
            };
            let _ = writeln!(out, "{head} {} ({from})", var.name);
        }
        let created = if self.network.create.is_empty() {
            String::new()
        } else {
            format!(", creates {}", self.network.create.join(", "))
        };
        let shared = if self.network.shared.is_some() {
            ", berth-owned bridge shared by all runs, created on first use"
        } else {
            ""
        };
        match &self.network.egress {
            None => {
                let _ = writeln!(
                    out,
                    "network   {} (engine network {}{shared}{created})",
                    self.network.policy, self.network.mode
                );
            }
            Some(policy) => {
                let _ = writeln!(
                    out,
                    "network   {} (an internal network of the run with no gateway; its only way out is the run's egress proxy, a sidecar on it and on an egress network of the run)",
                    if policy.allow_all {
                        "open, through the egress proxy for the bound secrets"
                    } else {
                        "allowlist"
                    }
                );
                let rules: Vec<String> = policy.rules.iter().map(ToString::to_string).collect();
                if policy.allow_all {
                    let _ = writeln!(out, "egress    allow every host");
                } else {
                    let _ = writeln!(out, "egress    allow {}", rules.join(", "));
                }
                for binding in &policy.credentials {
                    let hosts: Vec<String> =
                        binding.hosts.iter().map(ToString::to_string).collect();
                    let _ = writeln!(
                        out,
                        "          secret {} added for {} only (TLS to them intercepted with the run's own CA, trusted inside through SSL_CERT_FILE and the like)",
                        binding.name,
                        hosts.join(", ")
                    );
                }
                if !policy.hosts.is_empty() {
                    let hosts: Vec<String> = policy
                        .hosts
                        .iter()
                        .map(|(n, a)| format!("{n}={a}"))
                        .collect();
                    let _ = writeln!(out, "          hosts {}", hosts.join(", "));
                }
                let _ = writeln!(
                    out,
                    "          proxy in HTTP_PROXY/HTTPS_PROXY (and lowercase); no DNS and no direct route; decisions in `berth egress RUN`"
                );
            }
        }
        let docker = match &self.docker {
            DockerAccess::None => "none".to_owned(),
            DockerAccess::Host {
                socket,
                target,
                gid,
                remote: None,
            } => format!(
                "host engine: {} mounted at {target}, {}",
                socket.display(),
                gid.map_or("no group added (root user)".to_owned(), |g| format!(
                    "group {g} added"
                ))
            ),
            DockerAccess::Host {
                socket,
                target,
                gid,
                remote: Some(endpoint),
            } => format!(
                "host mode, the socket of the engine at {endpoint}, {} on that host, mounted at {target}, {}",
                socket.display(),
                gid.map_or("no group added (root user)".to_owned(), |g| format!(
                    "group {g} on that host added"
                ))
            ),
            DockerAccess::Dind {
                privilege: DindPrivilege::Privileged,
            } => "private engine inside (privileged)".to_owned(),
            DockerAccess::Dind {
                privilege: DindPrivilege::Equivalent { missing },
            } => format!(
                "private engine inside (privileged spelled out; host lacks {})",
                missing.join(", ")
            ),
        };
        let _ = writeln!(out, "docker    {docker}");
        let _ = writeln!(out, "security  {}", self.security);
        let _ = writeln!(out, "limits    {}", self.limits);
        let labels = self
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ");
        let _ = writeln!(out, "labels    {labels} berth.run-id=<assigned at launch>");
        for (i, d) in self.defaults.iter().enumerate() {
            let head = if i == 0 { "defaults " } else { "         " };
            let _ = writeln!(out, "{head} {} (loosen: {})", d.what, d.loosen);
        }
        for (i, note) in self.not_applied.iter().enumerate() {
            let head = if i == 0 { "skipped  " } else { "         " };
            let _ = writeln!(out, "{head} {note}");
        }
        for warning in &self.warnings {
            let _ = writeln!(out, "warning:  {warning}");
        }
        for danger in &self.dangers {
            let _ = writeln!(out, "danger:   {danger}");
        }
        out
    }

    /// Resolves the host paths the plan hands to the engine once more, right
    /// before they are used, and fails if one no longer is what the plan showed
    /// (a symlink changed since, or the directory is gone).
    pub fn verify_host_paths(&self, host: &dyn HostEnv) -> Result<(), Error> {
        let check = |what: &'static str, declared: &Path, planned: &Path, dir: bool| {
            let found = HostPath::probe(host, declared);
            match found {
                HostPath::Found { resolved, is_dir } if resolved == planned && is_dir == dir => {
                    Ok(())
                }
                HostPath::Found { resolved, .. } if resolved == planned => Err(Error::Usage {
                    message: format!(
                        "the {what} {} is not a {}",
                        declared.display(),
                        if dir { "directory" } else { "file" }
                    ),
                }),
                HostPath::Found { resolved, .. } => Err(Error::HostPathChanged {
                    what,
                    declared: declared.to_path_buf(),
                    planned: planned.to_path_buf(),
                    now: resolved,
                }),
                HostPath::Missing { reason } => Err(Error::Usage {
                    message: format!(
                        "the {what} {} does not exist ({reason}): create it, or fix berth.toml",
                        declared.display()
                    ),
                }),
            }
        };
        for mount in &self.mounts {
            if let Mount::Bind {
                source,
                declared,
                purpose: MountPurpose::Workspace,
                ..
            } = mount
            {
                check(
                    "workspace",
                    declared.as_deref().unwrap_or(source),
                    source,
                    true,
                )?;
            }
        }
        if let ImageSource::Build {
            dockerfile,
            context,
            declared_context,
            declared_dockerfile,
            ..
        } = &self.image
        {
            let declared = declared_context.as_deref().unwrap_or(context);
            check("build context", declared, context, true)?;
            let declared = declared_dockerfile.as_deref().unwrap_or(dockerfile);
            check("Dockerfile", declared, dockerfile, false)?;
        }
        Ok(())
    }
}

impl fmt::Display for Mount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bind {
                source,
                declared,
                target,
                read_only,
                purpose,
            } => {
                write!(f, "{}", source.display())?;
                if let Some(declared) = declared {
                    write!(f, " (named as {})", declared.display())?;
                }
                write!(
                    f,
                    " -> {target} ({}, {purpose})",
                    if *read_only {
                        "read-only"
                    } else {
                        "read-write"
                    }
                )
            }
            Self::Volume { target, purpose } => {
                write!(f, "anonymous volume -> {target} ({purpose})")
            }
            Self::Tmpfs {
                target,
                mode,
                owner,
                purpose,
            } => {
                let owner = match owner {
                    TmpfsOwner::Root => "",
                    TmpfsOwner::SandboxUser => ", owned by the sandbox user",
                };
                write!(
                    f,
                    "tmpfs -> {target} (read-write, exec, mode {mode:04o}{owner}, {purpose})"
                )
            }
        }
    }
}

impl fmt::Display for MountPurpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Workspace => "workspace",
            Self::DockerSocket => "host docker socket",
            Self::RemoteDockerSocket => "the remote engine's docker socket, a path on its host",
            Self::DindStorage => "private engine storage",
            Self::Cgroup => "cgroup tree for the private engine",
            Self::Scratch => "scratch",
            Self::Run => "runtime state",
            Self::Home => "home",
        })
    }
}

impl fmt::Display for Security {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if self.privileged {
            parts.push("privileged".to_owned());
        }
        if !self.cap_drop.is_empty() {
            parts.push(format!("drop {}", self.cap_drop.join(",")));
        }
        if !self.cap_add.is_empty() {
            parts.push(format!("add {}", self.cap_add.join(",")));
        }
        if self.no_new_privileges {
            parts.push("no-new-privileges".to_owned());
        }
        parts.extend(self.security_opt.iter().cloned());
        parts.extend(
            self.device_cgroup_rules
                .iter()
                .map(|r| format!("device rule '{r}'")),
        );
        if self.system_paths_unconfined {
            parts.push("systempaths=unconfined".to_owned());
        }
        if self.cgroupns_host {
            parts.push("host cgroupns".to_owned());
        }
        if self.read_only_rootfs {
            parts.push("read-only rootfs".to_owned());
        }
        f.write_str(&parts.join("; "))
    }
}

impl fmt::Display for Limits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cpus = self
            .cpus
            .map_or("cpus unlimited".to_owned(), |c| format!("cpus {c}"));
        let memory = self
            .memory
            .map_or("memory unlimited".to_owned(), |m| format!("memory {m}"));
        let pids = self
            .pids
            .map_or("pids unlimited".to_owned(), |p| format!("pids {p}"));
        write!(f, "{cpus}, {memory}, {pids}")
    }
}

/// Joins argv for display, quoting words that need it.
pub(crate) fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|w| {
            if !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c))
            {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
