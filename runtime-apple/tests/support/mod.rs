//! Shared helpers for the tests that drive the Apple backend against the test
//! double of `container` (tests/src/bin/container.rs, which runs containers on the
//! local Docker engine): finding the double, resolving plans for a macOS host,
//! collecting session output, and removing by label whatever a test created, even
//! when it fails.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use futures::StreamExt;
use runtime_apple::{AppleRuntime, Runner};
use runtime_core::plan::Plan;
use runtime_core::runtime::OutputStream;
use runtime_core::{
    Availability, Config, CreateSpec, ExecSpec, HostFacts, Os, Output, ProbeReport, Runtime,
    prepare,
};

/// The local busybox image (scripts/build-test-images.sh builds it).
pub const IMAGE: &str = "berth-test/busybox:latest";

/// How long any one step may take before the test fails.
pub const STEP: Duration = Duration::from_secs(60);

/// The double, built next to this test binary (`target/<profile>/container`).
/// Missing is a loud failure: build it with `cargo build -p berth-tests --bin container`
/// (scripts/test.sh builds every binary first).
pub fn double() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binaries live in target/<profile>/deps");
    let bin = dir.join("container");
    assert!(
        bin.is_file(),
        "the `container` test double is missing at {}: build it with `cargo build -p berth-tests --bin container` (scripts/test.sh builds every binary)",
        bin.display()
    );
    bin
}

/// A `docker` command with stdin closed.
pub fn docker() -> Command {
    let mut cmd = Command::new("docker");
    cmd.stdin(Stdio::null());
    cmd
}

/// Runs a command to completion, panicking if it cannot be spawned.
pub fn output(cmd: &mut Command) -> std::process::Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("failed to spawn {cmd:?}: {e}"))
}

/// Fails unless the Docker engine answers (the double needs it).
pub fn require_engine() {
    let out = output(docker().args(["version", "--format", "{{.Server.Version}}"]));
    assert!(
        out.status.success(),
        "the Docker engine does not answer ({}): run scripts/setup-engine.sh",
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// Makes sure the busybox image exists, building a minimal one from the host's
/// busybox when scripts/build-test-images.sh has not run.
pub fn require_image() {
    if output(docker().args(["image", "inspect", IMAGE]))
        .status
        .success()
    {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .expect("a static busybox on the host (apt-get install busybox-static)");
    std::fs::copy(busybox, dir.path().join("busybox")).expect("copy busybox");
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n",
    )
    .expect("write Dockerfile");
    let out = output(
        docker()
            .env("DOCKER_BUILDKIT", "0")
            .args(["build", "-t", IMAGE])
            .arg(dir.path()),
    );
    assert!(
        out.status.success(),
        "build {IMAGE}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Ids of Docker containers, volumes and networks labelled `label`.
pub fn leftovers(label: &str) -> (Vec<String>, Vec<String>, Vec<String>) {
    let list = |args: &[&str]| -> Vec<String> {
        let out = output(
            docker()
                .args(args)
                .args(["--filter", &format!("label={label}")]),
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    };
    (
        list(&["ps", "-aq"]),
        list(&["volume", "ls", "-q"]),
        list(&["network", "ls", "-q"]),
    )
}

/// Removes everything labelled `label` from the engine.
pub fn remove_by_label(label: &str) {
    let (containers, volumes, networks) = leftovers(label);
    if !containers.is_empty() {
        output(docker().args(["rm", "-f"]).args(&containers));
    }
    if !volumes.is_empty() {
        output(docker().args(["volume", "rm", "-f"]).args(&volumes));
    }
    if !networks.is_empty() {
        output(docker().args(["network", "rm"]).args(&networks));
    }
}

/// The entry of container `id` in what the double printed for `ls` or `inspect`
/// (a JSON array, in either shape: the id is under `configuration` in both).
pub fn entry(stdout: &[u8], id: &str) -> serde_json::Value {
    let entries: Vec<serde_json::Value> = serde_json::from_slice(stdout).unwrap_or_else(|e| {
        panic!(
            "not a JSON array ({e}): {}",
            String::from_utf8_lossy(stdout)
        )
    });
    entries
        .into_iter()
        .find(|e| e["configuration"]["id"] == id)
        .unwrap_or_else(|| panic!("{id} is not listed"))
}

/// What an entry's `status` is: "a string" in the 0.x shape, "an object" in 1.x.
pub fn status_kind(entry: &serde_json::Value) -> &'static str {
    match &entry["status"] {
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Object(_) => "an object",
        _ => "neither",
    }
}

/// 12 random hex digits.
pub fn run_id() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 6];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("read /dev/urandom");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One test's backend (driving the double in one output shape) and run id; drops
/// everything labelled with the run id from the engine.
pub struct Fixture {
    /// The backend under test.
    pub runtime: AppleRuntime,
    /// The run id every resource of the test carries.
    pub run_id: runtime_core::RunId,
    /// `0` or `1`.
    pub shape: &'static str,
    /// The backend's env-file directory, removed with the fixture.
    pub env_dir: tempfile::TempDir,
}

impl Fixture {
    /// A fixture for the double printing `shape`, with extra double settings.
    pub fn new(shape: &'static str, env: &[(&str, &str)]) -> Self {
        require_engine();
        require_image();
        let mut runner = Runner::new(double(), true).with_env("BERTH_APPLE_DOUBLE_SHAPE", shape);
        for (key, value) in env {
            runner = runner.with_env(*key, *value);
        }
        let env_dir = tempfile::tempdir().expect("env dir");
        Self {
            runtime: AppleRuntime::with_runner(runner)
                .with_env_dir(env_dir.path().join("apple-env")),
            run_id: runtime_core::RunId::random(),
            shape,
            env_dir,
        }
    }

    /// A unique container name for this test.
    pub fn name(&self, case: &str) -> String {
        format!("apple-{case}-{}-{}", self.shape, &self.run_id[..8])
    }

    /// The create spec of `plan` for this run.
    pub fn spec<'a>(&self, plan: &'a Plan, case: &str) -> CreateSpec<'a> {
        CreateSpec::new(plan, self.run_id.clone(), self.name(case))
    }

    /// The label filter of this run.
    pub fn label(&self) -> String {
        format!("berth.run-id={}", self.run_id)
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        remove_by_label(&self.label());
    }
}

/// A Mac where Apple `container` is available.
pub fn macos() -> HostFacts {
    HostFacts {
        os: Os::Macos,
        socket: None,
        engine: None,
        cap_bounding_set: None,
        env_names: BTreeSet::new(),
        paths: Default::default(),
        home: None,
        state_dir: None,
        helper: None,
    }
}

/// Resolves a config (in TOML) for Apple on a Mac.
pub fn plan(text: &str) -> Plan {
    let config = Config::parse(Path::new("/tmp/berth.toml"), text, PathBuf::from("/tmp"))
        .unwrap_or_else(|e| panic!("config: {e}"));
    let host = macos();
    let probe = ProbeReport {
        availability: Availability::Available,
        engine: None,
    };
    let caps = runtime_apple::capabilities(&host, &probe);
    prepare(&config, &caps, &host).unwrap_or_else(|e| panic!("prepare: {e}"))
}

/// A plan for the busybox image running `command`.
pub fn busybox(command: &[&str]) -> Plan {
    let command = command
        .iter()
        .map(|c| format!("{c:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    plan(&format!(
        "[sandbox]\nname = \"apple-test\"\nimage = \"{IMAGE}\"\ncommand = [{command}]\n"
    ))
}

/// Everything a stream yields, split by stream; panics on an error item.
pub async fn collect(mut stream: OutputStream) -> (Vec<u8>, Vec<u8>) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    while let Some(item) = tokio::time::timeout(STEP, stream.next())
        .await
        .expect("output within the step's time")
    {
        match item.unwrap_or_else(|e| panic!("output: {}", e.report())) {
            Output::Stdout(b) => out.extend_from_slice(&b),
            Output::Stderr(b) => err.extend_from_slice(&b),
        }
    }
    (out, err)
}

/// Awaits `fut`, failing the test after [`STEP`].
pub async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(STEP, fut)
        .await
        .unwrap_or_else(|_| panic!("{what} took longer than {}s", STEP.as_secs()))
}

impl Fixture {
    /// Creates and starts the sandbox of `spec`; returns its id.
    pub async fn started(&self, spec: &CreateSpec<'_>) -> String {
        let id = within("create", self.runtime.create(spec))
            .await
            .expect("create");
        within("start", self.runtime.start(&id))
            .await
            .expect("start");
        id
    }

    /// Runs `exec` in sandbox `id` to its end, failing unless it exits 0; returns
    /// its stdout.
    pub async fn exec_ok(&self, id: &str, exec: &ExecSpec) -> Vec<u8> {
        let session = within("exec", self.runtime.exec(id, exec))
            .await
            .expect("exec");
        let (out, _) = collect(session.output).await;
        assert_eq!(within("exit", session.exit).await.expect("exit"), 0);
        out
    }
}
