//! The docker-style forms of the CLI, against the real engine: `run IMAGE CMD...`
//! and `exec RUN CMD...` without `--`, the flags that override berth.toml (seen by
//! `plan` and inside the sandbox), `ps -q`, `inspect`, `start`, `restart`,
//! `version`, and the messages of everyday mistakes: exec into a stopped sandbox,
//! `run` with no config, `gc --dry-run`'s names, `plan`'s TTL.

use berth_tests::{Scratch, describe, require_engine, run};

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `berth ARGS` in the scratch area, which must succeed.
fn berth_ok(s: &Scratch, args: &[&str]) -> std::process::Output {
    let out = run(s.berth().args(args));
    assert!(out.status.success(), "berth {args:?}: {}", describe(&out));
    out
}

/// A scratch area with a busybox berth.toml that sets what the flags override,
/// and a workspace directory holding one file.
fn setup(tag: &str) -> (Scratch, std::path::PathBuf, std::path::PathBuf) {
    let s = Scratch::new(tag);
    let config = s.write_config(
        "berth.toml",
        "image = \"berth-test/busybox:latest\"\nworkdir = \"/\"\nttl = \"2h\"\n\
         [env]\nA = \"file\"\n[resources]\nmemory = \"1GiB\"\n",
    );
    let ws = s.dir().join("ws");
    std::fs::create_dir(&ws).expect("workspace");
    std::fs::write(ws.join("seen"), "x").expect("workspace file");
    (s, config, ws)
}

#[test]
fn run_takes_the_docker_form_and_flags_override_the_file() {
    require_engine();
    let (s, config, ws) = setup("habits-run");
    let volume = format!("{}:/code:ro", ws.display());
    let flags = [
        "-e",
        "A=flag",
        "-e",
        "B=-x",
        "-w",
        "/tmp",
        "-u",
        "1234:1234",
        "--network",
        "none",
        "--memory",
        "64m",
        "-v",
        &volume,
    ];
    let plan = run(s
        .berth()
        .args(["plan", "--runtime", "docker", "-f"])
        .arg(&config)
        .args(flags));
    assert!(plan.status.success(), "{}", describe(&plan));
    let text = stdout(&plan);
    for line in [
        "user      1234:1234",
        "workdir   /tmp",
        "/code (read-only, workspace)",
        "network   none",
        "memory 64MiB",
        "ttl       2h for a detached run",
    ] {
        assert!(text.contains(line), "{line:?} in:\n{text}");
    }
    let script = "echo \"$A $B\"; pwd; id -u; ls /code; ip -o addr | grep -vc ' lo '; \
                  touch /code/new 2>/dev/null || echo read-only";
    let out = run(s
        .berth()
        .args(["run", "--rm", "--runtime", "docker", "-f"])
        .arg(&config)
        .args(flags)
        .args(["berth-test/busybox:latest", "sh", "-c", script]));
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        stdout(&out),
        "flag -x\n/tmp\n1234\nseen\n0\nread-only\n",
        "{}",
        describe(&out)
    );
    let bad = run(s
        .berth()
        .args(["run", "--rm", "--runtime", "docker", "--cpus", "0", "-f"])
        .arg(&config));
    assert_eq!(bad.status.code(), Some(2), "{}", describe(&bad));
    assert!(
        stderr(&bad).contains("--cpus 0: cpus must be at least 0.01"),
        "{}",
        describe(&bad)
    );
    assert_eq!(s.records(), 0);
    s.assert_clean();
}

#[test]
fn exec_takes_the_docker_form_and_a_stopped_sandbox_is_named_as_such() {
    require_engine();
    let (s, config, _) = setup("habits-exec");
    let name = format!("{}-g", s.name());
    let started = run(s
        .berth()
        .args(["run", "-d", "--runtime", "gvisor", "--name", &name, "-f"])
        .arg(&config)
        .args(["berth-test/busybox:latest", "sleep", "600"]));
    assert!(started.status.success(), "{}", describe(&started));
    let exec = run(s.berth().args(["exec", &name, "echo", "-n", "--", "ok"]));
    assert_eq!(stdout(&exec), "-- ok", "{}", describe(&exec));
    let dashed = run(s.berth().args(["exec", &name, "--", "echo", "-n", "ok"]));
    assert_eq!(stdout(&dashed), "ok", "{}", describe(&dashed));

    let ps = berth_ok(&s, &["ps", "-q"]);
    assert!(
        stdout(&ps).lines().any(|l| l == name),
        "{name} alone on a line: {}",
        describe(&ps)
    );
    let inspect = berth_ok(&s, &["inspect", &name]);
    let json: serde_json::Value = serde_json::from_slice(&inspect.stdout).expect("JSON");
    assert_eq!(json["sandbox"]["state"], "running", "{json}");
    assert_eq!(json["sandbox"]["runtime"], "gvisor", "{json}");
    assert_eq!(json["record"]["name"], name.as_str(), "{json}");
    assert_eq!(json["record"]["run_id"], json["run_id"], "{json}");

    berth_ok(&s, &["stop", "-t", "0", &name]);
    let refused = run(s.berth().args(["exec", &name, "true"]));
    assert_eq!(refused.status.code(), Some(3), "{}", describe(&refused));
    let message = stderr(&refused);
    assert!(
        message.contains(&format!("sandbox {name} (gvisor) is stopped")),
        "{message}"
    );
    assert!(
        message.contains(&format!("berth start {name}")),
        "{message}"
    );
    assert!(
        !message.contains("docker") && !message.contains("Error response"),
        "no engine words: {message}"
    );

    let dry = berth_ok(&s, &["gc", "--dry-run"]);
    let run_id = json["run_id"].as_str().expect("run id");
    assert!(
        stdout(&dry).contains(&format!("would remove {name} (run {run_id}, ")),
        "{}",
        describe(&dry)
    );

    let start = run(s.berth().args(["start", &name]));
    assert_eq!(stdout(&start), format!("{name}\n"), "{}", describe(&start));
    let again = run(s.berth().args(["exec", &name, "echo", "-n", "again"]));
    assert_eq!(stdout(&again), "again", "{}", describe(&again));
    berth_ok(&s, &["restart", "-t", "0", &name]);
    let inspect = run(s.berth().args(["inspect", &name]));
    let json: serde_json::Value = serde_json::from_slice(&inspect.stdout).expect("JSON");
    assert_eq!(json["sandbox"]["state"], "running", "{json}");
    assert_eq!(json["record"]["state"], "running", "{json}");

    berth_ok(&s, &["rm", "-f", &name]);
    let gone = run(s.berth().args(["inspect", &name]));
    assert_eq!(gone.status.code(), Some(8), "{}", describe(&gone));
    assert_eq!(s.records(), 0);
    s.assert_clean();
}

#[test]
fn an_allowlist_run_starts_again_with_its_proxy() {
    require_engine();
    let s = Scratch::new("habits-egress");
    let config = s.write_config(
        "berth.toml",
        "image = \"berth-test/busybox:latest\"\ncommand = [\"sleep\", \"600\"]\n\
         [network]\npolicy = \"allowlist\"\nallow = [\"allowed.test:443\"]\n",
    );
    let name = format!("{}-e", s.name());
    let started = run(s
        .berth()
        .args(["run", "-d", "--runtime", "docker", "--name", &name, "-f"])
        .arg(&config));
    assert!(started.status.success(), "{}", describe(&started));
    // The proxy answers a host outside the allowlist with its 403.
    let denied = |what: &str| {
        let out = run(s.berth().args([
            "exec",
            &name,
            "sh",
            "-c",
            "wget -q -O /dev/null -Y on http://denied.test/ 2>&1; true",
        ]));
        assert!(
            stdout(&out).contains("403 Forbidden"),
            "{what}: {}",
            describe(&out)
        );
    };
    denied("before the stop");
    berth_ok(&s, &["stop", "-t", "0", &name]);
    berth_ok(&s, &["start", &name]);
    denied("after start: the proxy was started again too");
    berth_ok(&s, &["rm", "-f", &name]);
    assert_eq!(s.records(), 0);
    s.assert_clean();
}

#[test]
fn a_stopped_foreground_run_is_not_started_again() {
    require_engine();
    let (s, config, _) = setup("habits-fg");
    let name = format!("{}-fg", s.name());
    let ran = run(s
        .berth()
        .args(["run", "--runtime", "docker", "--name", &name, "-f"])
        .arg(&config)
        .args(["--", "true"]));
    assert!(ran.status.success(), "{}", describe(&ran));
    let start = run(s.berth().args(["start", &name]));
    assert_eq!(start.status.code(), Some(2), "{}", describe(&start));
    assert!(
        stderr(&start).contains("only a detached run (berth run -d) can be started again"),
        "{}",
        describe(&start)
    );
    let exec = run(s.berth().args(["exec", &name, "true"]));
    assert_eq!(exec.status.code(), Some(3), "{}", describe(&exec));
    assert!(
        stderr(&exec).contains(&format!("remove it with `berth rm {name}`")),
        "{}",
        describe(&exec)
    );
    berth_ok(&s, &["rm", &name]);
    assert_eq!(s.records(), 0);
    s.assert_clean();
}

#[test]
fn version_names_berth_and_the_engine() {
    require_engine();
    let s = Scratch::new("habits-version");
    let out = berth_ok(&s, &["version", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["berth"], env!("CARGO_PKG_VERSION"), "{json}");
    assert!(
        json["engine"]["version"]
            .as_str()
            .is_some_and(|v| !v.is_empty()),
        "{json}"
    );
    assert!(
        json["runtimes"].as_array().is_some_and(|r| r
            .iter()
            .any(|r| r["runtime"] == "docker" && r["available"] == true)),
        "{json}"
    );
    let human = run(s.berth().arg("version"));
    assert!(
        stdout(&human).starts_with(&format!(
            "berth    {}\nengine   Docker ",
            env!("CARGO_PKG_VERSION")
        )),
        "{}",
        describe(&human)
    );
}

#[test]
fn run_without_a_config_or_an_image_says_so_plainly() {
    require_engine();
    let s = Scratch::new("habits-noconfig");
    let out = run(s
        .berth()
        .current_dir(s.dir())
        .args(["run", "--rm", "--runtime", "docker"]));
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let message = stderr(&out);
    assert!(
        message.contains(&format!("no berth.toml in {}", s.dir().display())),
        "{message}"
    );
    assert!(!message.contains("<defaults>"), "{message}");
    assert_eq!(s.records(), 0);
}
