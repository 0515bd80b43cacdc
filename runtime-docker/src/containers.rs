//! Containers, networks and volumes of a run: the pure translation of a plan into
//! the engine's create request, and create / start / stop / remove / list by label.

use std::collections::HashMap;
use std::time::Duration;

use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, ContainerSummary, ContainerSummaryStateEnum, HostConfig,
    HostConfigCgroupnsModeEnum, Mount as EngineMount, MountType, NetworkCreateRequest,
    VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, ListNetworksOptionsBuilder,
    ListVolumesOptionsBuilder, RemoveContainerOptionsBuilder, RemoveVolumeOptionsBuilder,
    StopContainerOptionsBuilder,
};
use runtime_core::labels;
use runtime_core::plan::Mount;
use runtime_core::runtime::{ResourceInfo, ResourceKind};
use runtime_core::{CreateSpec, Removed, RuntimeKind, SandboxInfo, SandboxState};

use crate::engine::DockerError;

/// The name of the `index`th anonymous volume of a run.
pub fn volume_name(run_id: &str, index: usize) -> String {
    format!("berth-{run_id}-{index}")
}

/// The engine's create request for a spec. Pure; `volumes` names the run's volumes
/// in the order of the plan's `Mount::Volume`s.
pub fn container_body(spec: &CreateSpec<'_>) -> ContainerCreateBody {
    let plan = spec.plan;
    let labels: HashMap<String, String> = spec.labels().into_iter().collect();
    let mut volume_index = 0;
    let mounts: Vec<EngineMount> = plan
        .mounts
        .iter()
        .map(|m| match m {
            Mount::Bind {
                source,
                target,
                read_only,
                ..
            } => EngineMount {
                typ: Some(MountType::BIND),
                source: Some(source.to_string_lossy().into_owned()),
                target: Some(target.clone()),
                read_only: Some(*read_only),
                ..Default::default()
            },
            Mount::Volume { target, .. } => {
                let name = volume_name(&spec.run_id, volume_index);
                volume_index += 1;
                EngineMount {
                    typ: Some(MountType::VOLUME),
                    source: Some(name),
                    target: Some(target.clone()),
                    read_only: Some(false),
                    ..Default::default()
                }
            }
        })
        .collect();
    let security = &plan.security;
    let mut security_opt = security.security_opt.clone();
    if security.no_new_privileges {
        security_opt.push("no-new-privileges:true".to_owned());
    }
    let non_empty = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
    let host_config = HostConfig {
        runtime: plan.oci_runtime.clone(),
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
        network_mode: Some(plan.network.mode.clone()),
        pids_limit: plan.limits.pids,
        memory: plan
            .limits
            .memory
            .map(|m| i64::try_from(m.0).unwrap_or(i64::MAX)),
        nano_cpus: plan.limits.cpus.map(|c| (c * 1e9).round() as i64),
        ..Default::default()
    };
    let cmd = spec.command.clone().or_else(|| plan.command.clone());
    ContainerCreateBody {
        image: Some(plan.image.reference().to_owned()),
        cmd,
        env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        working_dir: plan.workdir.clone(),
        user: plan.user.clone(),
        labels: Some(labels),
        tty: Some(spec.tty),
        open_stdin: Some(spec.stdin),
        stdin_once: Some(spec.stdin),
        attach_stdin: Some(spec.stdin),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        host_config: Some(host_config),
        ..Default::default()
    }
}

/// Creates the run's volumes and networks, then its container; returns its id.
pub async fn create(docker: &Docker, spec: &CreateSpec<'_>) -> Result<String, DockerError> {
    let labels: HashMap<String, String> = spec.labels().into_iter().collect();
    let volumes = spec
        .plan
        .mounts
        .iter()
        .filter(|m| matches!(m, Mount::Volume { .. }))
        .count();
    for index in 0..volumes {
        let name = volume_name(&spec.run_id, index);
        docker
            .create_volume(VolumeCreateRequest {
                name: Some(name.clone()),
                labels: Some(labels.clone()),
                ..Default::default()
            })
            .await
            .map_err(|e| DockerError::api(format!("create volume {name}"), "volume", &name, e))?;
    }
    for network in &spec.plan.network.create {
        docker
            .create_network(NetworkCreateRequest {
                name: network.clone(),
                labels: Some(labels.clone()),
                ..Default::default()
            })
            .await
            .map_err(|e| {
                DockerError::api(format!("create network {network}"), "network", network, e)
            })?;
    }
    let options = CreateContainerOptionsBuilder::default()
        .name(&spec.name)
        .build();
    let created = docker
        .create_container(Some(options), container_body(spec))
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

/// Stops a container: SIGTERM, then SIGKILL after `grace`.
pub async fn stop(docker: &Docker, id: &str, grace: Duration) -> Result<(), DockerError> {
    let secs = i32::try_from(grace.as_secs()).unwrap_or(i32::MAX);
    let options = StopContainerOptionsBuilder::default().t(secs).build();
    match docker.stop_container(id, Some(options)).await {
        Ok(()) => Ok(()),
        // 304: already stopped.
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 304, ..
        }) => Ok(()),
        Err(e) => Err(DockerError::api(format!("stop {id}"), "sandbox", id, e)),
    }
}

fn run_filter(run_id: &str) -> HashMap<String, Vec<String>> {
    HashMap::from([(
        "label".to_owned(),
        vec![format!("{}={run_id}", labels::RUN_ID)],
    )])
}

/// Whether an engine error means the object is already gone (or going).
fn gone(err: &bollard::errors::Error) -> bool {
    match err {
        bollard::errors::Error::DockerResponseServerError {
            status_code,
            message,
        } => {
            *status_code == 404 || (*status_code == 409 && message.contains("already in progress"))
        }
        _ => false,
    }
}

/// Removes every container, network and volume labelled with `run_id`.
pub async fn remove(docker: &Docker, run_id: &str) -> Result<Removed, DockerError> {
    let mut removed = Removed::default();
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&run_filter(run_id))
        .build();
    let containers = docker.list_containers(Some(options)).await.map_err(|e| {
        DockerError::api(format!("list containers of run {run_id}"), "run", run_id, e)
    })?;
    for c in containers {
        let Some(id) = c.id else { continue };
        let options = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        match docker.remove_container(&id, Some(options)).await {
            Ok(()) => removed
                .containers
                .push(display_name(c.names.as_deref()).unwrap_or(id)),
            Err(e) if gone(&e) => {}
            Err(e) => {
                return Err(DockerError::api(
                    format!("remove container {id}"),
                    "container",
                    &id,
                    e,
                ));
            }
        }
    }
    let networks = docker
        .list_networks(Some(
            ListNetworksOptionsBuilder::default()
                .filters(&run_filter(run_id))
                .build(),
        ))
        .await
        .map_err(|e| {
            DockerError::api(format!("list networks of run {run_id}"), "run", run_id, e)
        })?;
    for n in networks {
        let Some(name) = n.name else { continue };
        match docker.remove_network(&name).await {
            Ok(()) => removed.networks.push(name),
            Err(e) if gone(&e) => {}
            Err(e) => {
                return Err(DockerError::api(
                    format!("remove network {name}"),
                    "network",
                    &name,
                    e,
                ));
            }
        }
    }
    let volumes = docker
        .list_volumes(Some(
            ListVolumesOptionsBuilder::default()
                .filters(&run_filter(run_id))
                .build(),
        ))
        .await
        .map_err(|e| DockerError::api(format!("list volumes of run {run_id}"), "run", run_id, e))?;
    for v in volumes.volumes.unwrap_or_default() {
        let options = RemoveVolumeOptionsBuilder::default().force(true).build();
        match docker.remove_volume(&v.name, Some(options)).await {
            Ok(()) => removed.volumes.push(v.name),
            Err(e) if gone(&e) => {}
            Err(e) => {
                return Err(DockerError::api(
                    format!("remove volume {}", v.name),
                    "volume",
                    &v.name,
                    e,
                ));
            }
        }
    }
    Ok(removed)
}

fn display_name(names: Option<&[String]>) -> Option<String> {
    names?.first().map(|n| n.trim_start_matches('/').to_owned())
}

/// berth's containers on this engine (both runc and runsc ones).
pub async fn list(docker: &Docker, all: bool) -> Result<Vec<SandboxInfo>, DockerError> {
    let filters = HashMap::from([(
        "label".to_owned(),
        vec![format!(
            "{}={}",
            labels::MANAGED_BY,
            labels::MANAGED_BY_VALUE
        )],
    )]);
    let options = ListContainersOptionsBuilder::default()
        .all(all)
        .filters(&filters)
        .build();
    let containers = docker
        .list_containers(Some(options))
        .await
        .map_err(|e| DockerError::api("list containers", "container", "", e))?;
    Ok(containers.into_iter().filter_map(summary_to_info).collect())
}

/// berth's networks and volumes on this engine.
pub async fn resources(docker: &Docker) -> Result<Vec<ResourceInfo>, DockerError> {
    let filters = HashMap::from([(
        "label".to_owned(),
        vec![format!(
            "{}={}",
            labels::MANAGED_BY,
            labels::MANAGED_BY_VALUE
        )],
    )]);
    let mut out = Vec::new();
    let networks = docker
        .list_networks(Some(
            ListNetworksOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(|e| DockerError::api("list networks", "network", "", e))?;
    for n in networks {
        if let Some(name) = n.name {
            out.push(ResourceInfo {
                kind: ResourceKind::Network,
                name,
                labels: n.labels.unwrap_or_default().into_iter().collect(),
            });
        }
    }
    let volumes = docker
        .list_volumes(Some(
            ListVolumesOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(|e| DockerError::api("list volumes", "volume", "", e))?;
    for v in volumes.volumes.unwrap_or_default() {
        out.push(ResourceInfo {
            kind: ResourceKind::Volume,
            name: v.name,
            labels: v.labels.into_iter().collect(),
        });
    }
    Ok(out)
}

/// Maps one listed container; skips entries without an id.
pub fn summary_to_info(c: ContainerSummary) -> Option<SandboxInfo> {
    let id = c.id?;
    let labels: std::collections::BTreeMap<String, String> =
        c.labels.unwrap_or_default().into_iter().collect();
    let runtime = match labels.get(labels::RUNTIME).map(String::as_str) {
        Some("gvisor") => RuntimeKind::Gvisor,
        Some("apple") => RuntimeKind::Apple,
        _ => RuntimeKind::Docker,
    };
    let state = match c.state {
        Some(ContainerSummaryStateEnum::CREATED) => SandboxState::Created,
        Some(ContainerSummaryStateEnum::RUNNING) => SandboxState::Running,
        Some(ContainerSummaryStateEnum::PAUSED) => SandboxState::Paused,
        Some(ContainerSummaryStateEnum::RESTARTING) => SandboxState::Stopping,
        Some(ContainerSummaryStateEnum::EXITED) => SandboxState::Exited,
        _ => SandboxState::Unknown,
    };
    let status = c.status.unwrap_or_default();
    let exit_code = (state == SandboxState::Exited)
        .then(|| parse_exit_code(&status))
        .flatten();
    Some(SandboxInfo {
        name: display_name(c.names.as_deref()).unwrap_or_else(|| id.clone()),
        run_id: labels.get(labels::RUN_ID).cloned().unwrap_or_default(),
        runtime,
        oci_runtime: labels.get(labels::OCI_RUNTIME).cloned(),
        image: c.image.unwrap_or_default(),
        state,
        status,
        created: c.created.unwrap_or_default(),
        exit_code,
        labels,
        id,
    })
}

/// "Exited (137) 3 seconds ago" -> 137.
fn parse_exit_code(status: &str) -> Option<i64> {
    let start = status.find('(')? + 1;
    let end = status[start..].find(')')? + start;
    status[start..end].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::parse_exit_code;

    #[test]
    fn parses_exit_codes_from_status() {
        assert_eq!(parse_exit_code("Exited (137) 3 seconds ago"), Some(137));
        assert_eq!(parse_exit_code("Exited (0) About a minute ago"), Some(0));
        assert_eq!(parse_exit_code("Up 2 minutes"), None);
    }
}
