//! [`prepare`]: the pure function from config, capabilities and host facts to a
//! [`Plan`], refusing early, with a fix, whatever the runtime cannot do.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::capabilities::{Capabilities, RuntimeKind, Support};
use crate::config::{Config, DockerMode, Limit, NetworkPolicy};
use crate::danger::{Danger, DangerKind, breaking_capability, sensitive_path};
use crate::error::Error;
use crate::host::{HostFacts, RemoteSocket, SocketFacts, missing_capabilities};
use crate::init::ExecPath;
use crate::labels;
use crate::plan::{
    AppliedDefault, DindPrivilege, DockerAccess, EnvValue, EnvVar, ImageSource, InitPlan, Limits,
    Mount, MountPurpose, NetworkPlan, NonRootUser, Plan, Security, TmpfsOwner,
};
use crate::size::ByteSize;

/// The pids limit applied when the config sets none and the runtime supports one.
pub(crate) const DEFAULT_PIDS: i64 = 1024;

/// The cpu limit applied when the config sets none (fewer when the host has fewer).
pub(crate) const DEFAULT_CPUS: f64 = 2.0;

/// The memory limit applied when the config sets none (less when the host has less).
pub(crate) const DEFAULT_MEMORY: ByteSize = ByteSize(4 << 30);

/// The user a sandbox runs as when its image runs as root or names no user.
pub(crate) const NON_ROOT_USER: NonRootUser = NonRootUser {
    uid: 1000,
    gid: 1000,
};

/// The home directory of a non-root sandbox user (a tmpfs it owns).
pub(crate) const NON_ROOT_HOME: &str = "/home/berth";

/// The berth-owned bridge network sandboxes join, shared by every run.
pub const SHARED_NETWORK: &str = "berth";

/// The plan's network mode under an allowlist: the run's own internal network,
/// which the backend names when it creates it.
pub const EGRESS_MODE: &str = "internal";

/// Where the host socket appears inside a sandbox in docker `host` mode.
pub(crate) const SOCKET_TARGET: &str = "/var/run/docker.sock";

/// Resolves `config` for the runtime that `caps` describes on the host that `host`
/// describes. Pure: it reads nothing else and creates nothing.
pub fn prepare(config: &Config, caps: &Capabilities, host: &HostFacts) -> Result<Plan, Error> {
    let file = &config.file;
    let runtime = caps.runtime;
    let name = config.sandbox_name();
    let mut warnings = Vec::new();

    if let Some((reason, fix)) = caps.availability.problem() {
        warnings.push(format!(
            "{runtime} is unavailable here ({reason}); to launch: {fix}"
        ));
    }

    let image = resolve_image(config, host, &name)?;
    let user = file.sandbox.user.as_ref().map(|u| u.get_ref().clone());

    let mut dangers = Vec::new();
    let mut mounts = Vec::new();
    if let Some(ws) = &file.workspace {
        let (source, declared) = real_path(config, host, ws.path.get_ref());
        // Refused rather than copied: a copy would diverge from the directory
        // the user edits, and the agent's changes would need a way back.
        // The socket facts are the Docker engine's; Apple's runtime is local.
        if let Some(SocketFacts::Remote { docker_host, .. }) = &host.socket
            && runtime != RuntimeKind::Apple
        {
            return Err(Error::HostPathRemote {
                what: "workspace",
                path: source,
                endpoint: docker_host.clone(),
                fix: "remove [workspace] and put the files in the image ([sandbox.build] with a Dockerfile that copies them), or run berth on the engine's host".to_owned(),
            });
        }
        if let Some(crate::host::HostPath::Missing { reason }) =
            host.paths.get(&config.anchor(ws.path.get_ref()))
        {
            warnings.push(format!(
                "the workspace {} does not exist ({reason}): a launch would fail; create it, or fix [workspace] path",
                source.display()
            ));
        }
        if let Some(why) = sensitive_path(&source, host) {
            dangers.push(Danger {
                kind: DangerKind::SensitivePath,
                detail: format!(
                    "the workspace {} {why}, and the sandbox can {} it",
                    source.display(),
                    if ws.read_only {
                        "read"
                    } else {
                        "read and change"
                    }
                ),
            });
        }
        mounts.push(Mount::Bind {
            source,
            declared,
            target: ws.mount.get_ref().clone(),
            read_only: ws.read_only,
            purpose: MountPurpose::Workspace,
        });
    }
    if let ImageSource::Build { context, .. } = &image
        && let Some(why) = sensitive_path(context, host)
    {
        dangers.push(Danger {
            kind: DangerKind::SensitivePath,
            detail: format!(
                "the build context {} {why}, and all of it is sent to the engine",
                context.display()
            ),
        });
    }
    for cap in &file.security.cap_add {
        let name = cap.get_ref().to_ascii_uppercase();
        let name = name.trim_start_matches("CAP_");
        if let Some(why) = breaking_capability(name) {
            dangers.push(Danger {
                kind: DangerKind::Capability,
                detail: format!("[security] cap_add {name}: {why}"),
            });
        }
    }

    let mut security = Security {
        privileged: false,
        cap_drop: vec!["ALL".to_owned()],
        cap_add: file
            .security
            .cap_add
            .iter()
            .map(|c| {
                c.get_ref()
                    .to_ascii_uppercase()
                    .trim_start_matches("CAP_")
                    .to_owned()
            })
            .collect(),
        no_new_privileges: file.security.no_new_privileges,
        security_opt: Vec::new(),
        device_cgroup_rules: Vec::new(),
        cgroupns_host: false,
        system_paths_unconfined: false,
        read_only_rootfs: file.security.read_only_rootfs,
    };
    if !security.no_new_privileges {
        warnings.push("no-new-privileges is off ([security] no_new_privileges = false)".to_owned());
    } else if caps.no_new_privileges.problem().is_some() {
        // The runtime cannot set it: the plan must not claim it.
        security.no_new_privileges = false;
    }

    let mut group_add = Vec::new();
    let docker = match *file.docker.mode.get_ref() {
        DockerMode::None => DockerAccess::None,
        DockerMode::Host => {
            // With no user set, the sandbox runs as berth's non-root user when the
            // runtime can switch to it: the socket must work for that user.
            let socket_user = user
                .clone()
                .or_else(|| caps.non_root_fallback.then(|| NON_ROOT_USER.to_string()));
            let HostSocket {
                path: socket,
                gid,
                remote,
            } = resolve_host_socket(caps, host, socket_user.as_deref(), &mut warnings)?;
            if let Some(gid) = gid {
                group_add.push(gid);
            }
            mounts.push(Mount::Bind {
                source: socket.clone(),
                declared: None,
                target: SOCKET_TARGET.to_owned(),
                read_only: false,
                purpose: if remote.is_some() {
                    MountPurpose::RemoteDockerSocket
                } else {
                    MountPurpose::DockerSocket
                },
            });
            dangers.push(Danger {
                kind: DangerKind::DockerHost,
                detail: match &remote {
                    None => format!(
                        "docker mode \"host\": the engine socket {} gives the sandbox full control of the host engine, and through it root on the host",
                        socket.display()
                    ),
                    Some(endpoint) => format!(
                        "docker mode \"host\": the socket of the engine at {endpoint} ({} on that host) gives the sandbox full control of that engine, and through it root on its host",
                        socket.display()
                    ),
                },
            });
            DockerAccess::Host {
                socket,
                target: SOCKET_TARGET.to_owned(),
                gid,
                remote,
            }
        }
        DockerMode::Dind => {
            if let Support::Unsupported { reason, fix } = &caps.privileged {
                return Err(Error::DindUnsupported {
                    runtime,
                    reason: reason.clone(),
                    fix: fix.clone(),
                });
            }
            let privilege = dind_privilege(host);
            apply_dind(&privilege, &mut security, &mut mounts, &mut warnings);
            dangers.push(Danger {
                kind: DangerKind::Dind,
                detail: "docker mode \"dind\": the sandbox runs with (nearly) every privilege over the host kernel, for its private engine".to_owned(),
            });
            DockerAccess::Dind { privilege }
        }
    };

    let hardening = harden(config, caps, user.as_deref(), &docker, &mut security);
    mounts.extend(hardening.mounts);

    let mut defaults = hardening.defaults;
    let mut not_applied = hardening.not_applied;
    if let (true, Some((reason, _))) = (
        file.security.no_new_privileges,
        caps.no_new_privileges.problem(),
    ) {
        not_applied.push(format!("no-new-privileges: {reason}"));
    }
    let env = resolve_env(config, host)?;
    for name in &config.file.secrets.names {
        dangers.push(Danger {
            kind: DangerKind::HostSecret,
            detail: format!(
                "berth's {} goes into the sandbox, where the agent can read it and send it anywhere the network reaches",
                name.get_ref()
            ),
        });
    }
    for name in &config.file.secrets.names {
        if !host.env_names.contains(name.get_ref()) {
            warnings.push(format!(
                "secret {} is not set in berth's environment: the sandbox will not have it",
                name.get_ref()
            ));
        }
    }
    if let Some((reason, fix)) = caps.functional.problem() {
        warnings.push(format!(
            "{runtime} failed berth's self-test: {reason}; ordinary tools in the sandbox may fail: {fix}"
        ));
    }
    let network = resolve_network(config, caps, &mut defaults, &mut not_applied)?;
    if let (false, Some((reason, fix))) =
        (network.create.is_empty(), caps.user_network_dns.problem())
    {
        warnings.push(format!(
            "{runtime} cannot resolve container names on user-defined networks ({reason}): {fix}"
        ));
    }
    if network.egress.is_some() && config.docker_mode() == DockerMode::Host {
        warnings.push(
            "[docker] mode = \"host\" gives the agent the host's engine, where it can start containers that the egress allowlist does not hold".to_owned(),
        );
    }
    let limits = resolve_limits(config, caps, host, &mut defaults, &mut warnings)?;
    if limits.pids.is_none() && !caps.limits.pids {
        not_applied.push(format!("a pids limit: {runtime} cannot limit processes"));
    }

    let init = resolve_init(config, caps, host);

    let mut label_map = BTreeMap::new();
    label_map.insert(
        labels::MANAGED_BY.to_owned(),
        labels::MANAGED_BY_VALUE.to_owned(),
    );
    label_map.insert(labels::ROLE.to_owned(), "agent".to_owned());
    label_map.insert(labels::RUNTIME.to_owned(), runtime.to_string());
    label_map.insert(labels::SANDBOX.to_owned(), name.clone());
    label_map.insert(labels::DOCKER_MODE.to_owned(), docker.mode().to_string());
    if let Some(oci) = &caps.oci_runtime {
        label_map.insert(labels::OCI_RUNTIME.to_owned(), oci.name.clone());
    }

    let mut plan = Plan {
        name,
        runtime,
        oci_runtime: caps.oci_runtime.as_ref().map(|r| r.name.clone()),
        image,
        command: file.sandbox.command.as_ref().map(|c| c.get_ref().clone()),
        workdir: file.sandbox.workdir.as_ref().map(|w| w.get_ref().clone()),
        user,
        non_root_user: hardening.non_root_user,
        home: hardening.home,
        group_add,
        mounts,
        env,
        network,
        docker,
        init,
        security,
        limits,
        labels: label_map,
        defaults,
        not_applied,
        warnings,
        dangers,
        pool: None,
    };
    plan.pool = crate::pool::plan_pool(&plan, config.pool_size(), config.pool_ttl());
    Ok(plan)
}

/// berth-init where the config allows it, the runtime carries it and the helper
/// is installed; its exec path where the runtime also carries the socket.
fn resolve_init(config: &Config, caps: &Capabilities, host: &HostFacts) -> InitPlan {
    let engine = |reason: String| InitPlan {
        helper: None,
        exec: ExecPath::Engine { reason },
    };
    if !config.init() {
        return engine("[sandbox] init = false".to_owned());
    }
    if let Some((reason, _)) = caps.init.problem() {
        return engine(reason.to_owned());
    }
    let Some(helper) = &host.helper else {
        return engine(
            "berth-helper is not installed next to berth (`berth doctor` says where it looked)"
                .to_owned(),
        );
    };
    InitPlan {
        helper: Some(helper.clone()),
        exec: match caps.init_exec.problem() {
            None => ExecPath::Init,
            Some((reason, _)) => ExecPath::Engine {
                reason: reason.to_owned(),
            },
        },
    }
}

/// The real path of a config path (from the host facts), and the path as written
/// when the two differ.
fn real_path(config: &Config, host: &HostFacts, path: &Path) -> (PathBuf, Option<PathBuf>) {
    let written = config.anchor(path);
    let real = host.resolved(&written).to_path_buf();
    let declared = (real != written).then_some(written);
    (real, declared)
}

fn resolve_image(config: &Config, host: &HostFacts, name: &str) -> Result<ImageSource, Error> {
    let sandbox = &config.file.sandbox;
    if let Some(image) = &sandbox.image {
        return Ok(ImageSource::Reference {
            reference: image.get_ref().clone(),
        });
    }
    if let Some(build) = &sandbox.build {
        let build = build.get_ref();
        let (context, dockerfile) = config.build_paths(build);
        let (real_context, declared_context) = real_path(config, host, &context);
        let (real_dockerfile, declared_dockerfile) = real_path(config, host, &dockerfile);
        if !real_dockerfile.starts_with(&real_context) {
            return Err(Error::DockerfileOutsideContext {
                dockerfile: real_dockerfile,
                context: real_context,
            });
        }
        return Ok(ImageSource::Build {
            dockerfile: real_dockerfile,
            context: real_context,
            declared_dockerfile,
            declared_context,
            tag: build
                .tag
                .clone()
                .unwrap_or_else(|| format!("berth-local/{name}:latest")),
            args: build.args.clone(),
        });
    }
    let message = if config.digest.is_none() {
        // The built-in defaults: there is no file to point at.
        format!(
            "no {} in {} and no image given: name one (berth run IMAGE [CMD...]), pass -f FILE, or create a {}",
            crate::config::DEFAULT_FILE_NAME,
            config.base_dir.display(),
            crate::config::DEFAULT_FILE_NAME
        )
    } else {
        format!(
            "{}: no image to run: set `image` or `[sandbox.build]` in [sandbox], or pass an image to `berth run`",
            config.path.display()
        )
    };
    Err(Error::Usage { message })
}

fn is_root(user: &str) -> bool {
    matches!(user.split(':').next(), Some("root" | "0"))
}

/// The socket docker `host` mode mounts, as resolution decided it.
struct HostSocket {
    /// Its path (on the engine's host).
    path: PathBuf,
    /// The group added to the sandbox user.
    gid: Option<u32>,
    /// The remote engine's endpoint, when the socket is on another host.
    remote: Option<String>,
}

fn resolve_host_socket(
    caps: &Capabilities,
    host: &HostFacts,
    user: Option<&str>,
    warnings: &mut Vec<String>,
) -> Result<HostSocket, Error> {
    if let Some((reason, fix)) = caps.socket_mount.problem() {
        return Err(Error::DockerHostUnsupported {
            runtime: caps.runtime,
            reason: reason.to_owned(),
            fix: fix.to_owned(),
        });
    }
    let Some(socket) = &host.socket else {
        return Err(Error::DockerHostUnsupported {
            runtime: caps.runtime,
            reason: "no backend reported an engine socket on this host".to_owned(),
            fix: "use --runtime docker on a host with a Docker engine, or set [docker] mode = \"none\"".to_owned(),
        });
    };
    let SocketFacts::Remote {
        docker_host,
        on_host,
    } = socket
    else {
        return local_socket(socket, caps, user, warnings, None).map(|(path, gid)| HostSocket {
            path,
            gid,
            remote: None,
        });
    };
    let refuse = |reason: String, fix: &str| Error::SocketRemote {
        docker_host: docker_host.clone(),
        reason,
        fix: fix.to_owned(),
    };
    match on_host {
        None => Err(refuse(
            "nobody asked the engine where its socket is".to_owned(),
            "resolve with the host facts of select::choose or select::probe given the config (berth plan and berth run use them), which ask the engine's host; or use docker mode \"dind\" for a private engine",
        )),
        Some(RemoteSocket::Unknown { reason }) => Err(refuse(
            format!("berth could not ask that host: {reason}"),
            "make the probe possible (the reason says what stopped it), or use docker mode \"dind\" for a private engine",
        )),
        Some(RemoteSocket::Missing { reason }) => Err(refuse(
            format!("no socket of it was found on that host: {reason}"),
            "have the engine listen on a unix socket on its host (dockerd -H unix:///var/run/docker.sock), or use docker mode \"dind\" for a private engine",
        )),
        Some(RemoteSocket::Found {
            path, gid, mode, ..
        }) => {
            let facts = SocketFacts::from_stat(
                path.clone(),
                format!("on the host of the engine at {docker_host}"),
                Ok(crate::host::FileStat {
                    uid: 0,
                    gid: *gid,
                    mode: 0o140_000 | (mode & 0o7777),
                    is_socket: true,
                }),
            );
            local_socket(&facts, caps, user, warnings, Some(docker_host)).map(|(path, gid)| {
                HostSocket {
                    path,
                    gid,
                    remote: Some(docker_host.clone()),
                }
            })
        }
    }
}

/// A socket stat'ed on the engine's host: this one, or (`remote`) the host of
/// the engine at that endpoint.
fn local_socket(
    socket: &SocketFacts,
    caps: &Capabilities,
    user: Option<&str>,
    warnings: &mut Vec<String>,
    remote: Option<&str>,
) -> Result<(PathBuf, Option<u32>), Error> {
    // A fix on another machine says where to apply it.
    let there = |fix: String| match remote {
        Some(endpoint) => format!("on the host of the engine at {endpoint}: {fix}"),
        None => fix,
    };
    match socket {
        SocketFacts::Usable { path, gid, .. } => Ok((path.clone(), Some(*gid))),
        SocketFacts::Missing {
            path,
            source,
            reason,
        } => Err(Error::SocketMissing {
            path: path.clone(),
            source_name: source.to_string(),
            reason: reason.clone(),
            fix: caps.engine_socket_fix.clone(),
        }),
        SocketFacts::Remote { docker_host, .. } => Err(Error::SocketRemote {
            docker_host: docker_host.clone(),
            reason: "its socket is on that host".to_owned(),
            fix: "use docker mode \"dind\" for a private engine".to_owned(),
        }),
        SocketFacts::RootGroup { path, .. } => match user {
            Some(u) if is_root(u) => Ok((path.clone(), None)),
            None => {
                warnings.push(format!(
                    "the engine socket {}{} is owned by group 0: only a root sandbox user can use it, and no user is set",
                    path.display(),
                    remote.map_or_else(String::new, |e| format!(" (on the host of the engine at {e})"))
                ));
                Ok((path.clone(), None))
            }
            Some(u) => Err(Error::SocketRootGroup {
                path: path.clone(),
                user: u.to_owned(),
                fix: there(format!(
                    "give the socket its own group (groupadd docker; chgrp docker {p}; chmod 660 {p}), or set [sandbox] user = \"root\"",
                    p = path.display()
                )),
            }),
        },
        SocketFacts::NoGroupAccess {
            path, gid, mode, ..
        } => match user {
            Some(u) if is_root(u) => Ok((path.clone(), None)),
            _ => Err(Error::SocketNoGroupAccess {
                path: path.clone(),
                gid: *gid,
                mode: *mode,
                fix: there(format!(
                    "chmod g+rw {}, or set [sandbox] user = \"root\"",
                    path.display()
                )),
            }),
        },
    }
}

/// `--privileged` when the host's bounding set is complete, else its equivalent.
fn dind_privilege(host: &HostFacts) -> DindPrivilege {
    match host.cap_bounding_set.map(missing_capabilities) {
        Some(missing) if !missing.is_empty() => DindPrivilege::Equivalent {
            missing: missing.into_iter().map(str::to_owned).collect(),
        },
        _ => DindPrivilege::Privileged,
    }
}

fn apply_dind(
    privilege: &DindPrivilege,
    security: &mut Security,
    mounts: &mut Vec<Mount>,
    warnings: &mut Vec<String>,
) {
    security.no_new_privileges = false;
    security.cap_drop.clear();
    mounts.push(Mount::Volume {
        target: "/var/lib/docker".to_owned(),
        purpose: MountPurpose::DindStorage,
    });
    match privilege {
        DindPrivilege::Privileged => {
            security.privileged = true;
            security.cap_add.clear();
        }
        DindPrivilege::Equivalent { missing } => {
            // "ALL" rather than a list: engines reject capability names they do not
            // know (Docker 20.10 has no PERFMON, BPF or CHECKPOINT_RESTORE).
            security.cap_add = vec!["ALL".to_owned()];
            security.cap_drop = missing.clone();
            security.security_opt = vec![
                "seccomp=unconfined".to_owned(),
                "apparmor=unconfined".to_owned(),
            ];
            security.system_paths_unconfined = true;
            security.device_cgroup_rules = vec!["a *:* rwm".to_owned()];
            security.cgroupns_host = true;
            mounts.push(Mount::Bind {
                source: PathBuf::from("/sys/fs/cgroup"),
                declared: None,
                target: "/sys/fs/cgroup".to_owned(),
                read_only: false,
                purpose: MountPurpose::Cgroup,
            });
            warnings.push(format!(
                "--privileged would fail on this host ({} missing from the capability bounding set); the private engine gets the equivalent spelled out: every other capability, seccomp, apparmor and system paths unconfined, all devices, the host cgroup namespace",
                missing.join(", ")
            ));
        }
    }
}

fn resolve_env(config: &Config, host: &HostFacts) -> Result<Vec<EnvVar>, Error> {
    let mut env: Vec<EnvVar> = config
        .file
        .env
        .iter()
        .map(|(k, v)| EnvVar {
            name: k.get_ref().clone(),
            value: EnvValue::Literal { value: v.clone() },
        })
        .collect();
    for name in &config.file.secrets.names {
        let name = name.get_ref();
        if config.file.secrets.required && !host.env_names.contains(name) {
            return Err(Error::SecretMissing {
                name: name.clone(),
                fix: format!(
                    "export {name} in the shell that runs berth, or set [secrets] required = false to launch without it"
                ),
            });
        }
        env.push(EnvVar {
            name: name.clone(),
            value: EnvValue::HostSecret,
        });
    }
    for (name, table) in &config.file.secrets.bound {
        let name = name.get_ref();
        let file = table.file.as_ref().map(|f| config.anchor(f.get_ref()));
        // A value the sandbox can read in its workspace is not kept from it.
        if let (Some(file), Some(ws)) = (&file, &config.file.workspace) {
            let workspace = config.anchor(ws.path.get_ref());
            if file.starts_with(&workspace) {
                return Err(Error::Usage {
                    message: format!(
                        "the file of secret {name}, {}, is inside the workspace {}, which the sandbox reads: keep it outside",
                        file.display(),
                        workspace.display()
                    ),
                });
            }
        }
        if file.is_none() && config.file.secrets.required && !host.env_names.contains(name) {
            return Err(Error::SecretMissing {
                name: name.clone(),
                fix: format!(
                    "export {name} in the shell that runs berth, or set [secrets] required = false to launch without it"
                ),
            });
        }
        let hosts = table
            .hosts
            .iter()
            .filter_map(|h| h.get_ref().parse::<crate::egress::Rule>().ok())
            .map(|r| r.to_string())
            .collect();
        env.push(EnvVar {
            name: name.clone(),
            value: EnvValue::BoundSecret { hosts, file },
        });
    }
    Ok(env)
}

fn resolve_network(
    config: &Config,
    caps: &Capabilities,
    defaults: &mut Vec<AppliedDefault>,
    not_applied: &mut Vec<String>,
) -> Result<NetworkPlan, Error> {
    let policy = *config.file.network.policy.get_ref();
    if let Some(egress) = config.egress_policy() {
        // An allowlist, or secrets bound to hosts: everything goes through the proxy.
        if let Some((reason, fix)) = caps.egress_proxy.problem() {
            return Err(Error::AllowlistUnsupported {
                runtime: caps.runtime,
                reason: reason.to_owned(),
                fix: fix.to_owned(),
            });
        }
        return Ok(NetworkPlan {
            policy,
            mode: EGRESS_MODE.to_owned(),
            create: Vec::new(),
            shared: None,
            egress: Some(egress),
            upstream_ca: config.upstream_ca(),
        });
    }
    let mut shared = None;
    let shared_problem = caps.shared_network.problem();
    let mode = match policy {
        NetworkPolicy::Open if shared_problem.is_some() => {
            if let Some((reason, fix)) = shared_problem {
                not_applied.push(format!("a berth-owned network: {reason}; {fix}"));
            }
            caps.default_network.as_str()
        }
        NetworkPolicy::Open if config.file.network.shared => {
            defaults.push(AppliedDefault {
                what: format!(
                    "the berth-owned network {SHARED_NETWORK}, not the engine's default {}",
                    caps.default_network
                ),
                loosen: "[network] shared = false".to_owned(),
            });
            shared = Some(SHARED_NETWORK.to_owned());
            SHARED_NETWORK
        }
        NetworkPolicy::Open => caps.default_network.as_str(),
        NetworkPolicy::None if !caps.network_none => {
            return Err(Error::Unsupported {
                runtime: caps.runtime,
                operation: "network policy \"none\"",
                reason: "this runtime cannot run a sandbox without a network".to_owned(),
            });
        }
        // Validation guarantees an allowlist has a policy, handled above.
        NetworkPolicy::None | NetworkPolicy::Allowlist => "none",
    };
    Ok(NetworkPlan {
        policy,
        mode: mode.to_owned(),
        create: Vec::new(),
        shared,
        egress: None,
        upstream_ca: None,
    })
}

fn resolve_limits(
    config: &Config,
    caps: &Capabilities,
    host: &HostFacts,
    defaults: &mut Vec<AppliedDefault>,
    warnings: &mut Vec<String>,
) -> Result<Limits, Error> {
    let r = &config.file.resources;
    let runtime = caps.runtime;
    let refuse = |limit: &'static str| Error::LimitUnsupported {
        runtime,
        limit,
        fix: format!("remove resources.{limit}, or use --runtime docker"),
    };
    let engine = host.engine.as_ref();
    let notes = &caps.limit_notes;
    let cpus = match r.cpus.as_ref().map(|c| *c.get_ref()) {
        Some(Limit::Value(_)) if !caps.limits.cpus => return Err(refuse("cpus")),
        // A runtime that grants whole CPUs only: the plan shows what it gives.
        Some(Limit::Value(asked)) => match &notes.whole_cpus {
            Some(why) if asked.fract() != 0.0 => {
                let whole = asked.ceil().max(1.0);
                warnings.push(format!(
                    "cpus {asked} on {} is {whole}: {why}",
                    notes.runtime_name
                ));
                Some(whole)
            }
            _ => Some(asked),
        },
        Some(Limit::Unlimited) => None,
        None if caps.limits.cpus => {
            let host_cpus = engine.and_then(|e| e.ncpu).map_or(DEFAULT_CPUS, f64::from);
            let cpus = DEFAULT_CPUS.min(host_cpus);
            defaults.push(AppliedDefault {
                what: format!("cpus {cpus}"),
                loosen: "[resources] cpus = \"unlimited\" (or a number)".to_owned(),
            });
            Some(cpus)
        }
        None => None,
    };
    let memory = match r.memory.as_ref().map(|m| *m.get_ref()) {
        Some(Limit::Value(_)) if !caps.limits.memory => return Err(refuse("memory")),
        Some(Limit::Value(m)) => Some(m),
        Some(Limit::Unlimited) => None,
        None if caps.limits.memory => {
            let host_memory = engine
                .and_then(|e| e.mem_total)
                .map_or(DEFAULT_MEMORY, ByteSize);
            let memory = DEFAULT_MEMORY.min(host_memory);
            defaults.push(AppliedDefault {
                what: format!("memory {memory}"),
                loosen: "[resources] memory = \"unlimited\" (or a size)".to_owned(),
            });
            Some(memory)
        }
        None => None,
    };
    if let Some(what) = &notes.unlimited
        && (cpus.is_none() || memory.is_none())
    {
        warnings.push(what.clone());
    }
    let pids = match &r.pids {
        Some(_) if !caps.limits.pids => return Err(refuse("pids")),
        Some(p) => Some(*p.get_ref()),
        None if caps.limits.pids => {
            defaults.push(AppliedDefault {
                what: format!("pids {DEFAULT_PIDS}"),
                loosen: "[resources] pids = <more>".to_owned(),
            });
            Some(DEFAULT_PIDS)
        }
        None => None,
    };
    if let (Some(pids), Some(what)) = (pids, &notes.pids) {
        warnings.push(format!("pids {pids} on {} is {what}", notes.runtime_name));
    }
    Ok(Limits { cpus, memory, pids })
}

/// What the hardened defaults add to a plan beyond its security settings.
struct Hardening {
    mounts: Vec<Mount>,
    non_root_user: Option<NonRootUser>,
    home: Option<String>,
    defaults: Vec<AppliedDefault>,
    not_applied: Vec<String>,
}

/// The hardened defaults: a non-root user when the image runs as root (the backend
/// applies it once it has seen the image), and a read-only root filesystem with
/// writable tmpfs at /tmp, /run and the home directory. A private engine keeps
/// root: dockerd needs it.
fn harden(
    config: &Config,
    caps: &Capabilities,
    user: Option<&str>,
    docker: &DockerAccess,
    security: &mut Security,
) -> Hardening {
    let file = &config.file;
    let dind = matches!(docker, DockerAccess::Dind { .. });
    let mut defaults = Vec::new();
    let mut not_applied = Vec::new();

    let non_root_user = match user {
        Some(_) => None,
        None if dind => None,
        None if caps.non_root_fallback => {
            defaults.push(AppliedDefault {
                what: format!(
                    "non-root user {NON_ROOT_USER} when the image's user is root or unset"
                ),
                loosen: "[sandbox] user = \"root\"".to_owned(),
            });
            Some(NON_ROOT_USER)
        }
        None => {
            not_applied.push(format!(
                "a non-root user: {} does not inspect the image before launch, so an image that runs as root stays root; set [sandbox] user = \"{NON_ROOT_USER}\"",
                caps.runtime
            ));
            None
        }
    };
    let runs_as_root = user.is_some_and(is_root) || (user.is_none() && dind);
    if dind && security.read_only_rootfs {
        // The private engine writes across its root filesystem (its log, its
        // configuration, /var/lib); with dind's privileges a read-only root would
        // protect nothing anyway.
        security.read_only_rootfs = false;
        not_applied.push(
            "a read-only root filesystem: a private engine (docker mode \"dind\") writes across it"
                .to_owned(),
        );
    }
    let read_only = security.read_only_rootfs;
    let configured_home = file
        .env
        .iter()
        .find(|(k, _)| k.get_ref() == "HOME")
        .map(|(_, v)| v.clone())
        .filter(|v| v.starts_with('/'));
    // A non-root user may have no home in the image, and a read-only root
    // filesystem leaves even an existing one unwritable.
    let home = (read_only || !runs_as_root).then(|| {
        configured_home
            .unwrap_or_else(|| if runs_as_root { "/root" } else { NON_ROOT_HOME }.to_owned())
    });

    let mut mounts = Vec::new();
    if read_only {
        mounts.push(Mount::Tmpfs {
            target: "/tmp".to_owned(),
            mode: 0o1777,
            owner: TmpfsOwner::Root,
            purpose: MountPurpose::Scratch,
        });
        mounts.push(Mount::Tmpfs {
            target: "/run".to_owned(),
            mode: 0o1777,
            owner: TmpfsOwner::Root,
            purpose: MountPurpose::Run,
        });
    }
    if let Some(home) = &home
        && !caps.tmpfs_options
    {
        not_applied.push(format!(
            "a private home: tmpfs mounts on {} take no mode or owner, so {home} has the kernel's default, mode 1777 owned by root, not mode 0700 owned by the sandbox user",
            caps.runtime
        ));
    }
    if let Some(home) = &home {
        mounts.push(Mount::Tmpfs {
            target: home.clone(),
            mode: 0o700,
            owner: TmpfsOwner::SandboxUser,
            purpose: MountPurpose::Home,
        });
    }
    if read_only {
        let mut writable = vec!["/tmp", "/run"];
        writable.extend(home.as_deref());
        defaults.push(AppliedDefault {
            what: format!(
                "read-only root filesystem, writable tmpfs at {}",
                writable.join(", ")
            ),
            loosen: "[security] read_only_rootfs = false".to_owned(),
        });
    }
    Hardening {
        mounts,
        non_root_user,
        home,
        defaults,
        not_applied,
    }
}
