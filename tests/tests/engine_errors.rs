//! The engine's failures as a user meets them: each a clear message, a distinct
//! exit code, no panic, and nothing left behind.

use std::os::unix::process::CommandExt;

use berth_tests::{Scratch, berth_bin, leftovers, require_engine, run};

/// A foreground run of the busybox test image that does nothing.
const RUN_TRUE: &[&str] = &[
    "run",
    "--rm",
    "--runtime",
    "docker",
    "berth-test/busybox",
    "--",
    "true",
];

#[test]
fn engine_not_running_exits_4_and_says_how_to_start_it() {
    let scratch = Scratch::new("no-engine");
    let out = run(scratch
        .berth()
        .env("DOCKER_HOST", "unix:///tmp/berth-no-such-engine.sock")
        .args(RUN_TRUE));
    assert_eq!(out.status.code(), Some(4));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not running"), "{stderr}");
    assert!(stderr.contains("fix: start the Docker engine"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    let ps = run(scratch
        .berth()
        .env("DOCKER_HOST", "unix:///tmp/berth-no-such-engine.sock")
        .args(["ps", "--format", "json"]));
    assert_eq!(ps.status.code(), Some(4));
    let body: serde_json::Value = serde_json::from_slice(&ps.stdout).expect("JSON error body");
    assert_eq!(body["error"]["kind"], "unavailable");
    assert_eq!(body["error"]["exit_code"], 4);
}

#[test]
fn permission_denied_exits_5_and_names_the_group() {
    require_engine();
    // A copy any user can execute, run as nobody (no supplementary groups), with
    // a state directory nobody owns.
    let scratch = Scratch::new("perm");
    let dir = scratch.dir();
    let bin = dir.join("berth");
    std::fs::copy(berth_bin(), &bin).expect("copy berth");
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let nobody = Some(nix::unistd::Uid::from_raw(65534));
    nix::unistd::chown(
        &scratch.state(),
        nobody,
        Some(nix::unistd::Gid::from_raw(65534)),
    )
    .expect("chown the state directory");
    let out = run(std::process::Command::new(&bin)
        .env_remove("BERTH_RUNTIME")
        .env_remove("DOCKER_HOST")
        .env("XDG_STATE_HOME", scratch.state())
        .uid(65534)
        .gid(65534)
        .current_dir(dir)
        .args(RUN_TRUE));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(
        stderr.contains("permission denied on the engine socket"),
        "{stderr}"
    );
    assert!(stderr.contains("usermod -aG"), "{stderr}");
}

#[test]
fn a_failed_start_leaves_nothing_behind() {
    require_engine();
    // The image exists but the command does not: create succeeds, start fails.
    let scratch = Scratch::new("failstart");
    let name = scratch.name();
    let out = run(scratch.berth().args([
        "run",
        "--rm",
        "--runtime",
        "docker",
        "--name",
        name,
        "berth-test/busybox",
        "--",
        "/no/such/program",
    ]));
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    let (c, n, v) = leftovers("berth.managed-by=berth");
    let named = run(berth_tests::docker().args(["ps", "-aq", "--filter", &format!("name={name}")]));
    assert!(
        named.stdout.is_empty(),
        "container {name} left behind; berth containers: {c:?} {n:?} {v:?}"
    );
}
