//! Shared by the engine tests: plans built by hand, unique run ids, the test image,
//! and a guard that removes a run by label even when the test fails.
//!
//! Tests that need the engine call [`engine`], which fails (never skips) when the
//! engine does not answer.

#![allow(
    dead_code,
    reason = "each test binary uses a different part of this module"
)]

pub mod direct;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use futures::StreamExt;
use runtime_core::config::NetworkPolicy;
use runtime_core::plan::{DockerAccess, ImageSource, Limits, NetworkPlan, Security};
use runtime_core::runtime::ExitFuture;
use runtime_core::{CreateSpec, Output, Plan, RunId, Runtime, RuntimeKind, Session, labels};
use runtime_docker::{DockerRuntime, Flavour, Runc};

/// The image built by scripts/build-test-images.sh (busybox, user agent 1000).
pub const SHARED_IMAGE: &str = "berth-test/busybox:latest";
/// This crate's own busybox image, built when the shared one is missing.
pub const OWN_IMAGE: &str = "berth-docker-test/busybox:latest";

/// A flavour that reports itself as `kind` and has runc's capabilities: whatever
/// the flavour, the plan's OCI runtime is what the engine runs (runtime-gvisor
/// tests its own flavour).
#[derive(Debug)]
pub struct Reports(pub RuntimeKind);

impl Flavour for Reports {
    fn kind(&self) -> RuntimeKind {
        self.0
    }

    fn capabilities(
        &self,
        host: &runtime_core::HostFacts,
        probe: &runtime_core::ProbeReport,
    ) -> runtime_core::Capabilities {
        Runc.capabilities(host, probe)
    }
}

/// The backend that reports itself as `kind`.
pub fn backend(kind: RuntimeKind) -> DockerRuntime {
    DockerRuntime::with_flavour(Reports(kind))
}

/// A run id no other test (or test process) uses.
pub fn run_id() -> RunId {
    RunId::random()
}

/// A plan for `kind` running `image` with no mounts, no limits, an open network.
pub fn plan(kind: RuntimeKind, image: &str) -> Plan {
    let oci = match kind {
        RuntimeKind::Gvisor => "runsc",
        _ => "runc",
    };
    Plan {
        name: "dt".to_owned(),
        runtime: kind,
        oci_runtime: Some(oci.to_owned()),
        image: ImageSource::Reference {
            reference: image.to_owned(),
        },
        command: None,
        workdir: None,
        user: None,
        non_root_user: None,
        home: None,
        group_add: Vec::new(),
        mounts: Vec::new(),
        env: Vec::new(),
        network: NetworkPlan {
            policy: NetworkPolicy::Open,
            mode: "bridge".to_owned(),
            create: Vec::new(),
            shared: None,
        },
        docker: DockerAccess::None,
        security: Security {
            privileged: false,
            cap_drop: Vec::new(),
            cap_add: Vec::new(),
            no_new_privileges: true,
            security_opt: Vec::new(),
            device_cgroup_rules: Vec::new(),
            cgroupns_host: false,
            system_paths_unconfined: false,
            read_only_rootfs: false,
        },
        limits: Limits {
            cpus: None,
            memory: None,
            pids: None,
        },
        labels: BTreeMap::from([
            (
                labels::MANAGED_BY.to_owned(),
                labels::MANAGED_BY_VALUE.to_owned(),
            ),
            (labels::ROLE.to_owned(), "agent".to_owned()),
            (labels::RUNTIME.to_owned(), kind.to_string()),
            (labels::OCI_RUNTIME.to_owned(), oci.to_owned()),
            (labels::SANDBOX.to_owned(), "dt".to_owned()),
        ]),
        defaults: Vec::new(),
        not_applied: Vec::new(),
        warnings: Vec::new(),
        dangers: Vec::new(),
    }
}

/// A create spec for `plan` under `run_id`, named after the run.
pub fn spec<'a>(plan: &'a Plan, run_id: &RunId, command: &[&str]) -> CreateSpec<'a> {
    let spec = CreateSpec::new(plan, run_id.clone(), format!("berth-dt-{run_id}"));
    if command.is_empty() {
        spec
    } else {
        spec.with_command(command.iter().map(|s| (*s).to_owned()).collect())
    }
}

/// The Docker backend, after checking that the engine answers: a missing engine
/// fails the test.
pub async fn engine() -> DockerRuntime {
    let docker = DockerRuntime::new();
    let probe = docker.probe().await;
    assert!(
        probe.availability.is_available(),
        "the Docker engine is required for this test (run scripts/setup-engine.sh): {:?}",
        probe.availability
    );
    docker
}

/// The usual start of an engine test: the Docker backend (a missing engine fails
/// the test), the busybox image, a fresh run id, and the guard that removes
/// everything labelled with it (keep it bound, as `_guard`, to the test's end).
pub async fn engine_and_run() -> (DockerRuntime, String, RunId, RunGuard) {
    let docker = engine().await;
    let image = image(&docker).await;
    let run = run_id();
    let guard = RunGuard::new(&run);
    (docker, image, run, guard)
}

/// A busybox image with user `agent` (1000): the shared test image when present,
/// else this crate's own, built from the host's busybox through `ensure_image`.
pub async fn image(docker: &DockerRuntime) -> String {
    let shared = ImageSource::Reference {
        reference: SHARED_IMAGE.to_owned(),
    };
    if docker.ensure_image(&shared, &|_| {}).await.is_ok() {
        return SHARED_IMAGE.to_owned();
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("busybox on the host (apt-get install busybox-static)");
    std::fs::copy(&busybox, dir.path().join("busybox")).expect("copy busybox");
    std::fs::write(
        dir.path().join("passwd"),
        "root:x:0:0:root:/root:/bin/sh\nagent:x:1000:1000:agent:/home/agent:/bin/sh\n",
    )
    .expect("passwd");
    std::fs::write(dir.path().join("group"), "root:x:0:\nagent:x:1000:\n").expect("group");
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nCOPY passwd group /etc/\nRUN [\"/bin/busybox\", \"sh\", \"-c\", \"/bin/busybox --install -s /bin && mkdir -p /tmp /home/agent && chmod 1777 /tmp && chown 1000:1000 /home/agent\"]\nENV PATH=/usr/sbin:/usr/bin:/sbin:/bin\n",
    )
    .expect("Dockerfile");
    let build = ImageSource::Build {
        declared_dockerfile: None,
        declared_context: None,
        dockerfile: dir.path().join("Dockerfile"),
        context: dir.path().to_owned(),
        tag: OWN_IMAGE.to_owned(),
        args: BTreeMap::new(),
    };
    docker
        .ensure_image(&build, &|_| {})
        .await
        .expect("build the busybox test image");
    OWN_IMAGE.to_owned()
}

/// Removes everything labelled with a run id when dropped (blocking, on a thread
/// of its own, so it works from inside a test's runtime), even after a panic.
pub struct RunGuard {
    run_id: RunId,
}

impl RunGuard {
    /// Guards `run_id`.
    pub fn new(run_id: &RunId) -> Self {
        Self {
            run_id: run_id.clone(),
        }
    }
}

impl Drop for RunGuard {
    fn drop(&mut self) {
        let run_id = self.run_id.clone();
        let outcome = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(DockerRuntime::new().remove(&run_id))
        })
        .join();
        if let Ok(Err(err)) = outcome {
            eprintln!("cleanup of run {} failed: {}", self.run_id, err.report());
        }
    }
}

/// What a finished session produced.
#[derive(Debug, Default)]
pub struct Collected {
    /// Standard output (or the TTY).
    pub stdout: Vec<u8>,
    /// Standard error.
    pub stderr: Vec<u8>,
    /// The exit code.
    pub code: i64,
}

impl Collected {
    /// Stdout as text.
    pub fn out(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// Reads a session's output to its end, then its exit code (bounded, so a hang
/// fails the test).
pub async fn collect(session: Session) -> Collected {
    let Session { output, exit, .. } = session;
    collect_parts(output, exit).await
}

/// [`collect`] on a session's parts.
pub async fn collect_parts(
    mut output: runtime_core::runtime::OutputStream,
    exit: ExitFuture,
) -> Collected {
    let work = async {
        let mut out = Collected::default();
        while let Some(chunk) = output.next().await {
            match chunk.expect("output") {
                Output::Stdout(b) => out.stdout.extend_from_slice(&b),
                Output::Stderr(b) => out.stderr.extend_from_slice(&b),
            }
        }
        out.code = exit.await.expect("exit code");
        out
    };
    tokio::time::timeout(Duration::from_secs(60), work)
        .await
        .expect("the session ended within 60s")
}
