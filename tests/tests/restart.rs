//! A dockerd restart while a detached run exists: afterwards `berth ps` shows its
//! true state, and `berth rm` cleans it up. It stops the engine every other test
//! and container on the host uses, so it is ignored by a plain `cargo test` or
//! `cargo nextest run` and run alone by scripts/test.sh, in its serial phase (the
//! `engine-wide` group of `.config/nextest.toml`).

use std::process::Command;
use std::time::{Duration, Instant};

use berth_tests::{Scratch, ps_entry, require_engine, run};

fn ps_all(scratch: &Scratch, name: &str) -> serde_json::Value {
    ps_entry(
        &run(scratch.berth().args(["ps", "--all", "--format", "json"])),
        name,
    )
}

#[test]
#[ignore = "it stops and restarts dockerd: run by scripts/test.sh, or alone with `cargo nextest run -p berth-tests --run-ignored only -E 'binary(restart)'`"]
fn ps_and_rm_after_a_dockerd_restart() {
    require_engine();
    let scratch = Scratch::new("restart");
    let name = scratch.name().to_owned();
    let config = scratch.write_config("cfg/berth.toml", "image = \"berth-test/busybox:latest\"\n");
    let started = run(scratch
        .berth()
        .args(["run", "-d", "--runtime", "docker", "--name", &name, "-f"])
        .arg(&config)
        .args(["--", "sleep", "3600"]));
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    assert_eq!(ps_all(&scratch, &name)["state"], "running");

    // Stop dockerd, then start it again with the project's setup script.
    let stopped = Command::new("pkill")
        .args(["-TERM", "-x", "dockerd"])
        .status()
        .expect("pkill");
    assert!(stopped.success(), "no dockerd to stop");
    let deadline = Instant::now() + Duration::from_secs(60);
    while Command::new("pgrep")
        .args(["-x", "dockerd"])
        .status()
        .is_ok_and(|s| s.success())
    {
        assert!(Instant::now() < deadline, "dockerd did not stop");
        std::thread::sleep(Duration::from_millis(200));
    }
    let down = run(scratch.berth().args(["ps", "--format", "json"]));
    assert_eq!(
        down.status.code(),
        Some(4),
        "ps with the engine down says it is unavailable"
    );
    let setup = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/setup-engine.sh");
    let up = Command::new("bash")
        .arg(setup)
        .status()
        .expect("setup-engine.sh");
    assert!(up.success(), "the engine did not come back");

    // Without live-restore the engine stopped the container: ps says so.
    let entry = ps_all(&scratch, &name);
    assert_eq!(entry["state"], "exited", "{entry}");
    let record = std::fs::read_to_string(
        scratch
            .runs()
            .join(entry["run_id"].as_str().expect("run id"))
            .join("record.json"),
    )
    .expect("record");
    assert!(
        record.contains("\"state\": \"stopped\""),
        "record reconciled: {record}"
    );

    let rm = run(scratch.berth().args(["rm", &name]));
    assert!(
        rm.status.success(),
        "{}",
        String::from_utf8_lossy(&rm.stderr)
    );
    scratch.assert_clean();
    assert_eq!(scratch.records(), 0, "rm removes the run record");
}
