//! The berth-owned bridge network sandboxes join instead of the engine's default
//! `docker0` bridge: labelled `berth.managed-by=berth` and `berth.role=network`, with
//! no run id, shared by every run and kept between runs, so a cold start pays no
//! network create. Traffic between its containers is off, so sharing it does not
//! connect sandboxes to each other. `berth gc` removes it once no container uses it.
//!
//! The engine allows two networks with one name, so a first use that races with
//! another one settles on a single network: create, list again, and keep the
//! oldest of the name (ties by id), removing the others. A creator that lists
//! before a later one creates sees only its own, which is the oldest; a later one
//! sees both and keeps the same. (bollard's model has no `CheckDuplicate`, which
//! engines since API 1.44 ignore anyway.)

use std::collections::HashMap;

use bollard::Docker;
use bollard::errors::Error as BollardError;
use bollard::models::{Network, NetworkCreateRequest};
use bollard::query_parameters::{InspectNetworkOptions, ListNetworksOptionsBuilder};
use runtime_core::labels;

use crate::errors::DockerError;

/// The labels of the shared network: berth's, and its role; never a run id.
pub(crate) fn shared_labels() -> HashMap<String, String> {
    HashMap::from([
        (
            labels::MANAGED_BY.to_owned(),
            labels::MANAGED_BY_VALUE.to_owned(),
        ),
        (labels::ROLE.to_owned(), labels::ROLE_NETWORK.to_owned()),
    ])
}

/// Whether a network carries the shared network's labels.
pub(crate) fn is_shared(labels: &HashMap<String, String>) -> bool {
    shared_labels()
        .iter()
        .all(|(k, v)| labels.get(k).is_some_and(|have| have == v))
}

/// The shared network as [`ensure`] found or made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ensured {
    /// The engine's id of the network to join.
    pub(crate) id: String,
    /// Whether anything had to be done (created, or duplicates removed).
    pub(crate) changed: bool,
}

/// Of the networks named `name`, berth's shared ones, oldest first (ties by id), and
/// whether a network of that name belongs to someone else. Pure.
pub(crate) fn pick(name: &str, networks: &[Network]) -> (Vec<String>, bool) {
    let mut ours: Vec<(&str, &str)> = Vec::new();
    let mut foreign = false;
    for n in networks.iter().filter(|n| n.name.as_deref() == Some(name)) {
        let Some(id) = n.id.as_deref() else { continue };
        if n.labels.as_ref().is_some_and(is_shared) {
            ours.push((n.created.as_deref().unwrap_or(""), id));
        } else {
            foreign = true;
        }
    }
    ours.sort_unstable();
    (
        ours.into_iter().map(|(_, id)| id.to_owned()).collect(),
        foreign,
    )
}

async fn named(docker: &Docker, name: &str) -> Result<Vec<Network>, DockerError> {
    // The engine's name filter matches substrings; `pick` keeps exact names.
    let filters = HashMap::from([("name".to_owned(), vec![name.to_owned()])]);
    docker
        .list_networks(Some(
            ListNetworksOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(|e| DockerError::api(format!("list networks named {name}"), "network", name, e))
}

/// Makes sure exactly one shared network named `name` exists; returns its id.
pub(crate) async fn ensure(docker: &Docker, name: &str) -> Result<Ensured, DockerError> {
    // The common case, in one request: it exists, once, and is berth's.
    if let Ok(found) = docker
        .inspect_network(name, None::<InspectNetworkOptions>)
        .await
        && found.name.as_deref() == Some(name)
        && found.labels.as_ref().is_some_and(is_shared)
        && let Some(id) = found.id
    {
        return Ok(Ensured { id, changed: false });
    }
    let (ours, foreign) = pick(name, &named(docker, name).await?);
    if foreign {
        return Err(DockerError::NetworkForeign {
            name: name.to_owned(),
        });
    }
    match ours.as_slice() {
        [one] => {
            return Ok(Ensured {
                id: one.clone(),
                changed: false,
            });
        }
        [] => {
            tracing::debug!(network = name, "creating the shared network");
            let created = docker
                .create_network(NetworkCreateRequest {
                    name: name.to_owned(),
                    driver: Some("bridge".to_owned()),
                    // Sandboxes share the network but not each other: no traffic
                    // between containers on it (docker0 allows it: CIS 2.1 asks
                    // for this).
                    options: Some(HashMap::from([(
                        "com.docker.network.bridge.enable_icc".to_owned(),
                        "false".to_owned(),
                    )])),
                    labels: Some(shared_labels()),
                    ..Default::default()
                })
                .await;
            match created {
                Ok(_) => {}
                // An engine that checks duplicates itself: another berth won.
                Err(BollardError::DockerResponseServerError {
                    status_code: 409, ..
                }) => {}
                Err(e) => {
                    return Err(DockerError::api(
                        format!("create network {name}"),
                        "network",
                        name,
                        e,
                    ));
                }
            }
        }
        _ => {}
    }
    let (ours, foreign) = pick(name, &named(docker, name).await?);
    if foreign {
        return Err(DockerError::NetworkForeign {
            name: name.to_owned(),
        });
    }
    let Some((keep, extra)) = ours.split_first() else {
        return Err(DockerError::NetworkVanished {
            name: name.to_owned(),
        });
    };
    for id in extra {
        // Every racer keeps the oldest and removes the rest; one in use stays.
        tracing::debug!(network = name, id = %id, "removing a duplicate shared network");
        let _ = docker.remove_network(id).await;
    }
    Ok(Ensured {
        id: keep.clone(),
        changed: true,
    })
}

/// Removes the shared networks named `name` that no container uses; returns their
/// names. One that a sandbox joins meanwhile is kept (the engine refuses to remove
/// it).
pub(crate) async fn remove_unused(docker: &Docker, name: &str) -> Result<Vec<String>, DockerError> {
    let filters = HashMap::from([(
        "label".to_owned(),
        shared_labels()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
    )]);
    let networks = docker
        .list_networks(Some(
            ListNetworksOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(|e| DockerError::api("list berth's networks", "network", "", e))?;
    let mut removed = Vec::new();
    for n in networks {
        let (Some(id), Some(name)) = (n.id, n.name.filter(|n| n == name)) else {
            continue;
        };
        let inspected = match docker
            .inspect_network(&id, None::<InspectNetworkOptions>)
            .await
        {
            Ok(inspected) => inspected,
            Err(BollardError::DockerResponseServerError {
                status_code: 404, ..
            }) => continue,
            Err(e) => {
                return Err(DockerError::api(
                    format!("inspect network {name}"),
                    "network",
                    &name,
                    e,
                ));
            }
        };
        if inspected.containers.is_some_and(|c| !c.is_empty()) {
            continue;
        }
        match docker.remove_network(&id).await {
            Ok(()) => removed.push(name),
            Err(BollardError::DockerResponseServerError {
                status_code: 403 | 404 | 409,
                ..
            }) => {}
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
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn network(name: &str, id: &str, created: &str, shared: bool) -> Network {
        Network {
            name: Some(name.to_owned()),
            id: Some(id.to_owned()),
            created: Some(created.to_owned()),
            labels: Some(if shared {
                shared_labels()
            } else {
                HashMap::new()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn the_oldest_shared_network_of_the_exact_name_wins() {
        let nets = [
            network("berth", "b2", "2026-01-02T00:00:00Z", true),
            network("berth", "b1", "2026-01-01T00:00:00Z", true),
            network("berth-other", "x", "2025-01-01T00:00:00Z", true),
        ];
        assert_eq!(
            pick("berth", &nets),
            (vec!["b1".into(), "b2".into()], false)
        );
    }

    #[test]
    fn a_network_of_the_name_without_berths_labels_is_foreign() {
        let nets = [network("berth", "f", "2026-01-01T00:00:00Z", false)];
        assert_eq!(pick("berth", &nets), (Vec::new(), true));
        let mut half = shared_labels();
        half.remove(labels::ROLE);
        assert!(!is_shared(&half));
    }
}
