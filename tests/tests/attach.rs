//! `berth attach` to a detached run without a terminal: berth's stdin goes to
//! the main process and its output comes back; the end of berth's input does not
//! close the run's stdin, and a signal to berth leaves the run running, so a
//! second attach finds it as the first left it. (With a terminal, see tty.rs.)

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;

use berth_tests::{Scratch, describe, ps_entry, require_engine, run};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Attaches with `line` on stdin, waits for the run to answer it, then sends
/// berth SIGINT; returns berth's exit code and stderr.
fn attach_and_leave(s: &Scratch, line: &str) -> (Option<i32>, String) {
    let mut child = s
        .berth()
        .args(["attach", s.name()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn berth attach");
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(stdin, "{line}").expect("write");
    // End of input: the run's stdin stays open for the next attach.
    drop(stdin);
    let stdout = child.stdout.take().expect("stdout");
    let answer = format!("got {line}");
    let mut lines = BufReader::new(stdout).lines();
    loop {
        match lines.next() {
            Some(Ok(seen)) if seen == answer => break,
            Some(Ok(_)) => {}
            other => panic!("the run did not answer {line:?}: {other:?}"),
        }
    }
    let pid = Pid::from_raw(i32::try_from(child.id()).expect("pid"));
    kill(pid, Signal::SIGINT).expect("signal berth");
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn attach_without_a_terminal_forwards_stdin_and_a_signal_leaves_the_run_running() {
    require_engine();
    let s = Scratch::new("attach-plain");
    let config = s.write_config(
        "berth.toml",
        "image = \"berth-test/busybox:latest\"\n\
         command = [\"sh\", \"-c\", \"while read l; do echo \\\"got $l\\\"; done; echo eof\"]\n",
    );
    let out = run(s
        .berth()
        .args([
            "run",
            "-d",
            "-i",
            "--runtime",
            "docker",
            "--name",
            s.name(),
            "-f",
        ])
        .arg(&config));
    assert!(out.status.success(), "run -d -i: {}", describe(&out));
    for line in ["one", "two"] {
        let (code, stderr) = attach_and_leave(&s, line);
        assert_eq!(code, Some(130), "{stderr}");
        assert!(
            stderr.contains(&format!("SIGINT: left {}; it keeps running", s.name())),
            "{stderr}"
        );
        let ps = run(s.berth().args(["ps", "--format", "json"]));
        assert_eq!(ps_entry(&ps, s.name())["state"], "running", "{stderr}");
    }
}
