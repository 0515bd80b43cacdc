//! A run's container: the pure translation of a plan into the engine's create
//! request, and create (networks and volumes first, all labelled), start and stop.
//!
//! The plan's non-root policy is applied here, where the image's user is known:
//! a sandbox whose image runs as root (or names no user) and whose config sets no
//! user runs as the plan's [`runtime_core::plan::NonRootUser`].

use std::collections::HashMap;
use std::time::Duration;

use bollard::Docker;
use bollard::errors::Error as BollardError;
use bollard::models::{
    ContainerCreateBody, ContainerSummaryStateEnum, HostConfig, HostConfigCgroupnsModeEnum,
    Mount as EngineMount, MountType, NetworkCreateRequest, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, InspectContainerOptions, InspectNetworkOptions,
    ListContainersOptionsBuilder, StartContainerOptions, StopContainerOptionsBuilder,
};
use runtime_core::plan::{Mount, Plan, TmpfsOwner};
use runtime_core::resolve::SHARED_NETWORK;
use runtime_core::{CreateSpec, RuntimeKind, labels};

use crate::capabilities::RUNC;
use crate::errors::DockerError;

/// The name of the `index`th anonymous volume of a run.
pub(crate) fn volume_name(run_id: &str, index: usize) -> String {
    format!("berth-{run_id}-{index}")
}

/// Every label the run's resources carry: the spec's (which always hold each
/// `berth.*` label berth reads back, so an image's own labels cannot set them), and
/// the OCI runtime the container really runs under.
pub(crate) fn run_labels(spec: &CreateSpec<'_>) -> HashMap<String, String> {
    let mut out: HashMap<String, String> = spec.labels().into_iter().collect();
    out.insert(
        labels::MANAGED_BY.to_owned(),
        labels::MANAGED_BY_VALUE.to_owned(),
    );
    out.insert(labels::RUN_ID.to_owned(), spec.run_id.to_string());
    if let Some(oci) = oci_runtime(spec) {
        out.insert(labels::OCI_RUNTIME.to_owned(), oci);
    }
    out
}

/// The OCI runtime a plan's container is created with: the plan's; for the docker
/// backend `runc` when the plan names none, so that `--runtime docker` never lands
/// on an engine whose default runtime is runsc.
pub(crate) fn oci_runtime(spec: &CreateSpec<'_>) -> Option<String> {
    let plan = spec.plan;
    plan.oci_runtime
        .clone()
        .or_else(|| (plan.runtime == RuntimeKind::Docker).then(|| RUNC.to_owned()))
}

/// Whether an image's `User` runs as root: unset, `root` or uid 0.
pub(crate) fn is_root_user(user: &str) -> bool {
    matches!(user.split(':').next(), Some("" | "root" | "0"))
}

/// The user the container runs as: the plan's; else, when the image's user is
/// root or unset (or was not inspected, `None`), the plan's non-root user; else
/// the image's own (`None`: the engine uses it).
pub(crate) fn effective_user(plan: &Plan, image_user: Option<&str>) -> Option<String> {
    if let Some(user) = &plan.user {
        return Some(user.clone());
    }
    let fallback = plan.non_root_user?;
    image_user
        .is_none_or(is_root_user)
        .then(|| fallback.to_string())
}

/// The engine's tmpfs options for a plan's tmpfs mount: writable, exec allowed (so
/// `npx`, `uvx` and `pip --user` style tools run from it), no setuid, no devices.
/// A mount owned by the sandbox user gets its uid and gid when the user is numeric;
/// for a user known only by name it is world-writable with the sticky bit.
pub(crate) fn tmpfs_options(mode: u32, owner: TmpfsOwner, user: Option<&str>) -> String {
    let base = "rw,exec,nosuid,nodev";
    match owner {
        TmpfsOwner::Root => format!("{base},mode={mode:o}"),
        TmpfsOwner::SandboxUser => match user.and_then(numeric_ids) {
            Some((uid, gid)) => format!("{base},mode={mode:o},uid={uid},gid={gid}"),
            None => format!("{base},mode=1777"),
        },
    }
}

/// `uid[:gid]` as numbers (gid defaults to uid); `None` for names.
fn numeric_ids(user: &str) -> Option<(u32, u32)> {
    let (uid, gid) = match user.split_once(':') {
        Some((u, g)) => (u, g),
        None => (user, user),
    };
    Some((uid.parse().ok()?, gid.parse().ok()?))
}

/// The engine's create request for a spec, given the image's `User` as inspected
/// (`None` when unknown). Pure. Anonymous volumes are named with [`volume_name`] in
/// the order of the plan's `Mount::Volume`s.
pub(crate) fn container_body(
    spec: &CreateSpec<'_>,
    image_user: Option<&str>,
) -> ContainerCreateBody {
    let plan = spec.plan;
    let user = effective_user(plan, image_user);
    // Who the sandbox runs as: an inspected image with no user runs as root.
    let owner = user.as_deref().or(match image_user {
        Some(u) if is_root_user(u) => Some("0"),
        other => other,
    });
    let tmpfs: HashMap<String, String> = plan
        .mounts
        .iter()
        .filter_map(|m| match m {
            Mount::Tmpfs {
                target,
                mode,
                owner: who,
                ..
            } => Some((target.clone(), tmpfs_options(*mode, *who, owner))),
            _ => None,
        })
        .collect();
    let mut env: Vec<String> = spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    if let Some(home) = &plan.home
        && !spec.env.iter().any(|(k, _)| k == "HOME")
    {
        env.push(format!("HOME={home}"));
    }
    let mut volume_index = 0;
    let mounts: Vec<EngineMount> = plan
        .mounts
        .iter()
        .filter_map(|m| match m {
            Mount::Bind {
                source,
                target,
                read_only,
                ..
            } => Some(EngineMount {
                typ: Some(MountType::BIND),
                source: Some(source.to_string_lossy().into_owned()),
                target: Some(target.clone()),
                read_only: Some(*read_only),
                ..Default::default()
            }),
            Mount::Volume { target, .. } => {
                let name = volume_name(&spec.run_id, volume_index);
                volume_index += 1;
                Some(EngineMount {
                    typ: Some(MountType::VOLUME),
                    source: Some(name),
                    target: Some(target.clone()),
                    read_only: Some(false),
                    ..Default::default()
                })
            }
            // `HostConfig.Tmpfs`: the mounts API has no exec option before API 1.46.
            Mount::Tmpfs { .. } => None,
        })
        .collect();
    let security = &plan.security;
    let mut security_opt = security.security_opt.clone();
    if security.no_new_privileges {
        security_opt.push("no-new-privileges:true".to_owned());
    }
    let non_empty = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
    let host_config = HostConfig {
        runtime: oci_runtime(spec),
        // docker-init (tini) as pid 1: signals reach the command, zombies are reaped.
        init: Some(true),
        privileged: Some(security.privileged),
        cap_drop: non_empty(&security.cap_drop),
        cap_add: non_empty(&security.cap_add),
        security_opt: non_empty(&security_opt),
        device_cgroup_rules: non_empty(&security.device_cgroup_rules),
        cgroupns_mode: security
            .cgroupns_host
            .then_some(HostConfigCgroupnsModeEnum::HOST),
        readonly_rootfs: Some(security.read_only_rootfs),
        // What the docker CLI sends for `--security-opt systempaths=unconfined`.
        masked_paths: security.system_paths_unconfined.then(Vec::new),
        readonly_paths: security.system_paths_unconfined.then(Vec::new),
        group_add: (!plan.group_add.is_empty())
            .then(|| plan.group_add.iter().map(u32::to_string).collect()),
        mounts: (!mounts.is_empty()).then_some(mounts),
        tmpfs: (!tmpfs.is_empty()).then_some(tmpfs),
        network_mode: Some(plan.network.mode.clone()),
        pids_limit: plan.limits.pids,
        memory: plan
            .limits
            .memory
            .map(|m| i64::try_from(m.0).unwrap_or(i64::MAX)),
        nano_cpus: plan.limits.cpus.map(|c| (c * 1e9).round() as i64),
        ..Default::default()
    };
    ContainerCreateBody {
        image: Some(plan.image.reference().to_owned()),
        cmd: spec.command.clone().or_else(|| plan.command.clone()),
        // Values, secrets included, go to the engine only; never to a log.
        env: Some(env),
        working_dir: plan.workdir.clone(),
        user,
        labels: Some(run_labels(spec)),
        tty: Some(spec.tty),
        open_stdin: Some(spec.stdin),
        // A detached run's stdin stays open when an attach leaves (docker run -d -i).
        stdin_once: Some(spec.stdin && !spec.detached),
        attach_stdin: Some(spec.stdin),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        host_config: Some(host_config),
        ..Default::default()
    }
}

/// Puts berth-init in front of the command when the plan has it: its binary
/// (read-only) and the run's exec directory mounted, the engine's init off, and
/// the entrypoint `berth-helper init [--exec-dir DIR [--standby N]] --`
/// (standby for a pool member) followed by the image's entrypoint and the
/// command (the image's `Cmd` when none is given,
/// since an entrypoint set at create drops it). Pure.
pub(crate) fn with_init(
    body: &mut ContainerCreateBody,
    spec: &CreateSpec<'_>,
    image: Option<&crate::image::ImageFacts>,
) {
    use runtime_core::init::{EXEC_DIR, HELPER};
    let Some(helper) = &spec.plan.init.helper else {
        return;
    };
    let Some(host) = body.host_config.as_mut() else {
        return;
    };
    host.init = Some(false);
    let mounts = host.mounts.get_or_insert_with(Vec::new);
    mounts.push(EngineMount {
        typ: Some(MountType::BIND),
        source: Some(helper.to_string_lossy().into_owned()),
        target: Some(HELPER.to_owned()),
        read_only: Some(true),
        ..Default::default()
    });
    let mut entrypoint = vec![HELPER.to_owned(), "init".to_owned()];
    if let Some(dir) = &spec.exec_dir {
        mounts.push(EngineMount {
            typ: Some(MountType::BIND),
            source: Some(dir.to_string_lossy().into_owned()),
            target: Some(EXEC_DIR.to_owned()),
            read_only: Some(false),
            ..Default::default()
        });
        entrypoint.extend(["--exec-dir".to_owned(), EXEC_DIR.to_owned()]);
        if spec.pool.is_some() {
            // A pool member: the command waits for a claim, which keeps the
            // image's entrypoint in front of the command it gives.
            let words = image.map_or(0, |i| i.entrypoint.len());
            entrypoint.extend(["--standby".to_owned(), words.to_string()]);
        }
    }
    entrypoint.push("--".to_owned());
    if let Some(image) = image {
        entrypoint.extend(image.entrypoint.iter().cloned());
        if body.cmd.is_none() && !image.cmd.is_empty() {
            body.cmd = Some(image.cmd.clone());
        }
    }
    body.entrypoint = Some(entrypoint);
}

/// Creates the run's networks and volumes, then its container; returns its id.
/// Everything is labelled with the run id, so a failure part-way is cleaned up by
/// removing the run. The shared network is not: it is looked up (one request)
/// and made only when missing.
pub(crate) async fn create(
    docker: &Docker,
    spec: &CreateSpec<'_>,
    image: Option<&crate::image::ImageFacts>,
) -> Result<String, DockerError> {
    let labels = run_labels(spec);
    if let Some(shared) = &spec.plan.network.shared {
        crate::network::ensure(docker, shared).await?;
    }
    for name in &spec.plan.network.create {
        create_network(docker, name, &labels).await?;
    }
    let egress = crate::egress::setup(docker, spec, &labels).await?;
    let volumes = spec
        .plan
        .mounts
        .iter()
        .filter(|m| matches!(m, Mount::Volume { .. }))
        .count();
    for index in 0..volumes {
        let name = volume_name(&spec.run_id, index);
        tracing::debug!(volume = %name, "creating volume");
        docker
            .create_volume(VolumeCreateRequest {
                name: Some(name.clone()),
                labels: Some(labels.clone()),
                ..Default::default()
            })
            .await
            .map_err(|e| DockerError::api(format!("create volume {name}"), "volume", &name, e))?;
    }
    let options = CreateContainerOptionsBuilder::default()
        .name(&spec.name)
        .build();
    // Names only: the environment holds secrets and is never logged.
    tracing::debug!(
        container = %spec.name,
        run_id = %spec.run_id,
        image = spec.plan.image.reference(),
        oci_runtime = oci_runtime(spec).as_deref().unwrap_or("(engine default)"),
        "creating container"
    );
    let mut body = container_body(spec, image.map(|i| i.user.as_str()));
    with_init(&mut body, spec, image);
    if let Some(join) = egress {
        // The proxy's address is known only now: its variables join the plan's.
        let env = body.env.get_or_insert_with(Vec::new);
        env.extend(join.env.iter().map(|(k, v)| format!("{k}={v}")));
        if let Some(host) = body.host_config.as_mut() {
            host.network_mode = Some(join.network);
            if let Some(volume) = join.ca_volume {
                host.mounts.get_or_insert_with(Vec::new).push(EngineMount {
                    typ: Some(MountType::VOLUME),
                    source: Some(volume),
                    target: Some(runtime_core::egress::CA_MOUNT.to_owned()),
                    read_only: Some(true),
                    ..Default::default()
                });
            }
        }
    }
    let created = while_ambiguous(|| docker.create_container(Some(options.clone()), body.clone()))
        .await
        .map_err(|e| {
            DockerError::api(
                format!("create container {}", spec.name),
                "container",
                &spec.name,
                e,
            )
        })?;
    Ok(created.id)
}

/// Creates a labelled network, refusing a name that is taken (the engine would
/// otherwise create a second network with the same name).
async fn create_network(
    docker: &Docker,
    name: &str,
    labels: &HashMap<String, String>,
) -> Result<(), DockerError> {
    match docker
        .inspect_network(name, None::<InspectNetworkOptions>)
        .await
    {
        Ok(_) => {
            return Err(DockerError::NetworkExists {
                name: name.to_owned(),
            });
        }
        Err(BollardError::DockerResponseServerError {
            status_code: 404, ..
        }) => {}
        Err(e) => {
            return Err(DockerError::api(
                format!("inspect network {name}"),
                "network",
                name,
                e,
            ));
        }
    }
    tracing::debug!(network = name, "creating network");
    docker
        .create_network(NetworkCreateRequest {
            name: name.to_owned(),
            labels: Some(labels.clone()),
            ..Default::default()
        })
        .await
        .map_err(|e| DockerError::api(format!("create network {name}"), "network", name, e))?;
    Ok(())
}

/// The run id a container's labels carry, when it has a valid one.
pub(crate) async fn run_id(docker: &Docker, id: &str) -> Option<runtime_core::RunId> {
    let inspected = docker
        .inspect_container(id, None::<InspectContainerOptions>)
        .await
        .ok()?;
    let labels = inspected.config?.labels?;
    labels.get(labels::RUN_ID)?.parse().ok()
}

/// Starts the run's sidecars that are not running (a stopped run's proxy).
pub(crate) async fn start_sidecars(
    docker: &Docker,
    run_id: &runtime_core::RunId,
) -> Result<(), DockerError> {
    let containers = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&crate::remove::run_filter(run_id))
                .build(),
        ))
        .await
        .map_err(|e| DockerError::api("list sidecars", "container", "", e))?;
    for sidecar in containers {
        let role = sidecar
            .labels
            .as_ref()
            .and_then(|l| l.get(labels::ROLE))
            .map(String::as_str);
        let running = sidecar.state == Some(ContainerSummaryStateEnum::RUNNING);
        let holds_secrets = sidecar
            .labels
            .as_ref()
            .is_some_and(|l| l.contains_key(crate::egress::HOLDS_SECRETS));
        if crate::egress::is_sidecar(role) && !running && holds_secrets {
            return Err(DockerError::Refused {
                operation: "start the run again",
                reason: format!(
                    "its egress proxy held the secrets bound to hosts in memory only, and they went with it; remove the run (berth rm) and run it anew: {run_id}"
                ),
            });
        }
        if let (true, false, Some(id)) = (crate::egress::is_sidecar(role), running, &sidecar.id) {
            start(docker, id).await?;
        }
    }
    Ok(())
}

/// Starts a created container. The engine checks the network only at start, so a
/// sandbox whose shared network `berth gc` removed after create fails: then the
/// network is made again and the start tried again.
pub(crate) async fn start(docker: &Docker, id: &str) -> Result<(), DockerError> {
    let start_error = |e| DockerError::api(format!("start {id}"), "sandbox", id, e);
    let Err(err) =
        while_ambiguous(|| docker.start_container(id, None::<StartContainerOptions>)).await
    else {
        return Ok(());
    };
    let network_mode = docker
        .inspect_container(id, None::<InspectContainerOptions>)
        .await
        .ok()
        .and_then(|c| c.host_config)
        .and_then(|h| h.network_mode);
    if network_mode.as_deref() != Some(SHARED_NETWORK) {
        return Err(start_error(err));
    }
    if !crate::network::ensure(docker, SHARED_NETWORK)
        .await?
        .changed
    {
        return Err(start_error(err));
    }
    docker
        .start_container(id, None::<StartContainerOptions>)
        .await
        .map_err(start_error)
}

/// Whether the engine refused because two networks share the name asked for: for
/// a moment while racing first uses of the shared network settle on one.
fn is_ambiguous(err: &BollardError) -> bool {
    matches!(err, BollardError::DockerResponseServerError { message, .. }
        if message.contains("is ambiguous ("))
}

/// Runs an engine request again while it fails with an ambiguous network name,
/// for up to a second: the racer that made the duplicate removes it meanwhile.
async fn while_ambiguous<T, F, Fut>(mut request: F) -> Result<T, BollardError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, BollardError>>,
{
    let mut tries = 0;
    loop {
        match request().await {
            Err(e) if is_ambiguous(&e) && tries < 50 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => return other,
        }
    }
}

/// Whole seconds of grace, rounded up so a short grace is not an immediate kill.
pub(crate) fn grace_secs(grace: Duration) -> i32 {
    let secs = grace.as_secs() + u64::from(grace.subsec_nanos() > 0);
    i32::try_from(secs).unwrap_or(i32::MAX)
}

/// Stops a container: SIGTERM, then SIGKILL after `grace`. Stopping a stopped
/// container is not an error.
pub(crate) async fn stop(docker: &Docker, id: &str, grace: Duration) -> Result<(), DockerError> {
    let options = StopContainerOptionsBuilder::default()
        .t(grace_secs(grace))
        .build();
    // The engine answers 304 for a container that is not running; bollard counts
    // that as success.
    docker
        .stop_container(id, Some(options))
        .await
        .map_err(|e| DockerError::api(format!("stop {id}"), "sandbox", id, e))
}

#[cfg(test)]
mod request_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_ambiguous_network_name_is_retried() {
        let server = |message: &str| BollardError::DockerResponseServerError {
            status_code: 400,
            message: message.to_owned(),
        };
        assert!(super::is_ambiguous(&server(
            "network berth is ambiguous (2 matches found on name)"
        )));
        assert!(!super::is_ambiguous(&server("network berth not found")));
    }

    #[test]
    fn grace_rounds_up_to_whole_seconds() {
        assert_eq!(grace_secs(Duration::ZERO), 0);
        assert_eq!(grace_secs(Duration::from_millis(1)), 1);
        assert_eq!(grace_secs(Duration::from_secs(10)), 10);
        assert_eq!(grace_secs(Duration::from_millis(2500)), 3);
    }
}
