//! Config to plan to a running sandbox through the gVisor backend, on the real
//! engine: the sandbox boots gVisor's kernel. Needs the engine, runsc and the test
//! image (scripts/build-test-images.sh); fails without them. Host facts come from
//! a host whose `XDG_STATE_HOME` is a temporary directory of this test's own.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::StreamExt;
use runtime_core::{
    Capabilities, Config, CreateSpec, Error, FileStat, HostEnv, HostFacts, Os, Output, Plan,
    RealHost, RunId, Runtime, RuntimeKind, prepare,
};
use runtime_docker::DockerRuntime;

/// The real host, except that berth's state lives in `state`.
struct TempState {
    state: tempfile::TempDir,
}

impl HostEnv for TempState {
    fn var(&self, name: &str) -> Option<String> {
        match name {
            "XDG_STATE_HOME" => Some(self.state.path().display().to_string()),
            _ => RealHost.var(name),
        }
    }
    fn stat(&self, path: &Path) -> io::Result<FileStat> {
        RealHost.stat(path)
    }
    fn cap_bounding_set(&self) -> Option<u64> {
        RealHost.cap_bounding_set()
    }
    fn os(&self) -> Os {
        RealHost.os()
    }
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        RealHost.canonicalize(path)
    }

    fn helper(&self) -> Result<PathBuf, String> {
        RealHost.helper()
    }
}

/// The gVisor backend after checking that the engine answers (a missing engine
/// fails the test), its capabilities, and host facts gathered on a host whose
/// state directory is a temporary one (kept alive by the returned guard).
async fn gvisor() -> (DockerRuntime, Capabilities, HostFacts, TempState) {
    let host_env = TempState {
        state: tempfile::tempdir().expect("state dir"),
    };
    let gvisor = runtime_gvisor::runtime();
    let probe = gvisor.probe().await;
    assert!(
        probe.availability.is_available(),
        "the Docker engine is required: {:?}",
        probe.availability
    );
    let host = HostFacts::gather(
        &host_env,
        &[],
        &[],
        probe.engine.clone(),
        gvisor.engine_socket(&host_env),
    );
    let caps = gvisor.capabilities(&host, &probe);
    (gvisor, caps, host, host_env)
}

/// A plan of the test image running `command` without a network.
fn plan(caps: &Capabilities, host: &HostFacts, command: &str) -> Plan {
    let workspace = tempfile::tempdir().expect("workspace");
    let config = Config::parse(
        "berth.toml".as_ref(),
        &format!(
            "[sandbox]\nimage = \"berth-test/busybox:latest\"\ncommand = [\"sh\", \"-c\", {command:?}]\n[network]\npolicy = \"none\"\n"
        ),
        workspace.path().to_owned(),
    )
    .expect("config");
    let plan = prepare(&config, caps, host).expect("plan");
    assert_eq!(plan.runtime, RuntimeKind::Gvisor);
    plan
}

fn spec<'a>(plan: &'a Plan, run_id: &RunId) -> CreateSpec<'a> {
    CreateSpec::new(plan, run_id.clone(), format!("berth-gv-test-{run_id}"))
        .with_owner(std::process::id(), None)
}

#[tokio::test]
async fn a_config_runs_on_the_gvisor_kernel() {
    let (gvisor, caps, host, host_env) = gvisor().await;
    assert!(
        host.state_dir
            .as_deref()
            .is_some_and(|d| d.starts_with(host_env.state.path())),
        "{:?}",
        host.state_dir
    );
    let plan = plan(&caps, &host, "dmesg | head -n 1");
    let run_id = RunId::random();
    let spec = spec(&plan, &run_id);
    let outcome = async {
        gvisor.ensure_image(&plan.image, &|_| {}).await?;
        let id = gvisor.create(&spec).await?;
        let mut session = gvisor.attach(&id, false).await?;
        gvisor.start(&id).await?;
        let mut out = Vec::new();
        while let Some(chunk) = session.output.next().await {
            if let Output::Stdout(b) = chunk? {
                out.extend_from_slice(&b);
            }
        }
        let code = session.exit.await?;
        let listed = gvisor.find(&run_id).await?;
        Ok::<_, Error>((String::from_utf8_lossy(&out).into_owned(), code, listed))
    };
    let result = tokio::time::timeout(Duration::from_secs(60), outcome).await;
    let removed = gvisor.remove(&run_id).await;
    let (out, code, listed) = result.expect("finished in time").expect("ran");
    assert!(out.contains("Starting gVisor"), "{out}");
    assert_eq!(code, 0);
    assert_eq!(listed.runtime, RuntimeKind::Gvisor);
    assert_eq!(
        listed.oci_runtime,
        caps.oci_runtime.map(|r| r.name),
        "the run is listed under the runsc the capabilities found"
    );
    assert_eq!(removed.expect("removed").containers.len(), 1);
}

/// An OCI runtime the engine lacks: the engine refuses create, and the gVisor
/// flavour turns that into "unavailable" with the daemon.json fix. Creates
/// nothing (the engine refuses before a container exists).
#[tokio::test]
async fn an_oci_runtime_the_engine_lacks_is_unavailable_with_the_daemon_json_fix() {
    let (gvisor, mut caps, host, _state) = gvisor().await;
    if let Some(oci) = caps.oci_runtime.as_mut() {
        oci.name = "runsc-not-registered".to_owned();
    }
    let plan = plan(&caps, &host, "true");
    assert_eq!(plan.oci_runtime.as_deref(), Some("runsc-not-registered"));
    let run_id = RunId::random();
    let created = gvisor.create(&spec(&plan, &run_id)).await;
    let removed = gvisor.remove(&run_id).await;
    match created {
        Err(Error::Unavailable {
            runtime,
            reason,
            fix,
        }) => {
            assert_eq!(runtime, RuntimeKind::Gvisor);
            assert!(reason.contains("runsc-not-registered"), "{reason}");
            assert!(fix.contains("/etc/docker/daemon.json"), "{fix}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(removed.expect("remove").containers.is_empty());
}
