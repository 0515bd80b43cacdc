//! The engine's failures as a user meets them: each a clear message, a distinct
//! exit code, no panic, and nothing left behind.

use std::os::unix::process::CommandExt;

use berth_tests::{berth, berth_bin, leftovers, require_engine, run};

#[test]
fn engine_not_running_exits_4_and_says_how_to_start_it() {
    let out = run(berth()
        .env("DOCKER_HOST", "unix:///tmp/berth-no-such-engine.sock")
        .args([
            "run",
            "--rm",
            "--runtime",
            "docker",
            "berth-test/busybox",
            "--",
            "true",
        ]));
    assert_eq!(out.status.code(), Some(4));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not running"), "{stderr}");
    assert!(stderr.contains("fix: start the Docker engine"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    let ps = run(berth()
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
    // A copy any user can execute, run as nobody (no supplementary groups).
    let dir = std::env::temp_dir().join(format!("berth-perm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let bin = dir.join("berth");
    std::fs::copy(berth_bin(), &bin).expect("copy berth");
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let out = run(std::process::Command::new(&bin)
        .env_remove("BERTH_RUNTIME")
        .env_remove("DOCKER_HOST")
        .uid(65534)
        .gid(65534)
        .current_dir(&dir)
        .args([
            "run",
            "--rm",
            "--runtime",
            "docker",
            "berth-test/busybox",
            "--",
            "true",
        ]));
    let _ = std::fs::remove_dir_all(&dir);
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
    let name = format!("failstart-{}", std::process::id());
    let out = run(berth().args([
        "run",
        "--rm",
        "--runtime",
        "docker",
        "--name",
        &name,
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
