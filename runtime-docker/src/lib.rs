//! berth's Docker Engine backend, over the engine's HTTP API with bollard.
//!
//! The design decision: talk to the engine's API rather than shelling out to the
//! `docker` CLI, so that exec stdio is a hijacked stream berth controls byte for
//! byte, engine errors are typed at one boundary ([`engine::DockerError`]), and
//! nothing depends on a CLI version. The API version is always negotiated.
//!
//! [`DockerRuntime`] serves both `--runtime docker` (runc) and, through the gVisor
//! crate, `--runtime gvisor`: the plan names the OCI runtime and this backend passes
//! it to the engine.
//!
//! ```no_run
//! # async fn demo() {
//! use runtime_core::Runtime;
//! let docker = runtime_docker::DockerRuntime::new();
//! let probe = docker.probe().await;
//! println!("{:?}", probe.availability);
//! # }
//! ```

use std::time::Duration;

use async_trait::async_trait;
use runtime_core::plan::ImageSource;
use runtime_core::runtime::{OutputStream, Progress};
use runtime_core::{
    Availability, Capabilities, CreateSpec, EngineFacts, Error, ExecSpec, HostFacts, LogOptions,
    OciRuntime, ProbeReport, Removed, Runtime, RuntimeKind, SandboxInfo, Session,
};

pub mod capabilities;
pub mod containers;
pub mod engine;
pub mod images;
pub mod sessions;

pub use capabilities::capabilities;
use engine::{DockerError, Engine};

/// How long a probe may wait for the engine.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// The Docker Engine backend.
#[derive(Debug)]
pub struct DockerRuntime {
    kind: RuntimeKind,
    engine: Engine,
}

impl Default for DockerRuntime {
    fn default() -> Self {
        Self::new()
    }
}

impl DockerRuntime {
    /// A backend for `--runtime docker`; connects on first use.
    pub fn new() -> Self {
        Self::with_kind(RuntimeKind::Docker)
    }

    /// A backend that reports itself as `kind` (used by the gVisor backend, whose
    /// sandboxes run on the same engine).
    pub fn with_kind(kind: RuntimeKind) -> Self {
        Self {
            kind,
            engine: Engine::default(),
        }
    }

    fn core(&self, err: DockerError) -> Error {
        err.into_core(self.kind)
    }

    async fn client(&self) -> Result<&bollard::Docker, Error> {
        self.engine.client().await.map_err(|e| self.core(e))
    }

    async fn probe_engine(&self) -> Result<EngineFacts, Error> {
        let docker = self.client().await?;
        let version = docker
            .version()
            .await
            .map_err(|e| self.core(DockerError::api("read the engine version", "engine", "", e)))?;
        let info = docker
            .info()
            .await
            .map_err(|e| self.core(DockerError::api("read the engine info", "engine", "", e)))?;
        let mut runtimes: Vec<OciRuntime> = info
            .runtimes
            .unwrap_or_default()
            .into_iter()
            .map(|(name, rt)| OciRuntime {
                name,
                path: rt.path,
                args: rt.runtime_args.unwrap_or_default(),
            })
            .collect();
        runtimes.sort_by(|a, b| a.name.cmp(&b.name));
        let negotiated = docker.client_version();
        Ok(EngineFacts {
            version: version.version.unwrap_or_default(),
            api_version: format!("{}.{}", negotiated.major_version, negotiated.minor_version),
            default_runtime: info.default_runtime,
            runtimes,
        })
    }
}

#[async_trait]
impl Runtime for DockerRuntime {
    fn kind(&self) -> RuntimeKind {
        self.kind
    }

    async fn probe(&self) -> ProbeReport {
        let result = tokio::time::timeout(PROBE_TIMEOUT, self.probe_engine()).await;
        let (availability, engine) = match result {
            Ok(Ok(facts)) => (Availability::Available, Some(facts)),
            Ok(Err(Error::Unavailable { reason, fix, .. })) => {
                (Availability::Unavailable { reason, fix }, None)
            }
            Ok(Err(Error::PermissionDenied { path, fix })) => {
                (Availability::Denied { path, fix }, None)
            }
            Ok(Err(other)) => (capabilities::unreachable(other.report()), None),
            Err(_) => (
                capabilities::unreachable(format!(
                    "the engine did not answer within {}s",
                    PROBE_TIMEOUT.as_secs()
                )),
                None,
            ),
        };
        ProbeReport {
            availability,
            engine,
        }
    }

    fn capabilities(&self, host: &HostFacts, probe: &ProbeReport) -> Capabilities {
        capabilities::capabilities(host, probe)
    }

    async fn ensure_image(&self, image: &ImageSource, progress: Progress<'_>) -> Result<(), Error> {
        let docker = self.client().await?;
        let present = images::ensure(docker, image, progress)
            .await
            .map_err(|e| self.core(e))?;
        if present {
            Ok(())
        } else {
            Err(engine::image_missing(self.kind, image.reference()))
        }
    }

    async fn create(&self, spec: &CreateSpec<'_>) -> Result<String, Error> {
        if spec.plan.runtime != self.kind {
            return Err(Error::Unsupported {
                runtime: self.kind,
                operation: "create",
                reason: format!("the plan was resolved for {}", spec.plan.runtime),
            });
        }
        let docker = self.client().await?;
        containers::create(docker, spec)
            .await
            .map_err(|e| self.core(e))
    }

    async fn start(&self, id: &str) -> Result<(), Error> {
        let docker = self.client().await?;
        docker
            .start_container(id, None::<bollard::query_parameters::StartContainerOptions>)
            .await
            .map_err(|e| self.core(DockerError::api(format!("start {id}"), "sandbox", id, e)))
    }

    async fn attach(&self, id: &str, stdin: bool) -> Result<Session, Error> {
        let docker = self.client().await?;
        sessions::attach(docker, self.kind, id, stdin)
            .await
            .map_err(|e| self.core(e))
    }

    async fn wait(&self, id: &str) -> Result<i64, Error> {
        let docker = self.client().await?;
        sessions::wait(docker, id).await.map_err(|e| self.core(e))
    }

    async fn exec(&self, id: &str, spec: &ExecSpec) -> Result<Session, Error> {
        let docker = self.client().await?;
        sessions::exec(docker, self.kind, id, spec)
            .await
            .map_err(|e| self.core(e))
    }

    async fn logs(&self, id: &str, options: &LogOptions) -> Result<OutputStream, Error> {
        let docker = self.client().await?;
        sessions::logs(docker, self.kind, id, options)
    }

    async fn stop(&self, id: &str, grace: Duration) -> Result<(), Error> {
        let docker = self.client().await?;
        containers::stop(docker, id, grace)
            .await
            .map_err(|e| self.core(e))
    }

    async fn remove(&self, run_id: &str) -> Result<Removed, Error> {
        let docker = self.client().await?;
        containers::remove(docker, run_id)
            .await
            .map_err(|e| self.core(e))
    }

    async fn list(&self, all: bool) -> Result<Vec<SandboxInfo>, Error> {
        let docker = self.client().await?;
        containers::list(docker, all)
            .await
            .map_err(|e| self.core(e))
    }

    async fn resources(&self) -> Result<Vec<runtime_core::runtime::ResourceInfo>, Error> {
        let docker = self.client().await?;
        containers::resources(docker)
            .await
            .map_err(|e| self.core(e))
    }
}
