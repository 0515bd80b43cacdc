//! Direct engine access for checking what the backend created, independently of
//! the backend's own listing.

use std::collections::HashMap;

use bollard::Docker;
use bollard::models::ContainerInspectResponse;
use bollard::query_parameters::{
    InspectContainerOptions, ListContainersOptionsBuilder, ListNetworksOptionsBuilder,
    ListVolumesOptionsBuilder, RemoveImageOptionsBuilder,
};
use runtime_core::labels;

/// A negotiated client of the local engine.
pub async fn client() -> Docker {
    Docker::connect_with_local_defaults()
        .expect("connect to the engine")
        .negotiate_version()
        .await
        .expect("negotiate the API version")
}

/// `docker inspect` of a container.
pub async fn inspect(id: &str) -> ContainerInspectResponse {
    client()
        .await
        .inspect_container(id, None::<InspectContainerOptions>)
        .await
        .expect("inspect container")
}

/// Containers, networks and volumes labelled with `run_id`, by name.
pub async fn leftovers(run_id: &str) -> (Vec<String>, Vec<String>, Vec<String>) {
    let docker = client().await;
    let filter = HashMap::from([(
        "label".to_owned(),
        vec![format!("{}={run_id}", labels::RUN_ID)],
    )]);
    let containers = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&filter)
                .build(),
        ))
        .await
        .expect("list containers")
        .into_iter()
        .filter_map(|c| c.id)
        .collect();
    let networks = docker
        .list_networks(Some(
            ListNetworksOptionsBuilder::default()
                .filters(&filter)
                .build(),
        ))
        .await
        .expect("list networks")
        .into_iter()
        .filter_map(|n| n.name)
        .collect();
    let volumes = docker
        .list_volumes(Some(
            ListVolumesOptionsBuilder::default()
                .filters(&filter)
                .build(),
        ))
        .await
        .expect("list volumes")
        .volumes
        .unwrap_or_default()
        .into_iter()
        .map(|v| v.name)
        .collect();
    (containers, networks, volumes)
}

/// Removes an image this test built.
pub async fn remove_image(tag: &str) {
    let _ = client()
        .await
        .remove_image(
            tag,
            Some(RemoveImageOptionsBuilder::default().force(true).build()),
            None,
        )
        .await;
}
