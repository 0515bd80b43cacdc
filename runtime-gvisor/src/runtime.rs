//! The gVisor backend: the Docker backend with gVisor's capabilities. Every operation
//! is the Docker engine's; the plan carries `oci_runtime = runsc` (or however the
//! runtime was named), which the engine uses at create.

use std::time::Duration;

use async_trait::async_trait;
use runtime_core::plan::ImageSource;
use runtime_core::runtime::{OutputStream, Progress};
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

    async fn remove(&self, run_id: &str) -> Result<Removed, Error> {
        self.docker.remove(run_id).await
    }

    async fn list(&self, all: bool) -> Result<Vec<SandboxInfo>, Error> {
        self.docker.list(all).await
    }

    async fn resources(&self) -> Result<Vec<runtime_core::runtime::ResourceInfo>, Error> {
        self.docker.resources().await
    }
}
