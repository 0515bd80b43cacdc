//! The sandbox lifecycle through the `Runtime` trait against the real engine:
//! create, attach, start, wait, logs, stop, list and remove, with what the plan
//! asks for (env, workdir, user, groups, mounts, volumes, networks, labels).

mod common;

use std::time::{Duration, Instant};

use common::{
    RunGuard, collect, collect_parts, direct, engine, engine_and_run, image, plan, run_id, spec,
};
use futures::StreamExt;
use runtime_core::plan::{Mount, MountPurpose};
use runtime_core::{
    CreateSpec, Error, LogOptions, Output, Runtime, RuntimeKind, SandboxState, labels,
};
use runtime_docker::DockerRuntime;
use tokio::io::AsyncWriteExt;

/// Creates, attaches, starts and reads the sandbox to its end.
async fn run_to_end(docker: &DockerRuntime, spec: &CreateSpec<'_>) -> common::Collected {
    let id = docker.create(spec).await.expect("create");
    let session = docker.attach(&id, false).await.expect("attach");
    docker.start(&id).await.expect("start");
    collect(session).await
}

#[tokio::test]
async fn wait_returns_the_main_process_exit_code() {
    let (docker, image, run, _guard) = engine_and_run().await;
    let plan = plan(RuntimeKind::Docker, &image);
    let id = docker
        .create(&spec(&plan, &run, &["sh", "-c", "exit 7"]))
        .await
        .expect("create");
    docker.start(&id).await.expect("start");
    assert_eq!(docker.wait(&id).await.expect("wait"), 7);
    // Waiting again on an exited sandbox answers at once with the same code.
    assert_eq!(docker.wait(&id).await.expect("wait again"), 7);
}

#[tokio::test]
async fn attach_before_start_sees_all_output_on_its_stream() {
    let (docker, image, run, _guard) = engine_and_run().await;
    let plan = plan(RuntimeKind::Docker, &image);
    let out = run_to_end(
        &docker,
        &spec(&plan, &run, &["sh", "-c", "echo out; echo err >&2; exit 3"]),
    )
    .await;
    assert_eq!(out.out(), "out\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
    assert_eq!(out.code, 3);
}

#[tokio::test]
async fn attach_with_stdin_feeds_the_main_process_until_closed() {
    let (docker, image, run, _guard) = engine_and_run().await;
    let plan = plan(RuntimeKind::Docker, &image);
    let mut spec = spec(&plan, &run, &["sh", "-c", "cat; echo done"]);
    spec.stdin = true;
    let id = docker.create(&spec).await.expect("create");
    let session = docker.attach(&id, true).await.expect("attach");
    docker.start(&id).await.expect("start");
    let mut input = session.input.expect("stdin");
    input
        .write_all(b"\x00to the main process\xff\n")
        .await
        .expect("write");
    input.shutdown().await.expect("close stdin");
    let out = collect_parts(session.output, session.exit).await;
    assert_eq!(out.stdout, b"\x00to the main process\xff\ndone\n");
    assert_eq!(out.code, 0);
}

#[tokio::test]
async fn a_tty_sandbox_sends_its_output_as_stdout() {
    let (docker, image, run, _guard) = engine_and_run().await;
    let plan = plan(RuntimeKind::Docker, &image);
    let mut spec = spec(&plan, &run, &["sh", "-c", "echo hi; echo err >&2; exit 2"]);
    spec.tty = true;
    let out = run_to_end(&docker, &spec).await;
    assert_eq!(out.out(), "hi\r\nerr\r\n");
    assert!(out.stderr.is_empty());
    assert_eq!(out.code, 2);
}

#[tokio::test]
async fn env_workdir_user_and_groups_reach_the_process() {
    let (docker, image, run, _guard) = engine_and_run().await;
    let mut plan = plan(RuntimeKind::Docker, &image);
    plan.workdir = Some("/tmp".to_owned());
    plan.user = Some("1000:1000".to_owned());
    plan.group_add = vec![4242];
    let mut spec = spec(
        &plan,
        &run,
        &["sh", "-c", "echo \"$GREETING\"; pwd; id -u; id -g; id -G"],
    );
    spec.env = vec![("GREETING".to_owned(), "hello world=1 'x'".to_owned())];
    let out = run_to_end(&docker, &spec).await;
    assert_eq!(out.code, 0, "{out:?}");
    let lines: Vec<String> = out.out().lines().map(str::to_owned).collect();
    assert_eq!(lines[0], "hello world=1 'x'");
    assert_eq!(lines[1], "/tmp");
    assert_eq!(lines[2], "1000");
    assert_eq!(lines[3], "1000");
    assert!(lines[4].split(' ').any(|g| g == "4242"), "{lines:?}");
}

#[tokio::test]
async fn a_read_only_bind_mount_is_readable_and_not_writable() {
    let (docker, image, run, _guard) = engine_and_run().await;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("hello.txt"), "from the host\n").expect("write");
    let mut plan = plan(RuntimeKind::Docker, &image);
    plan.mounts = vec![Mount::Bind {
        source: dir.path().to_owned(),
        declared: None,
        target: "/w".to_owned(),
        read_only: true,
        purpose: MountPurpose::Workspace,
    }];
    let out = run_to_end(
        &docker,
        &spec(
            &plan,
            &run,
            &[
                "sh",
                "-c",
                "cat /w/hello.txt; touch /w/new 2>&1; echo rc=$?",
            ],
        ),
    )
    .await;
    let text = out.out();
    assert!(text.starts_with("from the host\n"), "{text}");
    assert!(text.contains("Read-only file system"), "{text}");
    assert!(text.ends_with("rc=1\n"), "{text}");
    assert!(!dir.path().join("new").exists());
}

#[tokio::test]
async fn volumes_and_networks_are_labelled_and_removed_with_the_run() {
    let (docker, image, run, _guard) = engine_and_run().await;
    let network = format!("berth-dt-{run}-net");
    let mut plan = plan(RuntimeKind::Docker, &image);
    plan.mounts = vec![Mount::Volume {
        target: "/data".to_owned(),
        purpose: MountPurpose::DindStorage,
    }];
    plan.network.create = vec![network.clone()];
    plan.network.mode = network.clone();
    let out = run_to_end(
        &docker,
        &spec(
            &plan,
            &run,
            &["sh", "-c", "echo kept > /data/f && cat /data/f"],
        ),
    )
    .await;
    assert_eq!((out.code, out.out().as_str()), (0, "kept\n"));

    let (containers, networks, volumes) = direct::leftovers(&run).await;
    assert_eq!(containers.len(), 1);
    assert_eq!(networks, std::slice::from_ref(&network));
    assert_eq!(volumes, [format!("berth-{run}-0")]);
    let resources = docker.resources().await.expect("resources");
    let ours: Vec<&str> = resources
        .iter()
        .filter(|r| r.labels.get(labels::RUN_ID).map(String::as_str) == Some(run.as_str()))
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(ours.len(), 2, "{resources:?}");

    let removed = docker.remove(&run).await.expect("remove");
    assert_eq!(removed.containers, [format!("berth-dt-{run}")]);
    assert_eq!(removed.networks, [network]);
    assert_eq!(removed.volumes, [format!("berth-{run}-0")]);
    let (c, n, v) = direct::leftovers(&run).await;
    assert!(
        c.is_empty() && n.is_empty() && v.is_empty(),
        "{c:?} {n:?} {v:?}"
    );
    // Idempotent: nothing left, nothing removed, no error.
    assert!(docker.remove(&run).await.expect("remove again").is_empty());
}

#[tokio::test]
async fn the_container_carries_the_plan_labels_and_host_config() {
    let (docker, image, run, _guard) = engine_and_run().await;
    let mut plan = plan(RuntimeKind::Docker, &image);
    plan.security.cap_drop = vec!["NET_RAW".to_owned()];
    plan.limits.pids = Some(64);
    plan.limits.memory = Some(runtime_core::size::ByteSize(256 * 1024 * 1024));
    plan.limits.cpus = Some(0.5);
    let id = docker
        .create(&spec(&plan, &run, &["sh", "-c", "exit 5"]))
        .await
        .expect("create");
    docker.start(&id).await.expect("start");
    assert_eq!(docker.wait(&id).await.expect("wait"), 5);

    let inspected = direct::inspect(&id).await;
    let host = inspected.host_config.expect("host config");
    assert_eq!(host.runtime.as_deref(), Some("runc"));
    assert_eq!(host.init, Some(true));
    assert_eq!(host.pids_limit, Some(64));
    assert_eq!(host.memory, Some(256 * 1024 * 1024));
    assert_eq!(host.nano_cpus, Some(500_000_000));
    assert_eq!(host.cap_drop, Some(vec!["NET_RAW".to_owned()]));
    assert!(
        host.security_opt
            .unwrap_or_default()
            .contains(&"no-new-privileges:true".to_owned())
    );

    let listed = docker.list(true).await.expect("list");
    let info = listed
        .iter()
        .find(|s| s.run_id.as_ref() == Some(&run))
        .expect("the sandbox is listed");
    assert_eq!(info.id, id);
    assert_eq!(info.name, format!("berth-dt-{run}"));
    assert_eq!(info.runtime, RuntimeKind::Docker);
    assert_eq!(info.oci_runtime.as_deref(), Some("runc"));
    assert_eq!(info.state, SandboxState::Exited);
    assert_eq!(info.exit_code, Some(5));
    assert_eq!(info.image, image);
    assert_eq!(
        info.labels.get(labels::MANAGED_BY).map(String::as_str),
        Some(labels::MANAGED_BY_VALUE)
    );
    assert_eq!(
        info.labels.get(labels::OWNER_PID),
        Some(&std::process::id().to_string())
    );
    assert!(
        !docker
            .list(false)
            .await
            .expect("list running")
            .iter()
            .any(|s| s.run_id.as_ref() == Some(&run)),
        "an exited sandbox is not listed without `all`"
    );
    let found = docker.find(&run).await.expect("find by run id");
    assert_eq!(found.id, id);
}

#[tokio::test]
async fn logs_give_the_tail_and_follow_to_the_end() {
    let (docker, image, run, _guard) = engine_and_run().await;
    let plan = plan(RuntimeKind::Docker, &image);
    let id = docker
        .create(&spec(
            &plan,
            &run,
            &[
                "sh",
                "-c",
                "for i in 1 2 3 4 5; do echo line$i; done; sleep 1; echo last",
            ],
        ))
        .await
        .expect("create");
    docker.start(&id).await.expect("start");
    // Following while it runs: the stream ends when the sandbox stops.
    let followed = read_logs(
        &docker,
        &id,
        &LogOptions {
            follow: true,
            tail: None,
        },
    )
    .await;
    assert_eq!(followed, "line1\nline2\nline3\nline4\nline5\nlast\n");
    let tail = read_logs(
        &docker,
        &id,
        &LogOptions {
            follow: false,
            tail: Some(2),
        },
    )
    .await;
    assert_eq!(tail, "line5\nlast\n");
}

async fn read_logs(docker: &DockerRuntime, id: &str, options: &LogOptions) -> String {
    let mut stream = docker.logs(id, options).await.expect("logs");
    let mut out = Vec::new();
    let read = async {
        while let Some(chunk) = stream.next().await {
            if let Output::Stdout(b) = chunk.expect("log chunk") {
                out.extend_from_slice(&b);
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .expect("logs ended");
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn stop_ends_a_running_sandbox_with_sigterm() {
    let (docker, image, run, _guard) = engine_and_run().await;
    let plan = plan(RuntimeKind::Docker, &image);
    let id = docker
        .create(&spec(&plan, &run, &["sleep", "600"]))
        .await
        .expect("create");
    docker.start(&id).await.expect("start");
    let started = Instant::now();
    docker
        .stop(&id, Duration::from_secs(20))
        .await
        .expect("stop");
    // The init process forwards SIGTERM, so sleep dies long before the grace ends.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(docker.wait(&id).await.expect("wait"), 143);
    // Stopping a stopped sandbox is fine.
    docker
        .stop(&id, Duration::from_secs(1))
        .await
        .expect("stop again");
}

#[tokio::test]
async fn a_missing_image_is_image_missing_and_never_pulled() {
    let docker = engine().await;
    let reference = format!("berth-dt-missing/{}:none", run_id());
    let source = runtime_core::plan::ImageSource::Reference {
        reference: reference.clone(),
    };
    match docker.ensure_image(&source, &|_| {}).await {
        Err(Error::ImageMissing {
            reference: named,
            fix,
            ..
        }) => {
            assert_eq!(named, reference);
            assert!(
                fix.contains(&format!("docker build -t {reference}")),
                "{fix}"
            );
        }
        other => panic!("expected ImageMissing, got {other:?}"),
    }
    // Creating from it says the same, and leaves nothing.
    let run = run_id();
    let _guard = RunGuard::new(&run);
    let plan = plan(RuntimeKind::Docker, &reference);
    match docker.create(&spec(&plan, &run, &["true"])).await {
        Err(Error::ImageMissing {
            reference: named, ..
        }) => assert_eq!(named, reference),
        other => panic!("expected ImageMissing, got {other:?}"),
    }
}

#[tokio::test]
async fn a_taken_name_is_a_conflict() {
    let docker = engine().await;
    let image = image(&docker).await;
    let (first, second) = (run_id(), run_id());
    let _guards = (RunGuard::new(&first), RunGuard::new(&second));
    let plan = plan(RuntimeKind::Docker, &image);
    let name = format!("berth-dt-{first}");
    docker
        .create(&spec(&plan, &first, &["true"]))
        .await
        .expect("create");
    let mut again = spec(&plan, &second, &["true"]);
    again.name = name.clone();
    match docker.create(&again).await {
        Err(Error::Conflict { what, name: taken }) => {
            assert_eq!((what, taken), ("container", name));
        }
        other => panic!("expected Conflict, got {other:?}"),
    }
}

#[tokio::test]
async fn unknown_sandboxes_are_not_found() {
    let docker = engine().await;
    let missing = format!("berth-dt-none-{}", run_id());
    for result in [
        docker.start(&missing).await,
        docker.stop(&missing, Duration::from_secs(1)).await,
        docker.wait(&missing).await.map(|_| ()),
    ] {
        match result {
            Err(Error::NotFound { what, name }) => {
                assert_eq!((what, name.as_str()), ("sandbox", missing.as_str()));
            }
            other => panic!("expected NotFound, got {other:?}"),
        }
    }
    assert!(matches!(
        docker.find(&missing).await,
        Err(Error::NotFound { .. })
    ));
    // Logs are a stream: the engine's answer is its first item.
    let mut logs = docker
        .logs(&missing, &LogOptions::default())
        .await
        .expect("a log stream");
    assert!(matches!(
        logs.next().await,
        Some(Err(Error::NotFound {
            what: "sandbox",
            ..
        }))
    ));
}

#[tokio::test]
async fn a_plan_for_another_runtime_is_refused_before_anything_exists() {
    let docker = engine().await;
    let run = run_id();
    let _guard = RunGuard::new(&run);
    let plan = plan(RuntimeKind::Gvisor, "berth-test/busybox:latest");
    assert!(matches!(
        docker.create(&spec(&plan, &run, &["true"])).await,
        Err(Error::Unsupported { .. })
    ));
    let (c, n, v) = direct::leftovers(&run).await;
    assert!(c.is_empty() && n.is_empty() && v.is_empty());
}
