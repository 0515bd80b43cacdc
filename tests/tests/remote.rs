//! Remote endpoints: berth driving a second Docker engine over TLS and over SSH,
//! both on loopback, started (and removed) by scripts/remote-engine.sh, which
//! scripts/test.sh wraps around its second phase.
//!
//! Each test is `#[ignore]`d (a plain `cargo nextest run` has no second engine)
//! and fails, never skips, when the variables of that script are missing. What a
//! test creates on the second engine carries its sandbox's name as a label and is
//! removed by that label when the test ends, on failure too.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use berth_tests::{Scratch, describe, run};

const IMAGE: &str = "berth-test/busybox:latest";

/// A variable the harness sets; missing means the harness is not running.
fn harness(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: run this test under scripts/remote-engine.sh (scripts/test.sh does)"
        )
    })
}

/// How berth reaches the second engine.
struct Remote {
    tag: &'static str,
    env: Vec<(&'static str, String)>,
    /// What berth prints for the endpoint.
    shown: String,
}

fn tls() -> Remote {
    let host = harness("BERTH_TEST_REMOTE_TLS");
    Remote {
        tag: "tls",
        shown: format!("{host} (TLS)"),
        env: vec![
            ("DOCKER_HOST", host),
            ("DOCKER_TLS_VERIFY", "1".to_owned()),
            ("DOCKER_CERT_PATH", harness("BERTH_TEST_REMOTE_CERTS")),
        ],
    }
}

fn ssh() -> Remote {
    let host = harness("BERTH_TEST_REMOTE_SSH");
    Remote {
        tag: "ssh",
        shown: host.clone(),
        env: vec![
            ("DOCKER_HOST", host),
            (
                "BERTH_SSH_COMMAND",
                harness("BERTH_TEST_REMOTE_SSH_COMMAND"),
            ),
        ],
    }
}

impl Remote {
    fn berth(&self, s: &Scratch) -> Command {
        let mut cmd = s.berth();
        cmd.env("BERTH_RUNTIME", "docker")
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }
}

/// The second engine's own CLI, over its unix socket.
fn second() -> Command {
    let mut cmd = Command::new("docker");
    cmd.args([
        "-H",
        &format!("unix://{}", harness("BERTH_TEST_REMOTE_SOCKET")),
    ])
    .stdin(Stdio::null());
    cmd
}

/// The first engine's CLI.
fn first() -> Command {
    let mut cmd = Command::new("docker");
    cmd.env_remove("DOCKER_HOST").stdin(Stdio::null());
    cmd
}

/// Ids of containers, networks and volumes labelled `berth.sandbox=<name>`.
fn labelled(mut docker: impl FnMut() -> Command, name: &str) -> Vec<String> {
    let filter = format!("label=berth.sandbox={name}");
    let mut ids = Vec::new();
    for args in [
        &["ps", "-aq"][..],
        &["network", "ls", "-q"][..],
        &["volume", "ls", "-q"][..],
    ] {
        let out = run(docker().args(args).args(["--filter", &filter]));
        assert!(out.status.success(), "docker {args:?}: {}", describe(&out));
        ids.extend(
            String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .map(str::to_owned),
        );
    }
    ids
}

/// Removes what a test left on the second engine, when dropped.
struct SecondGuard(String);

impl Drop for SecondGuard {
    fn drop(&mut self) {
        let filter = format!("label=berth.sandbox={}", self.0);
        for (list, remove) in [
            (&["ps", "-aq"][..], &["rm", "-fv"][..]),
            (&["network", "ls", "-q"][..], &["network", "rm"][..]),
            (&["volume", "ls", "-q"][..], &["volume", "rm", "-f"][..]),
        ] {
            if let Ok(out) = second().args(list).args(["--filter", &filter]).output() {
                let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect();
                if !ids.is_empty() {
                    let _ = second().args(remove).args(&ids).output();
                }
            }
        }
    }
}

fn assert_ok(out: &Output, what: &str) {
    assert!(out.status.success(), "{what}: {}", describe(out));
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn config(s: &Scratch, extra: &str) -> PathBuf {
    s.write_config("berth.toml", &format!("image = \"{IMAGE}\"\n{extra}"))
}

/// run (exit code and output), run -d, exec -i byte-exact, logs, stop, rm, and
/// nothing left; the first engine never sees the sandbox.
fn core_cases(remote: &Remote) {
    let s = Scratch::new(&format!("remote-{}", remote.tag));
    let _guard = SecondGuard(s.name().to_owned());
    let config = config(&s, "");

    let out = run(remote
        .berth(&s)
        .args(["run", "--rm", "-f"])
        .arg(&config)
        .args(["--", "sh", "-c", "echo hello; exit 3"]));
    assert_eq!(out.status.code(), Some(3), "run: {}", describe(&out));
    assert_eq!(stdout(&out), "hello\n");

    let out = run(remote
        .berth(&s)
        .args(["run", "-d", "--name", s.name(), "-f"])
        .arg(&config)
        .args(["--", "sh", "-c", "echo line1; exec sleep 3600"]));
    assert_ok(&out, "run -d");
    assert!(
        !labelled(second, s.name()).is_empty(),
        "the second engine runs the sandbox"
    );
    assert!(
        labelled(first, s.name()).is_empty(),
        "the first engine never sees the remote sandbox"
    );

    // 256 KiB of pseudo-random bytes, every byte value included, through cat.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let data: Vec<u8> = (0..256 << 10)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    let mut child = remote
        .berth(&s)
        .args(["exec", "-i", s.name(), "--", "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn berth exec");
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = {
        let data = data.clone();
        std::thread::spawn(move || stdin.write_all(&data).expect("write stdin"))
    };
    let out = child.wait_with_output().expect("wait");
    writer.join().expect("writer");
    assert_ok(&out, "exec -i cat");
    assert_eq!(out.stdout.len(), data.len(), "length differs");
    assert!(out.stdout == data, "bytes differ");

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let logs = run(remote.berth(&s).args(["logs", s.name()]));
        assert_ok(&logs, "logs");
        if stdout(&logs) == "line1\n" {
            break;
        }
        assert!(Instant::now() < deadline, "logs: {}", describe(&logs));
        std::thread::sleep(Duration::from_millis(100));
    }

    let out = run(remote.berth(&s).args(["stop", "-t", "1", s.name()]));
    assert_ok(&out, "stop");
    let out = run(remote.berth(&s).args(["ps", "--all", "--format", "json"]));
    let entry = berth_tests::ps_entry(&out, s.name());
    assert_eq!(entry["state"], "exited");
    let out = run(remote.berth(&s).args(["rm", s.name()]));
    assert_ok(&out, "rm");
    assert_eq!(
        labelled(second, s.name()),
        Vec::<String>::new(),
        "left on the second engine"
    );
    assert_eq!(s.records(), 0, "records left: {}", s.runs().display());
}

#[test]
#[ignore = "needs the second engine of scripts/remote-engine.sh"]
fn core_cases_over_tls() {
    core_cases(&tls());
}

#[test]
#[ignore = "needs the second engine of scripts/remote-engine.sh"]
fn core_cases_over_ssh() {
    core_cases(&ssh());
}

/// `berth ps` against a broken endpoint: exit 4, the endpoint named, and `said`.
fn fails_with(env: &[(&'static str, String)], shown: &str, said: &[&str]) {
    let s = Scratch::new("remote-fail");
    let remote = Remote {
        tag: "fail",
        env: env.to_vec(),
        shown: shown.to_owned(),
    };
    let out = run(remote.berth(&s).args(["ps"]));
    assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
    let err = stderr(&out);
    assert!(err.contains(&remote.shown), "names the endpoint: {err}");
    for text in said {
        assert!(err.contains(text), "says {text:?}: {err}");
    }
}

#[test]
#[ignore = "needs the second engine of scripts/remote-engine.sh"]
fn a_wrong_ca_a_wrong_key_and_a_closed_port_each_say_so() {
    let host = harness("BERTH_TEST_REMOTE_TLS");
    let shown = format!("{host} (TLS)");
    let with_certs = |dir: String| {
        vec![
            ("DOCKER_HOST", host.clone()),
            ("DOCKER_TLS_VERIFY", "1".to_owned()),
            ("DOCKER_CERT_PATH", dir),
        ]
    };
    fails_with(
        &with_certs(harness("BERTH_TEST_REMOTE_WRONG_CA")),
        &shown,
        &[
            "TLS with the Docker engine",
            "invalid peer certificate",
            "ca.pem is the CA",
        ],
    );
    fails_with(
        &with_certs(harness("BERTH_TEST_REMOTE_WRONG_KEY")),
        &shown,
        &[
            "TLS with the Docker engine",
            "rejected berth's client certificate",
        ],
    );
    let closed = harness("BERTH_TEST_REMOTE_CLOSED");
    fails_with(
        &[
            ("DOCKER_HOST", closed.clone()),
            ("DOCKER_TLS_VERIFY", "1".to_owned()),
            ("DOCKER_CERT_PATH", harness("BERTH_TEST_REMOTE_CERTS")),
        ],
        &format!("{closed} (TLS)"),
        &["is unreachable", "refused"],
    );
    let ssh_host = harness("BERTH_TEST_REMOTE_SSH");
    fails_with(
        &[
            ("DOCKER_HOST", ssh_host.clone()),
            (
                "BERTH_SSH_COMMAND",
                harness("BERTH_TEST_REMOTE_SSH_WRONG_COMMAND"),
            ),
        ],
        &ssh_host,
        &["ssh authentication to", "Permission denied"],
    );
    let plain = host.replace("127.0.0.1", "192.0.2.1");
    fails_with(
        &[("DOCKER_HOST", plain.clone())],
        &plain,
        &["plain TCP", "loopback"],
    );
}

/// The workspace directory a remote engine cannot see.
fn workspace(s: &Scratch) -> PathBuf {
    let dir = s.dir().join("ws");
    std::fs::create_dir_all(&dir).expect("mkdir ws");
    std::fs::write(dir.join("file"), "x").expect("write");
    dir
}

#[test]
#[ignore = "needs the second engine of scripts/remote-engine.sh"]
fn a_workspace_on_a_remote_engine_is_refused_with_the_fix_before_anything_is_created() {
    let remote = tls();
    let s = Scratch::new("remote-ws");
    let _guard = SecondGuard(s.name().to_owned());
    let ws = workspace(&s);
    let config = config(&s, &format!("\n[workspace]\npath = \"{}\"\n", ws.display()));
    let plan = run(remote.berth(&s).args(["plan", "-f"]).arg(&config));
    assert_eq!(plan.status.code(), Some(3), "{}", describe(&plan));
    let err = stderr(&plan);
    assert!(err.contains(&remote.shown), "names the endpoint: {err}");
    assert!(err.contains("not on this host"), "{err}");
    assert!(err.contains("fix"), "{err}");
    let out = run(remote
        .berth(&s)
        .args(["run", "--rm", "-f"])
        .arg(&config)
        .args(["--", "true"]));
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    assert_eq!(labelled(second, s.name()), Vec::<String>::new());
    assert_eq!(s.records(), 0);
}

#[test]
#[ignore = "needs the second engine of scripts/remote-engine.sh"]
fn a_run_on_one_endpoint_is_never_collected_because_of_another_engine() {
    let remote = tls();
    let s = Scratch::new("remote-gc");
    let _guard = SecondGuard(s.name().to_owned());
    let config = config(&s, "");
    let out = run(remote
        .berth(&s)
        .args(["run", "-d", "--name", s.name(), "-f"])
        .arg(&config)
        .args(["--", "sleep", "3600"]));
    assert_ok(&out, "run -d");
    assert_eq!(s.records(), 1, "the run has its record");
    // gc against the first engine (a dry run: it would sweep other runs there)
    // sees nothing of the run and must not call its record stale.
    let mut local = s.berth();
    local
        .env("BERTH_RUNTIME", "docker")
        .env_remove("DOCKER_HOST")
        .env_remove("DOCKER_CONTEXT");
    let out = run(local.args(["gc", "--dry-run", "--format", "json"]));
    assert_ok(&out, "gc --dry-run on the first engine");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("gc JSON");
    let names: Vec<&serde_json::Value> = report["removed"]
        .as_array()
        .expect("removed")
        .iter()
        .map(|d| &d["name"])
        .collect();
    assert!(
        !names.iter().any(|n| *n == s.name()),
        "gc on the first engine would remove the remote run: {report}"
    );
    // ps on the first engine neither lists the run nor marks its record
    // stopped; with --all-endpoints it lists it from its record.
    let local_ps = || {
        let mut cmd = s.berth();
        cmd.env("BERTH_RUNTIME", "docker")
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT");
        cmd
    };
    let out = run(local_ps().args(["ps", "--all", "--format", "json"]));
    assert!(
        !berth_tests::ps_entries(&out)
            .iter()
            .any(|e| e["name"] == s.name()),
        "{}",
        describe(&out)
    );
    let out = run(local_ps().args(["ps", "--all-endpoints", "--format", "json"]));
    let entry = berth_tests::ps_entry(&out, s.name());
    let status = entry["status"].as_str().unwrap_or_default();
    assert!(
        status.starts_with(&format!("on {}", remote.shown)) && status.contains("running"),
        "{entry}"
    );
    // gc against its own endpoint keeps it too: it runs, detached.
    let out = run(remote.berth(&s).args(["gc", "--format", "json"]));
    assert_ok(&out, "gc on the second engine");
    assert_eq!(s.records(), 1, "{}", describe(&out));
    let ps = run(remote.berth(&s).args(["ps", "--format", "json"]));
    assert_eq!(berth_tests::ps_entry(&ps, s.name())["state"], "running");
    let out = run(remote.berth(&s).args(["rm", "-f", s.name()]));
    assert_ok(&out, "rm -f");
    assert_eq!(labelled(second, s.name()), Vec::<String>::new());
}

#[test]
#[ignore = "needs the second engine of scripts/remote-engine.sh"]
fn a_docker_context_made_by_the_docker_cli_is_followed() {
    let s = Scratch::new("remote-context");
    let _guard = SecondGuard(s.name().to_owned());
    let config_dir = s.dir().join("docker-config");
    let certs = PathBuf::from(harness("BERTH_TEST_REMOTE_CERTS"));
    let docker_cli = || {
        let mut cmd = Command::new("docker");
        cmd.arg("--config")
            .arg(&config_dir)
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT")
            .stdin(Stdio::null());
        cmd
    };
    let endpoint = format!(
        "host={},ca={},cert={},key={}",
        harness("BERTH_TEST_REMOTE_TLS"),
        certs.join("ca.pem").display(),
        certs.join("cert.pem").display(),
        certs.join("key.pem").display()
    );
    let out = run(docker_cli().args(["context", "create", "berth-remote", "--docker", &endpoint]));
    assert_ok(&out, "docker context create");
    let out = run(docker_cli().args(["context", "use", "berth-remote"]));
    assert_ok(&out, "docker context use");
    let mut berth = s.berth();
    berth
        .env("BERTH_RUNTIME", "docker")
        .env("DOCKER_CONFIG", &config_dir)
        .env_remove("DOCKER_HOST")
        .env_remove("DOCKER_CONTEXT")
        .env_remove("DOCKER_TLS_VERIFY")
        .env_remove("DOCKER_CERT_PATH");
    let out = run(berth.args(["run", "--rm", "-f"]).arg(config(&s, "")).args([
        "--",
        "sh",
        "-c",
        "echo via-context",
    ]));
    assert_ok(&out, "run through the current context");
    assert_eq!(stdout(&out), "via-context\n");
    let mut doctor = s.berth();
    doctor
        .env("DOCKER_CONFIG", &config_dir)
        .env_remove("DOCKER_HOST")
        .env_remove("DOCKER_CONTEXT");
    let out = run(doctor.arg("doctor"));
    let text = stdout(&out);
    assert!(
        text.contains(&format!("{} (TLS)", harness("BERTH_TEST_REMOTE_TLS")))
            && text.contains("docker context berth-remote"),
        "{}",
        describe(&out)
    );
    assert_eq!(labelled(second, s.name()), Vec::<String>::new());
}

#[test]
#[ignore = "needs the second engine of scripts/remote-engine.sh"]
fn doctor_shows_the_endpoint_how_it_was_chosen_and_the_engine() {
    for remote in [tls(), ssh()] {
        let s = Scratch::new("remote-doctor");
        let out = run(remote.berth(&s).args(["doctor"]));
        let text = stdout(&out);
        assert!(text.contains(&remote.shown), "{}", describe(&out));
        assert!(text.contains("DOCKER_HOST"), "{text}");
        assert!(text.contains("runc"), "{text}");
        // The remote engine's socket, as its host has it.
        assert!(
            text.contains(&format!(
                "its socket on that host is {}",
                harness("BERTH_TEST_REMOTE_SOCKET")
            )),
            "{text}"
        );
    }
}

/// The image with a docker CLI, which the second engine gets from the first
/// (nothing is pulled) when it lacks it.
const DIND_IMAGE: &str = "berth-test/dind:latest";

fn load_on_second(image: &str) {
    if second()
        .args(["image", "inspect", image])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
    {
        return;
    }
    let mut save = first()
        .args(["save", image])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn docker save");
    let saved = save.stdout.take().expect("save's stdout");
    let out = run(second().arg("load").stdin(saved));
    assert!(save.wait().expect("wait for docker save").success());
    assert_ok(&out, "docker load on the second engine");
}

/// Seconds since the Unix epoch, as `docker events --since` takes them.
fn epoch() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// What an engine reported about containers labelled `berth.sandbox=<name>`
/// (and `filter`) from `since` until now: one `<role> <action>` per event.
fn events(
    mut docker: impl FnMut() -> Command,
    name: &str,
    since: u64,
    filter: &str,
) -> Vec<String> {
    let mut cmd = docker();
    cmd.args(["events", "--since", &since.to_string()])
        .args(["--until", &(epoch() + 1).to_string()])
        .args(["--filter", "type=container"])
        .args(["--filter", &format!("label=berth.sandbox={name}")])
        .args([
            "--format",
            "{{index .Actor.Attributes \"berth.role\"}} {{.Action}}",
        ]);
    if !filter.is_empty() {
        cmd.args(["--filter", filter]);
    }
    let out = run(&mut cmd);
    assert_ok(&out, "docker events");
    stdout(&out).lines().map(str::to_owned).collect()
}

/// docker `host` mode against a remote endpoint: the plan names the remote
/// engine's socket and its group there (from the probe, cached), the docker
/// CLI inside the sandbox talks to the second engine, the first engine never
/// sees the probe or the sandbox, and nothing is left.
fn host_mode(remote: &Remote) {
    let s = Scratch::new(&format!("remote-host-{}", remote.tag));
    let _guard = SecondGuard(s.name().to_owned());
    load_on_second(DIND_IMAGE);
    let since = epoch();
    let config = s.write_config(
        "berth.toml",
        &format!(
            "image = \"{DIND_IMAGE}\"\nuser = \"1000:1000\"\n\n[env]\nHOME = \"/tmp\"\n\n[docker]\nmode = \"host\"\n"
        ),
    );
    // The second engine as it says itself, over its own socket.
    let info = run(second().args(["info", "--format", "{{.ID}} {{.DockerRootDir}}"]));
    assert_ok(&info, "docker info on the second engine");
    let second_engine = stdout(&info).trim().to_owned();
    let first_info = run(first().args(["info", "--format", "{{.ID}} {{.DockerRootDir}}"]));
    assert_ne!(
        stdout(&first_info).trim(),
        second_engine,
        "the two engines must be told apart"
    );
    let socket = PathBuf::from(harness("BERTH_TEST_REMOTE_SOCKET"));
    let gid = std::os::unix::fs::MetadataExt::gid(&std::fs::metadata(&socket).expect("socket"));

    let plan = run(remote.berth(&s).args(["plan", "-f"]).arg(&config));
    assert_ok(&plan, "plan");
    let text = stdout(&plan);
    assert!(
        text.contains(&format!(
            "docker    host mode, the socket of the engine at {}, {} on that host, mounted at /var/run/docker.sock, group {gid} on that host added",
            remote.shown,
            socket.display()
        )),
        "{text}"
    );
    assert!(text.contains(&format!("extra groups {gid}")), "{text}");
    // The probe ran on the second engine, as berth's, and is gone.
    let probed = events(second, s.name(), since, "label=berth.role=socket-probe");
    assert!(
        probed.iter().any(|e| e == "socket-probe create")
            && probed.iter().any(|e| e == "socket-probe destroy"),
        "{probed:?}"
    );
    assert_eq!(
        labelled(second, s.name()),
        Vec::<String>::new(),
        "the probe left containers"
    );
    // Its answer is kept, owner-only; bad content there is ignored and probed again.
    let cache_dir = s.state().join("berth/engine-sockets");
    let cached: Vec<PathBuf> = std::fs::read_dir(&cache_dir)
        .expect("the probe's answer is cached")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(cached.len(), 1, "{cached:?}");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&cached[0]).expect("cache").permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    std::fs::write(&cached[0], br#"{"path":"/etc/shadow"}"#).expect("spoil the cache");
    let again = run(remote.berth(&s).args(["plan", "-f"]).arg(&config));
    assert_ok(&again, "plan with a spoiled cache");
    assert!(stdout(&again).contains(&format!("{} on that host", socket.display())));
    let rewritten = std::fs::read_to_string(&cached[0]).expect("cache");
    assert!(
        rewritten.contains(&socket.display().to_string()),
        "{rewritten}"
    );

    let out = run(remote
        .berth(&s)
        .args(["run", "--rm", "--allow", "docker-host", "-f"])
        .arg(&config)
        .args([
            "--",
            "sh",
            "-c",
            // The engine lists a container it has just started a moment later
            // under load: asked again for up to 5 s.
            &format!(
                "id -G; docker info --format '{{{{.ID}}}} {{{{.DockerRootDir}}}}'; for i in $(seq 50); do docker ps --format '{{{{.Names}}}}' | grep -q ^{name} && break; sleep 0.1; done; docker ps --format '{{{{.Names}}}}'",
                name = s.name()
            ),
        ]));
    assert_ok(&out, "run in host mode");
    let said = stdout(&out);
    let mut lines = said.lines();
    let groups = lines.next().unwrap_or_default();
    assert!(
        groups.split_whitespace().any(|g| g == gid.to_string()),
        "the socket's group {gid} on the engine's host is not in {groups}"
    );
    assert_eq!(
        lines.next(),
        Some(second_engine.as_str()),
        "the docker CLI inside talks to the second engine: {}",
        describe(&out)
    );
    assert!(
        lines.any(|l| l.starts_with(s.name())),
        "the second engine runs the sandbox: {}",
        describe(&out)
    );
    assert_eq!(
        events(first, s.name(), since, ""),
        Vec::<String>::new(),
        "the first engine saw the probe or the sandbox"
    );
    assert_eq!(
        labelled(second, s.name()),
        Vec::<String>::new(),
        "left on the second engine"
    );
    assert_eq!(
        labelled(first, s.name()),
        Vec::<String>::new(),
        "left on the first engine"
    );
    assert_eq!(s.records(), 0, "records left: {}", s.runs().display());
}

#[test]
#[ignore = "needs the second engine of scripts/remote-engine.sh"]
fn host_mode_over_tls_mounts_the_remote_engine_s_socket() {
    host_mode(&tls());
}

#[test]
#[ignore = "needs the second engine of scripts/remote-engine.sh"]
fn host_mode_over_ssh_mounts_the_remote_engine_s_socket() {
    host_mode(&ssh());
}

#[test]
#[ignore = "needs the second engine of scripts/remote-engine.sh"]
fn host_mode_on_a_remote_engine_is_refused_with_the_reason_when_the_probe_cannot_run() {
    let remote = tls();
    let s = Scratch::new("remote-host-noprobe");
    let _guard = SecondGuard(s.name().to_owned());
    let config = s.write_config(
        "berth.toml",
        &format!("image = \"{IMAGE}\"\n\n[docker]\nmode = \"host\"\n"),
    );
    let missing = s.dir().join("no-helper-here");
    for args in [
        &["plan"][..],
        &["run", "--rm", "--allow", "docker-host"][..],
    ] {
        let out = run(remote
            .berth(&s)
            .env("BERTH_HELPER", &missing)
            .args(args)
            .arg("-f")
            .arg(&config)
            .args(if args[0] == "run" {
                &["--", "true"][..]
            } else {
                &[]
            }));
        assert_eq!(out.status.code(), Some(3), "{args:?}: {}", describe(&out));
        let err = stderr(&out);
        for said in [
            &format!("the engine at {}", remote.shown)[..],
            "its socket there is not known",
            "berth could not ask that host",
            "is not installed",
            &missing.display().to_string(),
            "fix",
        ] {
            assert!(err.contains(said), "{args:?} says {said:?}: {err}");
        }
    }
    assert_eq!(labelled(second, s.name()), Vec::<String>::new());
    assert!(
        !s.state().join("berth/engine-sockets").exists(),
        "nothing learned, nothing cached"
    );
    assert_eq!(s.records(), 0);
}
