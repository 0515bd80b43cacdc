//! The shared network on the real engine, through the backend: sandboxes whose
//! first uses of a shared network race settle on one network, and pruning spares
//! a network in use. Each test works on a network name of its own, never on the
//! `berth` network other runs share, and removes it and its runs even when it
//! fails.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use bollard::query_parameters::ListNetworksOptionsBuilder;
use runtime_core::{Runtime, RuntimeKind};

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

/// Removes the networks named `name` when dropped, even if the test fails: by id,
/// since the engine refuses a name that two networks share.
struct NetworkGuard(String);

impl Drop for NetworkGuard {
    fn drop(&mut self) {
        let docker = |args: &[&str]| std::process::Command::new("docker").args(args).output();
        let filter = format!("name=^{}$", self.0);
        let Ok(listed) = docker(&["network", "ls", "-q", "--filter", &filter]) else {
            return;
        };
        for id in String::from_utf8_lossy(&listed.stdout).split_whitespace() {
            let _ = docker(&["network", "rm", id]);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_first_uses_leave_one_network() {
    let backend = Arc::new(common::engine().await);
    let image = common::image(&backend).await;
    let name = format!("berth-nettest-{}", common::run_id());
    let _network = NetworkGuard(name.clone());
    let runs: Vec<_> = (0..6).map(|_| common::run_id()).collect();
    let _runs: Vec<_> = runs.iter().map(common::RunGuard::new).collect();
    let racers: Vec<_> = runs
        .iter()
        .map(|run_id| {
            let backend = backend.clone();
            let mut plan = common::plan(RuntimeKind::Docker, &image);
            plan.network.mode = name.clone();
            plan.network.shared = Some(name.clone());
            let run_id = run_id.clone();
            tokio::spawn(async move {
                let id = backend
                    .create(&common::spec(&plan, &run_id, &["sleep", "30"]))
                    .await?;
                backend.start(&id).await?;
                Ok::<_, runtime_core::Error>(id)
            })
        })
        .collect();
    // Every racer lands before anything is checked: a failed check then drops the
    // guards with nothing left in flight to create a container after them.
    let mut results = Vec::new();
    for racer in racers {
        results.push(racer.await.expect("join"));
    }
    let ids: Vec<String> = results
        .into_iter()
        .map(|r| r.expect("create and start"))
        .collect();
    let left = named(&name).await;
    assert_eq!(left.len(), 1, "one network of the name remains: {left:?}");
    for id in &ids {
        let joined = common::direct::inspect(id)
            .await
            .network_settings
            .and_then(|s| s.networks)
            .and_then(|mut n| n.remove(&name))
            .and_then(|endpoint| endpoint.network_id);
        assert_eq!(
            joined.as_deref(),
            Some(left[0].as_str()),
            "every sandbox joins the survivor"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pruning_spares_a_network_in_use_and_removes_an_unused_one() {
    // Declared first, so dropped last: the run's container leaves the network first.
    let name = format!("berth-nettest-{}", common::run_id());
    let _network = NetworkGuard(name.clone());
    let (backend, image, run_id, _run) = common::engine_and_run().await;
    let mut plan = common::plan(RuntimeKind::Docker, &image);
    plan.network.mode = name.clone();
    plan.network.shared = Some(name.clone());
    let id = backend
        .create(&common::spec(&plan, &run_id, &["sleep", "60"]))
        .await
        .expect("create on the network");
    backend.start(&id).await.expect("start");

    let pruned = backend.prune_shared_network(&name).await.expect("prune");
    assert_eq!(pruned, Vec::<String>::new());
    assert_eq!(named(&name).await.len(), 1, "a network in use is kept");

    backend.remove(&run_id).await.expect("remove the run");
    let pruned = backend.prune_shared_network(&name).await.expect("prune");
    assert_eq!(pruned, vec![name.clone()]);
    assert!(
        named(&name).await.is_empty(),
        "an unused network is removed"
    );
}
