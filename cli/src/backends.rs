//! Building backends, probing them, and choosing one for a command.

use std::sync::Arc;

use runtime_apple::AppleRuntime;
use runtime_core::{
    Capabilities, Config, Error, HostFacts, ProbeReport, RealHost, Runtime, RuntimeChoice,
    RuntimeKind, Selection, select,
};
use runtime_docker::DockerRuntime;

/// A backend with what its probe found.
pub struct Probed {
    /// The backend.
    pub runtime: Arc<dyn Runtime>,
    /// Its capabilities on this host.
    pub caps: Capabilities,
}

/// The backend a command uses, and why.
pub struct Chosen {
    /// The backend and its probe.
    pub probed: Probed,
    /// What chose it.
    pub selection: Selection,
    /// The host facts resolution used.
    pub host: HostFacts,
}

/// A fresh backend of `kind`.
pub fn runtime_for(kind: RuntimeKind) -> Arc<dyn Runtime> {
    match kind {
        RuntimeKind::Docker => Arc::new(DockerRuntime::new()),
        RuntimeKind::Gvisor => Arc::new(runtime_gvisor::runtime()),
        RuntimeKind::Apple => Arc::new(AppleRuntime::new()),
    }
}

/// Gathers host facts; `engine` comes from the Docker probe when there is one, and
/// the socket from the Docker backend.
fn host_facts(config: Option<&Config>, docker: Option<(&ProbeReport, &dyn Runtime)>) -> HostFacts {
    let secrets: Vec<String> = config
        .map(|c| {
            c.file
                .secrets
                .names
                .iter()
                .map(|n| n.get_ref().clone())
                .collect()
        })
        .unwrap_or_default();
    let paths = config.map(Config::host_paths).unwrap_or_default();
    HostFacts::gather(
        &RealHost,
        &secrets,
        &paths,
        docker.and_then(|(p, _)| p.engine.clone()),
        docker.and_then(|(_, runtime)| runtime.engine_socket(&RealHost)),
    )
}

/// Probes the given kinds (the Docker engine once for docker and gvisor).
pub async fn probe(kinds: &[RuntimeKind], config: Option<&Config>) -> (Vec<Probed>, HostFacts) {
    let wants_engine = kinds
        .iter()
        .any(|k| matches!(k, RuntimeKind::Docker | RuntimeKind::Gvisor));
    let docker = runtime_for(RuntimeKind::Docker);
    let engine_probe = if wants_engine {
        Some(docker.probe().await)
    } else {
        None
    };
    let host = host_facts(config, engine_probe.as_ref().map(|p| (p, &*docker)));
    let mut out = Vec::new();
    for &kind in kinds {
        let runtime = if kind == RuntimeKind::Docker {
            docker.clone()
        } else {
            runtime_for(kind)
        };
        let probe = match (&engine_probe, kind) {
            (Some(p), RuntimeKind::Docker | RuntimeKind::Gvisor) => p.clone(),
            _ => runtime.probe().await,
        };
        let caps = runtime.capabilities(&host, &probe);
        out.push(Probed { runtime, caps });
    }
    (out, host)
}

/// Chooses the backend for a command that reads a config.
pub async fn choose(config: &Config, flag: Option<RuntimeChoice>) -> Result<Chosen, Error> {
    let env = std::env::var(select::ENV_VAR).ok();
    let configured = config.file.sandbox.runtime.as_ref().map(|r| *r.get_ref());
    let selection = select::select(flag, configured, env.as_deref())?;
    let kinds: Vec<RuntimeKind> = match selection.requested.kind() {
        Some(kind) => vec![kind],
        None => RuntimeKind::ALL.to_vec(),
    };
    let (probed, host) = probe(&kinds, Some(config)).await;
    let caps: Vec<Capabilities> = probed.iter().map(|p| p.caps.clone()).collect();
    let kind = select::resolve_choice(selection.requested, host.os, &caps)?;
    let probed = probed
        .into_iter()
        .find(|p| p.caps.runtime == kind)
        .ok_or_else(|| Error::Usage {
            message: format!("runtime {kind} was not probed"),
        })?;
    Ok(Chosen {
        probed,
        selection,
        host,
    })
}

/// Backends to search for existing runs: the one asked for, else every engine
/// (docker and gvisor share one engine, so it is searched once). No probe: the
/// first request says whether an engine is there, which keeps exec fast.
fn search_kinds(flag: Option<RuntimeChoice>) -> Result<(Vec<RuntimeKind>, bool), Error> {
    let env = std::env::var(select::ENV_VAR).ok();
    let selection = select::select(flag, None, env.as_deref())?;
    Ok(match selection.requested.kind() {
        Some(RuntimeKind::Docker | RuntimeKind::Gvisor) => (vec![RuntimeKind::Docker], true),
        Some(RuntimeKind::Apple) => (vec![RuntimeKind::Apple], true),
        None => (vec![RuntimeKind::Docker, RuntimeKind::Apple], false),
    })
}

/// Fresh backends of the searched kinds.
pub fn search_runtimes(flag: Option<RuntimeChoice>) -> Result<Vec<Arc<dyn Runtime>>, Error> {
    Ok(search_kinds(flag)?.0.into_iter().map(runtime_for).collect())
}

/// Whether an error only says that a backend is not there to ask.
fn absent(err: &Error) -> bool {
    matches!(
        err,
        Error::Unavailable { .. } | Error::PermissionDenied { .. } | Error::Unsupported { .. }
    )
}

/// Lists sandboxes on every searched backend. Fails only when none could be asked
/// (with the first backend's reason) or when one failed for another reason.
pub async fn list_all(
    flag: Option<RuntimeChoice>,
    all: bool,
) -> Result<Vec<runtime_core::SandboxInfo>, Error> {
    let (kinds, explicit) = search_kinds(flag)?;
    let mut out = Vec::new();
    let mut reached = false;
    let mut first_absent = None;
    for kind in kinds {
        match runtime_for(kind).list(all).await {
            Ok(found) => {
                reached = true;
                out.extend(found);
            }
            Err(err) if !explicit && absent(&err) => {
                first_absent.get_or_insert(err);
            }
            Err(err) => return Err(err),
        }
    }
    match (reached, first_absent) {
        (false, Some(err)) => Err(err),
        _ => Ok(out),
    }
}

/// Finds a run by name, run id or id in the searched backends.
pub async fn locate(
    flag: Option<RuntimeChoice>,
    name: &str,
) -> Result<(Arc<dyn Runtime>, runtime_core::SandboxInfo), Error> {
    let (kinds, explicit) = search_kinds(flag)?;
    let mut reached = false;
    let mut first_absent = None;
    for kind in kinds {
        let runtime = runtime_for(kind);
        match runtime.find(name).await {
            Ok(info) => return Ok((runtime, info)),
            Err(Error::NotFound { .. }) => reached = true,
            Err(err) if !explicit && absent(&err) => {
                first_absent.get_or_insert(err);
            }
            Err(err) => return Err(err),
        }
    }
    match (reached, first_absent) {
        (false, Some(err)) => Err(err),
        _ => Err(Error::NotFound {
            what: "sandbox",
            name: name.to_owned(),
        }),
    }
}
