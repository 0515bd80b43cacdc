//! `berth doctor --format json` against the real engine: docker and gvisor are
//! available, and the socket gid is the real one.

use std::os::unix::fs::MetadataExt;

use berth_tests::{Scratch, require_engine, run};

#[test]
fn doctor_reports_docker_and_gvisor_with_the_real_socket_gid() {
    require_engine();
    let scratch = Scratch::new("doctor-json");
    let out = run(scratch.berth().args(["doctor", "--format", "json"]));
    assert!(
        out.status.success(),
        "doctor failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("doctor prints JSON");

    // stat follows the symlink, as the engine does when it mounts the socket.
    let meta = std::fs::metadata("/var/run/docker.sock").expect("stat /var/run/docker.sock");
    let socket = &report["host"]["socket"];
    assert_eq!(socket["status"], "usable", "socket: {socket}");
    assert_eq!(
        socket["gid"].as_u64(),
        Some(u64::from(meta.gid())),
        "socket: {socket}"
    );
    assert_eq!(
        socket["mode"].as_u64(),
        Some(u64::from(meta.mode() & 0o7777))
    );

    let runtime = |name: &str| {
        report["runtimes"]
            .as_array()
            .expect("runtimes array")
            .iter()
            .find(|r| r["runtime"] == name)
            .unwrap_or_else(|| panic!("{name} missing from {report}"))
            .clone()
    };
    let docker = runtime("docker");
    assert_eq!(docker["available"], true, "{docker}");
    assert_eq!(docker["oci_runtime"]["name"], "runc");
    let modes = |r: &serde_json::Value| -> Vec<(String, bool)> {
        r["docker_modes"]
            .as_array()
            .expect("docker_modes")
            .iter()
            .map(|m| (m["mode"].as_str().unwrap_or("").to_owned(), m["ok"] == true))
            .collect()
    };
    assert_eq!(
        modes(&docker),
        vec![
            ("none".into(), true),
            ("host".into(), true),
            ("dind".into(), true)
        ]
    );
    let host_detail = docker["docker_modes"][1]["detail"].as_str().unwrap_or("");
    assert!(
        host_detail.contains(&format!("group {}", meta.gid())),
        "{host_detail}"
    );

    let gvisor = runtime("gvisor");
    assert_eq!(gvisor["available"], true, "{gvisor}");
    assert_eq!(gvisor["oci_runtime"]["name"], "runsc");
    assert_eq!(gvisor["runsc_flags"]["network"], "host");
    // The project's setup registers runsc without --host-uds: host mode is refused
    // with the fix, dind is refused.
    assert_eq!(
        modes(&gvisor),
        vec![
            ("none".into(), true),
            ("host".into(), false),
            ("dind".into(), false)
        ]
    );
    assert!(
        gvisor["docker_modes"][1]["detail"]
            .as_str()
            .unwrap_or("")
            .contains("--host-uds=open")
    );

    let apple = runtime("apple");
    assert_eq!(apple["available"], false);
    assert!(
        apple["reason"].as_str().unwrap_or("").contains("macOS"),
        "{apple}"
    );
    assert_eq!(report["auto"], "gvisor");
}

#[test]
fn doctor_human_output_names_each_runtime() {
    require_engine();
    let scratch = Scratch::new("doctor-text");
    let out = run(scratch.berth().arg("doctor"));
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "docker    available",
        "gvisor    available",
        "apple     unavailable",
        "--runtime auto picks gvisor",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}
