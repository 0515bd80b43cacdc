//! Run records and TTLs through the CLI: a detached run past its `ttl` is removed
//! by the next berth command; a failed launch stays on record until removed.

use std::time::Duration;

use berth_tests::{Scratch, leftovers, ps_entries, require_engine, run};

/// A scratch area with a busybox berth.toml (plus `extra` `[sandbox]` keys).
fn scratch(tag: &str, extra: &str) -> (Scratch, std::path::PathBuf) {
    let scratch = Scratch::new(tag);
    let config = scratch.write_config(
        "berth.toml",
        &format!("image = \"berth-test/busybox:latest\"\n{extra}"),
    );
    (scratch, config)
}

#[test]
fn a_detached_run_past_its_ttl_is_removed_by_the_next_command() {
    require_engine();
    let (s, config) = scratch("ttl", "ttl = \"1s\"\n");
    let name = s.name();
    let out = run(s
        .berth()
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
    let ps = run(s.berth().args(["ps", "--all"]));
    assert!(ps.status.success());
    assert!(
        String::from_utf8_lossy(&ps.stderr).contains("past its ttl"),
        "{}",
        String::from_utf8_lossy(&ps.stderr)
    );
    assert!(!String::from_utf8_lossy(&ps.stdout).contains(name));
    s.assert_clean();
    assert_eq!(s.records(), 0, "record removed too");
}

#[test]
fn a_failed_launch_is_recorded_until_removed() {
    require_engine();
    let (s, config) = scratch("failed", "");
    let name = s.name();
    let out = run(s
        .berth()
        .args(["run", "--rm", "--runtime", "docker", "-f"])
        .arg(&config)
        .args(["berth-test/not-here:0", "--", "true"]));
    assert_eq!(out.status.code(), Some(6));
    let list = ps_entries(&run(s.berth().args(["ps", "--all", "--format", "json"])));
    let entry = list
        .iter()
        .find(|e| e["name"].as_str().is_some_and(|n| n.starts_with(name)))
        .unwrap_or_else(|| panic!("failed run not listed: {list:?}"))
        .clone();
    let status = entry["status"].as_str().unwrap_or_default();
    assert!(
        status.contains("failed") && status.contains("not-here"),
        "{status}"
    );
    let rm = run(s
        .berth()
        .args(["rm", entry["run_id"].as_str().expect("run id")]));
    assert!(
        rm.status.success(),
        "{}",
        String::from_utf8_lossy(&rm.stderr)
    );
    assert_eq!(s.records(), 0);
}
