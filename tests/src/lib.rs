//! Shared helpers for berth's workspace tests: locating the built `berth` binary,
//! running it inside a test's own [`Scratch`] area, and removing what a test
//! created, by label, even when it fails.
//!
//! Tests touch only what they made. Every `berth` command a test runs comes from
//! [`Scratch::berth`], whose `XDG_STATE_HOME` is inside the scratch area's
//! temporary directory: no test writes run records or approvals into the user's
//! state directory, and the directory (with everything the test wrote) is removed
//! when the scratch area is dropped, on failure too.
//!
//! Tests that need the Docker engine call [`require_engine`], which fails (never
//! skips) when the engine does not answer: the project's setup script starts it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub mod tmux;

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

/// The `container` double of Apple's CLI, built next to `berth` (it runs the
/// containers on the local Docker engine).
pub fn apple_double() -> PathBuf {
    let double = berth_bin().with_file_name("container");
    assert!(
        double.exists(),
        "{} is missing: build it with `cargo build --bins` (scripts/test.sh does)",
        double.display()
    );
    double
}

/// Runs a command and returns its output, panicking if it cannot be spawned.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("failed to spawn {cmd:?}: {e}"))
}

/// A command's exit status and both streams, for an assertion's message.
pub fn describe(out: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
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

/// Ids of what `docker <args> --filter label=<filter>` lists; `None` when the
/// docker CLI cannot be started.
fn labelled(args: &[&str], filter: &str) -> Option<Vec<String>> {
    let out = docker()
        .args(args)
        .args(["--filter", &format!("label={filter}")])
        .output()
        .ok()?;
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .filter(|l| !l.is_empty())
            .collect(),
    )
}

const CONTAINERS: &[&str] = &["ps", "-aq"];
const NETWORKS: &[&str] = &["network", "ls", "-q"];
const VOLUMES: &[&str] = &["volume", "ls", "-q"];

/// Ids of berth-labelled containers, networks and volumes matching `filter`
/// (such as `berth.run-id=abc`, or just the managed-by label).
pub fn leftovers(filter: &str) -> (Vec<String>, Vec<String>, Vec<String>) {
    let list = |args: &[&str]| {
        labelled(args, filter).unwrap_or_else(|| panic!("the docker CLI cannot be started"))
    };
    (list(CONTAINERS), list(NETWORKS), list(VOLUMES))
}

/// Fails the test when anything labelled `berth.sandbox=<name>` is on the engine.
pub fn assert_no_leftovers(name: &str) {
    let (c, n, v) = leftovers(&format!("berth.sandbox={name}"));
    assert!(
        c.is_empty() && n.is_empty() && v.is_empty(),
        "left behind for {name}: containers {c:?}, networks {n:?}, volumes {v:?}"
    );
}

/// Removes every container, network and volume matching the label `filter`
/// (nothing when the docker CLI cannot be started: there is nothing to remove).
pub fn remove_by_label(filter: &str) {
    let remove = |list: &[&str], remove: &[&str]| {
        let ids = labelled(list, filter).unwrap_or_default();
        if !ids.is_empty() {
            let _ = docker().args(remove).args(&ids).output();
        }
    };
    remove(CONTAINERS, &["rm", "-fv"]);
    remove(NETWORKS, &["network", "rm"]);
    remove(VOLUMES, &["volume", "rm", "-f"]);
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

/// One test's own corner of the host and the engine: a unique sandbox name, a
/// temporary directory (its `state/` is berth's `XDG_STATE_HOME` for every command
/// from [`Scratch::berth`]; configs and workspaces go beside it), and a guard
/// that removes everything labelled `berth.sandbox=<name>`. Dropping it removes
/// the engine's resources first, then the directory.
pub struct Scratch {
    name: String,
    _guard: LabelGuard,
    dir: tempfile::TempDir,
}

impl Scratch {
    /// A scratch area for the sandbox named `<tag>-<pid>` (the pid keeps test
    /// processes that run at once apart; the tag, the tests of one process).
    pub fn new(tag: &str) -> Self {
        let name = format!("{tag}-{}", std::process::id()).replace('_', "-");
        let dir = tempfile::Builder::new()
            .prefix(&format!("berth-{name}-"))
            .tempdir()
            .unwrap_or_else(|e| panic!("create the scratch directory of {name}: {e}"));
        std::fs::create_dir(dir.path().join("state")).expect("create the state directory");
        Self {
            _guard: LabelGuard::new("berth.sandbox", &name),
            name,
            dir,
        }
    }

    /// The sandbox's name (also its `berth.sandbox` label).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The temporary directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// berth's `XDG_STATE_HOME` in this area.
    pub fn state(&self) -> PathBuf {
        self.dir().join("state")
    }

    /// The run records' directory (`$XDG_STATE_HOME/berth/runs`).
    pub fn runs(&self) -> PathBuf {
        self.state().join("berth/runs")
    }

    /// How many entries the run records' directory holds (0 when it is missing).
    pub fn records(&self) -> usize {
        std::fs::read_dir(self.runs()).map_or(0, Iterator::count)
    }

    /// A `berth` command with a clean, deterministic environment and this area's
    /// state directory.
    pub fn berth(&self) -> Command {
        let mut cmd = Command::new(berth_bin());
        cmd.env_remove("BERTH_RUNTIME")
            .env("BERTH_LOG", "warn")
            .env("XDG_STATE_HOME", self.state())
            .stdin(Stdio::null());
        cmd
    }

    /// Writes `<dir>/<relative>` (creating its directory) holding a `[sandbox]`
    /// table with this sandbox's name followed by `rest` (more `[sandbox]` keys,
    /// then other tables), and returns its path.
    pub fn write_config(&self, relative: &str, rest: &str) -> PathBuf {
        let path = self.dir().join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .unwrap_or_else(|e| panic!("create {}: {e}", parent.display()));
        }
        std::fs::write(
            &path,
            format!("[sandbox]\nname = \"{}\"\n{rest}", self.name),
        )
        .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }

    /// Nothing labelled with this sandbox's name remains on the engine.
    pub fn assert_clean(&self) {
        assert_no_leftovers(&self.name);
    }
}

/// The entries of `berth ps --format json` output; fails the test when the command
/// failed or printed something else.
pub fn ps_entries(out: &Output) -> Vec<serde_json::Value> {
    assert!(out.status.success(), "ps: {}", describe(out));
    match serde_json::from_slice(&out.stdout) {
        Ok(serde_json::Value::Array(entries)) => entries,
        other => panic!("ps printed no JSON list ({other:?}): {}", describe(out)),
    }
}

/// The entry named `name` in `berth ps --format json` output; fails the test when
/// it is not listed.
pub fn ps_entry(out: &Output, name: &str) -> serde_json::Value {
    let entries = ps_entries(out);
    entries
        .iter()
        .find(|e| e["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("{name} is not listed: {entries:?}"))
}

/// Snapshot files in `dir` (names without `.snap`) that no case in `expected`
/// writes any more.
pub fn stale_snapshots(dir: &Path, expected: &BTreeSet<String>) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter_map(|f| f.strip_suffix(".snap").map(str::to_owned))
        .filter(|name| !expected.contains(name))
        .collect()
}

/// What `docker <args> --format <format>` prints, trimmed; fails the test when the
/// command fails.
pub fn docker_format(args: &[&str], format: &str) -> String {
    let out = run(docker().args(args).args(["--format", format]));
    assert!(out.status.success(), "docker {args:?}: {}", describe(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Waits up to 20 s for something to listen at `address` (`ip:port`).
pub fn wait_for_port(address: &str) {
    let target: std::net::SocketAddr = address.parse().unwrap_or_else(|e| panic!("{address}: {e}"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect_timeout(&target, std::time::Duration::from_millis(200))
        .is_err()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "nothing listened on {address}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// The egress tests' files (`tests/egress/`): the upstream server and the clients.
pub const EGRESS_FILES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/egress");

/// A workspace directory in `scratch` holding the named files of [`EGRESS_FILES`].
pub fn egress_workspace(scratch: &Scratch, files: &[&str]) -> PathBuf {
    let work = scratch.dir().join("work");
    std::fs::create_dir(&work).expect("create the workspace");
    for file in files {
        std::fs::copy(Path::new(EGRESS_FILES).join(file), work.join(file))
            .unwrap_or_else(|e| panic!("copy {file}: {e}"));
    }
    work
}

/// Starts the egress tests' upstream (`upstream.py`, from `work`, in `image`) on a
/// run's egress `network` under the DNS `aliases`, with `env` (`K=V`), labelled
/// for `scratch` so it goes with it; returns its name and address once it
/// listens on 8080 and 8443.
pub fn egress_upstream(
    scratch: &Scratch,
    image: &str,
    network: &str,
    aliases: &[&str],
    env: &[String],
    work: &Path,
) -> (String, String) {
    let name = format!("{}-upstream", scratch.name());
    let mut start = docker();
    start.args(["run", "-d", "--name", &name, "--network", network]);
    start.args(["--label", "berth.managed-by=berth-tests"]);
    start.args(["--label", &format!("berth.sandbox={}", scratch.name())]);
    for alias in aliases {
        start.args(["--network-alias", alias]);
    }
    for var in env {
        start.args(["-e", var]);
    }
    start.args(["-v", &format!("{}:/srv/egress:ro", work.display())]);
    start.args(["--entrypoint", "python3", image, "/srv/egress/upstream.py"]);
    let out = run(&mut start);
    assert!(out.status.success(), "upstream: {}", describe(&out));
    let ip = docker_format(
        &["inspect", &name],
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
    );
    wait_for_port(&format!("{ip}:8080"));
    wait_for_port(&format!("{ip}:8443"));
    (name, ip)
}

/// The JSON lines of an egress audit log, in the order the requests arrived: a
/// record is written when its connection closes, so the log's own order can differ.
pub fn audit_records(text: &str) -> Vec<serde_json::Value> {
    let mut records: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    // RFC 3339 with a fraction of varying length: compare the fraction as a number.
    let key = |r: &serde_json::Value| {
        let time = r["time"].as_str().unwrap_or_default().trim_end_matches('Z');
        let (whole, fraction) = time.split_once('.').unwrap_or((time, ""));
        (whole.to_owned(), format!("{fraction:0<9}"))
    };
    records.sort_by_key(key);
    records
}
