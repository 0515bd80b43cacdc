//! What the probe reports about the real engine, and about one that is not there.

mod common;

use std::path::PathBuf;

use runtime_core::{Availability, Error, Runtime, RuntimeKind};
use runtime_docker::Endpoint;
use runtime_docker::{DockerRuntime, Runc};

#[tokio::test]
async fn the_probe_reports_the_engine_and_its_runtimes() {
    let docker = common::engine().await;
    let probe = docker.probe().await;
    let facts = probe.engine.expect("engine facts");
    assert!(!facts.version.is_empty());
    // The engine here speaks 1.41; the client negotiated down to it.
    let engine_api = common::direct::client()
        .await
        .version()
        .await
        .expect("version")
        .api_version
        .expect("api version");
    assert_eq!(facts.api_version, engine_api);
    let names: Vec<&str> = facts.runtimes.iter().map(|r| r.name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted, "runtimes are sorted by name");
    assert!(names.contains(&"runc"), "{names:?}");
    assert!(facts.default_runtime.is_some());
}

#[tokio::test]
async fn an_engine_that_is_not_there_is_unavailable_and_says_how_to_start_it() {
    let socket = PathBuf::from(format!("/tmp/berth-dt-no-engine-{}.sock", common::run_id()));
    let docker = DockerRuntime::with_endpoint(Runc, Endpoint::Unix(socket.clone()));
    match docker.probe().await.availability {
        Availability::Unavailable { reason, fix } => {
            assert!(reason.contains(&socket.display().to_string()), "{reason}");
            assert!(fix.contains("start the Docker engine"), "{fix}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(matches!(
        docker.list(true).await,
        Err(Error::Unavailable { .. })
    ));
    assert!(matches!(
        docker.remove(&runtime_core::RunId::random()).await,
        Err(Error::Unavailable { .. })
    ));
}

#[tokio::test]
async fn a_socket_nobody_listens_on_is_unavailable_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("dead.sock");
    // Bound and closed: the file exists, connecting is refused.
    drop(std::os::unix::net::UnixListener::bind(&socket).expect("bind"));
    let docker =
        DockerRuntime::with_endpoint(common::Reports(RuntimeKind::Gvisor), Endpoint::Unix(socket));
    assert!(matches!(
        docker.probe().await.availability,
        Availability::Unavailable { .. }
    ));
    match docker.list(false).await {
        Err(Error::Unavailable { runtime, .. }) => assert_eq!(runtime, RuntimeKind::Gvisor),
        other => panic!("expected Unavailable, got {other:?}"),
    }
}
