//! The test double's own contract, checked from outside: it refuses options the
//! real CLI lacks the way Apple's argument parser does, keeps ids on stdout and
//! progress on stderr, prints both JSON shapes, and translates Apple's flags to
//! Docker's faithfully (checked with `docker inspect`), labelling what it creates.

mod support;

use std::process::{Command, Output};

use runtime_apple::model::{Shape, parse_containers};
use serde_json::Value;
use support::{IMAGE, docker, output, remove_by_label, require_engine, require_image, run_id};

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

#[test]
fn listings_come_in_both_shapes() {
    require_engine();
    require_image();
    let run = Run(run_id());
    let name = format!("apple-shapes-{}", &run.0[..8]);
    let label = format!("berth.run-id={}", run.0);
    let out = output(&mut double(&[
        "create", "--name", &name, "-l", &label, IMAGE, "true",
    ]));
    assert_eq!(code(&out), Some(0), "{}", text(&out.stderr));
    for (shape, expected) in [("0", Shape::Legacy), ("1", Shape::Current)] {
        for args in [
            vec!["ls", "-a", "--format", "json"],
            vec!["inspect", name.as_str()],
        ] {
            let out = output(double(&args).env("BERTH_APPLE_DOUBLE_SHAPE", shape));
            assert_eq!(code(&out), Some(0), "{}", text(&out.stderr));
            let records = parse_containers(&text(&out.stdout)).expect("parses");
            let ours = records.iter().find(|r| r.id == name).expect("listed");
            assert_eq!(ours.shape, expected);
            assert!(ours.labels.contains_key("berth.run-id"));
            assert!(
                !ours.labels.contains_key("berth.apple-double"),
                "the marker is hidden"
            );
        }
    }
    let missing = output(&mut double(&["inspect", "apple-no-such"]));
    assert_eq!(code(&missing), Some(1));
    assert_eq!(
        text(&missing.stderr).trim(),
        "Error: notFound: \"container not found: apple-no-such\""
    );
}
