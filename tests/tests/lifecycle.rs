//! Run records and TTLs through the CLI: a detached run past its `ttl` is removed
//! by the next berth command; a failed launch stays on record until removed.

use std::time::Duration;

use berth_tests::{LabelGuard, berth, leftovers, require_engine, run};

fn scratch(name: &str, extra: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let home = std::env::temp_dir().join(format!("berth-{name}"));
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(&home).expect("mkdir");
    let config = home.join("berth.toml");
    std::fs::write(
        &config,
        format!("[sandbox]\nname = \"{name}\"\nimage = \"berth-test/busybox:latest\"\n{extra}"),
    )
    .expect("config");
    (home, config)
}

#[test]
fn a_detached_run_past_its_ttl_is_removed_by_the_next_command() {
    require_engine();
    let name = format!("ttl-{}", std::process::id());
    let _guard = LabelGuard::new("berth.sandbox", &name);
    let (home, config) = scratch(&name, "ttl = \"1s\"\n");
    let out = run(berth()
        .env("XDG_STATE_HOME", &home)
        .args(["run", "-d", "--runtime", "docker", "-f"])
        .arg(&config)
        .args(["--", "sleep", "3600"]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (c, _, _) = leftovers(&format!("berth.sandbox={name}"));
    assert_eq!(c.len(), 1);
    std::thread::sleep(Duration::from_millis(2500));
    let ps = run(berth().env("XDG_STATE_HOME", &home).args(["ps", "--all"]));
    assert!(ps.status.success());
    assert!(
        String::from_utf8_lossy(&ps.stderr).contains("past its ttl"),
        "{}",
        String::from_utf8_lossy(&ps.stderr)
    );
    assert!(!String::from_utf8_lossy(&ps.stdout).contains(&name));
    let (c, n, v) = leftovers(&format!("berth.sandbox={name}"));
    assert!(c.is_empty() && n.is_empty() && v.is_empty());
    let runs = home.join("berth/runs");
    assert_eq!(
        std::fs::read_dir(&runs).map_or(0, Iterator::count),
        0,
        "record removed too"
    );
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn a_failed_launch_is_recorded_until_removed() {
    require_engine();
    let name = format!("failed-{}", std::process::id());
    let (home, config) = scratch(&name, "");
    let out = run(berth()
        .env("XDG_STATE_HOME", &home)
        .args(["run", "--rm", "--runtime", "docker", "-f"])
        .arg(&config)
        .args(["berth-test/not-here:0", "--", "true"]));
    assert_eq!(out.status.code(), Some(6));
    let ps = run(berth()
        .env("XDG_STATE_HOME", &home)
        .args(["ps", "--all", "--format", "json"]));
    let list: serde_json::Value = serde_json::from_slice(&ps.stdout).expect("JSON");
    let entry = list
        .as_array()
        .expect("array")
        .iter()
        .find(|e| e["name"].as_str().is_some_and(|n| n.starts_with(&name)))
        .unwrap_or_else(|| panic!("failed run not listed: {list}"))
        .clone();
    let status = entry["status"].as_str().unwrap_or_default();
    assert!(
        status.contains("failed") && status.contains("not-here"),
        "{status}"
    );
    let rm = run(berth()
        .env("XDG_STATE_HOME", &home)
        .args(["rm", entry["run_id"].as_str().expect("run id")]));
    assert!(
        rm.status.success(),
        "{}",
        String::from_utf8_lossy(&rm.stderr)
    );
    let runs = home.join("berth/runs");
    assert_eq!(std::fs::read_dir(&runs).map_or(0, Iterator::count), 0);
    let _ = std::fs::remove_dir_all(&home);
}
