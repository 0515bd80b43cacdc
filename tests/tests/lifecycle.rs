//! Run records and TTLs through the CLI: a detached run past its `ttl` is removed
//! by the next berth command; a failed launch leaves no record behind.

use std::time::Duration;

use berth_tests::{Scratch, describe, leftovers, ps_entries, require_engine, run};

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
fn a_failed_launch_leaves_no_row_in_ps() {
    require_engine();
    let (s, config) = scratch("failed", "");
    let name = s.name();
    let missing = run(s
        .berth()
        .args(["run", "--rm", "--runtime", "docker", "-f"])
        .arg(&config)
        .args(["berth-test/not-here:0", "true"]));
    assert_eq!(missing.status.code(), Some(6), "{}", describe(&missing));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("not-here"),
        "{}",
        describe(&missing)
    );
    let pinned = format!("{name}-pinned");
    let first = run(s
        .berth()
        .args(["run", "-d", "--runtime", "docker", "--name", &pinned, "-f"])
        .arg(&config)
        .args(["--", "sleep", "60"]));
    assert!(first.status.success(), "{}", describe(&first));
    let taken = run(s
        .berth()
        .args(["run", "-d", "--runtime", "docker", "--name", &pinned, "-f"])
        .arg(&config)
        .args(["--", "sleep", "60"]));
    assert_eq!(taken.status.code(), Some(7), "{}", describe(&taken));
    let list = ps_entries(&run(s.berth().args(["ps", "--all", "--format", "json"])));
    let ours: Vec<&serde_json::Value> = list
        .iter()
        .filter(|e| e["name"].as_str().is_some_and(|n| n.starts_with(name)))
        .collect();
    assert_eq!(ours.len(), 1, "only the run that started: {ours:?}");
    assert_eq!(ours[0]["name"], pinned.as_str());
    assert_eq!(s.records(), 1, "no record of either failed launch");
    let rm = run(s.berth().args(["rm", "-f", &pinned]));
    assert!(rm.status.success(), "{}", describe(&rm));
    assert_eq!(s.records(), 0);
    s.assert_clean();
}
