//! `berth doctor` against the real engine reports what its probe found: the test
//! gathers the same facts itself (the engine through the `docker` CLI's `version`,
//! `info` and `context inspect`, the socket with `stat`, the bounding set from
//! `/proc/self/status`) and checks the report against them, so it holds on any
//! host the tests run on, whatever its paths, versions and runtimes.

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use berth_tests::{Scratch, describe, docker, require_engine, run};
use serde_json::Value;

/// What the test finds out about this host by itself.
struct Facts {
    /// `docker version`'s `.Server`.
    server: Value,
    /// `docker info`.
    info: Value,
    /// The engine's socket, as the docker CLI's current context names it.
    socket: PathBuf,
    /// The socket's group and permission bits (`stat`, following links).
    socket_gid: u32,
    socket_mode: u32,
    /// This process's capability bounding set (berth, its child, inherits it).
    cap_bounding_set: u64,
}

fn docker_json(args: &[&str]) -> Value {
    let out = run(docker().args(args));
    assert!(out.status.success(), "docker {args:?}: {}", describe(&out));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("docker {args:?} printed no JSON ({e}): {}", describe(&out)))
}

impl Facts {
    fn gather() -> Self {
        let server = docker_json(&["version", "--format", "{{json .Server}}"]);
        let info = docker_json(&["info", "--format", "{{json .}}"]);
        let endpoint = docker_json(&[
            "context",
            "inspect",
            "--format",
            "{{json .Endpoints.docker.Host}}",
        ]);
        let socket = PathBuf::from(
            endpoint
                .as_str()
                .and_then(|h| h.strip_prefix("unix://"))
                .unwrap_or_else(|| panic!("the docker CLI does not use a unix socket: {endpoint}")),
        );
        let meta =
            std::fs::metadata(&socket).unwrap_or_else(|e| panic!("stat {}: {e}", socket.display()));
        let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
        let cap_bounding_set = status
            .lines()
            .find_map(|l| l.strip_prefix("CapBnd:"))
            .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
            .expect("CapBnd in /proc/self/status");
        Self {
            server,
            info,
            socket,
            socket_gid: meta.gid(),
            socket_mode: meta.mode() & 0o7777,
            cap_bounding_set,
        }
    }

    /// The engine's OCI runtimes as (name, path, args).
    fn runtimes(&self) -> BTreeSet<(String, String, Vec<String>)> {
        self.info["Runtimes"]
            .as_object()
            .expect("docker info lists Runtimes")
            .iter()
            .map(|(name, r)| (name.clone(), str_of(&r["path"]), strings(&r["runtimeArgs"])))
            .collect()
    }

    /// The registered runsc runtime, if any: named `runsc`, `runsc-*` or `gvisor`,
    /// or with such a program (preferring the one named `runsc`).
    fn runsc(&self) -> Option<(String, String, Vec<String>)> {
        let runsc = |n: &str| n == "runsc" || n.starts_with("runsc-");
        let is_runsc = |name: &str, path: &str| {
            runsc(name) || name == "gvisor" || runsc(path.rsplit('/').next().unwrap_or(path))
        };
        let all = self.runtimes();
        let mut found: Vec<_> = all.into_iter().filter(|(n, p, _)| is_runsc(n, p)).collect();
        found.sort_by_key(|(n, _, _)| n != "runsc");
        found.into_iter().next()
    }

    /// Whether `stat /` (coreutils, which calls statx as `ls` does) works in a
    /// Debian container under runsc, asked of the engine with the docker CLI.
    fn runsc_runs_stat(&self) -> bool {
        self.runsc().is_some()
            && docker()
                .args(["run", "--rm", "--runtime", "runsc", "--network", "none"])
                .args(["--label", "berth.managed-by=berth-tests"])
                .args(["debian:bookworm-slim", "stat", "/"])
                .output()
                .is_ok_and(|o| o.status.success())
    }

    /// The runtime `--runtime auto` should pick here: gVisor when registered and
    /// ordinary tools work under it.
    fn auto(&self) -> &'static str {
        if self.runsc_runs_stat() {
            "gvisor"
        } else {
            "docker"
        }
    }
}

fn str_of(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(str_of).collect())
        .unwrap_or_default()
}

/// The value of `--name=value` among runsc's args.
fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .find_map(|a| a.strip_prefix(&format!("--{name}=")).map(str::to_owned))
}

fn doctor(scratch: &Scratch, format: Option<&str>) -> std::process::Output {
    let mut cmd = scratch.berth();
    cmd.arg("doctor");
    if let Some(format) = format {
        cmd.args(["--format", format]);
    }
    let out = run(&mut cmd);
    assert!(out.status.success(), "doctor failed: {}", describe(&out));
    out
}

fn runtime<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["runtimes"]
        .as_array()
        .expect("runtimes array")
        .iter()
        .find(|r| r["runtime"] == name)
        .unwrap_or_else(|| panic!("{name} missing from {report}"))
}

/// Each docker mode and whether it is possible.
fn modes(r: &Value) -> Vec<(String, bool)> {
    r["docker_modes"]
        .as_array()
        .expect("docker_modes")
        .iter()
        .map(|m| (str_of(&m["mode"]), m["ok"] == true))
        .collect()
}

fn modes_of(none: bool, host: bool, dind: bool) -> Vec<(String, bool)> {
    vec![
        ("none".into(), none),
        ("host".into(), host),
        ("dind".into(), dind),
    ]
}

#[test]
fn doctor_reports_what_the_engine_and_the_host_say() {
    require_engine();
    let facts = Facts::gather();
    let scratch = Scratch::new("doctor-json");
    let out = doctor(&scratch, Some("json"));
    let report: Value = serde_json::from_slice(&out.stdout).expect("doctor prints JSON");

    // The engine, as `docker version` and `docker info` describe it.
    let engine = &report["host"]["engine"];
    assert_eq!(engine["version"], facts.server["Version"], "{engine}");
    assert_eq!(
        engine["api_version"], facts.server["ApiVersion"],
        "{engine}"
    );
    assert_eq!(engine["default_runtime"], facts.info["DefaultRuntime"]);
    assert_eq!(engine["ncpu"], facts.info["NCPU"]);
    assert_eq!(engine["mem_total"], facts.info["MemTotal"]);
    let probed: BTreeSet<(String, String, Vec<String>)> = engine["runtimes"]
        .as_array()
        .expect("runtimes")
        .iter()
        .map(|r| (str_of(&r["name"]), str_of(&r["path"]), strings(&r["args"])))
        .collect();
    assert_eq!(probed, facts.runtimes());

    // The socket the docker CLI uses, with the group and mode stat gives.
    let socket = &report["host"]["socket"];
    assert_eq!(socket["status"], "usable", "socket: {socket}");
    assert_eq!(
        socket["path"].as_str().map(PathBuf::from),
        Some(facts.socket.clone()),
        "socket: {socket}"
    );
    assert_eq!(socket["gid"], facts.socket_gid, "socket: {socket}");
    assert_eq!(socket["mode"], facts.socket_mode, "socket: {socket}");
    assert_eq!(report["host"]["cap_bounding_set"], facts.cap_bounding_set);

    // Docker: available, runc as registered, every docker mode possible; host
    // mode through the socket's group.
    let docker = runtime(&report, "docker");
    assert_eq!(docker["available"], true, "{docker}");
    let runc = facts
        .runtimes()
        .into_iter()
        .find(|(name, _, _)| name == "runc")
        .expect("the engine registers runc");
    assert_eq!(docker["oci_runtime"]["name"], "runc");
    assert_eq!(str_of(&docker["oci_runtime"]["path"]), runc.1);
    assert_eq!(modes(docker), modes_of(true, true, true), "{docker}");
    let host_detail = str_of(&docker["docker_modes"][1]["detail"]);
    assert!(
        host_detail.contains(&format!("group {}", facts.socket_gid)),
        "{host_detail}"
    );
    // `--privileged` needs every capability; a bounding set without
    // CAP_SYS_RESOURCE (24) makes berth spell it out, and say why.
    let dind_detail = str_of(&docker["docker_modes"][2]["detail"]);
    assert_eq!(
        dind_detail.contains("SYS_RESOURCE"),
        facts.cap_bounding_set & (1 << 24) == 0,
        "{dind_detail}"
    );

    // gVisor: available exactly when runsc is registered, with its runtimeArgs.
    let gvisor = runtime(&report, "gvisor");
    match facts.runsc() {
        Some((name, path, args)) => {
            assert_eq!(gvisor["available"], true, "{gvisor}");
            assert_eq!(str_of(&gvisor["oci_runtime"]["name"]), name);
            assert_eq!(str_of(&gvisor["oci_runtime"]["path"]), path);
            assert_eq!(strings(&gvisor["oci_runtime"]["args"]), args);
            let flags = &gvisor["runsc_flags"];
            assert_eq!(
                flags["network"].as_str().map(str::to_owned),
                flag(&args, "network"),
                "{flags}"
            );
            let host_uds = flag(&args, "host-uds");
            let host_ok = matches!(host_uds.as_deref(), Some("open" | "all"));
            let dind_ok = args.iter().any(|a| a == "--net-raw")
                && args.iter().any(|a| a == "--allow-packet-socket-write");
            assert_eq!(modes(gvisor), modes_of(true, host_ok, dind_ok), "{gvisor}");
            if !host_ok {
                assert!(
                    str_of(&gvisor["docker_modes"][1]["detail"]).contains("--host-uds=open"),
                    "the refusal says the fix: {gvisor}"
                );
            }
        }
        None => assert_eq!(gvisor["available"], false, "{gvisor}"),
    }

    // The self-test agrees with `stat /` under runsc.
    if facts.runsc().is_some() {
        assert_eq!(
            gvisor.get("self_test_failed").is_some(),
            !facts.runsc_runs_stat(),
            "{gvisor}"
        );
    }

    // Apple: only on macOS.
    let apple = runtime(&report, "apple");
    if !cfg!(target_os = "macos") {
        assert_eq!(apple["available"], false, "{apple}");
        assert!(str_of(&apple["reason"]).contains("macOS"), "{apple}");
    }
    assert_eq!(report["auto"], facts.auto());

    // The allowlist: on the engine's runtimes through the helper next to berth
    // (scripts/test.sh builds it), refused on Apple for its networks.
    let helper = berth_tests::berth_bin().with_file_name("berth-helper");
    for name in ["docker", "gvisor"] {
        let egress = &runtime(&report, name)["egress"];
        if name == "gvisor" && facts.runsc().is_none() {
            continue;
        }
        assert_eq!(egress["ok"], helper.exists(), "{name}: {egress}");
        let detail = str_of(&egress["detail"]);
        assert!(
            detail.contains(&helper.display().to_string()),
            "{name}: {detail}"
        );
    }
    let apple_egress = &apple["egress"];
    assert_eq!(apple_egress["ok"], false, "{apple_egress}");
    assert!(
        str_of(&apple_egress["detail"]).contains("internal networks"),
        "{apple_egress}"
    );
}

#[test]
fn doctor_human_output_names_each_runtime() {
    require_engine();
    let facts = Facts::gather();
    let scratch = Scratch::new("doctor-text");
    let out = doctor(&scratch, None);
    let text = String::from_utf8_lossy(&out.stdout);
    let gvisor = if facts.runsc().is_some() {
        "gvisor    available"
    } else {
        "gvisor    unavailable"
    };
    for needle in [
        format!("socket    {}", facts.socket.display()),
        format!(
            "engine    Docker {} (API {})",
            str_of(&facts.server["Version"]),
            str_of(&facts.server["ApiVersion"])
        ),
        "docker    available".to_owned(),
        gvisor.to_owned(),
        format!("--runtime auto picks {}", facts.auto()),
    ] {
        assert!(text.contains(&needle), "missing {needle:?} in:\n{text}");
    }
    if !cfg!(target_os = "macos") {
        assert!(text.contains("apple     unavailable"), "{text}");
    }
}
