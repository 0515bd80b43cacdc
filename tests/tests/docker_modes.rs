//! Docker access inside a sandbox, for real: `host` mode lets a non-root user use
//! the host engine through the mounted socket; `dind` runs a private engine that
//! the host engine never sees, without touching the host socket.

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::process::Stdio;

use berth_tests::{Scratch, describe, docker, require_engine, run};

const DIND_IMAGE: &str = "berth-test/dind:latest";
const INNER_IMAGE: &str = "berth-test/busybox:latest";

#[test]
fn host_mode_gives_a_non_root_user_the_host_engine() {
    require_engine();
    let s = Scratch::new("mode-host");
    let name = s.name();
    let config = s.write_config(
        "berth.toml",
        &format!(
            "image = \"{DIND_IMAGE}\"\nuser = \"1000:1000\"\n\n[env]\nHOME = \"/tmp\"\n\n[docker]\nmode = \"host\"\n"
        ),
    );
    let gid = std::fs::metadata("/var/run/docker.sock")
        .expect("socket")
        .gid();
    let out = run(s
        .berth()
        .args([
            "run",
            "--rm",
            "--runtime",
            "docker",
            "--allow",
            "docker-host",
        ])
        .args(["--name", name, "-f"])
        .arg(&config)
        .args([
            "--",
            "sh",
            "-c",
            // The engine lists a container it has just started a moment later
            // under load: asked again for up to 5 s.
            &format!(
                "id -u; id -G; for i in $(seq 50); do docker ps --format '{{{{.Names}}}}' | grep -qx {name} && break; sleep 0.1; done; docker ps --format '{{{{.Names}}}}'"
            ),
        ]));
    assert!(out.status.success(), "{}", describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some("1000"));
    let groups = lines.next().unwrap_or("");
    assert!(
        groups.split_whitespace().any(|g| g == gid.to_string()),
        "socket group {gid} not in {groups}"
    );
    assert!(
        lines.any(|l| l == name),
        "docker ps inside should list the sandbox itself: {}",
        describe(&out)
    );
    s.assert_clean();
}

#[test]
fn dind_mode_runs_a_private_engine_the_host_never_sees() {
    require_engine();
    let s = Scratch::new("mode-dind");
    let name = s.name();
    let config = s.write_config(
        "berth.toml",
        &format!("image = \"{DIND_IMAGE}\"\n\n[docker]\nmode = \"dind\"\n"),
    );
    let started = run(s
        .berth()
        .args(["run", "-d", "--runtime", "docker", "--allow", "dind"])
        .args(["--name", name, "-f"])
        .arg(&config)
        .args(["--", "berth-dind-entrypoint", "sleep", "3600"]));
    assert!(started.status.success(), "{}", describe(&started));

    // The host socket is not mounted: the only docker.sock is the inner engine's.
    let mounts = run(s
        .berth()
        .args(["exec", name, "--", "cat", "/proc/self/mountinfo"]));
    assert!(mounts.status.success(), "{}", describe(&mounts));
    assert!(
        !String::from_utf8_lossy(&mounts.stdout).contains("docker.sock"),
        "the host socket must not be mounted in dind mode"
    );

    // Wait for the inner engine, then load an image into it through exec -i.
    let ready = run(s.berth().args([
        "exec", name, "--", "sh", "-c",
        "for i in $(seq 1 60); do docker version >/dev/null 2>&1 && exit 0; sleep 0.5; done; cat /var/log/dockerd.log; exit 1",
    ]));
    assert!(
        ready.status.success(),
        "inner engine never answered: {}",
        describe(&ready)
    );
    let saved = run(docker().args(["save", INNER_IMAGE]));
    assert!(saved.status.success(), "{}", describe(&saved));
    let mut load = s
        .berth()
        .args(["exec", "-i", name, "--", "docker", "load"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn exec");
    let mut stdin = load.stdin.take().expect("stdin");
    let image = saved.stdout;
    let writer = std::thread::spawn(move || stdin.write_all(&image));
    let loaded = load.wait_with_output().expect("wait");
    writer.join().expect("join").expect("write image");
    assert!(loaded.status.success(), "{}", describe(&loaded));

    let inner_name = format!("inner-{}", std::process::id());
    let inner = run(s.berth().args([
        "exec",
        name,
        "--",
        "docker",
        "run",
        "--rm",
        "--name",
        &inner_name,
        INNER_IMAGE,
        "echo",
        "inner-ok",
    ]));
    assert!(inner.status.success(), "{}", describe(&inner));
    assert_eq!(String::from_utf8_lossy(&inner.stdout).trim(), "inner-ok");

    // The host engine never saw the inner container.
    let seen = run(docker().args(["ps", "-a", "--format", "{{.Names}}"]));
    assert!(
        !String::from_utf8_lossy(&seen.stdout)
            .lines()
            .any(|l| l == inner_name),
        "the host engine lists the inner container"
    );

    let rm = run(s.berth().args(["rm", "-f", name]));
    assert!(rm.status.success(), "{}", describe(&rm));
    s.assert_clean();
}
