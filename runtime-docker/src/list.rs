//! berth's objects on the engine, by the managed-by label: sandboxes for `berth ps`
//! (one list request, no per-container inspect, so `ps` stays fast) and networks and
//! volumes for `berth gc`. Each listed container's labels are classified here, at
//! the boundary: one without a valid run id is listed as foreign, with no run id.

use std::collections::{BTreeMap, HashMap};

use bollard::Docker;
use bollard::models::{ContainerSummary, ContainerSummaryStateEnum};
use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListNetworksOptionsBuilder, ListVolumesOptionsBuilder,
};
use runtime_core::labels::Ownership;
use runtime_core::runtime::{ResourceInfo, ResourceKind};
use runtime_core::{RuntimeKind, SandboxInfo, SandboxState, labels};

use crate::errors::DockerError;

fn managed_filter() -> HashMap<String, Vec<String>> {
    HashMap::from([(
        "label".to_owned(),
        vec![format!(
            "{}={}",
            labels::MANAGED_BY,
            labels::MANAGED_BY_VALUE
        )],
    )])
}

/// berth's containers on this engine, runc and runsc alike (`all`: stopped ones too).
pub(crate) async fn list(docker: &Docker, all: bool) -> Result<Vec<SandboxInfo>, DockerError> {
    let options = ListContainersOptionsBuilder::default()
        .all(all)
        .filters(&managed_filter())
        .build();
    let containers = docker
        .list_containers(Some(options))
        .await
        .map_err(|e| DockerError::api("list containers", "container", "", e))?;
    Ok(sandboxes(containers))
}

fn sandboxes(containers: Vec<ContainerSummary>) -> Vec<SandboxInfo> {
    containers
        .into_iter()
        .filter(|c| !is_sidecar_summary(c))
        .filter_map(summary_to_info)
        .collect()
}

/// Every sandbox (stopped ones too) and every network, volume and sidecar of
/// berth's on this engine, from one listing of each kind, made at once.
pub(crate) async fn inventory(
    docker: &Docker,
) -> Result<(Vec<SandboxInfo>, Vec<ResourceInfo>), DockerError> {
    let (containers, resources) = listed(docker).await?;
    Ok((sandboxes(containers), resources))
}

fn is_sidecar_summary(c: &ContainerSummary) -> bool {
    crate::egress::is_sidecar(
        c.labels
            .as_ref()
            .and_then(|l| l.get(labels::ROLE))
            .map(String::as_str),
    )
}

/// berth's networks, volumes and sidecar containers on this engine.
pub(crate) async fn resources(docker: &Docker) -> Result<Vec<ResourceInfo>, DockerError> {
    listed(docker).await.map(|(_, resources)| resources)
}

/// berth's containers (all of them), and its networks, volumes and sidecars.
async fn listed(
    docker: &Docker,
) -> Result<(Vec<ContainerSummary>, Vec<ResourceInfo>), DockerError> {
    let filters = managed_filter();
    let (networks, volumes, containers) = tokio::join!(
        docker.list_networks(Some(
            ListNetworksOptionsBuilder::default()
                .filters(&filters)
                .build()
        )),
        docker.list_volumes(Some(
            ListVolumesOptionsBuilder::default()
                .filters(&filters)
                .build()
        )),
        docker.list_containers(Some(
            ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&filters)
                .build()
        )),
    );
    let containers =
        containers.map_err(|e| DockerError::api("list containers", "container", "", e))?;
    let networks = networks.map_err(|e| DockerError::api("list networks", "network", "", e))?;
    let volumes = volumes.map_err(|e| DockerError::api("list volumes", "volume", "", e))?;
    let mut out: Vec<ResourceInfo> = networks
        .into_iter()
        // The shared network belongs to no run: `network::remove_unused` sweeps it.
        .filter(|n| !n.labels.as_ref().is_some_and(crate::network::is_shared))
        .filter_map(|n| {
            Some(ResourceInfo {
                kind: ResourceKind::Network,
                name: n.name?,
                labels: n.labels.unwrap_or_default().into_iter().collect(),
            })
        })
        .collect();
    out.extend(
        volumes
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(|v| ResourceInfo {
                kind: ResourceKind::Volume,
                name: v.name,
                labels: v.labels.into_iter().collect(),
            }),
    );
    out.extend(
        containers
            .iter()
            .filter(|c| is_sidecar_summary(c))
            .filter_map(|c| {
                Some(ResourceInfo {
                    kind: ResourceKind::Sidecar,
                    name: c
                        .names
                        .as_ref()?
                        .first()?
                        .trim_start_matches('/')
                        .to_owned(),
                    labels: c.labels.clone().unwrap_or_default().into_iter().collect(),
                })
            }),
    );
    Ok((containers, out))
}

/// Maps one listed container. Pure; skips entries without an id. The berth runtime
/// and OCI runtime come from the labels (the list answer has no `HostConfig.Runtime`);
/// the exit code is read from the status text ("Exited (137) 3 seconds ago").
pub(crate) fn summary_to_info(c: ContainerSummary) -> Option<SandboxInfo> {
    let id = c.id?;
    let labels: BTreeMap<String, String> = c.labels.unwrap_or_default().into_iter().collect();
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
    let name = c
        .names
        .as_deref()
        .and_then(<[String]>::first)
        .map_or_else(|| id.clone(), |n| n.trim_start_matches('/').to_owned());
    let owner = Ownership::classify_container(&labels);
    Some(SandboxInfo {
        name,
        run_id: owner.run_id().cloned(),
        foreign: owner.foreign_reason().map(str::to_owned),
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
pub(crate) fn parse_exit_code(status: &str) -> Option<i64> {
    let rest = status.strip_prefix("Exited (")?;
    rest[..rest.find(')')?].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exit_codes_from_status() {
        assert_eq!(parse_exit_code("Exited (137) 3 seconds ago"), Some(137));
        assert_eq!(parse_exit_code("Exited (0) About a minute ago"), Some(0));
        assert_eq!(parse_exit_code("Exited (-1) now"), Some(-1));
        assert_eq!(parse_exit_code("Up 2 minutes"), None);
        assert_eq!(parse_exit_code("Up 2 minutes (healthy)"), None);
    }

    #[test]
    fn maps_a_listed_container() {
        let summary = ContainerSummary {
            id: Some("abc123".to_owned()),
            names: Some(vec!["/agent-1".to_owned()]),
            image: Some("berth-test/busybox".to_owned()),
            created: Some(1_700_000_000),
            state: Some(ContainerSummaryStateEnum::EXITED),
            status: Some("Exited (3) 2 seconds ago".to_owned()),
            labels: Some(HashMap::from([
                (labels::MANAGED_BY.to_owned(), "berth".to_owned()),
                (labels::RUN_ID.to_owned(), "0123456789ab".to_owned()),
                (labels::RUNTIME.to_owned(), "gvisor".to_owned()),
                (labels::OCI_RUNTIME.to_owned(), "runsc".to_owned()),
            ])),
            ..Default::default()
        };
        let info = summary_to_info(summary).expect("mapped");
        assert_eq!(info.name, "agent-1");
        assert_eq!(info.run_id.as_deref(), Some("0123456789ab"));
        assert_eq!(info.foreign, None);
        assert_eq!(info.runtime, RuntimeKind::Gvisor);
        assert_eq!(info.oci_runtime.as_deref(), Some("runsc"));
        assert_eq!(info.state, SandboxState::Exited);
        assert_eq!(info.exit_code, Some(3));
        assert_eq!(info.created, 1_700_000_000);
        assert!(summary_to_info(ContainerSummary::default()).is_none());
    }

    #[test]
    fn a_container_without_a_valid_run_id_is_foreign() {
        for run_id in [
            None,
            Some(""),
            Some("../../../canary"),
            Some("0123456789AB"),
        ] {
            let mut labels = HashMap::from([
                (labels::MANAGED_BY.to_owned(), "berth".to_owned()),
                (labels::EXPIRES.to_owned(), "1".to_owned()),
            ]);
            if let Some(id) = run_id {
                labels.insert(labels::RUN_ID.to_owned(), id.to_owned());
            }
            let info = summary_to_info(ContainerSummary {
                id: Some("f0".to_owned()),
                labels: Some(labels),
                ..Default::default()
            })
            .expect("mapped");
            assert_eq!(info.run_id, None, "{run_id:?}");
            assert!(
                info.foreign
                    .as_deref()
                    .is_some_and(|r| r.contains("berth.run-id")),
                "{run_id:?}: {:?}",
                info.foreign
            );
        }
    }
}
