//! berth's Docker Engine backend, over the engine's HTTP API with bollard.
//!
//! The design decision: talk to the engine's API rather than shelling out to the
//! `docker` CLI, so that exec stdio is a hijacked stream berth controls byte for
//! byte, engine errors are typed at one boundary (inside this crate, turned into
//! `runtime_core::Error` once), and nothing depends on a CLI version. The API
//! version is always negotiated, and the connection is made on first use, so
//! building a backend never fails.
//!
//! [`DockerRuntime`] serves both `--runtime docker` (runc) and, built with the gVisor
//! crate's [`Flavour`], `--runtime gvisor`: the plan names the OCI runtime and this
//! backend puts it in `HostConfig.Runtime` (runc explicitly for docker, so an engine
//! whose default runtime is runsc still runs `--runtime docker` under runc).
//!
//! Everything created (containers, networks, anonymous volumes) carries the
//! `berth.managed-by` and `berth.run-id` labels; listing and removal go by them.
//!
//! ```no_run
//! # async fn demo() {
//! use runtime_core::Runtime;
//! let docker = runtime_docker::DockerRuntime::new();
//! let probe = docker.probe().await;
//! println!("{:?}", probe.availability);
//! # }
//! ```

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use runtime_core::plan::ImageSource;
use runtime_core::runtime::{OutputStream, Progress, ResourceInfo};
use runtime_core::terminal::DetachKeys;
use runtime_core::{
    Availability, Capabilities, CreateSpec, Error, ExecSpec, HostEnv, HostFacts, LogOptions,
    ProbeReport, RemoteSocket, Removed, Runtime, RuntimeKind, SandboxInfo, Session, SocketFacts,
};

mod capabilities;
mod connect;
mod container;
mod context;
mod egress;
pub mod endpoint;
mod errors;
mod flavour;
mod image;
mod list;
mod network;
mod probe;
mod remote_socket;
mod remove;
mod sessions;
pub mod socket;
mod transport;

pub use capabilities::{DEFAULT_NETWORK, capabilities, init_support};
use connect::Engine;
pub use egress::{HELPER_VAR, helper};
pub use endpoint::{Chosen, Endpoint, EndpointError, EndpointSource, TlsFiles};
use errors::DockerError;
pub use flavour::{Flavour, Runc};

/// How long a probe may wait for the engine.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// The Docker Engine backend, of one [`Flavour`].
#[derive(Debug)]
pub struct DockerRuntime {
    flavour: Arc<dyn Flavour>,
    /// Shared by [`DockerRuntime::sibling`]s: one connection, one negotiation.
    engine: Arc<Engine>,
    /// The `User` of each image [`Runtime::ensure_image`] checked, by reference, so
    /// that create applies the plan's non-root policy without a second inspect.
    image_facts: std::sync::Mutex<std::collections::HashMap<String, image::ImageFacts>>,
}

impl Default for DockerRuntime {
    fn default() -> Self {
        Self::new()
    }
}

impl DockerRuntime {
    /// A backend for `--runtime docker` on the local engine (`DOCKER_HOST`, the
    /// rootless socket, or `/var/run/docker.sock`); connects on first use.
    pub fn new() -> Self {
        Self::with_flavour(Runc)
    }

    /// A backend of another flavour on the local engine (the gVisor backend is
    /// this with runtime-gvisor's flavour).
    pub fn with_flavour(flavour: impl Flavour) -> Self {
        Self {
            flavour: Arc::new(flavour),
            engine: Arc::default(),
            image_facts: Default::default(),
        }
    }

    /// A backend of another flavour on this one's engine connection: the engine
    /// is connected to (and its API version negotiated) once for both.
    pub fn sibling(&self, flavour: impl Flavour) -> Self {
        Self {
            flavour: Arc::new(flavour),
            engine: self.engine.clone(),
            image_facts: Default::default(),
        }
    }

    /// A backend of `flavour` on the engine at `endpoint` rather than the one
    /// found on this host.
    pub fn with_endpoint(flavour: impl Flavour, endpoint: Endpoint) -> Self {
        Self {
            flavour: Arc::new(flavour),
            engine: Arc::new(Engine::at(endpoint)),
            image_facts: Default::default(),
        }
    }

    /// The engine's endpoint and how it was chosen (given, else found on this
    /// host: `DOCKER_HOST`, a docker context, the rootless or default socket).
    /// [`Endpoint::is_local`] says whether host paths can be bind-mounted.
    pub fn endpoint(&self) -> Result<Chosen, EndpointError> {
        self.engine.chosen()
    }

    fn core(&self, err: DockerError) -> Error {
        err.into_core(&*self.flavour)
    }

    async fn client(&self) -> Result<&bollard::Docker, Error> {
        self.engine.client().await.map_err(|e| self.core(e))
    }

    /// Removes berth's shared networks named `name` (a plan's `network.shared`)
    /// that no container uses; returns the names removed. One that a sandbox joins
    /// meanwhile is kept. [`Runtime::prune_shared`] is this for the name plans
    /// use, `berth`.
    pub async fn prune_shared_network(&self, name: &str) -> Result<Vec<String>, Error> {
        let docker = self.client().await?;
        network::remove_unused(docker, name)
            .await
            .map_err(|e| self.core(e))
    }
}

#[async_trait]
impl Runtime for DockerRuntime {
    fn kind(&self) -> RuntimeKind {
        self.flavour.kind()
    }

    async fn probe(&self) -> ProbeReport {
        let attempt = async {
            let docker = self.client().await?;
            let version = self.engine.version().await.map_err(|e| self.core(e))?;
            probe::engine_facts(docker, version)
                .await
                .map_err(|e| self.core(e))
        };
        let (availability, engine) = match tokio::time::timeout(PROBE_TIMEOUT, attempt).await {
            Ok(Ok(facts)) => (Availability::Available, Some(facts)),
            Ok(Err(err)) => (probe::availability(err), None),
            Err(_) => (
                capabilities::unreachable(format!(
                    "the Docker engine did not answer within {}s",
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
        self.flavour.capabilities(host, probe)
    }

    /// The engine's endpoint: backends on one endpoint (whatever their flavour)
    /// share the engine.
    fn engine_id(&self) -> String {
        match self.engine.chosen() {
            Ok(chosen) => format!("docker engine at {}", chosen.endpoint),
            Err(err) => format!("docker engine ({err})"),
        }
    }

    fn engine_socket(&self, host: &dyn HostEnv) -> Option<SocketFacts> {
        Some(socket::facts_of(self.engine.chosen(), host))
    }

    /// Asks the engine's own host, with two short-lived containers of berth's
    /// helper image there, and keeps the answer per engine (see the
    /// `remote_socket` module); a local engine has none to ask.
    async fn remote_socket(
        &self,
        host: &HostFacts,
        labels: &std::collections::BTreeMap<String, String>,
    ) -> Option<RemoteSocket> {
        let chosen = self.engine.chosen().ok()?;
        if chosen.endpoint.is_local() {
            return None;
        }
        Some(match self.client().await {
            Ok(docker) => remote_socket::find(docker, host, labels).await,
            Err(err) => RemoteSocket::Unknown {
                reason: format!("the engine cannot be reached: {err}"),
            },
        })
    }

    async fn ensure_image(&self, image: &ImageSource, progress: Progress<'_>) -> Result<(), Error> {
        let docker = self.client().await?;
        match image::ensure(docker, image, progress).await {
            Ok(Some(facts)) => {
                if let Ok(mut known) = self.image_facts.lock() {
                    known.insert(image.reference().to_owned(), facts);
                }
                Ok(())
            }
            Ok(None) => Err(errors::image_missing(self.kind(), image.reference())),
            Err(e) => Err(self.core(e)),
        }
    }

    async fn image_id(&self, image: &ImageSource) -> Result<Option<String>, Error> {
        let docker = self.client().await?;
        match image::facts(docker, image.reference()).await {
            Ok(facts) => Ok(facts.map(|f| f.id).filter(|id| !id.is_empty())),
            Err(e) => Err(self.core(e)),
        }
    }

    async fn create(&self, spec: &CreateSpec<'_>) -> Result<String, Error> {
        if spec.plan.runtime != self.kind() {
            return Err(Error::Unsupported {
                runtime: self.kind(),
                operation: "create",
                reason: format!("the plan was resolved for {}", spec.plan.runtime),
            });
        }
        let docker = self.client().await?;
        let reference = spec.plan.image.reference();
        let known = self
            .image_facts
            .lock()
            .ok()
            .and_then(|known| known.get(reference).cloned());
        // Only a plan that may switch users, or that puts berth-init before the
        // image's entrypoint, needs the image's config; a missing image is left
        // for create to report.
        let needs_facts = (spec.plan.user.is_none() && spec.plan.non_root_user.is_some())
            || spec.plan.init.helper.is_some();
        let image = match known {
            Some(facts) => Some(facts),
            None if needs_facts => image::facts(docker, reference)
                .await
                .map_err(|e| self.core(e))?,
            None => None,
        };
        container::create(docker, spec, image.as_ref())
            .await
            .map_err(|e| self.core(e))
    }

    async fn start(&self, id: &str) -> Result<(), Error> {
        let docker = self.client().await?;
        container::start(docker, id).await.map_err(|e| self.core(e))
    }

    async fn attach(&self, id: &str, stdin: bool) -> Result<Session, Error> {
        let docker = self.client().await?;
        sessions::attach(docker, self.flavour.clone(), id, stdin, None)
            .await
            .map_err(|e| self.core(e))
    }

    async fn attach_terminal(
        &self,
        id: &str,
        stdin: bool,
        detach: &DetachKeys,
    ) -> Result<Session, Error> {
        let docker = self.client().await?;
        sessions::attach(docker, self.flavour.clone(), id, stdin, Some(detach))
            .await
            .map_err(|e| self.core(e))
    }

    async fn wait(&self, id: &str) -> Result<i64, Error> {
        let docker = self.client().await?;
        sessions::wait(docker, id).await.map_err(|e| self.core(e))
    }

    async fn exec(&self, id: &str, spec: &ExecSpec) -> Result<Session, Error> {
        let docker = self.client().await?;
        sessions::exec(docker, self.flavour.clone(), id, spec, None)
            .await
            .map_err(|e| self.core(e))
    }

    async fn exec_terminal(
        &self,
        id: &str,
        spec: &ExecSpec,
        detach: &DetachKeys,
    ) -> Result<Session, Error> {
        let docker = self.client().await?;
        sessions::exec(docker, self.flavour.clone(), id, spec, Some(detach))
            .await
            .map_err(|e| self.core(e))
    }

    async fn logs(&self, id: &str, options: &LogOptions) -> Result<OutputStream, Error> {
        let docker = self.client().await?;
        Ok(sessions::logs(docker, self.flavour.clone(), id, options))
    }

    async fn self_test(&self, caps: &runtime_core::Capabilities) -> Option<runtime_core::Support> {
        let fix = self.flavour.self_test_fix()?;
        let oci = caps.oci_runtime.as_ref()?;
        let docker = self.client().await.ok()?;
        let failures = egress::self_test(docker, oci).await?;
        Some(if failures.is_empty() {
            runtime_core::Support::Supported
        } else {
            runtime_core::Support::Unsupported {
                reason: format!("under {}, {}", oci.name, failures.join("; ")),
                fix: fix.to_owned(),
            }
        })
    }

    async fn egress_log(
        &self,
        run_id: &runtime_core::RunId,
        options: &LogOptions,
    ) -> Result<OutputStream, Error> {
        let docker = self.client().await?;
        let name = egress::proxy_name(run_id);
        if container::run_id(docker, &name).await.as_ref() != Some(run_id) {
            return Err(Error::NotFound {
                what: "egress proxy (the run's network policy is not \"allowlist\") of run",
                name: run_id.to_string(),
            });
        }
        Ok(sessions::logs(docker, self.flavour.clone(), &name, options))
    }

    async fn stop(&self, id: &str, grace: Duration) -> Result<(), Error> {
        let docker = self.client().await?;
        container::stop(docker, id, grace)
            .await
            .map_err(|e| self.core(e))?;
        // The run's proxy lives as long as its sandbox runs.
        if let Some(run_id) = container::run_id(docker, id).await {
            egress::stop_sidecars(docker, &run_id)
                .await
                .map_err(|e| self.core(e))?;
        }
        Ok(())
    }

    async fn start_stopped(&self, id: &str) -> Result<(), Error> {
        let docker = self.client().await?;
        // The run's proxy first: the sandbox's only way out.
        if let Some(run_id) = container::run_id(docker, id).await {
            container::start_sidecars(docker, &run_id)
                .await
                .map_err(|e| self.core(e))?;
        }
        container::start(docker, id).await.map_err(|e| self.core(e))
    }

    async fn remove(&self, run_id: &runtime_core::RunId) -> Result<Removed, Error> {
        let docker = self.client().await?;
        remove::remove(docker, run_id)
            .await
            .map_err(|e| self.core(e))
    }

    async fn list(&self, all: bool) -> Result<Vec<SandboxInfo>, Error> {
        let docker = self.client().await?;
        list::list(docker, all).await.map_err(|e| self.core(e))
    }

    async fn resources(&self) -> Result<Vec<ResourceInfo>, Error> {
        let docker = self.client().await?;
        list::resources(docker).await.map_err(|e| self.core(e))
    }

    async fn inventory(&self) -> Result<(Vec<SandboxInfo>, Vec<ResourceInfo>), Error> {
        let docker = self.client().await?;
        list::inventory(docker).await.map_err(|e| self.core(e))
    }

    async fn prune_shared(&self) -> Result<Vec<String>, Error> {
        self.prune_shared_network(runtime_core::resolve::SHARED_NETWORK)
            .await
    }
}
