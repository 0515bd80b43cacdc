//! The [`Runtime`] trait every backend implements, and the types that cross it.
//!
//! The trait is object-safe (`Arc<dyn Runtime>`): the CLI picks a backend at run time.
//! Streams are boxed; stdin is an [`AsyncWrite`] whose `shutdown()` closes the
//! process's stdin, which is what lets `berth exec -i` carry MCP's stdio exactly.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWrite;

use crate::capabilities::{Availability, Capabilities, RuntimeKind};
use crate::error::Error;
use crate::host::{EngineFacts, HostEnv, HostFacts, RemoteSocket, SocketFacts};
use crate::owner::HostIdentity;
use crate::plan::{ImageSource, Plan};
use crate::run_id::RunId;
use crate::terminal::DetachKeys;

/// A chunk of a process's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Standard output (or the TTY).
    Stdout(Bytes),
    /// Standard error.
    Stderr(Bytes),
}

/// A process's output, in order, until it ends.
pub type OutputStream = Pin<Box<dyn Stream<Item = Result<Output, Error>> + Send>>;

/// A process's stdin; `shutdown()` closes it (dropping it may not).
pub type InputSink = Pin<Box<dyn AsyncWrite + Send>>;

/// Resolves to an exit code once the output stream has ended.
pub type ExitFuture = Pin<Box<dyn Future<Output = Result<i64, Error>> + Send>>;

/// Receives progress lines during long waits (image builds): a build's start,
/// the steps that run and its end are [`crate::progress::BuildNote`]s, its own
/// output lines are marked ([`crate::progress::output_line`]).
pub type Progress<'a> = &'a (dyn Fn(&str) + Send + Sync);

/// What a backend's probe found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeReport {
    /// Whether the runtime can be used, and if not why.
    pub availability: Availability,
    /// What the engine said about itself, when it answered.
    pub engine: Option<EngineFacts>,
}

/// Everything needed to create one run's sandbox. Its `Debug` shows the
/// environment's names only.
///
/// Built with [`CreateSpec::new`] and the `with_*` setters; backends read its
/// fields.
#[derive(Clone)]
#[non_exhaustive]
pub struct CreateSpec<'a> {
    /// The resolved plan.
    pub plan: &'a Plan,
    /// The run's id (the `berth.run-id` label on everything created).
    pub run_id: RunId,
    /// The container's name.
    pub name: String,
    /// The full environment, secrets included; never logged.
    pub env: Vec<(String, String)>,
    /// Secrets bound to hosts, for the egress proxy; the environment holds their
    /// placeholders. Never logged.
    pub credentials: Vec<crate::egress::Credential>,
    /// Keep stdin open for an attach.
    pub stdin: bool,
    /// Allocate a TTY.
    pub tty: bool,
    /// The run's exec directory on this host, mounted at
    /// [`crate::init::EXEC_DIR`] for berth-init's socket; `None`: no init exec.
    pub exec_dir: Option<std::path::PathBuf>,
    /// Command override (else the plan's, else the image's).
    pub command: Option<Vec<String>>,
    /// The berth process that launches the run.
    pub owner_pid: u32,
    /// Where that process runs ([`HostIdentity::current`]); `None` where the host
    /// has none, and then no later berth judges the owner's liveness by its pid.
    pub owner_host: Option<HostIdentity>,
    /// Started with `-d`: the run outlives its berth process.
    pub detached: bool,
    /// When the run's TTL expires (seconds since the Unix epoch), if it has one.
    pub expires_at: Option<i64>,
    /// The warm pool the run is a member of (its key): berth-init waits on
    /// standby for the command ([`crate::pool`]).
    pub pool: Option<String>,
}

impl<'a> CreateSpec<'a> {
    /// The spec of run `run_id` of `plan`, in a container called `name`: no
    /// environment, no stdin, no terminal, the plan's command, owned by this
    /// process on this host ([`HostIdentity::current`]), and not detached.
    pub fn new(plan: &'a Plan, run_id: RunId, name: impl Into<String>) -> Self {
        Self {
            plan,
            run_id,
            name: name.into(),
            env: Vec::new(),
            credentials: Vec::new(),
            stdin: false,
            tty: false,
            exec_dir: None,
            command: None,
            owner_pid: std::process::id(),
            owner_host: HostIdentity::current(),
            detached: false,
            expires_at: None,
            pool: None,
        }
    }

    /// Makes the run a member of the warm pool `key`: its command waits for a
    /// claim.
    #[must_use]
    pub fn with_pool(mut self, key: impl Into<String>) -> Self {
        self.pool = Some(key.into());
        self
    }

    /// Sets the full environment, secrets included.
    #[must_use]
    pub fn with_env(mut self, env: Vec<(String, String)>) -> Self {
        self.env = env;
        self
    }

    /// Sets the secrets bound to hosts (their placeholders go in the environment).
    #[must_use]
    pub fn with_credentials(mut self, credentials: Vec<crate::egress::Credential>) -> Self {
        self.credentials = credentials;
        self
    }

    /// Keeps stdin open for an attach.
    #[must_use]
    pub fn with_stdin(mut self, stdin: bool) -> Self {
        self.stdin = stdin;
        self
    }

    /// Allocates a TTY.
    #[must_use]
    pub fn with_tty(mut self, tty: bool) -> Self {
        self.tty = tty;
        self
    }

    /// Mounts the run's exec directory (from [`crate::init::arm`]) for
    /// berth-init's socket.
    #[must_use]
    pub fn with_exec_dir(mut self, dir: std::path::PathBuf) -> Self {
        self.exec_dir = Some(dir);
        self
    }

    /// Runs `command` instead of the plan's (and the image's).
    #[must_use]
    pub fn with_command(mut self, command: Vec<String>) -> Self {
        self.command = Some(command);
        self
    }

    /// Names the berth process that launches the run and where it runs (`None`
    /// where the host has no identity).
    #[must_use]
    pub fn with_owner(mut self, pid: u32, host: Option<HostIdentity>) -> Self {
        self.owner_pid = pid;
        self.owner_host = host;
        self
    }

    /// Starts the run detached: it outlives its berth process, until
    /// `expires_at` (seconds since the Unix epoch) when given.
    #[must_use]
    pub fn with_detached(mut self, expires_at: Option<i64>) -> Self {
        self.detached = true;
        self.expires_at = expires_at;
        self
    }

    /// Every label the run's resources carry: the plan's, the run id, the owner
    /// and where it runs, detached or not, with a terminal or not, and the TTL. Each `berth.*` label berth
    /// reads later is always written (with [`labels::NEVER`] or [`labels::UNKNOWN`]
    /// when there is nothing to say), so an image's own `LABEL`s, which the engine
    /// copies onto the container, cannot set them.
    ///
    /// [`labels::NEVER`]: crate::labels::NEVER
    /// [`labels::UNKNOWN`]: crate::labels::UNKNOWN
    pub fn labels(&self) -> BTreeMap<String, String> {
        use crate::labels;
        let mut out = self.plan.labels_for_run(&self.run_id);
        out.insert(
            labels::MANAGED_BY.to_owned(),
            labels::MANAGED_BY_VALUE.to_owned(),
        );
        out.insert(labels::OWNER_PID.to_owned(), self.owner_pid.to_string());
        out.insert(
            labels::OWNER_HOST.to_owned(),
            self.owner_host
                .as_ref()
                .map_or_else(|| labels::UNKNOWN.to_owned(), ToString::to_string),
        );
        out.insert(labels::DETACHED.to_owned(), self.detached.to_string());
        out.insert(labels::TTY.to_owned(), self.tty.to_string());
        out.insert(
            labels::EXPIRES.to_owned(),
            labels::Expiry::label(self.expires_at),
        );
        if let Some(key) = &self.pool {
            out.insert(labels::POOL.to_owned(), key.clone());
        }
        out
    }
}

/// A command to run in a running sandbox. Its `Debug` shows the environment's
/// names only.
#[derive(Clone, Default)]
pub struct ExecSpec {
    /// Program and arguments.
    pub cmd: Vec<String>,
    /// Working directory inside.
    pub workdir: Option<String>,
    /// Extra environment; passed to the engine, never on a host command line.
    pub env: Vec<(String, String)>,
    /// User to run as (else the sandbox's).
    pub user: Option<String>,
    /// Connect stdin.
    pub stdin: bool,
    /// Allocate a TTY.
    pub tty: bool,
}

impl ExecSpec {
    /// Runs `cmd` with the sandbox's user, working directory and environment, no
    /// stdin and no terminal.
    pub fn new<S: Into<String>>(cmd: impl IntoIterator<Item = S>) -> Self {
        Self {
            cmd: cmd.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }
}

/// The names of an environment, for `Debug`: values may be secrets.
struct EnvNames<'a>(&'a [(String, String)]);

impl std::fmt::Debug for EnvNames<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(name, _)| format!("{name}=<hidden>")))
            .finish()
    }
}

impl std::fmt::Debug for CreateSpec<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateSpec")
            .field("plan", &self.plan)
            .field("run_id", &self.run_id)
            .field("name", &self.name)
            .field("env", &EnvNames(&self.env))
            .field("stdin", &self.stdin)
            .field("tty", &self.tty)
            .field("exec_dir", &self.exec_dir)
            .field("command", &self.command)
            .field("owner_pid", &self.owner_pid)
            .field("detached", &self.detached)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl std::fmt::Debug for ExecSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecSpec")
            .field("cmd", &self.cmd)
            .field("workdir", &self.workdir)
            .field("env", &EnvNames(&self.env))
            .field("user", &self.user)
            .field("stdin", &self.stdin)
            .field("tty", &self.tty)
            .finish()
    }
}

/// A running exec or attach.
pub struct Session {
    /// Stdin, when requested.
    pub input: Option<InputSink>,
    /// Output until the process ends (or detaches).
    pub output: OutputStream,
    /// The exit code; await after `output` ends.
    pub exit: ExitFuture,
    /// Window size and signals for the process, where the path the session
    /// took can carry them; `None` where it carries neither.
    pub control: Option<std::sync::Arc<dyn SessionControl>>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("input", &self.input.is_some())
            .field("control", &self.control.is_some())
            .finish_non_exhaustive()
    }
}

/// What a caller can do to a session's process besides writing its stdin.
/// A path that cannot carry one of them returns [`Error::Unsupported`] for it.
#[async_trait]
pub trait SessionControl: Send + Sync {
    /// Sets the window size of the session's terminal (a session with a TTY).
    async fn resize(&self, rows: u16, cols: u16) -> Result<(), Error>;

    /// Sends a signal (its number, such as 15 for SIGTERM) to the process.
    async fn signal(&self, signal: i32) -> Result<(), Error>;
}

/// Options for [`Runtime::logs`].
#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    /// Keep streaming until the sandbox stops.
    pub follow: bool,
    /// Only the last N lines.
    pub tail: Option<u64>,
}

/// The state of a sandbox as the engine reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum SandboxState {
    /// Created, never started.
    Created,
    /// Running.
    Running,
    /// Paused.
    Paused,
    /// Stopping or restarting.
    Stopping,
    /// Exited.
    Exited,
    /// Being removed, dead, or unknown to the engine.
    Unknown,
}

impl std::fmt::Display for SandboxState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Created => "created",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Stopping => "stopping",
            Self::Exited => "exited",
            Self::Unknown => "unknown",
        })
    }
}

/// One sandbox as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SandboxInfo {
    /// The engine's id.
    pub id: String,
    /// The name (what users type).
    pub name: String,
    /// The run it belongs to; `None` when its labels fail berth's checks (see
    /// `foreign`).
    pub run_id: Option<RunId>,
    /// Why it is foreign: it carries `berth.managed-by=berth` but no valid run id,
    /// so berth never acts on it. `None` for berth's own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub foreign: Option<String>,
    /// The berth runtime.
    pub runtime: RuntimeKind,
    /// The OCI runtime it runs under, when known.
    pub oci_runtime: Option<String>,
    /// Image reference.
    pub image: String,
    /// State.
    pub state: SandboxState,
    /// The engine's human status, such as "Up 3 minutes".
    pub status: String,
    /// Creation time, seconds since the Unix epoch.
    pub created: i64,
    /// Exit code, once exited.
    pub exit_code: Option<i64>,
    /// All labels.
    pub labels: BTreeMap<String, String>,
}

/// A kind of engine object other than a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ResourceKind {
    /// A network.
    Network,
    /// A volume.
    Volume,
    /// A container that serves a run's sandbox (such as its egress proxy); never
    /// listed as a sandbox.
    Sidecar,
}

/// A network or volume berth created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceInfo {
    /// Network or volume.
    pub kind: ResourceKind,
    /// Its name.
    pub name: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
}

/// What [`Runtime::remove`] removed. Backends start from `Removed::default()`;
/// more kinds of resource will be added.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Removed {
    /// Container names or ids.
    pub containers: Vec<String>,
    /// Network names.
    pub networks: Vec<String>,
    /// Volume names.
    pub volumes: Vec<String>,
}

impl Removed {
    /// Whether nothing was removed.
    pub fn is_empty(&self) -> bool {
        self.containers.is_empty() && self.networks.is_empty() && self.volumes.is_empty()
    }
}

/// A container runtime backend. Every method that a backend cannot perform returns
/// [`Error::Unsupported`]; none silently does nothing.
#[async_trait]
pub trait Runtime: Send + Sync {
    /// Which backend this is.
    fn kind(&self) -> RuntimeKind;

    /// Asks the runtime whether it is usable and what it is. Never fails: an
    /// unreachable engine is reported as [`Availability::Unavailable`] with a fix.
    async fn probe(&self) -> ProbeReport;

    /// What this runtime can do, from host facts and a probe. Pure.
    fn capabilities(&self, host: &HostFacts, probe: &ProbeReport) -> Capabilities;

    /// Names the engine this backend drives. Backends with one name share that
    /// engine (docker and gvisor): one probe serves them all, and listing one lists
    /// the others' sandboxes, so [`mod@crate::select`] asks only one of them. The
    /// default is the backend's own kind: an engine of its own.
    fn engine_id(&self) -> String {
        self.kind().to_string()
    }

    /// The engine socket this backend would mount into a sandbox in docker `host`
    /// mode, found and stat'ed on `host` (it becomes [`HostFacts::socket`]).
    /// Backends without one keep this default, `None`.
    fn engine_socket(&self, host: &dyn HostEnv) -> Option<SocketFacts> {
        let _ = host;
        None
    }

    /// Where the socket of a remote engine is on the engine's own host, and its
    /// group there, asked of that host (what becomes
    /// [`SocketFacts::Remote`]'s `on_host`): needed for docker `host` mode, since
    /// the engine's API does not say. It may create short-lived containers on the
    /// engine, carrying berth's labels and `labels` (such as the sandbox's
    /// name), and keep the answer per engine under `host.state_dir`. `None` when
    /// the engine is on this host, or the backend has no engine socket (the
    /// default).
    async fn remote_socket(
        &self,
        host: &HostFacts,
        labels: &BTreeMap<String, String>,
    ) -> Option<RemoteSocket> {
        let _ = (host, labels);
        None
    }

    /// Makes the image present: checks a reference exists locally, or builds it,
    /// reporting build output through `progress`. Docker: never pulls implicitly
    /// when the image is missing, it says how to get it.
    async fn ensure_image(&self, image: &ImageSource, progress: Progress<'_>) -> Result<(), Error>;

    /// The id of the image `image` names on the engine (a build's tag), without
    /// building or pulling it; `None` when it is not there, or when the backend
    /// cannot tell (this default). A warm pool keys its members with it.
    async fn image_id(&self, image: &ImageSource) -> Result<Option<String>, Error> {
        let _ = image;
        Ok(None)
    }

    /// Creates the run's networks, volumes and container, all labelled with the run
    /// id; returns the container's id. Nothing is started.
    async fn create(&self, spec: &CreateSpec<'_>) -> Result<String, Error>;

    /// Starts a created sandbox.
    async fn start(&self, id: &str) -> Result<(), Error>;

    /// Attaches to the sandbox's main process (stdin when `stdin`); call before
    /// [`Runtime::start`] to see all output. The session's exit resolves to the
    /// main process's exit code.
    async fn attach(&self, id: &str, stdin: bool) -> Result<Session, Error>;

    /// Attaches as [`Runtime::attach`] does, to a sandbox whose main process has
    /// a terminal, for a client that watches what the person types for `detach`
    /// (a [`DetachScanner`]) and leaves when it comes. An engine that has an escape
    /// sequence of its own (Docker's, ctrl-p ctrl-q unless told otherwise) is told
    /// to use `detach`, so it never acts on a sequence the client passed on; if it
    /// does read a whole one, it ends the output with the process still running.
    /// The default, for backends without such a sequence, is [`Runtime::attach`].
    ///
    /// [`DetachScanner`]: crate::terminal::DetachScanner
    async fn attach_terminal(
        &self,
        id: &str,
        stdin: bool,
        detach: &DetachKeys,
    ) -> Result<Session, Error> {
        let _ = detach;
        self.attach(id, stdin).await
    }

    /// Waits for the main process to exit and returns its exit code.
    async fn wait(&self, id: &str) -> Result<i64, Error>;

    /// Runs a command inside a running sandbox. With `stdin` and no `tty`, bytes
    /// pass through unchanged in both directions.
    async fn exec(&self, id: &str, spec: &ExecSpec) -> Result<Session, Error>;

    /// Runs a command with a terminal as [`Runtime::exec`] does, for a client that
    /// watches for `detach` as [`Runtime::attach_terminal`] says. The default, for
    /// backends without an escape sequence of their own, is [`Runtime::exec`].
    async fn exec_terminal(
        &self,
        id: &str,
        spec: &ExecSpec,
        detach: &DetachKeys,
    ) -> Result<Session, Error> {
        let _ = detach;
        self.exec(id, spec).await
    }

    /// The main process's output.
    async fn logs(&self, id: &str, options: &LogOptions) -> Result<OutputStream, Error>;

    /// Runs (or recalls) the runtime's self-test: ordinary kernel calls made in a
    /// container of berth's own under this runtime. `None` when the backend has
    /// none or cannot run it now (then nothing is assumed); otherwise why the
    /// runtime is not fit for ordinary tools, with the fix, or `Supported`.
    async fn self_test(&self, caps: &crate::Capabilities) -> Option<crate::Support> {
        let _ = caps;
        None
    }

    /// The audit log of a run's egress proxy: one JSON line per decision
    /// ([`crate::egress::AuditRecord`]) on stdout. A runtime that runs no proxy, or
    /// a run without one, answers [`Error::NotFound`].
    async fn egress_log(
        &self,
        run_id: &RunId,
        options: &LogOptions,
    ) -> Result<OutputStream, Error> {
        let _ = options;
        Err(Error::NotFound {
            what: "egress proxy of run",
            name: run_id.to_string(),
        })
    }

    /// Stops the sandbox: SIGTERM, then SIGKILL after `grace`.
    async fn stop(&self, id: &str, grace: Duration) -> Result<(), Error>;

    /// Starts a sandbox that ran and stopped, with what its run needs beside it
    /// (such as Docker's egress proxy, which [`Runtime::stop`] stopped) started
    /// first. The default starts the sandbox alone, for backends whose runs have
    /// nothing beside them.
    async fn start_stopped(&self, id: &str) -> Result<(), Error> {
        self.start(id).await
    }

    /// Removes everything labelled both `berth.managed-by=berth` and
    /// `berth.run-id=<run_id>` (containers, forcibly; networks; volumes). Missing
    /// resources are not an error. Safe to call twice.
    async fn remove(&self, run_id: &RunId) -> Result<Removed, Error>;

    /// berth's sandboxes on this runtime (`all`: stopped ones too).
    async fn list(&self, all: bool) -> Result<Vec<SandboxInfo>, Error>;

    /// berth's networks and volumes on this runtime, whether or not a container
    /// still uses them (what `berth gc` sweeps after a crash). Backends that
    /// create none may keep this default, which says so.
    async fn resources(&self) -> Result<Vec<ResourceInfo>, Error> {
        Err(Error::Unsupported {
            runtime: self.kind(),
            operation: "resources",
            reason: "this backend does not list networks and volumes".to_owned(),
        })
    }

    /// Every sandbox (stopped ones too) and every other resource of berth's on
    /// this runtime, as [`Runtime::list`] and [`Runtime::resources`] give them;
    /// backends that can list both at once override this (`berth gc` and the
    /// sweep of expired runs ask for both). No resources for a backend that
    /// lists none.
    async fn inventory(&self) -> Result<(Vec<SandboxInfo>, Vec<ResourceInfo>), Error> {
        let sandboxes = self.list(true).await?;
        match self.resources().await {
            Ok(resources) => Ok((sandboxes, resources)),
            Err(Error::Unsupported { .. }) => Ok((sandboxes, Vec::new())),
            Err(err) => Err(err),
        }
    }

    /// Removes what berth shares between runs on this runtime (Docker: the
    /// berth-owned network) when no sandbox uses it any more; returns the names
    /// removed. Something a sandbox joins meanwhile is kept. Backends that share
    /// nothing between runs may keep this default, which says so.
    async fn prune_shared(&self) -> Result<Vec<String>, Error> {
        Err(Error::Unsupported {
            runtime: self.kind(),
            operation: "prune shared resources",
            reason: "this backend shares nothing between runs".to_owned(),
        })
    }

    /// Finds one of berth's sandboxes by name, id, id prefix or run id. A foreign
    /// one (see [`SandboxInfo::foreign`]) is never returned: naming it is
    /// [`Error::Foreign`].
    async fn find(&self, name: &str) -> Result<SandboxInfo, Error> {
        let all = self.list(true).await?;
        let exact = all.iter().find(|s| {
            s.name == name || s.id == name || s.run_id.as_ref().is_some_and(|r| *r == name)
        });
        if let Some(found) = exact {
            if let Some(reason) = &found.foreign {
                return Err(Error::Foreign {
                    name: name.to_owned(),
                    reason: reason.clone(),
                });
            }
            return Ok(found.clone());
        }
        let all: Vec<SandboxInfo> = all.into_iter().filter(|s| s.foreign.is_none()).collect();
        let mut prefixed = all
            .into_iter()
            .filter(|s| name.len() >= 4 && s.id.starts_with(name));
        match (prefixed.next(), prefixed.next()) {
            (Some(one), None) => Ok(one),
            _ => Err(Error::NotFound {
                what: "sandbox",
                name: name.to_owned(),
            }),
        }
    }
}

/// Turns exit-code futures of a finished stream into a ready value (for tests and
/// simple backends).
pub fn ready_exit(code: i64) -> ExitFuture {
    Box::pin(async move { Ok(code) })
}

/// The default grace period before SIGKILL.
pub const DEFAULT_STOP_GRACE: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::ExecSpec;

    #[test]
    fn debug_never_shows_environment_values() {
        let spec = ExecSpec {
            cmd: vec!["true".to_owned()],
            env: vec![("TOKEN".to_owned(), "s3cr3t-value".to_owned())],
            ..ExecSpec::default()
        };
        let shown = format!("{spec:?}");
        assert!(shown.contains("TOKEN=<hidden>"), "{shown}");
        assert!(!shown.contains("s3cr3t-value"), "{shown}");
    }
}
