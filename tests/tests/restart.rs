//! A dockerd restart while a detached run exists: afterwards `berth ps` shows its
//! true state, and `berth rm` cleans it up. Restarts the engine, so it runs alone
//! (scripts/test.sh runs it in the serial phase).

use std::process::Command;
use std::time::{Duration, Instant};

use berth_tests::{LabelGuard, berth, leftovers, require_engine, run};

fn ps_entry(state_home: &std::path::Path, name: &str) -> serde_json::Value {
    let out = run(berth()
        .env("XDG_STATE_HOME", state_home)
        .args(["ps", "--all", "--format", "json"]));
    assert!(
        out.status.success(),
        "ps: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("ps JSON");
    list.as_array()
        .expect("array")
        .iter()
        .find(|e| e["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("{name} not listed: {list}"))
}

#[test]
fn ps_and_rm_after_a_dockerd_restart() {
    require_engine();
    let name = format!("restart-{}", std::process::id());
    let _guard = LabelGuard::new("berth.sandbox", &name);
    let state_home = std::env::temp_dir().join(format!("berth-restart-{}", std::process::id()));
    std::fs::create_dir_all(&state_home).expect("state dir");
    let dir = state_home.join("cfg");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let config = dir.join("berth.toml");
    std::fs::write(
        &config,
        format!("[sandbox]\nname = \"{name}\"\nimage = \"berth-test/busybox:latest\"\n"),
    )
    .expect("config");
    let started = run(berth()
        .env("XDG_STATE_HOME", &state_home)
        .args(["run", "-d", "--runtime", "docker", "--name", &name, "-f"])
        .arg(&config)
        .args(["--", "sleep", "3600"]));
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    assert_eq!(ps_entry(&state_home, &name)["state"], "running");

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
    let down = run(berth()
        .env("XDG_STATE_HOME", &state_home)
        .args(["ps", "--format", "json"]));
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
    let entry = ps_entry(&state_home, &name);
    assert_eq!(entry["state"], "exited", "{entry}");
    let record = std::fs::read_to_string(
        state_home
            .join("berth/runs")
            .join(entry["run_id"].as_str().expect("run id"))
            .join("record.json"),
    )
    .expect("record");
    assert!(
        record.contains("\"state\": \"stopped\""),
        "record reconciled: {record}"
    );

    let rm = run(berth()
        .env("XDG_STATE_HOME", &state_home)
        .args(["rm", &name]));
    assert!(
        rm.status.success(),
        "{}",
        String::from_utf8_lossy(&rm.stderr)
    );
    let (c, n, v) = leftovers(&format!("berth.sandbox={name}"));
    assert!(c.is_empty() && n.is_empty() && v.is_empty());
    assert!(
        std::fs::read_dir(state_home.join("berth/runs")).map_or(0, Iterator::count) == 0,
        "rm removes the run record"
    );
    let _ = std::fs::remove_dir_all(&state_home);
}
