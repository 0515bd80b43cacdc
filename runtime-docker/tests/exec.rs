//! Exec into a running sandbox: exit codes, env, workdir and user, and `-i` stdio
//! that is exact and unbuffered (what an MCP server over `berth exec -i` needs).

mod common;

use std::time::Duration;

use common::{RunGuard, backend, collect, collect_parts, engine, image, plan, run_id, spec};
use futures::StreamExt;
use runtime_core::{Error, ExecSpec, Output, Runtime, RuntimeKind};
use runtime_docker::DockerRuntime;
use tokio::io::AsyncWriteExt;

/// A running sandbox (`sleep`) of `kind`; the guard removes it.
async fn sandbox(kind: RuntimeKind) -> (DockerRuntime, String, RunGuard) {
    let probe_ok = engine().await;
    let image = image(&probe_ok).await;
    let docker = backend(kind);
    let run = run_id();
    let guard = RunGuard::new(&run);
    let plan = plan(kind, &image);
    let id = docker
        .create(&spec(&plan, &run, &["sleep", "600"]))
        .await
        .expect("create");
    docker.start(&id).await.expect("start");
    (docker, id, guard)
}

fn cmd(argv: &[&str]) -> ExecSpec {
    ExecSpec {
        cmd: argv.iter().map(|s| (*s).to_owned()).collect(),
        ..Default::default()
    }
}

/// Deterministic pseudo-random bytes (xorshift), every byte value included.
fn noise(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

#[tokio::test]
async fn exec_reports_exit_codes_and_keeps_start_failures_on_stdout() {
    let (docker, id, _guard) = sandbox(RuntimeKind::Docker).await;
    let ok = collect(docker.exec(&id, &cmd(&["true"])).await.expect("exec")).await;
    assert_eq!(ok.code, 0);
    let three = collect(
        docker
            .exec(&id, &cmd(&["sh", "-c", "echo out; echo err >&2; exit 3"]))
            .await
            .expect("exec"),
    )
    .await;
    assert_eq!(
        (three.code, three.out().as_str(), three.stderr.as_slice()),
        (3, "out\n", b"err\n".as_slice())
    );
    let missing = collect(
        docker
            .exec(&id, &cmd(&["/no/such/binary"]))
            .await
            .expect("a missing binary still starts an exec"),
    )
    .await;
    assert!(matches!(missing.code, 126 | 127), "{missing:?}");
    let said = missing.out();
    assert!(said.contains("no such file or directory"), "{said}");
}

#[tokio::test]
async fn exec_env_workdir_and_user() {
    let (docker, id, _guard) = sandbox(RuntimeKind::Docker).await;
    let spec = ExecSpec {
        cmd: ["sh", "-c", "echo \"$TOKEN\"; pwd; id -u"]
            .map(str::to_owned)
            .to_vec(),
        workdir: Some("/tmp".to_owned()),
        env: vec![("TOKEN".to_owned(), "a b=c $HOME".to_owned())],
        user: Some("1000".to_owned()),
        stdin: false,
        tty: false,
    };
    let out = collect(docker.exec(&id, &spec).await.expect("exec")).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.out(), "a b=c $HOME\n/tmp\n1000\n");
}

async fn round_trip(docker: &DockerRuntime, id: &str, payload: &[u8]) -> Vec<u8> {
    let spec = ExecSpec {
        stdin: true,
        ..cmd(&["cat"])
    };
    let session = docker.exec(id, &spec).await.expect("exec");
    let mut input = session.input.expect("stdin");
    let data = payload.to_vec();
    let writer = tokio::spawn(async move {
        input.write_all(&data).await.expect("write stdin");
        // Half-closes the connection: cat sees end of input.
        input.shutdown().await.expect("close stdin");
    });
    let out = collect_parts(session.output, session.exit).await;
    writer.await.expect("writer");
    assert_eq!(out.code, 0);
    assert!(
        out.stderr.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[tokio::test]
async fn exec_stdin_is_byte_exact_for_a_mebibyte_of_noise() {
    let (docker, id, _guard) = sandbox(RuntimeKind::Docker).await;
    let payload = noise(1024 * 1024);
    let back = round_trip(&docker, &id, &payload).await;
    assert_eq!(back.len(), payload.len());
    assert!(back == payload, "the bytes that came back differ");
}

#[tokio::test]
async fn exec_stdin_is_unbuffered_line_by_line() {
    let (docker, id, _guard) = sandbox(RuntimeKind::Docker).await;
    let spec = ExecSpec {
        stdin: true,
        ..cmd(&["cat"])
    };
    let session = docker.exec(&id, &spec).await.expect("exec");
    let mut input = session.input.expect("stdin");
    let mut output = session.output;
    // Like an MCP client: one message, then wait for the answer before the next;
    // no flush, no close in between.
    for i in 0..20 {
        let line = format!("{{\"jsonrpc\":\"2.0\",\"id\":{i}}}\n");
        input.write_all(line.as_bytes()).await.expect("write");
        let mut echoed = Vec::new();
        while echoed.len() < line.len() {
            let chunk = tokio::time::timeout(Duration::from_secs(10), output.next())
                .await
                .expect("the echo arrived without closing stdin")
                .expect("output open")
                .expect("chunk");
            match chunk {
                Output::Stdout(b) => echoed.extend_from_slice(&b),
                Output::Stderr(b) => panic!("stderr: {b:?}"),
            }
        }
        assert_eq!(echoed, line.as_bytes());
    }
    input.shutdown().await.expect("close stdin");
    let rest = collect_parts(output, session.exit).await;
    assert!(rest.stdout.is_empty());
    assert_eq!(rest.code, 0);
}

#[tokio::test]
async fn exec_in_a_stopped_or_missing_sandbox_fails_clearly() {
    let (docker, id, _guard) = sandbox(RuntimeKind::Docker).await;
    docker
        .stop(&id, Duration::from_secs(1))
        .await
        .expect("stop");
    match docker.exec(&id, &cmd(&["true"])).await {
        Err(err @ Error::Engine { .. }) => {
            assert!(err.report().contains("is not running"), "{}", err.report());
        }
        other => panic!("expected an engine error, got {other:?}"),
    }
    assert!(matches!(
        docker
            .exec("berth-dt-no-such-sandbox", &cmd(&["true"]))
            .await,
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test]
async fn exec_with_a_tty_merges_output_into_stdout() {
    let (docker, id, _guard) = sandbox(RuntimeKind::Docker).await;
    let spec = ExecSpec {
        tty: true,
        ..cmd(&["sh", "-c", "test -t 1 && echo tty; echo err >&2; exit 4"])
    };
    let out = collect(docker.exec(&id, &spec).await.expect("exec")).await;
    assert_eq!(out.out(), "tty\r\nerr\r\n");
    assert!(out.stderr.is_empty());
    assert_eq!(out.code, 4);
}
