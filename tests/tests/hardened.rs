//! The default sandbox, launched by the `berth` binary as a user would, under runc
//! and under runsc, judged from `docker inspect` by the CIS Docker Benchmark (v1.6)
//! checks that inspect can answer: every one must pass with no configuration
//! beyond an image and a workspace. Each run prints its table, so the same test
//! pointed at another binary (`BERTH_BIN=...`) shows what that binary does.
//!
//! Also: a runsc sandbox on the berth network resolves names through Docker's
//! embedded DNS (127.0.0.11), answered for a container this test starts, and the
//! shared network keeps sandboxes from reaching each other.

use berth_tests::{Scratch, describe, docker, require_engine, run};
use serde_json::Value;

const IMAGE: &str = "berth-test/busybox:latest";

/// A scratch area holding the project (`berth.toml`, an image and a workspace
/// and nothing else, in the workspace directory) and, beside it, berth's state.
struct Project {
    scratch: Scratch,
}

impl Project {
    fn new(tag: &str) -> Self {
        let scratch = Scratch::new(&format!("cis-{tag}"));
        scratch.write_config(
            "project/berth.toml",
            &format!("image = \"{IMAGE}\"\n\n[workspace]\n"),
        );
        Self { scratch }
    }

    /// `berth run -d` of the default sandbox under `runtime`; returns its name.
    fn launch(&self, runtime: &str) -> String {
        let name = self.scratch.name();
        let out = run(self
            .scratch
            .berth()
            .current_dir(self.scratch.dir().join("project"))
            .args(["run", "-d", "--runtime", runtime, "--name", name])
            .args(["--", "sleep", "300"]));
        assert!(out.status.success(), "launch failed: {}", describe(&out));
        name.to_owned()
    }

    /// `berth exec NAME -- sh -c SCRIPT`.
    fn exec_sh(&self, name: &str, script: &str) -> std::process::Output {
        run(self
            .scratch
            .berth()
            .args(["exec", name, "--", "sh", "-c", script]))
    }
}

fn inspect(name: &str) -> Value {
    let out = run(docker().args(["inspect", name]));
    assert!(out.status.success(), "docker inspect: {}", describe(&out));
    let mut all: Vec<Value> = serde_json::from_slice(&out.stdout).expect("inspect json");
    assert_eq!(all.len(), 1);
    all.remove(0)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// Host directories CIS 5.5 names as sensitive.
const SENSITIVE: &[&str] = &[
    "/", "/boot", "/dev", "/etc", "/lib", "/proc", "/sys", "/usr",
];

/// The CIS Docker Benchmark checks that `docker inspect` answers: number, title,
/// and whether the container passes.
fn checks(c: &Value) -> Vec<(&'static str, &'static str, bool)> {
    let config = &c["Config"];
    let host = &c["HostConfig"];
    let mounts = c["Mounts"].as_array().cloned().unwrap_or_default();
    let security_opt = strings(&host["SecurityOpt"]);
    let ports = c["NetworkSettings"]["Ports"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let bindings: Vec<&Value> = ports
        .values()
        .filter_map(Value::as_array)
        .flatten()
        .collect();
    let user = str_of(&config["User"]);
    let restart = &host["RestartPolicy"];
    vec![
        (
            "4.1",
            "Ensure that a user for the container has been created",
            !user.is_empty() && !matches!(user.split(':').next(), Some("root" | "0")),
        ),
        (
            "5.3",
            "Ensure that Linux kernel capabilities are restricted within containers",
            strings(&host["CapAdd"]).is_empty()
                && strings(&host["CapDrop"]).iter().any(|c| c == "ALL"),
        ),
        (
            "5.4",
            "Ensure that privileged containers are not used",
            host["Privileged"] == Value::Bool(false),
        ),
        (
            "5.5",
            "Ensure sensitive host system directories are not mounted on containers",
            mounts.iter().all(|m| {
                str_of(&m["Type"]) != "bind" || !SENSITIVE.contains(&str_of(&m["Source"]))
            }),
        ),
        (
            "5.7",
            "Ensure privileged ports are not mapped within containers",
            bindings.iter().all(|b| {
                str_of(&b["HostPort"])
                    .parse::<u32>()
                    .is_ok_and(|p| p >= 1024)
            }),
        ),
        (
            "5.9",
            "Ensure that the host's network namespace is not shared",
            str_of(&host["NetworkMode"]) != "host",
        ),
        (
            "5.10",
            "Ensure that the memory usage for containers is limited",
            int(&host["Memory"]) > 0,
        ),
        (
            "5.11",
            "Ensure that CPU priority is set appropriately on containers",
            int(&host["NanoCpus"]) > 0
                || int(&host["CpuQuota"]) > 0
                || !matches!(int(&host["CpuShares"]), 0 | 1024),
        ),
        (
            "5.12",
            "Ensure that the container's root filesystem is mounted as read only",
            host["ReadonlyRootfs"] == Value::Bool(true),
        ),
        (
            "5.13",
            "Ensure that incoming container traffic is bound to a specific host interface",
            bindings
                .iter()
                .all(|b| !matches!(str_of(&b["HostIp"]), "" | "0.0.0.0" | "::")),
        ),
        (
            "5.14",
            "Ensure that the 'on-failure' container restart policy is set to '5'",
            match str_of(&restart["Name"]) {
                "" | "no" => true,
                "on-failure" => (1..=5).contains(&int(&restart["MaximumRetryCount"])),
                _ => false,
            },
        ),
        (
            "5.15",
            "Ensure that the host's process namespace is not shared",
            str_of(&host["PidMode"]) != "host",
        ),
        (
            "5.16",
            "Ensure that the host's IPC namespace is not shared",
            str_of(&host["IpcMode"]) != "host",
        ),
        (
            "5.17",
            "Ensure that host devices are not directly exposed to containers",
            host["Devices"].as_array().is_none_or(Vec::is_empty),
        ),
        (
            "5.19",
            "Ensure mount propagation mode is not set to shared",
            mounts
                .iter()
                .all(|m| !matches!(str_of(&m["Propagation"]), "shared" | "rshared")),
        ),
        (
            "5.20",
            "Ensure that the host's UTS namespace is not shared",
            str_of(&host["UTSMode"]) != "host",
        ),
        (
            "5.21",
            "Ensure the default seccomp profile is not Disabled",
            !security_opt
                .iter()
                .any(|o| o == "seccomp=unconfined" || o == "seccomp:unconfined"),
        ),
        (
            "5.25",
            "Ensure that the container is restricted from acquiring additional privileges",
            security_opt.iter().any(|o| {
                matches!(
                    o.as_str(),
                    "no-new-privileges" | "no-new-privileges:true" | "no-new-privileges=true"
                )
            }),
        ),
        (
            "5.28",
            "Ensure that the PIDs cgroup limit is used",
            int(&host["PidsLimit"]) > 0,
        ),
        (
            "5.29",
            "Ensure that Docker's default bridge \"docker0\" is not used",
            !matches!(str_of(&host["NetworkMode"]), "bridge" | "default")
                && c["NetworkSettings"]["Networks"].get("bridge").is_none(),
        ),
        (
            "5.30",
            "Ensure that the host's user namespaces are not shared",
            str_of(&host["UsernsMode"]) != "host",
        ),
        (
            "5.31",
            "Ensure that the Docker socket is not mounted inside any containers",
            mounts.iter().all(|m| {
                !str_of(&m["Source"]).ends_with("docker.sock")
                    && !str_of(&m["Destination"]).ends_with("docker.sock")
            }),
        ),
    ]
}

/// Launches the default sandbox under `runtime`, prints the table, and asserts that
/// every check passes.
fn default_sandbox_passes_cis(runtime: &str, oci_runtime: &str) {
    require_engine();
    let project = Project::new(runtime);
    let name = project.launch(runtime);
    let container = inspect(&name);
    assert_eq!(
        str_of(&container["HostConfig"]["Runtime"]),
        oci_runtime,
        "the sandbox runs under {oci_runtime}"
    );
    let results = checks(&container);
    assert_eq!(results.len(), 22, "22 checks are read from inspect");
    println!("CIS Docker Benchmark, section 5 (and 4.1), {runtime} ({oci_runtime}):");
    for (number, title, pass) in &results {
        println!(
            "  {number:<5} {:<5} {title}",
            if *pass { "pass" } else { "FAIL" }
        );
    }
    let failed: Vec<&str> = results
        .iter()
        .filter(|(_, _, pass)| !pass)
        .map(|(number, _, _)| *number)
        .collect();
    assert!(
        failed.is_empty(),
        "the default sandbox under {runtime} fails CIS {failed:?}"
    );

    // What the defaults are for: the agent still has a writable home, /tmp and
    // workspace, and may run what it puts there.
    let out = project.exec_sh(
        &name,
        "for d in \"$HOME\" /tmp /run; do printf '#!/bin/sh\\necho ran\\n' > $d/tool && chmod +x $d/tool && $d/tool; done; id -u; touch /etc/x 2>/dev/null && echo root-writable || true",
    );
    assert!(out.status.success(), "exec: {}", describe(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "ran\nran\nran\n1000\n"
    );
}

#[test]
fn the_default_sandbox_passes_cis_under_runc() {
    default_sandbox_passes_cis("docker", "runc");
}

#[test]
fn the_default_sandbox_passes_cis_under_runsc() {
    default_sandbox_passes_cis("gvisor", "runsc");
}

#[test]
fn names_resolve_for_runsc_sandboxes_on_the_berth_network() {
    require_engine();
    let project = Project::new("dns");
    let name = project.launch("gvisor");
    let network = str_of(&inspect(&name)["HostConfig"]["NetworkMode"]).to_owned();
    assert_eq!(network, "berth", "the sandbox is on the berth network");
    let shared = run(docker().args(["network", "inspect", &network]));
    assert!(shared.status.success(), "{}", describe(&shared));
    let shared: Vec<Value> = serde_json::from_slice(&shared.stdout).expect("network json");
    assert_eq!(
        shared[0]["Labels"]["berth.role"], "network",
        "the network is berth's"
    );
    assert_eq!(
        shared[0]["Options"]["com.docker.network.bridge.enable_icc"], "false",
        "sandboxes on the shared network cannot reach each other"
    );

    // A container of this test's on the same network, to be found by name.
    let target = format!("{}-target", project.scratch.name());
    let started = run(docker().args([
        "run",
        "-d",
        "--name",
        &target,
        "--network",
        &network,
        "--label",
        "berth.managed-by=berth-test",
        "--label",
        &format!("berth.sandbox={}", project.scratch.name()),
        IMAGE,
        "sleep",
        "300",
    ]));
    assert!(started.status.success(), "{}", describe(&started));
    let ip =
        str_of(&inspect(&target)["NetworkSettings"]["Networks"][network.as_str()]["IPAddress"])
            .to_owned();
    assert!(!ip.is_empty(), "the target has an address");

    let out = project.exec_sh(
        &name,
        &format!("grep nameserver /etc/resolv.conf; nslookup {target}"),
    );
    assert!(
        out.status.success(),
        "nslookup under runsc: {}",
        describe(&out)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("nameserver 127.0.0.11\n"),
        "names go through Docker's embedded DNS: {stdout}"
    );
    assert!(
        stdout.contains(&format!("Address: {ip}")),
        "{target} resolves to {ip}: {stdout}"
    );
}
