//! Removing a run by its label: containers (forcibly, with their anonymous
//! volumes), then networks, then volumes. Objects already gone, or being removed by
//! someone else, are not errors, so removal is idempotent and safe to race.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use bollard::Docker;
use bollard::errors::Error as BollardError;
use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListNetworksOptionsBuilder, ListVolumesOptionsBuilder,
    RemoveContainerOptionsBuilder, RemoveVolumeOptionsBuilder,
};
use runtime_core::{Removed, RunId, labels};

use crate::errors::DockerError;

/// How long a network or volume may stay in use by a container that another
/// removal is still taking down.
const IN_USE_RETRIES: u32 = 50;
const IN_USE_PAUSE: Duration = Duration::from_millis(100);

/// The engine filter for one run's objects: berth's (`berth.managed-by=berth`)
/// and labelled with the run's id; the engine matches both.
pub(crate) fn run_filter(run_id: &RunId) -> HashMap<String, Vec<String>> {
    HashMap::from([(
        "label".to_owned(),
        vec![
            format!("{}={}", labels::MANAGED_BY, labels::MANAGED_BY_VALUE),
            format!("{}={run_id}", labels::RUN_ID),
        ],
    )])
}

/// What a failed removal means.
#[derive(Debug, PartialEq, Eq)]
enum Failure {
    /// Already gone, or being removed: nothing to do.
    Gone,
    /// Still used by a container on its way out: try again shortly.
    InUse,
    /// Anything else.
    Other,
}

fn failure(err: &BollardError) -> Failure {
    match err {
        BollardError::DockerResponseServerError {
            status_code: 404, ..
        } => Failure::Gone,
        BollardError::DockerResponseServerError {
            status_code,
            message,
        } if message.contains("already in progress") && matches!(status_code, 409 | 500) => {
            Failure::Gone
        }
        BollardError::DockerResponseServerError {
            status_code: 409 | 403 | 500,
            message,
        } if message.contains("in use") || message.contains("active endpoints") => Failure::InUse,
        _ => Failure::Other,
    }
}

/// Runs `attempt` until it succeeds, the object is gone (`Ok(false)`), or it fails
/// for a reason other than being in use for a little while.
async fn remove_with_retry<F, Fut>(mut attempt: F) -> Result<bool, BollardError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), BollardError>>,
{
    let mut tries = 0;
    loop {
        match attempt().await {
            Ok(()) => return Ok(true),
            Err(e) => match failure(&e) {
                Failure::Gone => return Ok(false),
                Failure::InUse if tries < IN_USE_RETRIES => {
                    tries += 1;
                    tokio::time::sleep(IN_USE_PAUSE).await;
                }
                Failure::InUse | Failure::Other => return Err(e),
            },
        }
    }
}

/// Removes every container, network and volume of berth labelled with `run_id`;
/// returns what this call removed.
pub(crate) async fn remove(docker: &Docker, run_id: &RunId) -> Result<Removed, DockerError> {
    let mut removed = Removed::default();
    let filter = run_filter(run_id);
    let list_error = |what: &str, e| {
        DockerError::api(
            format!("list the {what} of run {run_id}"),
            "run",
            run_id.as_str(),
            e,
        )
    };

    let containers = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&filter)
                .build(),
        ))
        .await
        .map_err(|e| list_error("containers", e))?;
    for c in containers {
        let Some(id) = c.id else { continue };
        let options = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        let done = remove_with_retry(|| docker.remove_container(&id, Some(options.clone())))
            .await
            .map_err(|e| DockerError::api(format!("remove container {id}"), "container", &id, e))?;
        if done {
            let name = c
                .names
                .as_deref()
                .and_then(<[String]>::first)
                .map(|n| n.trim_start_matches('/').to_owned());
            removed.containers.push(name.unwrap_or(id));
        }
    }

    let networks = docker
        .list_networks(Some(
            ListNetworksOptionsBuilder::default()
                .filters(&filter)
                .build(),
        ))
        .await
        .map_err(|e| list_error("networks", e))?;
    for n in networks {
        // By id: the engine allows two networks with one name.
        let Some(id) = n.id else { continue };
        let name = n.name.unwrap_or_else(|| id.clone());
        let done = remove_with_retry(|| docker.remove_network(&id))
            .await
            .map_err(|e| DockerError::api(format!("remove network {name}"), "network", &name, e))?;
        if done {
            removed.networks.push(name);
        }
    }

    let volumes = docker
        .list_volumes(Some(
            ListVolumesOptionsBuilder::default()
                .filters(&filter)
                .build(),
        ))
        .await
        .map_err(|e| list_error("volumes", e))?;
    for v in volumes.volumes.unwrap_or_default() {
        let options = RemoveVolumeOptionsBuilder::default().force(true).build();
        let done = remove_with_retry(|| docker.remove_volume(&v.name, Some(options.clone())))
            .await
            .map_err(|e| {
                DockerError::api(format!("remove volume {}", v.name), "volume", &v.name, e)
            })?;
        if done {
            removed.volumes.push(v.name);
        }
    }
    tracing::debug!(
        run_id = run_id.as_str(),
        containers = ?removed.containers,
        networks = ?removed.networks,
        volumes = ?removed.volumes,
        "removed run"
    );
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(status_code: u16, message: &str) -> BollardError {
        BollardError::DockerResponseServerError {
            status_code,
            message: message.to_owned(),
        }
    }

    #[test]
    fn the_run_filter_requires_berth_s_label_too() {
        let run = RunId::parse("0123456789ab").expect("id");
        let filter = run_filter(&run);
        let mut labels = filter["label"].clone();
        labels.sort();
        assert_eq!(
            labels,
            ["berth.managed-by=berth", "berth.run-id=0123456789ab"]
        );
        assert_eq!(filter.len(), 1);
    }

    #[test]
    fn removal_failures_are_told_apart() {
        assert_eq!(failure(&server(404, "No such container: x")), Failure::Gone);
        assert_eq!(
            failure(&server(
                409,
                "removal of container x is already in progress"
            )),
            Failure::Gone
        );
        assert_eq!(
            failure(&server(409, "remove berth-x-0: volume is in use - [abc]")),
            Failure::InUse
        );
        assert_eq!(
            failure(&server(
                403,
                "error while removing network: network n id abc has active endpoints"
            )),
            Failure::InUse
        );
        assert_eq!(failure(&server(500, "disk on fire")), Failure::Other);
    }
}
