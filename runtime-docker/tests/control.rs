//! A session's control against the real engine: an attach resizes the
//! container's terminal and signals its main process; an exec resizes its own
//! terminal and refuses to signal (the engine cannot); a detached run's stdin
//! stays open when an attach leaves.

mod common;

use common::{engine_and_run, plan, spec};
use futures::StreamExt;
use runtime_core::{Error, ExecSpec, Output, Runtime, RuntimeKind, SessionControl};
use tokio::io::AsyncWriteExt;

/// Reads `output` until what it printed contains `text`; returns all of it.
async fn read_until(output: &mut runtime_core::runtime::OutputStream, text: &str) -> String {
    let mut seen = String::new();
    while !seen.contains(text) {
        match output.next().await {
            Some(Ok(Output::Stdout(bytes) | Output::Stderr(bytes))) => {
                seen.push_str(&String::from_utf8_lossy(&bytes));
            }
            Some(Err(err)) => panic!("output failed: {err}; so far: {seen}"),
            None => panic!("output ended before {text:?}: {seen}"),
        }
    }
    seen
}

/// Resizes, retrying while the engine refuses because the process has not
/// started yet (an exec just created).
async fn resize(control: &dyn SessionControl, rows: u16, cols: u16) {
    let mut last = None;
    for _ in 0..50 {
        match control.resize(rows, cols).await {
            Ok(()) => return,
            Err(err) => last = Some(err),
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("resize failed: {last:?}");
}

#[tokio::test]
async fn an_attach_resizes_the_terminal_and_signals_the_main_process() {
    let (docker, image, run, _guard) = engine_and_run().await;
    let plan = plan(RuntimeKind::Docker, &image);
    let mut spec = spec(
        &plan,
        &run,
        &[
            "sh",
            "-c",
            "trap 'stty size; exit 42' TERM; echo ready; while :; do sleep 0.1; done",
        ],
    );
    spec.tty = true;
    let id = docker.create(&spec).await.expect("create");
    let session = docker.attach(&id, false).await.expect("attach");
    docker.start(&id).await.expect("start");
    let control = session.control.expect("an attach has a control");
    let mut output = session.output;
    read_until(&mut output, "ready").await;
    control.resize(33, 111).await.expect("resize");
    control.signal(15).await.expect("signal");
    read_until(&mut output, "33 111").await;
    assert_eq!(session.exit.await.expect("exit"), 42);
}

#[tokio::test]
async fn an_exec_resizes_its_terminal_and_cannot_be_signalled() {
    let (docker, image, run, _guard) = engine_and_run().await;
    let plan = plan(RuntimeKind::Docker, &image);
    let id = docker
        .create(&spec(&plan, &run, &["sleep", "600"]))
        .await
        .expect("create");
    docker.start(&id).await.expect("start");
    let exec = ExecSpec {
        tty: true,
        stdin: true,
        ..ExecSpec::new(["sh", "-c", "read line; stty size"])
    };
    let session = docker.exec(&id, &exec).await.expect("exec");
    let control = session.control.expect("an exec has a control");
    resize(&*control, 21, 77).await;
    let mut input = session.input.expect("stdin");
    input.write_all(b"go\r").await.expect("write");
    let mut output = session.output;
    read_until(&mut output, "21 77").await;
    match control.signal(15).await {
        Err(Error::Unsupported { operation, .. }) => assert_eq!(operation, "signal an exec"),
        other => panic!("an exec was signalled: {other:?}"),
    }
    while output.next().await.is_some() {}
    assert_eq!(session.exit.await.expect("exit"), 0);
}

#[tokio::test]
async fn a_detached_runs_stdin_stays_open_when_an_attach_leaves() {
    let (docker, image, run, _guard) = engine_and_run().await;
    let plan = plan(RuntimeKind::Docker, &image);
    let spec = spec(
        &plan,
        &run,
        &[
            "sh",
            "-c",
            "while read line; do echo \"got $line\"; done; echo eof",
        ],
    )
    .with_stdin(true)
    .with_detached(None);
    let id = docker.create(&spec).await.expect("create");
    docker.start(&id).await.expect("start");
    for word in ["one", "two"] {
        let session = docker.attach(&id, true).await.expect("attach");
        let mut input = session.input.expect("stdin");
        input
            .write_all(format!("{word}\n").as_bytes())
            .await
            .expect("write");
        let mut output = session.output;
        read_until(&mut output, &format!("got {word}")).await;
        // Leaving: the connection goes; the run's stdin does not.
        drop(input);
        drop(output);
    }
    let info = docker.find(&id).await.expect("find");
    assert_eq!(info.state, runtime_core::SandboxState::Running);
}
