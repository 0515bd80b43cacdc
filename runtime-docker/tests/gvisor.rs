//! The backend under runsc, as the gVisor backend drives it: the plan's OCI runtime
//! reaches `HostConfig.Runtime`, the sandbox boots gVisor's kernel, and exec stdio
//! stays exact.

mod common;

use common::{
    RunGuard, backend, collect, collect_parts, direct, engine, engine_and_run, image, plan, run_id,
    spec,
};
use runtime_core::{ExecSpec, Runtime, RuntimeKind};
use tokio::io::AsyncWriteExt;

#[tokio::test]
async fn a_gvisor_plan_runs_under_runsc_on_the_gvisor_kernel() {
    let image = image(&engine().await).await;
    let docker = backend(RuntimeKind::Gvisor);
    let run = run_id();
    let _guard = RunGuard::new(&run);
    let plan = plan(RuntimeKind::Gvisor, &image);
    let id = docker
        .create(&spec(
            &plan,
            &run,
            &["sh", "-c", "dmesg | head -n 1; sleep 600"],
        ))
        .await
        .expect("create under runsc");
    let inspected = direct::inspect(&id).await;
    assert_eq!(
        inspected.host_config.and_then(|h| h.runtime).as_deref(),
        Some("runsc")
    );
    docker.start(&id).await.expect("start");

    let payload: Vec<u8> = (0..=255u8).cycle().take(256 * 1024).collect();
    let session = docker
        .exec(
            &id,
            &ExecSpec {
                cmd: vec!["cat".to_owned()],
                stdin: true,
                ..Default::default()
            },
        )
        .await
        .expect("exec");
    let mut input = session.input.expect("stdin");
    let data = payload.clone();
    let writer = tokio::spawn(async move {
        input.write_all(&data).await.expect("write");
        input.shutdown().await.expect("close stdin");
    });
    let back = collect_parts(session.output, session.exit).await;
    writer.await.expect("writer");
    assert_eq!(back.code, 0);
    assert!(back.stdout == payload, "exec stdio under runsc is exact");

    docker
        .stop(&id, std::time::Duration::from_secs(1))
        .await
        .expect("stop");
    let logs = docker
        .logs(&id, &runtime_core::LogOptions::default())
        .await
        .expect("logs");
    let out = collect_parts(logs, runtime_core::runtime::ready_exit(0)).await;
    assert!(
        out.out().contains("Starting gVisor"),
        "dmesg: {}",
        out.out()
    );

    let listed = docker.list(true).await.expect("list");
    let info = listed.iter().find(|s| s.id == id).expect("listed");
    assert_eq!(info.runtime, RuntimeKind::Gvisor);
    assert_eq!(info.oci_runtime.as_deref(), Some("runsc"));
}

#[tokio::test]
async fn a_docker_plan_runs_under_runc_explicitly() {
    let (docker, image, run, _guard) = engine_and_run().await;
    let mut plan = plan(RuntimeKind::Docker, &image);
    // Even a plan that names no OCI runtime must not get the engine's default,
    // which may be runsc.
    plan.oci_runtime = None;
    let id = docker
        .create(&spec(&plan, &run, &["sh", "-c", "dmesg 2>&1 | head -n 1"]))
        .await
        .expect("create");
    let inspected = direct::inspect(&id).await;
    assert_eq!(
        inspected.host_config.and_then(|h| h.runtime).as_deref(),
        Some("runc")
    );
    let session = docker.attach(&id, false).await.expect("attach");
    docker.start(&id).await.expect("start");
    let out = collect(session).await;
    assert!(!out.out().contains("gVisor"), "{}", out.out());
}
