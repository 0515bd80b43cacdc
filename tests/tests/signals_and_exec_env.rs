//! The real `berth` binary under signals and `exec -e`:
//! - SIGTERM while a launch builds its image exits 143 and names SIGTERM (SIGINT
//!   exits 130), leaving nothing behind;
//! - `berth exec -e NAME` with NAME unset in berth's environment sends nothing for
//!   NAME, as `docker exec` does, and sends berth's value when it is set.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use berth_tests::{Scratch, docker, require_engine, run};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const IMAGE: &str = "berth-test/busybox:latest";

/// `berth` of this test's scratch area, on the Docker backend.
fn berth(s: &Scratch) -> Command {
    let mut cmd = s.berth();
    cmd.env("BERTH_RUNTIME", "docker");
    cmd
}

/// Starts `berth run --rm` of an image whose build takes 20 s, waits until the
/// build runs, sends `signal`, and returns the output.
fn signal_during_build(s: &Scratch, signal: Signal) -> (Output, String) {
    // A marker in the build step's command, to find any container it leaves.
    let marker = format!("berth-build-marker-{}-{}", s.name(), signal as i32);
    std::fs::create_dir_all(s.dir().join("ctx")).expect("mkdir ctx");
    std::fs::write(
        s.dir().join("ctx/Dockerfile"),
        format!("FROM {IMAGE}\nRUN echo {marker} && sleep 20\n"),
    )
    .expect("write Dockerfile");
    // The config and build context apart from the state, which a context must
    // not hold.
    let config = s.write_config(
        "ctx/berth.toml",
        &format!(
            "\n[sandbox.build]\ncontext = \".\"\ntag = \"berth-local/{}:latest\"\n",
            s.name()
        ),
    );
    let mut child = berth(s)
        .args(["run", "--rm", "-f"])
        .arg(&config)
        .args(["--", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn berth");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line.clone());
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    // Wait for the build step itself to run (its echo shows in the progress).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("the build never started");
        if line.contains(&marker) && !line.contains("RUN") {
            break;
        }
    }
    let pid = Pid::from_raw(i32::try_from(child.id()).expect("pid"));
    kill(pid, signal).expect("signal berth");
    let started = Instant::now();
    let status = child.wait().expect("wait");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "berth took {:?} to stop",
        started.elapsed()
    );
    let stderr = reader.join().expect("reader");
    // The engine removes the aborted build step's container (after stopping it,
    // which can take a few seconds); nothing may remain.
    let building = || {
        let out =
            run(docker().args(["ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Command}}"]));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains(&marker))
            .map(str::to_owned)
            .collect::<Vec<String>>()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut left = building();
    while !left.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
        left = building();
    }
    for line in &left {
        if let Some(id) = line.split_whitespace().next() {
            run(docker().args(["rm", "-f", id]));
        }
    }
    assert!(left.is_empty(), "the build left containers: {left:?}");
    (
        Output {
            status,
            stdout: Vec::new(),
            stderr: stderr.clone().into_bytes(),
        },
        stderr,
    )
}

#[test]
fn sigterm_during_a_launch_exits_143_and_names_sigterm() {
    require_engine();
    let s = Scratch::new("sig-term");
    let (out, stderr) = signal_during_build(&s, Signal::SIGTERM);
    assert_eq!(out.status.code(), Some(143), "stderr:\n{stderr}");
    assert!(stderr.contains("SIGTERM"), "stderr:\n{stderr}");
    assert!(!stderr.contains("a signal"), "stderr:\n{stderr}");
    s.assert_clean();
}

#[test]
fn sigint_during_a_launch_exits_130_and_names_sigint() {
    require_engine();
    let s = Scratch::new("sig-int");
    let (out, stderr) = signal_during_build(&s, Signal::SIGINT);
    assert_eq!(out.status.code(), Some(130), "stderr:\n{stderr}");
    assert!(stderr.contains("SIGINT"), "stderr:\n{stderr}");
    s.assert_clean();
}

#[test]
fn exec_e_name_sends_nothing_when_name_is_unset() {
    require_engine();
    let s = Scratch::new("sig-exec-env");
    let config = s.write_config("berth.toml", &format!("image = \"{IMAGE}\"\n"));
    let started = run(berth(&s)
        .args(["run", "-d", "-f"])
        .arg(&config)
        .args(["--", "sleep", "60"]));
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    let name = String::from_utf8_lossy(&started.stdout).trim().to_owned();
    // `env` lists what the process received; `set` would not tell unset from empty.
    let exec = |set: bool| {
        let mut cmd = berth(&s);
        if set {
            cmd.env("BERTH_EXEC_PROBE", "from-berth");
        } else {
            cmd.env_remove("BERTH_EXEC_PROBE");
        }
        run(cmd.args(["exec", "-e", "BERTH_EXEC_PROBE", &name, "--", "env"]))
    };
    let unset = exec(false);
    assert!(
        unset.status.success(),
        "{}",
        String::from_utf8_lossy(&unset.stderr)
    );
    let unset_env = String::from_utf8_lossy(&unset.stdout);
    assert!(
        !unset_env.contains("BERTH_EXEC_PROBE"),
        "an unset NAME was sent:\n{unset_env}"
    );
    let set = exec(true);
    assert!(
        String::from_utf8_lossy(&set.stdout).contains("BERTH_EXEC_PROBE=from-berth\n"),
        "{}",
        String::from_utf8_lossy(&set.stdout)
    );
    run(berth(&s).args(["rm", "-f", &name]));
    s.assert_clean();
}
