//! Shared helpers for berth's workspace tests: locating the built `berth` binary,
//! running it, and removing what a test created, by label, even when it fails.
//!
//! Tests that need the Docker engine call [`require_engine`], which fails (never
//! skips) when the engine does not answer: the project's setup script starts it.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// The label every berth resource carries.
pub const MANAGED_BY: &str = "berth.managed-by";

/// The `berth` binary built next to this test binary (`target/<profile>/berth`).
///
/// The README's test command builds it first (`cargo build --bins`); a missing
/// binary is a loud failure, not a skip.
pub fn berth_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("BERTH_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("current_exe");
    // target/debug/deps/<test> -> target/debug/berth
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("test binary lives in target/<profile>/deps");
    let bin = dir.join("berth");
    assert!(
        bin.exists(),
        "{} is missing: build it with `cargo build --bins` (scripts/test.sh does)",
        bin.display()
    );
    bin
}

/// A `berth` command with a clean, deterministic environment for tests.
pub fn berth() -> Command {
    let mut cmd = Command::new(berth_bin());
    cmd.env_remove("BERTH_RUNTIME")
        .env("BERTH_LOG", "warn")
        .stdin(Stdio::null());
    cmd
}

/// Runs a command and returns its output, panicking if it cannot be spawned.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("failed to spawn {cmd:?}: {e}"))
}

/// A `docker` CLI command (the engine's own client, for checks from outside berth).
pub fn docker() -> Command {
    let mut cmd = Command::new("docker");
    cmd.stdin(Stdio::null());
    cmd
}

/// Fails the test unless the Docker engine answers.
pub fn require_engine() {
    let out = docker()
        .args(["version", "--format", "{{.Server.Version}}"])
        .output();
    match out {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "the Docker engine does not answer ({}): run scripts/setup-engine.sh",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => panic!("the docker CLI is missing ({e}): run scripts/setup-engine.sh"),
    }
}

/// Ids of berth-labelled containers, networks and volumes matching `filter`
/// (such as `berth.run-id=abc`, or just the managed-by label).
pub fn leftovers(filter: &str) -> (Vec<String>, Vec<String>, Vec<String>) {
    let list = |args: &[&str]| -> Vec<String> {
        let out = run(docker()
            .args(args)
            .args(["--filter", &format!("label={filter}")]));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .filter(|l| !l.is_empty())
            .collect()
    };
    (
        list(&["ps", "-aq"]),
        list(&["network", "ls", "-q"]),
        list(&["volume", "ls", "-q"]),
    )
}

/// Removes every container, network and volume matching the label `filter`.
pub fn remove_by_label(filter: &str) {
    let (containers, networks, volumes) = leftovers(filter);
    if !containers.is_empty() {
        run(docker().args(["rm", "-fv"]).args(&containers));
    }
    if !networks.is_empty() {
        run(docker().args(["network", "rm"]).args(&networks));
    }
    if !volumes.is_empty() {
        run(docker().args(["volume", "rm", "-f"]).args(&volumes));
    }
}

/// Removes everything labelled `label=value` when dropped, so a failing test
/// leaves nothing behind.
pub struct LabelGuard {
    filter: String,
}

impl LabelGuard {
    /// Guards resources labelled `label=value`.
    pub fn new(label: &str, value: &str) -> Self {
        Self {
            filter: format!("{label}={value}"),
        }
    }
}

impl Drop for LabelGuard {
    fn drop(&mut self) {
        remove_by_label(&self.filter);
    }
}
