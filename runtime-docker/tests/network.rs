//! The shared network on the real engine: racing first uses settle on one network,
//! and removal spares a network a container uses. Each test works on a network
//! name of its own, never on the `berth` network other runs share.

mod common;

use std::collections::HashMap;

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListNetworksOptionsBuilder, RemoveContainerOptionsBuilder,
};
use runtime_docker::network::{ensure, remove_unused};

/// Ids of the networks named exactly `name`.
async fn named(name: &str) -> Vec<String> {
    let docker = common::direct::client().await;
    let filters = HashMap::from([("name".to_owned(), vec![name.to_owned()])]);
    docker
        .list_networks(Some(
            ListNetworksOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .expect("list networks")
        .into_iter()
        .filter(|n| n.name.as_deref() == Some(name))
        .filter_map(|n| n.id)
        .collect()
}

/// Removes the networks named `name` when dropped, even if the test fails.
struct NetworkGuard(String);

impl Drop for NetworkGuard {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker")
            .args(["network", "rm", &self.0])
            .output();
        // A duplicate by the same name needs a second removal.
        let _ = std::process::Command::new("docker")
            .args(["network", "rm", &self.0])
            .output();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_first_uses_leave_one_network() {
    common::engine().await;
    let name = format!("berth-nettest-{}", common::run_id());
    let _guard = NetworkGuard(name.clone());
    let docker = common::direct::client().await;
    let racers = (0..6).map(|_| {
        let docker = docker.clone();
        let name = name.clone();
        tokio::spawn(async move { ensure(&docker, &name).await })
    });
    let mut ids = Vec::new();
    for racer in racers {
        ids.push(racer.await.expect("join").expect("ensure").id);
    }
    let left = named(&name).await;
    assert_eq!(left.len(), 1, "one network of the name remains: {left:?}");
    assert!(
        ids.iter().all(|id| *id == left[0]),
        "every racer joins the survivor: {ids:?} vs {left:?}"
    );
    let again = ensure(&docker, &name).await.expect("ensure again");
    assert_eq!(
        (again.id.as_str(), again.changed),
        (left[0].as_str(), false)
    );
}

#[tokio::test]
async fn removal_spares_a_network_in_use() {
    let backend = common::engine().await;
    let image = common::image(&backend).await;
    let run_id = common::run_id();
    let name = format!("berth-nettest-{run_id}");
    let _guard = NetworkGuard(name.clone());
    let docker = common::direct::client().await;
    ensure(&docker, &name).await.expect("ensure");

    let container = format!("{name}-user");
    let _container_guard = common::RunGuard::new(&run_id);
    docker
        .create_container(
            Some(
                CreateContainerOptionsBuilder::default()
                    .name(&container)
                    .build(),
            ),
            ContainerCreateBody {
                image: Some(image),
                cmd: Some(vec!["sleep".to_owned(), "60".to_owned()]),
                labels: Some(HashMap::from([
                    ("berth.managed-by".to_owned(), "berth".to_owned()),
                    ("berth.run-id".to_owned(), run_id.to_string()),
                ])),
                host_config: Some(bollard::models::HostConfig {
                    network_mode: Some(name.clone()),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .await
        .expect("create a container on the network");
    docker
        .start_container(&container, None)
        .await
        .expect("start it");

    assert_eq!(
        remove_unused(&docker, &name).await.expect("prune"),
        Vec::<String>::new()
    );
    assert_eq!(named(&name).await.len(), 1, "a network in use is kept");

    docker
        .remove_container(
            &container,
            Some(RemoveContainerOptionsBuilder::default().force(true).build()),
        )
        .await
        .expect("remove the container");
    assert_eq!(
        remove_unused(&docker, &name).await.expect("prune"),
        vec![name.clone()]
    );
    assert!(
        named(&name).await.is_empty(),
        "an unused network is removed"
    );
}
