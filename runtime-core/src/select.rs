//! Which runtime a command uses: `--runtime`, then the config's `runtime`, then
//! `BERTH_RUNTIME`, then auto. The source is kept so `plan` and `doctor` can say it.
//!
//! The functions here take the backends a program has, already built, as
//! `Arc<dyn Runtime>` candidates (berth's CLI passes docker, gvisor and apple; an
//! embedding crate may pass just one): [`choose`] probes and picks one for a
//! config, [`probe`] probes them all (for `doctor`), and [`search`], [`list_all`]
//! and [`locate`] find existing runs. Backends that drive one engine (docker and
//! gvisor, see [`Runtime::engine_id`]) are probed once and searched once.
//!
//! ```no_run
//! # async fn demo(docker: std::sync::Arc<dyn runtime_core::Runtime>) -> Result<(), runtime_core::Error> {
//! use runtime_core::{Config, RealHost, prepare, select};
//! let config = Config::load("berth.toml".as_ref())?;
//! let chosen = select::choose(&[docker], None, &config, &RealHost).await?;
//! let plan = prepare(&config, &chosen.probed.caps, &chosen.host)?;
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::Serialize;

use crate::capabilities::{Capabilities, RuntimeChoice, RuntimeKind};
use crate::config::{Config, DockerMode};
use crate::error::Error;
use crate::host::{HostEnv, HostFacts, Os};
use crate::runtime::{ProbeReport, Runtime, SandboxInfo};

/// The environment variable that picks a runtime.
pub const ENV_VAR: &str = "BERTH_RUNTIME";

/// What chose the runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SelectionSource {
    /// `--runtime`.
    Flag,
    /// `[sandbox] runtime` in the config.
    Config,
    /// The `BERTH_RUNTIME` variable.
    Env,
    /// Nothing asked: the default.
    Default,
}

impl fmt::Display for SelectionSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Flag => "--runtime",
            Self::Config => "runtime in the config",
            Self::Env => "BERTH_RUNTIME",
            Self::Default => "default",
        })
    }
}

/// The requested runtime and what requested it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Selection {
    /// What was asked for (possibly `auto`).
    pub requested: RuntimeChoice,
    /// Who asked.
    pub source: SelectionSource,
}

/// Applies the selection order.
pub fn select(
    flag: Option<RuntimeChoice>,
    config: Option<RuntimeChoice>,
    env: Option<&str>,
) -> Result<Selection, Error> {
    if let Some(requested) = flag {
        return Ok(Selection {
            requested,
            source: SelectionSource::Flag,
        });
    }
    if let Some(requested) = config {
        return Ok(Selection {
            requested,
            source: SelectionSource::Config,
        });
    }
    if let Some(value) = env.map(str::trim).filter(|v| !v.is_empty()) {
        let requested = value.parse().map_err(|message: String| Error::Usage {
            message: format!("{ENV_VAR}: {message}"),
        })?;
        return Ok(Selection {
            requested,
            source: SelectionSource::Env,
        });
    }
    Ok(Selection {
        requested: RuntimeChoice::AUTO,
        source: SelectionSource::Default,
    })
}

/// The runtime a choice means, given each runtime's capabilities on this host:
/// auto picks gVisor when available, else Docker, else Apple on macOS.
pub fn resolve_choice(
    choice: RuntimeChoice,
    os: Os,
    capabilities: &[Capabilities],
) -> Result<RuntimeKind, Error> {
    // Auto picks only a runtime that is there and passed its self-test.
    let available = |kind: RuntimeKind| {
        capabilities.iter().any(|c| {
            c.runtime == kind && c.availability.is_available() && c.functional.problem().is_none()
        })
    };
    match choice.kind() {
        Some(kind) => Ok(kind),
        None => {
            if available(RuntimeKind::Gvisor) {
                Ok(RuntimeKind::Gvisor)
            } else if available(RuntimeKind::Docker) {
                Ok(RuntimeKind::Docker)
            } else if os == Os::Macos && available(RuntimeKind::Apple) {
                Ok(RuntimeKind::Apple)
            } else if let Some(denied) = capabilities
                .iter()
                .find(|c| matches!(c.availability, crate::Availability::Denied { .. }))
            {
                // The engine runs but refuses berth: that is the fix the user needs.
                Err(denied
                    .availability
                    .to_error(denied.runtime)
                    .unwrap_or_else(|| Error::Usage {
                        message: "no runtime is available".to_owned(),
                    }))
            } else {
                let reasons: Vec<String> = capabilities
                    .iter()
                    .filter_map(|c| {
                        c.availability
                            .problem()
                            .map(|(reason, _)| format!("{}: {reason}", c.runtime))
                    })
                    .collect();
                Err(Error::Unavailable {
                    runtime: RuntimeKind::Docker,
                    reason: format!("no runtime is available ({})", reasons.join("; ")),
                    fix: "run `berth doctor` to see what each runtime needs".to_owned(),
                })
            }
        }
    }
}

/// A backend with what its probe found.
#[derive(Clone)]
#[non_exhaustive]
pub struct Probed {
    /// The backend.
    pub runtime: Arc<dyn Runtime>,
    /// Its capabilities on this host.
    pub caps: Capabilities,
}

impl fmt::Debug for Probed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Probed")
            .field("runtime", &self.runtime.kind())
            .field("caps", &self.caps)
            .finish()
    }
}

/// The backend a command uses, and why.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Chosen {
    /// The backend and its probe.
    pub probed: Probed,
    /// What chose it.
    pub selection: Selection,
    /// The host facts resolution uses.
    pub host: HostFacts,
}

/// Probes `candidates` (once per engine: backends with one [`Runtime::engine_id`]
/// share the first one's probe) and gathers the host facts: the engine's from the
/// first probe that has them, the socket from the first backend that has one, the
/// paths and secret names from `config`, the rest from `host`.
pub async fn probe(
    candidates: &[Arc<dyn Runtime>],
    config: Option<&Config>,
    host: &(dyn HostEnv + Sync),
) -> (Vec<Probed>, HostFacts) {
    let mut reports: Vec<(String, ProbeReport)> = Vec::new();
    for runtime in candidates {
        let engine = runtime.engine_id();
        if !reports.iter().any(|(id, _)| *id == engine) {
            let report = runtime.probe().await;
            reports.push((engine, report));
        }
    }
    let secrets: Vec<String> = config
        .map(|c| c.secret_names().into_iter().map(str::to_owned).collect())
        .unwrap_or_default();
    let paths = config.map(Config::host_paths).unwrap_or_default();
    let engine = reports.iter().find_map(|(_, r)| r.engine.clone());
    let socket = candidates.iter().find_map(|r| r.engine_socket(host));
    let mut facts = HostFacts::gather(host, &secrets, &paths, engine, socket);
    if let Some(config) = config
        && config.docker_mode() == DockerMode::Host
    {
        let labels = BTreeMap::from([(crate::labels::SANDBOX.to_owned(), config.sandbox_name())]);
        ask_remote_socket(candidates, &mut facts, &labels).await;
    }
    let mut probed: Vec<Probed> = candidates
        .iter()
        .filter_map(|runtime| {
            let engine = runtime.engine_id();
            let (_, report) = reports.iter().find(|(id, _)| *id == engine)?;
            Some(Probed {
                runtime: runtime.clone(),
                caps: runtime.capabilities(&facts, report),
            })
        })
        .collect();
    for p in &mut probed {
        if p.caps.availability.is_available()
            && let Some(found) = p.runtime.self_test(&p.caps).await
        {
            p.caps.functional = found;
        }
    }
    (probed, facts)
}

/// Completes a remote engine's socket facts (see [`Runtime::remote_socket`]):
/// asks the backend that reported the remote engine where the engine's socket
/// is on its own host, once; anything it creates there carries `labels`. Does
/// nothing when the engine is local or was already asked. [`probe`] calls this
/// for a config in docker `host` mode; `berth doctor` calls it to show the
/// socket.
pub async fn ask_remote_socket(
    candidates: &[Arc<dyn Runtime>],
    facts: &mut HostFacts,
    labels: &BTreeMap<String, String>,
) {
    let Some(crate::host::SocketFacts::Remote { on_host, .. }) = &mut facts.socket else {
        return;
    };
    if on_host.is_some() {
        return;
    }
    if facts.engine.is_none() {
        // Asking would wait for an engine that has just not answered.
        *on_host = Some(crate::host::RemoteSocket::Unknown {
            reason: "the engine did not answer berth's probe".to_owned(),
        });
        return;
    }
    for runtime in candidates {
        if let Some(found) = runtime.remote_socket(facts, labels).await {
            if let Some(crate::host::SocketFacts::Remote { on_host, .. }) = &mut facts.socket {
                *on_host = Some(found);
            }
            return;
        }
    }
}

/// Chooses the backend for `config` among `candidates`: applies the selection
/// order (`flag`, the config's `runtime`, `BERTH_RUNTIME` as `host` has it), probes
/// the backend asked for (every candidate for auto), and picks per
/// [`resolve_choice`].
pub async fn choose(
    candidates: &[Arc<dyn Runtime>],
    flag: Option<RuntimeChoice>,
    config: &Config,
    host: &(dyn HostEnv + Sync),
) -> Result<Chosen, Error> {
    let env = host.var(ENV_VAR);
    let configured = config.runtime();
    let selection = select(flag, configured, env.as_deref())?;
    let asked: Vec<Arc<dyn Runtime>> = match selection.requested.kind() {
        Some(kind) => vec![candidate(candidates, kind)?],
        None => candidates.to_vec(),
    };
    let (probed, host) = probe(&asked, Some(config), host).await;
    let caps: Vec<Capabilities> = probed.iter().map(|p| p.caps.clone()).collect();
    let kind = resolve_choice(selection.requested, host.os, &caps)?;
    let probed = probed
        .into_iter()
        .find(|p| p.caps.runtime == kind)
        .ok_or_else(|| missing_backend(candidates, kind))?;
    Ok(Chosen {
        probed,
        selection,
        host,
    })
}

/// The candidate of `kind`.
fn candidate(
    candidates: &[Arc<dyn Runtime>],
    kind: RuntimeKind,
) -> Result<Arc<dyn Runtime>, Error> {
    candidates
        .iter()
        .find(|r| r.kind() == kind)
        .cloned()
        .ok_or_else(|| missing_backend(candidates, kind))
}

fn missing_backend(candidates: &[Arc<dyn Runtime>], kind: RuntimeKind) -> Error {
    let have: Vec<String> = candidates.iter().map(|r| r.kind().to_string()).collect();
    Error::Unavailable {
        runtime: kind,
        reason: format!("this program has no {kind} backend"),
        fix: format!("use one it has: {}", have.join(", ")),
    }
}

/// The backends to search for existing runs: the one asked for (by `flag`, else
/// `env`, the value of `BERTH_RUNTIME`), else one per engine. The flag says whether
/// one was asked for: then its errors are the caller's, not a sign that an engine
/// is absent. No probe: the first request says whether an engine is there, which
/// keeps exec fast.
pub fn search(
    candidates: &[Arc<dyn Runtime>],
    flag: Option<RuntimeChoice>,
    env: Option<&str>,
) -> Result<(Vec<Arc<dyn Runtime>>, bool), Error> {
    let selection = select(flag, None, env)?;
    if let Some(kind) = selection.requested.kind() {
        return Ok((vec![candidate(candidates, kind)?], true));
    }
    let mut engines: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for runtime in candidates {
        let engine = runtime.engine_id();
        if !engines.contains(&engine) {
            engines.push(engine);
            out.push(runtime.clone());
        }
    }
    Ok((out, false))
}

/// Whether an error only says that a backend is not there to ask.
fn absent(err: &Error) -> bool {
    matches!(
        err,
        Error::Unavailable { .. } | Error::PermissionDenied { .. } | Error::Unsupported { .. }
    )
}

/// Lists sandboxes on every searched backend (see [`search`]). Fails only when
/// none could be asked (with the first backend's reason) or when one failed for
/// another reason.
pub async fn list_all(
    candidates: &[Arc<dyn Runtime>],
    flag: Option<RuntimeChoice>,
    env: Option<&str>,
    all: bool,
) -> Result<Vec<SandboxInfo>, Error> {
    let (searched, explicit) = search(candidates, flag, env)?;
    let mut out = Vec::new();
    let mut reached = false;
    let mut first_absent = None;
    for runtime in searched {
        match runtime.list(all).await {
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

/// Finds a run by name, run id or id on the searched backends (see [`search`]),
/// and returns it with the backend of its own runtime: a gvisor run found on the
/// engine it shares with docker comes back with the gvisor backend, so what is
/// done to it, and its errors, are gvisor's.
pub async fn locate(
    candidates: &[Arc<dyn Runtime>],
    flag: Option<RuntimeChoice>,
    env: Option<&str>,
    name: &str,
) -> Result<(Arc<dyn Runtime>, SandboxInfo), Error> {
    let (searched, explicit) = search(candidates, flag, env)?;
    let mut reached = false;
    let mut first_absent = None;
    for runtime in searched {
        match runtime.find(name).await {
            Ok(info) => {
                let engine = runtime.engine_id();
                let own = candidates
                    .iter()
                    .find(|r| r.kind() == info.runtime && r.engine_id() == engine)
                    .cloned()
                    .unwrap_or(runtime);
                return Ok((own, info));
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capabilities::{Availability, LimitNotes, LimitSupport, Support};

    fn caps(runtime: RuntimeKind, available: bool) -> Capabilities {
        Capabilities {
            runtime,
            availability: if available {
                Availability::Available
            } else {
                Availability::Unavailable {
                    reason: "not here".to_owned(),
                    fix: "install it".to_owned(),
                }
            },
            oci_runtime: None,
            socket_mount: Support::Supported,
            privileged: Support::Supported,
            user_network_dns: Support::Supported,
            egress_proxy: Support::Supported,
            init: Support::Supported,
            init_exec: Support::Supported,
            functional: Support::Supported,
            network_none: true,
            limits: LimitSupport {
                cpus: true,
                memory: true,
                pids: true,
            },
            limit_notes: LimitNotes::default(),
            non_root_fallback: true,
            shared_network: Support::Supported,
            default_network: "bridge".to_owned(),
            engine_socket_fix: "start the engine".to_owned(),
            no_new_privileges: Support::Supported,
            tmpfs_options: true,
        }
    }

    #[test]
    fn flag_beats_config_beats_env_beats_default() {
        let s = select(
            Some(RuntimeKind::Docker.into()),
            Some(RuntimeKind::Apple.into()),
            Some("gvisor"),
        )
        .unwrap();
        assert_eq!(
            (s.requested, s.source),
            (RuntimeKind::Docker.into(), SelectionSource::Flag)
        );
        let s = select(None, Some(RuntimeKind::Apple.into()), Some("gvisor")).unwrap();
        assert_eq!(
            (s.requested, s.source),
            (RuntimeKind::Apple.into(), SelectionSource::Config)
        );
        let s = select(None, None, Some("gvisor")).unwrap();
        assert_eq!(
            (s.requested, s.source),
            (RuntimeKind::Gvisor.into(), SelectionSource::Env)
        );
        let s = select(None, None, Some("")).unwrap();
        assert_eq!(
            (s.requested, s.source),
            (RuntimeChoice::AUTO, SelectionSource::Default)
        );
        let err = select(None, None, Some("podman")).unwrap_err();
        assert_eq!(err.category(), crate::error::Category::Usage);
        assert!(err.to_string().contains("BERTH_RUNTIME"), "{err}");
    }

    #[test]
    fn auto_skips_a_runtime_that_failed_its_self_test_and_an_explicit_choice_keeps_it() {
        let mut gvisor = caps(RuntimeKind::Gvisor, true);
        gvisor.functional = Support::Unsupported {
            reason: "statx fails".to_owned(),
            fix: "a newer runsc".to_owned(),
        };
        let all = vec![caps(RuntimeKind::Docker, true), gvisor];
        assert_eq!(
            resolve_choice(RuntimeChoice::AUTO, Os::Linux, &all).unwrap(),
            RuntimeKind::Docker
        );
        assert_eq!(
            resolve_choice(RuntimeKind::Gvisor.into(), Os::Linux, &all).unwrap(),
            RuntimeKind::Gvisor
        );
    }

    #[test]
    fn auto_prefers_gvisor_then_docker_then_apple_on_macos() {
        let all = |g, d, a| {
            vec![
                caps(RuntimeKind::Docker, d),
                caps(RuntimeKind::Gvisor, g),
                caps(RuntimeKind::Apple, a),
            ]
        };
        let auto = |os, c: &[Capabilities]| resolve_choice(RuntimeChoice::AUTO, os, c);
        assert_eq!(
            auto(Os::Linux, &all(true, true, false)).unwrap(),
            RuntimeKind::Gvisor
        );
        assert_eq!(
            auto(Os::Linux, &all(false, true, false)).unwrap(),
            RuntimeKind::Docker
        );
        assert_eq!(
            auto(Os::Macos, &all(false, false, true)).unwrap(),
            RuntimeKind::Apple
        );
        assert_eq!(
            auto(Os::Linux, &all(false, false, true))
                .unwrap_err()
                .category(),
            crate::error::Category::Unavailable
        );
        // An explicit choice is honoured even when unavailable (launch says why).
        assert_eq!(
            resolve_choice(
                RuntimeKind::Docker.into(),
                Os::Linux,
                &all(true, false, false)
            )
            .unwrap(),
            RuntimeKind::Docker
        );
    }

    /// A backend that only probes, reports capabilities and lists; it counts its
    /// probes. `engine` names the engine it shares (or not) with the others.
    struct Fake {
        kind: RuntimeKind,
        engine: &'static str,
        available: bool,
        probes: std::sync::atomic::AtomicUsize,
        sandboxes: Vec<SandboxInfo>,
    }

    impl Fake {
        fn new(kind: RuntimeKind, engine: &'static str, available: bool) -> Arc<Self> {
            Self::listing(kind, engine, available, Vec::new())
        }

        fn listing(
            kind: RuntimeKind,
            engine: &'static str,
            available: bool,
            sandboxes: Vec<SandboxInfo>,
        ) -> Arc<Self> {
            Arc::new(Self {
                kind,
                engine,
                available,
                probes: Default::default(),
                sandboxes,
            })
        }

        fn probes(&self) -> usize {
            self.probes.load(std::sync::atomic::Ordering::SeqCst)
        }

        fn unsupported(&self, operation: &'static str) -> Error {
            Error::Unsupported {
                runtime: self.kind,
                operation,
                reason: "a fake".to_owned(),
            }
        }
    }

    #[async_trait::async_trait]
    impl Runtime for Fake {
        fn kind(&self) -> RuntimeKind {
            self.kind
        }
        fn engine_id(&self) -> String {
            self.engine.to_owned()
        }
        async fn probe(&self) -> ProbeReport {
            self.probes
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            ProbeReport {
                availability: caps(self.kind, self.available).availability,
                engine: None,
            }
        }
        fn capabilities(&self, _host: &HostFacts, probe: &ProbeReport) -> Capabilities {
            Capabilities {
                availability: probe.availability.clone(),
                ..caps(self.kind, true)
            }
        }
        async fn ensure_image(
            &self,
            _image: &crate::plan::ImageSource,
            _progress: crate::runtime::Progress<'_>,
        ) -> Result<(), Error> {
            Err(self.unsupported("ensure_image"))
        }
        async fn create(&self, _spec: &crate::CreateSpec<'_>) -> Result<String, Error> {
            Err(self.unsupported("create"))
        }
        async fn start(&self, _id: &str) -> Result<(), Error> {
            Err(self.unsupported("start"))
        }
        async fn attach(&self, _id: &str, _stdin: bool) -> Result<crate::Session, Error> {
            Err(self.unsupported("attach"))
        }
        async fn wait(&self, _id: &str) -> Result<i64, Error> {
            Err(self.unsupported("wait"))
        }
        async fn exec(&self, _id: &str, _spec: &crate::ExecSpec) -> Result<crate::Session, Error> {
            Err(self.unsupported("exec"))
        }
        async fn logs(
            &self,
            _id: &str,
            _options: &crate::LogOptions,
        ) -> Result<crate::runtime::OutputStream, Error> {
            Err(self.unsupported("logs"))
        }
        async fn stop(&self, _id: &str, _grace: std::time::Duration) -> Result<(), Error> {
            Err(self.unsupported("stop"))
        }
        async fn remove(&self, _run_id: &crate::RunId) -> Result<crate::Removed, Error> {
            Err(self.unsupported("remove"))
        }
        async fn list(&self, _all: bool) -> Result<Vec<SandboxInfo>, Error> {
            if self.available {
                Ok(self.sandboxes.clone())
            } else {
                Err(caps(self.kind, false)
                    .availability
                    .to_error(self.kind)
                    .expect("unavailable"))
            }
        }
    }

    #[tokio::test]
    async fn a_remote_socket_is_asked_only_of_an_engine_that_answered_and_only_once() {
        use crate::host::{RemoteSocket, SocketFacts};
        let remote = |on_host| SocketFacts::Remote {
            docker_host: "tcp://box:2376 (TLS)".to_owned(),
            on_host,
        };
        let mut facts = HostFacts::gather(&Env(None), &[], &[], None, Some(remote(None)));
        ask_remote_socket(&[], &mut facts, &BTreeMap::new()).await;
        assert_eq!(
            facts.socket,
            Some(remote(Some(RemoteSocket::Unknown {
                reason: "the engine did not answer berth's probe".to_owned()
            })))
        );
        // Already asked, or a local socket: left as it is.
        let found = remote(Some(RemoteSocket::Found {
            path: "/var/run/docker.sock".into(),
            gid: 998,
            mode: 0o660,
            cached: true,
        }));
        let local = SocketFacts::Missing {
            path: "/var/run/docker.sock".into(),
            source: "default path".to_owned(),
            reason: "gone".to_owned(),
        };
        for socket in [found, local] {
            let mut facts = HostFacts::gather(&Env(None), &[], &[], None, Some(socket.clone()));
            ask_remote_socket(&[], &mut facts, &BTreeMap::new()).await;
            assert_eq!(facts.socket, Some(socket));
        }
    }

    fn sandbox(name: &str, runtime: RuntimeKind) -> SandboxInfo {
        SandboxInfo {
            id: format!("{name}-id"),
            name: name.to_owned(),
            run_id: Some(crate::RunId::random()),
            foreign: None,
            runtime,
            oci_runtime: None,
            image: "i".to_owned(),
            state: crate::SandboxState::Running,
            status: String::new(),
            created: 0,
            exit_code: None,
            labels: Default::default(),
        }
    }

    fn config(runtime: Option<&str>) -> Config {
        let line = runtime.map_or_else(String::new, |r| format!("runtime = \"{r}\"\n"));
        Config::parse(
            "berth.toml".as_ref(),
            &format!("[sandbox]\nimage = \"i\"\n{line}"),
            "/w".into(),
        )
        .expect("config")
    }

    /// The real host's facts, with `BERTH_RUNTIME` as given.
    struct Env(Option<&'static str>);

    impl HostEnv for Env {
        fn var(&self, name: &str) -> Option<String> {
            (name == ENV_VAR)
                .then(|| self.0.map(str::to_owned))
                .flatten()
        }
        fn stat(&self, _path: &std::path::Path) -> std::io::Result<crate::FileStat> {
            Err(std::io::Error::from(std::io::ErrorKind::NotFound))
        }
        fn cap_bounding_set(&self) -> Option<u64> {
            None
        }
        fn os(&self) -> Os {
            Os::Linux
        }
        fn canonicalize(&self, path: &std::path::Path) -> std::io::Result<std::path::PathBuf> {
            Ok(path.to_owned())
        }

        fn helper(&self) -> Result<std::path::PathBuf, String> {
            Err("no helper on this fake host".to_owned())
        }
    }

    #[tokio::test]
    async fn backends_of_one_engine_are_probed_once_and_auto_prefers_gvisor() {
        let docker = Fake::new(RuntimeKind::Docker, "engine-a", true);
        let gvisor = Fake::new(RuntimeKind::Gvisor, "engine-a", true);
        let apple = Fake::new(RuntimeKind::Apple, "apple", false);
        let candidates: Vec<Arc<dyn Runtime>> = vec![docker.clone(), gvisor.clone(), apple.clone()];
        let chosen = choose(&candidates, None, &config(None), &Env(None))
            .await
            .expect("chosen");
        assert_eq!(chosen.probed.runtime.kind(), RuntimeKind::Gvisor);
        assert_eq!(chosen.probed.caps.runtime, RuntimeKind::Gvisor);
        assert_eq!(chosen.selection.source, SelectionSource::Default);
        assert_eq!(
            (docker.probes(), gvisor.probes(), apple.probes()),
            (1, 0, 1)
        );

        let chosen = choose(
            &candidates,
            None,
            &config(Some("docker")),
            &Env(Some("apple")),
        )
        .await
        .expect("chosen");
        assert_eq!(chosen.probed.runtime.kind(), RuntimeKind::Docker);
        assert_eq!(chosen.selection.source, SelectionSource::Config);
        assert_eq!(apple.probes(), 1, "only the backend asked for is probed");

        let chosen = choose(&candidates, None, &config(None), &Env(Some("apple")))
            .await
            .expect("an explicit choice is kept even when unavailable");
        assert_eq!(chosen.probed.runtime.kind(), RuntimeKind::Apple);
        assert!(!chosen.probed.caps.availability.is_available());
    }

    #[tokio::test]
    async fn a_backend_the_program_lacks_is_unavailable_and_names_what_it_has() {
        let candidates: Vec<Arc<dyn Runtime>> = vec![Fake::new(RuntimeKind::Docker, "e", true)];
        let err = choose(
            &candidates,
            Some(RuntimeKind::Gvisor.into()),
            &config(None),
            &Env(None),
        )
        .await
        .expect_err("no gvisor backend");
        assert_eq!(err.category(), crate::error::Category::Unavailable);
        assert!(err.to_string().contains("no gvisor backend"), "{err}");
        assert!(err.to_string().contains("use one it has: docker"), "{err}");
    }

    #[tokio::test]
    async fn a_run_is_searched_once_per_engine_and_returned_with_its_own_backend() {
        let docker = Fake::listing(
            RuntimeKind::Docker,
            "engine-a",
            true,
            vec![
                sandbox("d", RuntimeKind::Docker),
                sandbox("g", RuntimeKind::Gvisor),
            ],
        );
        let gvisor = Fake::listing(
            RuntimeKind::Gvisor,
            "engine-a",
            true,
            vec![
                sandbox("d", RuntimeKind::Docker),
                sandbox("g", RuntimeKind::Gvisor),
            ],
        );
        let apple = Fake::new(RuntimeKind::Apple, "apple", false);
        let candidates: Vec<Arc<dyn Runtime>> = vec![docker, gvisor, apple];

        let (searched, explicit) = search(&candidates, None, None).expect("search");
        let kinds: Vec<RuntimeKind> = searched.iter().map(|r| r.kind()).collect();
        assert_eq!(kinds, [RuntimeKind::Docker, RuntimeKind::Apple]);
        assert!(!explicit);
        let listed = list_all(&candidates, None, None, true).await.expect("list");
        assert_eq!(
            listed.len(),
            2,
            "the shared engine is listed once, apple is absent"
        );

        let (runtime, info) = locate(&candidates, None, None, "g").await.expect("found");
        assert_eq!(info.runtime, RuntimeKind::Gvisor);
        assert_eq!(runtime.kind(), RuntimeKind::Gvisor);
        let (runtime, _) = locate(&candidates, None, None, "d").await.expect("found");
        assert_eq!(runtime.kind(), RuntimeKind::Docker);
        assert!(matches!(
            locate(&candidates, None, None, "nope").await,
            Err(Error::NotFound { .. })
        ));
        // Asked for explicitly, an absent backend's error is the answer.
        assert!(matches!(
            list_all(&candidates, Some(RuntimeKind::Apple.into()), None, true).await,
            Err(Error::Unavailable { .. })
        ));
        assert!(matches!(
            locate(&candidates, None, Some("apple"), "g").await,
            Err(Error::Unavailable { .. })
        ));
    }
}
