//! The gVisor backend: the Docker backend with gVisor's capabilities. Every operation
//! is the Docker engine's; the plan carries `oci_runtime = runsc` (or however the
//! runtime was named), which the Docker backend puts in `HostConfig.Runtime` at
//! create. What differs is only [`Runtime::kind`] and [`Runtime::capabilities`].

use std::time::Duration;

use async_trait::async_trait;
use runtime_core::plan::ImageSource;
use runtime_core::runtime::{OutputStream, Progress, ResourceInfo};
use runtime_core::{
    Capabilities, CreateSpec, Error, ExecSpec, HostFacts, LogOptions, ProbeReport, Removed,
    Runtime, RuntimeKind, SandboxInfo, Session,
};
use runtime_docker::DockerRuntime;

/// Docker with runsc.
#[derive(Debug)]
pub struct GvisorRuntime {
    docker: DockerRuntime,
}

impl Default for GvisorRuntime {
    fn default() -> Self {
        Self::new()
    }
}

impl GvisorRuntime {
    /// A backend on the local Docker engine; connects on first use.
    pub fn new() -> Self {
        Self {
            docker: DockerRuntime::with_kind(RuntimeKind::Gvisor),
        }
    }
}

#[async_trait]
impl Runtime for GvisorRuntime {
    fn kind(&self) -> RuntimeKind {
        RuntimeKind::Gvisor
    }

    async fn probe(&self) -> ProbeReport {
        self.docker.probe().await
    }

    fn capabilities(&self, host: &HostFacts, probe: &ProbeReport) -> Capabilities {
        crate::capabilities(host, probe)
    }

    async fn ensure_image(&self, image: &ImageSource, progress: Progress<'_>) -> Result<(), Error> {
        self.docker.ensure_image(image, progress).await
    }

    async fn create(&self, spec: &CreateSpec<'_>) -> Result<String, Error> {
        self.docker.create(spec).await
    }

    async fn start(&self, id: &str) -> Result<(), Error> {
        self.docker.start(id).await
    }

    async fn attach(&self, id: &str, stdin: bool) -> Result<Session, Error> {
        self.docker.attach(id, stdin).await
    }

    async fn wait(&self, id: &str) -> Result<i64, Error> {
        self.docker.wait(id).await
    }

    async fn exec(&self, id: &str, spec: &ExecSpec) -> Result<Session, Error> {
        self.docker.exec(id, spec).await
    }

    async fn logs(&self, id: &str, options: &LogOptions) -> Result<OutputStream, Error> {
        self.docker.logs(id, options).await
    }

    async fn stop(&self, id: &str, grace: Duration) -> Result<(), Error> {
        self.docker.stop(id, grace).await
    }

    async fn remove(&self, run_id: &runtime_core::RunId) -> Result<Removed, Error> {
        self.docker.remove(run_id).await
    }

    async fn list(&self, all: bool) -> Result<Vec<SandboxInfo>, Error> {
        self.docker.list(all).await
    }

    async fn resources(&self) -> Result<Vec<ResourceInfo>, Error> {
        self.docker.resources().await
    }

    async fn prune_shared(&self) -> Result<Vec<String>, Error> {
        self.docker.prune_shared().await
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use futures::StreamExt;
    use runtime_core::{Config, Output, RealHost, prepare};

    use super::*;

    #[test]
    fn reports_itself_as_gvisor_with_gvisor_capabilities() {
        let gvisor = GvisorRuntime::new();
        assert_eq!(gvisor.kind(), RuntimeKind::Gvisor);
        let probe = ProbeReport {
            availability: runtime_core::Availability::Available,
            engine: None,
        };
        let host = HostFacts::gather(&RealHost, &[], &[], None, None);
        assert_eq!(
            gvisor.capabilities(&host, &probe),
            crate::capabilities(&host, &probe)
        );
    }

    /// Config to plan to a running sandbox through this backend, on the real
    /// engine: the sandbox boots gVisor's kernel. Needs the engine and the test
    /// image (scripts/build-test-images.sh); fails without them.
    #[tokio::test]
    async fn a_config_runs_on_the_gvisor_kernel() {
        let gvisor = GvisorRuntime::new();
        let probe = gvisor.probe().await;
        assert!(
            probe.availability.is_available(),
            "the Docker engine is required: {:?}",
            probe.availability
        );
        let host = HostFacts::gather(&RealHost, &[], &[], probe.engine.clone(), None);
        let caps = gvisor.capabilities(&host, &probe);
        let dir = std::env::temp_dir();
        let config = Config::parse(
            "berth.toml".as_ref(),
            "[sandbox]\nimage = \"berth-test/busybox:latest\"\ncommand = [\"sh\", \"-c\", \"dmesg | head -n 1\"]\n[network]\npolicy = \"none\"\n",
            PathBuf::from(&dir),
        )
        .expect("config");
        let plan = prepare(&config, &caps, &host).expect("plan");
        assert_eq!(plan.runtime, RuntimeKind::Gvisor);
        let run_id = runtime_core::RunId::random();
        let spec = CreateSpec {
            plan: &plan,
            run_id: run_id.clone(),
            name: format!("berth-gv-test-{run_id}"),
            env: Vec::new(),
            stdin: false,
            tty: false,
            command: None,
            owner_pid: std::process::id(),
            owner_host: None,
            detached: false,
            expires_at: None,
        };
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
        assert!(
            listed
                .oci_runtime
                .is_some_and(|r| crate::is_runsc(&runtime_core::OciRuntime {
                    name: r,
                    path: None,
                    args: Vec::new(),
                }))
        );
        assert_eq!(removed.expect("removed").containers.len(), 1);
    }
}
