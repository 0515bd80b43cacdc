//! The backends this binary has, built; probing, choosing and finding runs are
//! `runtime_core::select`'s.

use std::sync::Arc;

use runtime_apple::AppleRuntime;
use runtime_core::select::{self, Chosen, Probed};
use runtime_core::{Config, Error, HostFacts, RealHost, Runtime, RuntimeChoice, SandboxInfo};
use runtime_docker::DockerRuntime;

/// Fresh backends: docker, gvisor (on docker's engine connection) and apple.
fn candidates() -> Vec<Arc<dyn Runtime>> {
    let docker = DockerRuntime::new();
    let gvisor = docker.sibling(runtime_gvisor::Gvisor);
    vec![
        Arc::new(docker),
        Arc::new(gvisor),
        Arc::new(AppleRuntime::new()),
    ]
}

/// `BERTH_RUNTIME`, as set.
fn env() -> Option<String> {
    std::env::var(select::ENV_VAR).ok()
}

/// The engines berth would talk to now (no engine is asked).
pub fn engine_ids() -> Vec<String> {
    candidates().iter().map(|r| r.engine_id()).collect()
}

/// The runtime `--runtime` or `BERTH_RUNTIME` names, if one (not `auto`).
pub fn requested(flag: Option<RuntimeChoice>) -> Result<Option<runtime_core::RuntimeKind>, Error> {
    Ok(select::select(flag, None, env().as_deref())?
        .requested
        .kind())
}

/// Probes every backend (the Docker engine once for docker and gvisor).
pub async fn probe_all() -> (Vec<Probed>, HostFacts) {
    select::probe(&candidates(), None, &RealHost).await
}

/// Chooses the backend for a command that reads a config.
pub async fn choose(config: &Config, flag: Option<RuntimeChoice>) -> Result<Chosen, Error> {
    select::choose(&candidates(), flag, config, &RealHost).await
}

/// Fresh backends to search for existing runs (see [`select::search`]).
pub fn search_runtimes(flag: Option<RuntimeChoice>) -> Result<Vec<Arc<dyn Runtime>>, Error> {
    Ok(select::search(&candidates(), flag, env().as_deref())?.0)
}

/// Lists sandboxes on every searched backend.
pub async fn list_all(flag: Option<RuntimeChoice>, all: bool) -> Result<Vec<SandboxInfo>, Error> {
    select::list_all(&candidates(), flag, env().as_deref(), all).await
}

/// Finds a run by name, run id or id, with the backend of its runtime.
pub async fn locate(
    flag: Option<RuntimeChoice>,
    name: &str,
) -> Result<(Arc<dyn Runtime>, SandboxInfo), Error> {
    select::locate(&candidates(), flag, env().as_deref(), name).await
}
