//! The test double's own contract, checked from outside: it refuses options the
//! real CLI lacks the way Apple's argument parser does, keeps ids on stdout and
//! progress on stderr, prints both JSON shapes, and translates Apple's flags to
//! Docker's faithfully (checked with `docker inspect`), labelling what it creates.

mod support;

use std::process::{Command, Output};

use runtime_apple::{AppleRuntime, Runner};
use runtime_core::Runtime;
use serde_json::Value;
use support::{
    IMAGE, docker, entry, output, remove_by_label, require_engine, require_image, run_id,
    status_kind,
};

fn double(args: &[&str]) -> Command {
    let mut cmd = Command::new(support::double());
    cmd.args(args).stdin(std::process::Stdio::null());
    cmd
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn code(out: &Output) -> Option<i32> {
    out.status.code()
}

/// Removes everything labelled with one run id when dropped.
struct Run(String);

impl Drop for Run {
    fn drop(&mut self) {
        remove_by_label(&format!("berth.run-id={}", self.0));
    }
}

#[test]
fn unknown_options_fail_as_apples_parser_fails() {
    let out = output(&mut double(&["logs", "--tail", "1", "x"]));
    assert_eq!(code(&out), Some(64));
    let err = text(&out.stderr);
    assert!(
        err.starts_with("Error: Unknown option '--tail'\nUsage: container logs"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
    let out = output(&mut double(&["ls", "--filter", "label=x"]));
    assert_eq!(code(&out), Some(64));
    // Before the image, an unknown option becomes the image: exit 1, not 64.
    let out = output(&mut double(&["create", "--privileged", IMAGE]));
    assert_eq!(code(&out), Some(1));
    assert!(text(&out.stderr).contains("invalid reference format: --privileged"));
    let out = output(&mut double(&["create", "-c", "1.5", IMAGE]));
    assert_eq!(code(&out), Some(64), "{}", text(&out.stderr));
    let out = output(&mut double(&["stop", "-t", "soon", "x"]));
    assert_eq!(code(&out), Some(64), "{}", text(&out.stderr));
}

#[test]
fn system_status_prints_json_or_old_text() {
    require_engine();
    let out = output(&mut double(&["system", "status", "--format", "json"]));
    assert_eq!(code(&out), Some(0));
    let status: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(status["status"], "running");
    let down = output(
        double(&["system", "status", "--format", "json"])
            .env("BERTH_APPLE_DOUBLE_SYSTEM", "not-running"),
    );
    assert_eq!(
        code(&down),
        Some(1),
        "not running exits 1 but still prints JSON"
    );
    let status: Value = serde_json::from_slice(&down.stdout).expect("JSON");
    assert_eq!(status["status"], "not running");
    let old = output(
        double(&["system", "status", "--format", "json"])
            .env("BERTH_APPLE_DOUBLE_SYSTEM", "legacy"),
    );
    assert_eq!(code(&old), Some(64));
    assert!(text(&old.stderr).contains("Unknown option '--format'"));
}

#[test]
fn create_translates_flags_and_labels_everything() {
    require_engine();
    require_image();
    let run = Run(run_id());
    let workspace = tempfile::tempdir().expect("tempdir");
    let name = format!("apple-contract-{}", &run.0[..8]);
    let label = format!("berth.run-id={}", run.0);
    let mount = format!(
        "type=bind,source={},target=/workspace,readonly",
        workspace.path().display()
    );
    let out = output(&mut double(&[
        "create",
        "--name",
        &name,
        "-l",
        "berth.managed-by=berth",
        "-l",
        &label,
        "-m",
        "4G",
        "-c",
        "2",
        "--mount",
        &mount,
        "--network",
        "none",
        "--cap-drop",
        "ALL",
        "--cap-add",
        "CHOWN",
        "--read-only",
        "--init",
        "-u",
        "1000:1000",
        "-w",
        "/workspace",
        IMAGE,
        "sh",
        "-c",
        "--not-an-option",
    ]));
    assert_eq!(code(&out), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!("{name}\n"),
        "only the id on stdout"
    );
    assert!(!out.stderr.is_empty(), "progress goes to stderr");
    let inspected = output(docker().args(["inspect", &name]));
    let docker_view: Value = serde_json::from_slice(&inspected.stdout).expect("docker inspect");
    let c = &docker_view[0];
    assert_eq!(c["HostConfig"]["Memory"], 4u64 << 30);
    assert_eq!(c["HostConfig"]["NanoCpus"], 2_000_000_000u64);
    assert_eq!(c["HostConfig"]["NetworkMode"], "none");
    assert_eq!(c["HostConfig"]["ReadonlyRootfs"], true);
    assert_eq!(c["HostConfig"]["Init"], true);
    assert_eq!(c["HostConfig"]["CapDrop"], serde_json::json!(["ALL"]));
    assert_eq!(c["Mounts"][0]["RW"], false);
    assert_eq!(c["Mounts"][0]["Destination"], "/workspace");
    assert_eq!(c["Config"]["User"], "1000:1000");
    assert_eq!(
        c["Config"]["Cmd"],
        serde_json::json!(["sh", "-c", "--not-an-option"])
    );
    assert_eq!(c["Config"]["Labels"]["berth.managed-by"], "berth");
    assert_eq!(c["Config"]["Labels"]["berth.run-id"], run.0.as_str());
    // Apple refuses a bind source that is not a directory.
    let file = workspace.path().join("file");
    std::fs::write(&file, "x").expect("write");
    let out = output(&mut double(&[
        "create",
        "-l",
        &label,
        "--mount",
        &format!("type=bind,source={},target=/f", file.display()),
        IMAGE,
    ]));
    assert_eq!(code(&out), Some(1));
    assert!(
        text(&out.stderr).contains("is not a directory"),
        "{}",
        text(&out.stderr)
    );
    let again = output(&mut double(&[
        "create", "--name", &name, "-l", &label, IMAGE, "true",
    ]));
    assert_eq!(code(&again), Some(1));
    let err = text(&again.stderr);
    assert!(
        err.contains("Error: exists: \"container already exists"),
        "{err}"
    );
}

/// Both shapes, as the double prints them and as the backend reads them.
#[tokio::test]
async fn listings_come_in_both_shapes() {
    require_engine();
    require_image();
    let run = Run(run_id());
    let name = format!("apple-shapes-{}", &run.0[..8]);
    let label = format!("berth.run-id={}", run.0);
    let out = output(&mut double(&[
        "create",
        "--name",
        &name,
        "-l",
        &label,
        "-l",
        "berth.managed-by=berth",
        IMAGE,
        "true",
    ]));
    assert_eq!(code(&out), Some(0), "{}", text(&out.stderr));
    for (shape, status) in [("0", "a string"), ("1", "an object")] {
        for args in [
            vec!["ls", "-a", "--format", "json"],
            vec!["inspect", name.as_str()],
        ] {
            let out = output(double(&args).env("BERTH_APPLE_DOUBLE_SHAPE", shape));
            assert_eq!(code(&out), Some(0), "{}", text(&out.stderr));
            let ours = entry(&out.stdout, &name);
            assert_eq!(status_kind(&ours), status, "{ours}");
            let labels = &ours["configuration"]["labels"];
            assert!(labels.get("berth.run-id").is_some(), "{ours}");
            assert!(
                labels.get("berth.apple-double").is_none(),
                "the marker is hidden"
            );
        }
        let backend = AppleRuntime::with_runner(
            Runner::new(support::double(), true).with_env("BERTH_APPLE_DOUBLE_SHAPE", shape),
        );
        let listed = backend
            .list(true)
            .await
            .expect("the backend reads the shape");
        let ours = listed
            .iter()
            .find(|s| s.id == name)
            .expect("listed by the backend");
        assert!(ours.labels.contains_key("berth.run-id"), "{ours:?}");
        assert!(!ours.labels.contains_key("berth.apple-double"), "{ours:?}");
    }
    let missing = output(&mut double(&["inspect", "apple-no-such"]));
    assert_eq!(code(&missing), Some(1));
    assert_eq!(
        text(&missing.stderr).trim(),
        "Error: notFound: \"container not found: apple-no-such\""
    );
}

/// Creates and starts a labelled busybox container running `script`; returns its id.
fn started(run: &Run, suffix: &str, extra: &[&str], script: &str) -> String {
    let name = format!("apple-contract-{}-{suffix}", &run.0[..8]);
    let label = format!("berth.run-id={}", run.0);
    let mut args = vec!["create", "--name", &name, "-l", &label];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[IMAGE, "sh", "-c", script]);
    let out = output(&mut double(&args));
    assert_eq!(code(&out), Some(0), "{}", text(&out.stderr));
    let out = output(&mut double(&["start", &name]));
    assert_eq!(code(&out), Some(0), "{}", text(&out.stderr));
    name
}

/// ProcessIO.swift: with a terminal and input, the CLI puts its stdin into raw
/// mode, which fails on anything but a terminal; `start` then stops the container.
#[test]
fn a_terminal_with_input_fails_when_stdin_is_not_a_terminal() {
    require_engine();
    require_image();
    let run = Run(run_id());
    let id = started(&run, "raw", &[], "sleep 600");
    let out = output(&mut double(&["exec", "-i", "-t", &id, "true"]));
    assert_eq!(code(&out), Some(1));
    assert!(
        text(&out.stderr).starts_with("Error: internalError: \"failed to exec process"),
        "{}",
        text(&out.stderr)
    );
    let out = output(&mut double(&["exec", "-t", &id, "true"]));
    assert_eq!(
        code(&out),
        Some(0),
        "a terminal without input: {}",
        text(&out.stderr)
    );
    let name = format!("apple-contract-{}-rawstart", &run.0[..8]);
    let label = format!("berth.run-id={}", run.0);
    let out = output(&mut double(&[
        "create", "--name", &name, "-l", &label, "-t", IMAGE, "true",
    ]));
    assert_eq!(code(&out), Some(0), "{}", text(&out.stderr));
    let out = output(&mut double(&["start", "-a", "-i", &name]));
    assert_eq!(code(&out), Some(1));
    assert!(
        text(&out.stderr).contains("failed to start container"),
        "{}",
        text(&out.stderr)
    );
}

/// ContainerExec.swift: exec variables are appended to the init process's
/// environment, so the value set at create is the one `getenv` finds.
#[test]
fn exec_variables_come_after_the_init_environment() {
    require_engine();
    require_image();
    let run = Run(run_id());
    let id = started(&run, "env", &["-e", "TOKEN=create"], "sleep 600");
    let out = output(&mut double(&[
        "exec",
        "-e",
        "TOKEN=exec",
        "-e",
        "OTHER=x",
        &id,
        "sh",
        "-c",
        "echo $TOKEN $OTHER",
    ]));
    assert_eq!(code(&out), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "create x\n");
}

/// ContainerLogs.swift: `-f` keeps following after the container has stopped.
#[test]
fn logs_follow_outlives_the_container() {
    require_engine();
    require_image();
    let run = Run(run_id());
    let id = started(&run, "logs", &[], "echo one; echo; echo two; echo; echo");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let out = output(docker().args(["inspect", "--format", "{{.State.Running}}", &id]));
        if text(&out.stdout).trim() == "false" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the container never stopped"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // Without -f: trailing newlines trimmed; with -n: blank lines skipped.
    let all = output(&mut double(&["logs", &id]));
    assert_eq!(text(&all.stdout), "one\n\ntwo\n");
    let last = output(&mut double(&["logs", "-n", "2", &id]));
    assert_eq!(text(&last.stdout), "one\ntwo\n");
    let mut follow = double(&["logs", "-f", &id])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn logs -f");
    std::thread::sleep(std::time::Duration::from_secs(3));
    let still = follow.try_wait().expect("try_wait");
    let _ = follow.kill();
    let _ = follow.wait();
    assert!(still.is_none(), "logs -f ended by itself: {still:?}");
}

/// VolumeDelete.swift and NetworkDelete.swift: a missing name fails the command
/// with "failed to delete one or more ...", which does not say "not found".
#[test]
fn deleting_a_missing_volume_or_network_fails_as_a_whole() {
    require_engine();
    for (kind, plural) in [("volume", "volumes"), ("network", "networks")] {
        let out = output(&mut double(&[kind, "delete", "--", "apple-contract-gone"]));
        assert_eq!(code(&out), Some(1));
        assert_eq!(
            text(&out.stderr),
            format!(
                "Error: notFound: \"failed to delete one or more {plural}: [\"apple-contract-gone\"]\"\n"
            )
        );
    }
}

/// NetworkList.swift of 0.12: labels under `config`, the state a string.
#[test]
fn network_lists_of_0_12_nest_the_configuration_under_config() {
    require_engine();
    let run = Run(run_id());
    let name = format!("apple-contract-{}-net", &run.0[..8]);
    let label = format!("berth.run-id={}", run.0);
    let out = output(&mut double(&[
        "network", "create", "--label", &label, &name,
    ]));
    assert_eq!(code(&out), Some(0), "{}", text(&out.stderr));
    let listed = output(
        double(&["network", "list", "--format", "json"]).env("BERTH_APPLE_DOUBLE_SHAPE", "0"),
    );
    let networks: Value = serde_json::from_slice(&listed.stdout).expect("JSON");
    let entry = networks
        .as_array()
        .expect("array")
        .iter()
        .find(|n| n["id"] == name.as_str())
        .expect("listed")
        .clone();
    assert_eq!(entry["config"]["labels"]["berth.run-id"], run.0.as_str());
    assert!(entry.get("configuration").is_none());
    assert_eq!(entry["state"], "running");
}
