//! The Apple backend's real code path (runner, argv, JSON parsing, sessions)
//! against the test double of `container`, which runs the containers on the local
//! Docker engine. Every case runs once per output shape (`legacy`: 0.x JSON,
//! `current`: 1.x JSON). Each case labels what it creates with its own run id and
//! removes it by that label when it ends, passing or not.

mod support;

use std::time::Duration;

use futures::StreamExt;
use runtime_core::plan::{Mount, MountPurpose};
use runtime_core::{Error, ExecSpec, LogOptions, Output, Runtime, SandboxState};
use support::{Fixture, busybox, collect, leftovers, within};
use tokio::io::AsyncWriteExt;

/// Instantiates each case for both output shapes.
macro_rules! both_shapes {
    ($($case:ident),* $(,)?) => {
        mod legacy {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case("0").await;
                }
            )*
        }
        mod current {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case("1").await;
                }
            )*
        }
    };
}

both_shapes!(
    create_attach_start_wait_returns_the_exit_code,
    wait_without_attach_is_unsupported_once_stopped,
    attach_to_a_running_sandbox_is_refused,
    exec_stdin_is_byte_exact_for_one_mebibyte,
    exec_passes_exit_codes_through,
    env_travels_in_env_files_never_on_a_command_line,
    exec_variables_win_over_the_sandboxs_own,
    a_pids_limit_is_a_process_limit,
    exec_with_a_terminal_and_input_runs_on_a_pseudo_terminal,
    logs_return_the_merged_output,
    stop_stops_the_sandbox,
    remove_leaves_nothing_behind,
);

async fn create_attach_start_wait_returns_the_exit_code(shape: &'static str) {
    let fx = Fixture::new(shape, &[]);
    let plan = busybox(&["sh", "-c", "echo out; echo err >&2; exit 7"]);
    let spec = fx.spec(&plan, "exit");
    let rt = &fx.runtime;
    let id = within("create", rt.create(&spec)).await.expect("create");
    assert_eq!(id, spec.name, "the id is the name, read from stdout");
    let session = within("attach", rt.attach(&id, false))
        .await
        .expect("attach");
    within("start", rt.start(&id))
        .await
        .expect("start after attach");
    let (out, err) = collect(session.output).await;
    assert_eq!(String::from_utf8_lossy(&out), "out\n");
    assert_eq!(String::from_utf8_lossy(&err), "err\n");
    assert_eq!(within("exit", session.exit).await.expect("exit"), 7);
    assert_eq!(within("wait", rt.wait(&id)).await.expect("wait"), 7);
    let listed = rt.list(true).await.expect("list");
    let ours = listed.iter().find(|s| s.id == id).expect("listed");
    assert_eq!(ours.run_id.as_ref(), Some(&fx.run_id));
    assert_eq!(ours.state, SandboxState::Exited);
    assert_eq!(ours.oci_runtime, None);
    assert_eq!(ours.runtime, runtime_core::RuntimeKind::Apple);
    assert_eq!(ours.image, support::IMAGE);
    // The double really prints the shape this case is about.
    let out = support::output(
        std::process::Command::new(support::double())
            .args(["ls", "-a", "--format", "json"])
            .env("BERTH_APPLE_DOUBLE_SHAPE", shape)
            .stdin(std::process::Stdio::null()),
    );
    let status = support::status_kind(&support::entry(&out.stdout, &id));
    assert_eq!(
        status,
        if shape == "0" {
            "a string"
        } else {
            "an object"
        }
    );
}

async fn wait_without_attach_is_unsupported_once_stopped(shape: &'static str) {
    let fx = Fixture::new(shape, &[]);
    let plan = busybox(&["sh", "-c", "sleep 1; exit 3"]);
    let spec = fx.spec(&plan, "wait");
    let rt = &fx.runtime;
    let id = fx.started(&spec).await;
    match within("wait", rt.wait(&id)).await {
        Err(Error::Unsupported {
            operation, reason, ..
        }) => {
            assert_eq!(operation, "wait");
            assert!(reason.contains("does not report exit codes"), "{reason}");
        }
        other => panic!("expected Unsupported, got {other:?}"),
    }
    let info = rt.find(&id).await.expect("find");
    assert_eq!(
        info.state,
        SandboxState::Exited,
        "wait returned only once it stopped"
    );
}

async fn attach_to_a_running_sandbox_is_refused(shape: &'static str) {
    let fx = Fixture::new(shape, &[]);
    let plan = busybox(&["sleep", "600"]);
    let spec = fx.spec(&plan, "reattach");
    let rt = &fx.runtime;
    let id = fx.started(&spec).await;
    match within("attach", rt.attach(&id, false)).await {
        Err(Error::Unsupported {
            operation: "attach",
            reason,
            ..
        }) => {
            assert!(reason.contains("berth logs -f"), "{reason}");
        }
        other => panic!("expected Unsupported, got {other:?}"),
    }
    let missing = rt.attach("apple-no-such-sandbox", false).await;
    assert!(
        matches!(missing, Err(Error::NotFound { .. })),
        "{missing:?}"
    );
}

/// 1 MiB of every byte value in a scrambled order (xorshift), CR/LF and NUL included.
fn payload() -> Vec<u8> {
    let mut state: u32 = 0x9e37_79b9;
    let mut bytes: Vec<u8> = (0..=255u8).collect();
    while bytes.len() < 1 << 20 {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        bytes.push(state.to_le_bytes()[0]);
    }
    bytes
}

async fn exec_stdin_is_byte_exact_for_one_mebibyte(shape: &'static str) {
    let fx = Fixture::new(shape, &[]);
    let plan = busybox(&["sleep", "600"]);
    let spec = fx.spec(&plan, "cat");
    let rt = &fx.runtime;
    let id = fx.started(&spec).await;
    let exec = ExecSpec {
        cmd: vec!["cat".into()],
        stdin: true,
        ..ExecSpec::default()
    };
    let session = within("exec", rt.exec(&id, &exec)).await.expect("exec");
    let mut input = session.input.expect("stdin requested");
    let sent = payload();
    let writer = {
        let sent = sent.clone();
        tokio::spawn(async move {
            input.write_all(&sent).await.expect("write stdin");
            input.shutdown().await.expect("close stdin");
        })
    };
    let (out, err) = collect(session.output).await;
    within("writer", writer).await.expect("writer task");
    assert_eq!(String::from_utf8_lossy(&err), "", "nothing on stderr");
    assert_eq!(out.len(), sent.len(), "byte count");
    assert!(out == sent, "bytes differ");
    assert_eq!(within("exit", session.exit).await.expect("exit"), 0);
}

async fn exec_code(fx: &Fixture, id: &str, cmd: &[&str]) -> i64 {
    let spec = ExecSpec {
        cmd: cmd.iter().map(|c| (*c).to_owned()).collect(),
        ..ExecSpec::default()
    };
    let session = within("exec", fx.runtime.exec(id, &spec))
        .await
        .expect("exec");
    collect(session.output).await;
    within("exit", session.exit).await.expect("exit")
}

async fn exec_passes_exit_codes_through(shape: &'static str) {
    let fx = Fixture::new(shape, &[]);
    let plan = busybox(&["sleep", "600"]);
    let spec = fx.spec(&plan, "codes");
    let rt = &fx.runtime;
    let id = fx.started(&spec).await;
    assert_eq!(exec_code(&fx, &id, &["sh", "-c", "exit 42"]).await, 42);
    assert_eq!(exec_code(&fx, &id, &["false"]).await, 1);
    assert_eq!(exec_code(&fx, &id, &["true"]).await, 0);
    // Killed by a signal: 128 + 9, as the process reports it.
    assert_eq!(exec_code(&fx, &id, &["sh", "-c", "kill -9 $$"]).await, 137);
    within("stop", rt.stop(&id, Duration::from_secs(1)))
        .await
        .expect("stop");
    let stopped = rt
        .exec(
            &id,
            &ExecSpec {
                cmd: vec!["true".into()],
                ..ExecSpec::default()
            },
        )
        .await;
    assert!(
        stopped
            .as_ref()
            .is_err_and(|e| e.to_string().contains("exec in")),
        "exec in a stopped sandbox: {stopped:?}"
    );
}

async fn env_travels_in_env_files_never_on_a_command_line(shape: &'static str) {
    let fx = Fixture::new(shape, &[]);
    let plan = busybox(&["sleep", "600"]);
    let mut spec = fx.spec(&plan, "env");
    spec.env = vec![
        (
            "CREATE_SECRET".into(),
            "s3cr3t-create value = with spaces".into(),
        ),
        ("GREETING".into(), "hello".into()),
    ];
    let rt = &fx.runtime;
    let env_dir_entries = || {
        std::fs::read_dir(rt.env_dir())
            .map(|d| d.flatten().map(|e| e.path()).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    let id = within("create", rt.create(&spec)).await.expect("create");
    assert!(
        env_dir_entries().is_empty(),
        "the create env file outlived `container create`: {:?}",
        env_dir_entries()
    );
    within("start", rt.start(&id)).await.expect("start");
    let exec = ExecSpec {
        cmd: vec![
            "sh".into(),
            "-c".into(),
            "printf '%s|%s|%s' \"$CREATE_SECRET\" \"$EXEC_SECRET\" \"$GREETING\"; sleep 1".into(),
        ],
        env: vec![("EXEC_SECRET".into(), "s3cr3t-exec".into())],
        ..ExecSpec::default()
    };
    let session = within("exec", rt.exec(&id, &exec)).await.expect("exec");
    // The session has started and its process still runs: the FIFO is gone.
    assert!(
        env_dir_entries().is_empty(),
        "the exec env file outlived the session start: {:?}",
        env_dir_entries()
    );
    let (out, _) = collect(session.output).await;
    assert_eq!(within("exit", session.exit).await.expect("exit"), 0);
    assert_eq!(
        String::from_utf8_lossy(&out),
        "s3cr3t-create value = with spaces|s3cr3t-exec|hello"
    );
    let history = rt.runner().history();
    let mut env_files = Vec::new();
    for argv in &history {
        for (i, arg) in argv.iter().enumerate() {
            assert!(
                !arg.contains("s3cr3t"),
                "a secret reached a command line: {argv:?}"
            );
            if arg == "--env-file" {
                env_files.push(argv[i + 1].clone());
            }
        }
    }
    assert_eq!(
        env_files.len(),
        2,
        "one env file for create, one for exec: {history:?}"
    );
    for file in env_files {
        let path = std::path::Path::new(&file);
        assert!(
            path.starts_with(rt.env_dir()),
            "{file} is not in berth's env directory"
        );
        assert!(!path.exists(), "{file} was left behind");
    }
    let mode = std::fs::metadata(rt.env_dir()).map(|m| {
        use std::os::unix::fs::PermissionsExt;
        m.permissions().mode() & 0o777
    });
    assert_eq!(mode.ok(), Some(0o700));
}

async fn exec_variables_win_over_the_sandboxs_own(shape: &'static str) {
    let fx = Fixture::new(shape, &[]);
    let plan = busybox(&["sleep", "600"]);
    let mut spec = fx.spec(&plan, "exec-env");
    spec.env = vec![("TOKEN".into(), "from-create".into())];
    let rt = &fx.runtime;
    let id = fx.started(&spec).await;
    let exec = ExecSpec {
        cmd: vec![
            "sh".into(),
            "-c".into(),
            "env | grep -c '^TOKEN='; printf '%s' \"$TOKEN\"".into(),
        ],
        env: vec![("TOKEN".into(), "from-exec".into())],
        ..ExecSpec::default()
    };
    let out = fx.exec_ok(&id, &exec).await;
    assert_eq!(String::from_utf8_lossy(&out), "1\nfrom-exec");
    for argv in rt.runner().history() {
        assert!(
            argv.iter().all(|a| !a.contains("from-exec")),
            "a value reached a command line: {argv:?}"
        );
    }
}

async fn a_pids_limit_is_a_process_limit(shape: &'static str) {
    let fx = Fixture::new(shape, &[]);
    let mut plan = busybox(&["sleep", "600"]);
    plan.limits.pids = Some(64);
    let spec = fx.spec(&plan, "pids");
    let id = fx.started(&spec).await;
    let exec = ExecSpec {
        cmd: vec!["sh".into(), "-c".into(), "ulimit -u; ulimit -H -u".into()],
        ..ExecSpec::default()
    };
    let out = fx.exec_ok(&id, &exec).await;
    assert_eq!(String::from_utf8_lossy(&out), "64\n64\n");
}

async fn exec_with_a_terminal_and_input_runs_on_a_pseudo_terminal(shape: &'static str) {
    let fx = Fixture::new(shape, &[]);
    let plan = busybox(&["sleep", "600"]);
    let spec = fx.spec(&plan, "exec-tty");
    let rt = &fx.runtime;
    let id = fx.started(&spec).await;
    let exec = ExecSpec {
        cmd: vec![
            "sh".into(),
            "-c".into(),
            "read line; test -t 0 && echo \"tty:$line\"".into(),
        ],
        stdin: true,
        tty: true,
        ..ExecSpec::default()
    };
    let mut session = within("exec", rt.exec(&id, &exec))
        .await
        .expect("exec -i -t");
    let mut input = session.input.take().expect("input");
    input.write_all(b"hello\r").await.expect("write");
    input.flush().await.expect("flush");
    let (out, _) = collect(session.output).await;
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("tty:hello"), "{text:?}");
    assert_eq!(within("exit", session.exit).await.expect("exit"), 0);
}

async fn logs_return_the_merged_output(shape: &'static str) {
    let fx = Fixture::new(shape, &[]);
    let plan = busybox(&["sh", "-c", "echo one; echo two >&2; echo three; sleep 600"]);
    let spec = fx.spec(&plan, "logs");
    let rt = &fx.runtime;
    let id = fx.started(&spec).await;
    let mut text = String::new();
    for _ in 0..100 {
        let stream = within("logs", rt.logs(&id, &LogOptions::default()))
            .await
            .expect("logs");
        let (out, err) = collect(stream).await;
        assert!(
            err.is_empty(),
            "Apple merges the container's streams into stdout"
        );
        text = String::from_utf8_lossy(&out).into_owned();
        if text.lines().count() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for line in ["one", "two", "three"] {
        assert!(
            text.lines().any(|l| l == line),
            "{line} missing from {text:?}"
        );
    }
    let tail = LogOptions {
        follow: false,
        tail: Some(1),
    };
    let (last, _) = collect(rt.logs(&id, &tail).await.expect("logs -n 1")).await;
    assert_eq!(
        String::from_utf8_lossy(&last).lines().count(),
        1,
        "{last:?}"
    );
    let missing = rt
        .logs("apple-no-such-sandbox", &LogOptions::default())
        .await;
    assert!(matches!(missing, Err(Error::NotFound { .. })), "not found");
    // -f follows until the sandbox stops.
    let follow = LogOptions {
        follow: true,
        tail: None,
    };
    let mut stream = rt.logs(&id, &follow).await.expect("logs -f");
    let first = within("first chunk", stream.next()).await;
    assert!(matches!(first, Some(Ok(Output::Stdout(_)))), "{first:?}");
    within("stop", rt.stop(&id, Duration::from_secs(1)))
        .await
        .expect("stop");
    // Apple's `logs -f` never ends by itself: berth ends it when the sandbox stops.
    within("the follow to end after stop", collect(stream)).await;
}

async fn stop_stops_the_sandbox(shape: &'static str) {
    let fx = Fixture::new(shape, &[]);
    let plan = busybox(&["sleep", "600"]);
    let spec = fx.spec(&plan, "stop");
    let rt = &fx.runtime;
    let id = within("create", rt.create(&spec)).await.expect("create");
    assert_eq!(
        rt.find(&id).await.expect("find").state,
        SandboxState::Created
    );
    within("start", rt.start(&id)).await.expect("start");
    assert!(
        rt.list(false)
            .await
            .expect("list")
            .iter()
            .any(|s| s.id == id)
    );
    within("stop", rt.stop(&id, Duration::from_secs(2)))
        .await
        .expect("stop");
    assert!(
        !rt.list(false)
            .await
            .expect("list")
            .iter()
            .any(|s| s.id == id),
        "still running"
    );
    assert_eq!(
        rt.find(&id).await.expect("find").state,
        SandboxState::Exited
    );
    let missing = rt
        .stop("apple-no-such-sandbox", Duration::from_secs(1))
        .await;
    assert!(
        matches!(missing, Err(Error::NotFound { .. })),
        "{missing:?}"
    );
}

async fn remove_leaves_nothing_behind(shape: &'static str) {
    let fx = Fixture::new(shape, &[]);
    let mut plan = busybox(&["sleep", "600"]);
    plan.mounts.push(Mount::Volume {
        target: "/cache".into(),
        purpose: MountPurpose::Workspace,
    });
    // A network of the run: its labels are read in the 0.12 shape (under
    // `config`) and the 1.x one (under `configuration`).
    let network = format!("berth-{}-net", fx.run_id);
    plan.network.create.push(network.clone());
    let spec = fx.spec(&plan, "rm");
    let rt = &fx.runtime;
    let id = fx.started(&spec).await;
    let volume = format!("berth-{}-0", fx.run_id);
    let resources = rt.resources().await.expect("resources");
    assert!(
        resources.iter().any(|r| r.name == volume
            && r.labels.get("berth.run-id").map(String::as_str) == Some(fx.run_id.as_str())),
        "{resources:?}"
    );
    let removed = within("remove", rt.remove(&fx.run_id))
        .await
        .expect("remove");
    assert_eq!(removed.containers, [id]);
    assert_eq!(removed.volumes, [volume]);
    assert_eq!(removed.networks, [network]);
    let (containers, volumes, networks) = leftovers(&fx.label());
    assert!(
        containers.is_empty() && volumes.is_empty() && networks.is_empty(),
        "left behind: {containers:?} {volumes:?} {networks:?}"
    );
    let again = within("remove again", rt.remove(&fx.run_id))
        .await
        .expect("remove twice");
    assert!(again.is_empty(), "{again:?}");
}
