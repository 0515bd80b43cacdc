//! berth-init, the sandbox's PID 1, against the real engine:
//! - it reaps orphans, forwards signals to the command and exits with its code
//!   (128 + N for signal N), under runc and runsc;
//! - its exec path: a process gets signals through the session's control and
//!   a hangup when its client goes away; a terminal gets its size and follows
//!   resizes; a run started again serves exec again;
//! - who may use its socket: a process inside the sandbox is refused even with
//!   the token, another host user cannot reach the socket, a client with a
//!   wrong token is refused; the same client with the run's token is served
//!   (so the refusals are the server's, not the client's).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use berth_tests::{Scratch, describe, docker, require_engine, run};
use futures::StreamExt;
use runtime_core::state::RunStore;
use runtime_core::{ExecSpec, Output};
use tokio::io::AsyncWriteExt;

const BUSYBOX: &str = "berth-test/busybox:latest";

/// An image with python3, for a client of the socket inside the sandbox.
const PYTHON: &str = "berth-test/mcp:latest";

fn berth(s: &Scratch, runtime: &str) -> Command {
    let mut cmd = s.berth();
    cmd.env("BERTH_RUNTIME", runtime);
    cmd
}

/// Starts a detached sandbox of `image` running `command`; returns its name.
fn detached(s: &Scratch, runtime: &str, image: &str, command: &[&str]) -> String {
    let config = s.write_config("berth.toml", &format!("image = \"{image}\"\n"));
    let out = run(berth(s, runtime)
        .args(["run", "-d", "--name", s.name(), "-f"])
        .arg(&config)
        .arg("--")
        .args(command));
    assert!(out.status.success(), "run -d: {}", describe(&out));
    s.name().to_owned()
}

fn exec_out(s: &Scratch, runtime: &str, name: &str, script: &str) -> String {
    let out = run(berth(s, runtime).args(["exec", name, "--", "sh", "-c", script]));
    assert!(out.status.success(), "exec {script}: {}", describe(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Polls `check` every 100 ms for up to 10 s.
fn eventually(what: &str, mut check: impl FnMut() -> Option<String>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = String::new();
    while Instant::now() < deadline {
        match check() {
            None => return,
            Some(seen) => last = seen,
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what} did not happen within 10 s; last seen: {last}");
}

/// Removes the sandbox with `berth rm -f`, and checks nothing of it is left.
fn remove(s: &Scratch, runtime: &str, name: &str) {
    let out = run(berth(s, runtime).args(["rm", "-f", name]));
    assert!(out.status.success(), "rm -f: {}", describe(&out));
    s.assert_clean();
}

/// Waits (up to 10 s) until the engine says the sandbox exited.
fn wait_exited(name: &str, what: &str) {
    eventually(what, || {
        let state = engine_state(name, ".State.Status");
        (state != "exited").then_some(state)
    });
}

fn engine_state(name: &str, field: &str) -> String {
    let out = run(docker().args(["inspect", "--format", &format!("{{{{{field}}}}}"), name]));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The run's id, from `berth ps`.
fn run_id(s: &Scratch, runtime: &str, name: &str) -> String {
    let out = run(berth(s, runtime).args(["ps", "--all", "--format", "json"]));
    berth_tests::ps_entry(&out, name)["run_id"]
        .as_str()
        .expect("run_id")
        .to_owned()
}

fn reaps_and_forwards(runtime: &str) {
    let s = Scratch::new(&format!("init-pid1-{runtime}"));
    // The subshell leaves an orphan that init adopts; the trap answers USR1
    // and TERM.
    let name = detached(
        &s,
        runtime,
        BUSYBOX,
        &[
            "sh",
            "-c",
            "(sleep 1 &); trap 'echo got-usr1' USR1; trap 'exit 42' TERM; while true; do sleep 0.2; done",
        ],
    );
    let ps = exec_out(&s, runtime, &name, "ps -o pid,ppid,stat,comm");
    assert!(ps.contains("berth-helper"), "PID 1 is berth-init: {ps}");
    // The orphaned sleep exits after a second, and init reaps it.
    std::thread::sleep(Duration::from_millis(1500));
    eventually("the orphan reaped", || {
        let ps = exec_out(&s, runtime, &name, "ps -o stat,comm");
        ps.lines()
            .any(|l| l.trim_start().starts_with('Z'))
            .then_some(ps)
    });
    assert!(
        run(docker().args(["kill", "-s", "USR1", &name]))
            .status
            .success()
    );
    eventually("USR1 reaching the command", || {
        let out = run(berth(&s, runtime).args(["logs", &name]));
        let logs = String::from_utf8_lossy(&out.stdout).into_owned();
        (!logs.contains("got-usr1")).then_some(logs)
    });
    assert!(
        run(docker().args(["kill", "-s", "TERM", &name]))
            .status
            .success()
    );
    wait_exited(&name, "the command's exit");
    assert_eq!(
        engine_state(&name, ".State.ExitCode"),
        "42",
        "the trap's code"
    );
    remove(&s, runtime, &name);

    // A command killed by a signal: 128 + its number, as a shell says it.
    let s = Scratch::new(&format!("init-sig-{runtime}"));
    let name = detached(&s, runtime, BUSYBOX, &["sleep", "3600"]);
    assert!(
        run(docker().args(["kill", "-s", "TERM", &name]))
            .status
            .success()
    );
    wait_exited(&name, "sleep's end");
    assert_eq!(engine_state(&name, ".State.ExitCode"), "143");
    remove(&s, runtime, &name);
}

#[test]
fn init_reaps_orphans_and_forwards_signals_under_runc() {
    require_engine();
    reaps_and_forwards("docker");
}

#[test]
fn init_reaps_orphans_and_forwards_signals_under_runsc() {
    require_engine();
    reaps_and_forwards("gvisor");
}

fn store(s: &Scratch) -> RunStore {
    RunStore::at(s.runs())
}

/// Starts `spec` in the run named `name` through its init (never the engine).
async fn init_exec(s: &Scratch, name: &str, spec: &ExecSpec) -> runtime_core::Session {
    let store = store(s);
    let record = runtime_core::init::find(&store, name).expect("init serves the run");
    runtime_core::init::exec(&store, &record.run_id, spec)
        .await
        .expect("exec through init")
        .expect("init's path")
}

/// Reads the session's output until `want` shows up (at most 10 s); returns all
/// of it.
async fn read_until(output: &mut runtime_core::runtime::OutputStream, want: &str) -> String {
    let mut seen = String::new();
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(chunk) = output.next().await {
            match chunk.expect("output") {
                Output::Stdout(b) | Output::Stderr(b) => {
                    seen.push_str(&String::from_utf8_lossy(&b))
                }
            }
            if seen.contains(want) {
                return true;
            }
        }
        false
    })
    .await;
    assert!(
        matches!(found, Ok(true)),
        "waited for {want:?}, saw {seen:?}"
    );
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exec_through_init_gets_signals_a_terminal_and_a_hangup() {
    require_engine();
    let s = Scratch::new("init-session");
    let name = detached(&s, "docker", BUSYBOX, &["sleep", "3600"]);

    // A signal through the session's control ends the process with 128 + N.
    let session = init_exec(&s, &name, &ExecSpec::new(["sleep", "1000"])).await;
    let control = session
        .control
        .clone()
        .expect("init's sessions have control");
    tokio::time::sleep(Duration::from_millis(300)).await;
    control.signal(15).await.expect("signal");
    let mut output = session.output;
    while output.next().await.is_some() {}
    assert_eq!(session.exit.await.expect("exit"), 143);

    // A terminal: the size set through the control, and each resize after.
    let mut spec = ExecSpec::new(["sh", "-c", "read a; stty size; read b; stty size"]);
    spec.stdin = true;
    spec.tty = true;
    let session = init_exec(&s, &name, &spec).await;
    let control = session.control.clone().expect("control");
    let mut input = session.input.expect("stdin");
    let mut output = session.output;
    control.resize(40, 100).await.expect("resize");
    input.write_all(b"a\n").await.expect("write");
    input.flush().await.expect("flush");
    read_until(&mut output, "40 100").await;
    control.resize(50, 120).await.expect("resize");
    input.write_all(b"b\n").await.expect("write");
    input.flush().await.expect("flush");
    read_until(&mut output, "50 120").await;
    while output.next().await.is_some() {}
    assert_eq!(session.exit.await.expect("exit"), 0);

    // A client that goes away hangs up its process, as a closed terminal does.
    let mut client = berth(&s, "docker")
        .args(["exec", &name, "--", "sleep", "1001"])
        .spawn()
        .expect("spawn berth exec");
    eventually("the exec's sleep", || {
        let ps = exec_out(&s, "docker", &name, "ps -o args");
        (!ps.contains("sleep 1001")).then_some(ps)
    });
    client.kill().expect("kill berth exec");
    let _ = client.wait();
    eventually("the hangup", || {
        let ps = exec_out(&s, "docker", &name, "ps -o args");
        ps.contains("sleep 1001").then_some(ps)
    });
    remove(&s, "docker", &name);
}

#[test]
fn a_run_started_again_serves_exec_through_init_again() {
    require_engine();
    let s = Scratch::new("init-restart");
    let name = detached(&s, "docker", BUSYBOX, &["sleep", "3600"]);
    assert_eq!(exec_out(&s, "docker", &name, "echo $PPID"), "1\n");
    let out = run(berth(&s, "docker").args(["stop", "-t", "1", &name]));
    assert!(out.status.success(), "stop: {}", describe(&out));
    let out = run(berth(&s, "docker").args(["start", &name]));
    assert!(out.status.success(), "start: {}", describe(&out));
    let out = run(berth(&s, "docker").args(["ps", "--format", "json"]));
    assert_eq!(berth_tests::ps_entry(&out, &name)["exec"], "init");
    assert_eq!(exec_out(&s, "docker", &name, "echo $PPID"), "1\n");
    remove(&s, "docker", &name);
}

/// A client of the socket, in Python: sends a request for `id -u` with the
/// token in argv[2] to the socket at argv[1]; prints `served:` and the output
/// when init answers, `refused` when it closes (or resets) the connection
/// without a frame,
/// and the error's text when it cannot connect.
const CLIENT: &str = r#"
import json, socket, struct, sys
path, token = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(path)
except OSError as e:
    print("cannot-connect:", e)
    sys.exit(0)
hello = json.dumps({"token": token, "argv": ["id", "-u"], "env": [], "workdir": None,
                    "stdin": False, "tty": None}).encode()
try:
    s.sendall(struct.pack(">BI", 1, len(hello)) + hello + struct.pack(">BI", 3, 0))
except (BrokenPipeError, ConnectionResetError):
    print("refused")
    sys.exit(0)
out = b""
while True:
    try:
        head = s.recv(5, socket.MSG_WAITALL)
    except ConnectionResetError:
        head = b""
    if len(head) < 5:
        print("refused" if not out else "cut-short")
        break
    kind, size = struct.unpack(">BI", head)
    data = s.recv(size, socket.MSG_WAITALL) if size else b""
    if kind == 16:
        out += data
    elif kind == 18:
        print("served:" + out.decode().strip())
        break
"#;

fn token(s: &Scratch, run_id: &str) -> String {
    std::fs::read_to_string(s.runs().join(run_id).join("exec-token"))
        .expect("the host's token")
        .trim()
        .to_owned()
}

fn socket_path(s: &Scratch, run_id: &str) -> PathBuf {
    s.state().join("berth/exec").join(run_id).join("exec.sock")
}

/// The system's Python, which any user may run (a user's own Python, such as
/// one under root's home, may not be).
const SYSTEM_PYTHON: &str = "/usr/bin/python3";

fn python_on_host(path: &Path, token: &str, as_nobody: bool) -> String {
    let mut cmd = if as_nobody {
        let mut cmd = Command::new("setpriv");
        cmd.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            SYSTEM_PYTHON,
        ]);
        cmd
    } else {
        Command::new(SYSTEM_PYTHON)
    };
    let out = run(cmd.args(["-c", CLIENT]).arg(path).arg(token));
    assert!(out.status.success(), "python client: {}", describe(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn only_the_host_user_with_the_token_is_served() {
    require_engine();
    let s = Scratch::new("init-auth");
    let name = detached(&s, "docker", PYTHON, &["sleep", "3600"]);
    let run_id = run_id(&s, "docker", &name);
    let token = token(&s, &run_id);
    let path = socket_path(&s, &run_id);
    // The client speaks the protocol: with the token, from the host, it is served.
    assert_eq!(python_on_host(&path, &token, false), "served:1000");
    let wrong = "0".repeat(token.len());
    assert_eq!(python_on_host(&path, &wrong, false), "refused");
    // Another host user cannot reach the socket: the run's directory is 0700.
    let other = python_on_host(&path, &token, true);
    assert!(
        other.starts_with("cannot-connect:") && other.contains("Permission denied"),
        "{other}"
    );
    // Inside the sandbox, even with the token: refused by its peer credentials,
    // through the engine's exec and through init's own.
    let inside = run(docker().args([
        "exec",
        &name,
        "python3",
        "-c",
        CLIENT,
        "/.berth/exec/exec.sock",
        &token,
    ]));
    assert_eq!(
        String::from_utf8_lossy(&inside.stdout).trim(),
        "refused",
        "{}",
        describe(&inside)
    );
    let inside = run(berth(&s, "docker").args([
        "exec",
        &name,
        "--",
        "python3",
        "-c",
        CLIENT,
        "/.berth/exec/exec.sock",
        &token,
    ]));
    assert_eq!(
        String::from_utf8_lossy(&inside.stdout).trim(),
        "refused",
        "{}",
        describe(&inside)
    );
    // The token is nowhere the sandbox can read it.
    let seen = exec_out(
        &s,
        "docker",
        &name,
        &format!(
            "grep -rs {token} /.berth /proc/1/environ /proc/1/cmdline /proc/self/environ; ls /.berth/exec"
        ),
    );
    assert_eq!(seen.trim(), "exec.sock", "only the socket is left: {seen}");
    let labels = engine_state(&name, "json .Config");
    assert!(
        !labels.contains(&token),
        "the container's config holds the token"
    );
    // Still serving after the refusals.
    assert_eq!(exec_out(&s, "docker", &name, "echo $PPID"), "1\n");
    remove(&s, "docker", &name);
}

#[test]
fn exec_into_a_paused_sandbox_says_so_instead_of_waiting() {
    require_engine();
    let s = Scratch::new("init-paused");
    let name = detached(&s, "docker", BUSYBOX, &["sleep", "3600"]);
    assert!(run(docker().args(["pause", &name])).status.success());
    // init's socket still accepts while frozen; without its greeting berth
    // takes the engine's path, which names the state.
    let out = run(berth(&s, "docker").args(["exec", &name, "--", "true"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    assert!(stderr.contains("paused"), "{stderr}");
    assert!(run(docker().args(["unpause", &name])).status.success());
    assert_eq!(exec_out(&s, "docker", &name, "echo $PPID"), "1\n");
    remove(&s, "docker", &name);
}
