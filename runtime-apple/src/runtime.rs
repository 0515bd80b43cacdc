//! The Apple `container` backend's [`Runtime`] implementation: each method builds
//! its command lines with [`crate::argv`], runs them with the [`Runner`], parses
//! what they print with [`crate::model`], and converts a failure to
//! `runtime_core::Error` once, here.
//!
//! Two things differ from Docker, both because of what Apple's CLI offers:
//! - **attach** is `container start -a [-i] ID`, the only way the CLI connects to a
//!   container's main process. It starts the container too, so `start` after an
//!   `attach` of the same id is a no-op; attaching to a container that already
//!   runs is refused (Apple's CLI refuses it as well).
//! - **exit codes**: Apple's JSON has none. `wait` returns the exit code of the
//!   attached `container start -a` when this backend attached, the `exitCode` of a
//!   CLI that reports one, and otherwise, once the container has stopped,
//!   `Unsupported` saying why.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::argv;
use crate::envfile::EnvDir;
use crate::error::{AppleError, Subject, image_missing};
use crate::model::{self, ContainerRecord, ContainerState};
use crate::runner::Runner;
use crate::sessions::{self, ExitWatch};
use async_trait::async_trait;
use futures::StreamExt;
use runtime_core::plan::{ImageSource, Mount};
use runtime_core::runtime::{OutputStream, Progress, ResourceInfo, ResourceKind};
use runtime_core::{
    Capabilities, CreateSpec, Error, ExecSpec, HostFacts, LogOptions, Os, ProbeReport, Removed,
    Runtime, RuntimeKind, SandboxInfo, Session, labels,
};

/// How often `wait` (and `logs -f`) polls `container inspect`.
const POLL: Duration = Duration::from_millis(250);

/// How long `logs -f` keeps reading after the container has stopped, for output
/// the CLI has not passed on yet.
const FOLLOW_DRAIN: Duration = Duration::from_millis(500);

/// Drives the `container` CLI.
#[derive(Debug, Clone)]
pub struct AppleRuntime {
    pub(crate) runner: Runner,
    /// Exit codes of the `container start -a` sessions this backend started, by id.
    attached: Arc<Mutex<HashMap<String, ExitWatch>>>,
    /// Where env files and FIFOs for `--env-file` are made.
    env_dir: EnvDir,
}

impl Default for AppleRuntime {
    fn default() -> Self {
        Self::new()
    }
}

pub(crate) fn core(err: AppleError, operation: impl Into<String>, subject: Subject<'_>) -> Error {
    err.into_core(operation, subject)
}

impl AppleRuntime {
    /// A backend using `BERTH_APPLE_CONTAINER` when set, else `container` from PATH.
    pub fn new() -> Self {
        Self::with_runner(Runner::from_env())
    }

    /// A backend driving an explicitly named container-compatible CLI.
    pub fn with_program(program: impl Into<std::path::PathBuf>) -> Self {
        Self::with_runner(Runner::new(program, true))
    }

    /// A backend using `runner`.
    pub fn with_runner(runner: Runner) -> Self {
        Self {
            runner,
            attached: Arc::default(),
            env_dir: EnvDir::from_env(),
        }
    }

    /// This backend with its env files in `dir` instead of
    /// `$XDG_STATE_HOME/berth/apple-env`.
    pub fn with_env_dir(mut self, dir: std::path::PathBuf) -> Self {
        self.env_dir = EnvDir::at(dir);
        self
    }

    /// Where this backend makes env files.
    pub fn env_dir(&self) -> &std::path::Path {
        self.env_dir.path()
    }

    /// The command runner (its history holds every command line run).
    pub fn runner(&self) -> &Runner {
        &self.runner
    }

    /// Off macOS, only an explicitly named container-compatible CLI is run: a
    /// `container` found on PATH there is something else.
    fn gate(&self) -> Result<(), Error> {
        let os = Os::current();
        if os == Os::Macos || self.runner.is_explicit() {
            return Ok(());
        }
        Err(Error::Unavailable {
            runtime: RuntimeKind::Apple,
            reason: format!("Apple `container` runs only on macOS, and this host is {os}"),
            fix: "use --runtime docker or --runtime gvisor".to_owned(),
        })
    }

    pub(crate) fn attached(&self) -> MutexGuard<'_, HashMap<String, ExitWatch>> {
        match self.attached.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Whether an attach session of this backend still runs `id`; forgets a
    /// finished one (a later `start` is a fresh start).
    fn live_attach(&self, id: &str) -> bool {
        let mut attached = self.attached();
        let live = attached.get(id).is_some_and(|rx| rx.borrow().is_none());
        if !live {
            attached.remove(id);
        }
        live
    }

    /// `container inspect ID`, as one record.
    async fn inspect(&self, id: &str) -> Result<ContainerRecord, Error> {
        let records = self
            .runner
            .parse(&argv::inspect(id), model::parse_containers)
            .await
            .map_err(|e| core(e, format!("inspect {id}"), Subject::sandbox(id)))?;
        records
            .into_iter()
            .find(|r| r.id == id)
            .ok_or_else(|| Error::NotFound {
                what: "sandbox",
                name: id.to_owned(),
            })
    }
}

#[async_trait]
impl Runtime for AppleRuntime {
    fn kind(&self) -> RuntimeKind {
        RuntimeKind::Apple
    }

    async fn probe(&self) -> ProbeReport {
        crate::probe::probe(&self.runner, Os::current()).await
    }

    fn capabilities(&self, host: &HostFacts, probe: &ProbeReport) -> Capabilities {
        crate::capabilities(host, probe)
    }

    /// Checks a reference with `container image inspect` (never pulling), or builds
    /// with `container build`, passing each output line to `progress`.
    async fn ensure_image(&self, image: &ImageSource, progress: Progress<'_>) -> Result<(), Error> {
        self.gate()?;
        match image {
            ImageSource::Reference { reference } => {
                let args = argv::image_inspect(reference)
                    .map_err(|e| core(e, "inspect image", Subject::image(reference)))?;
                match self.runner.run(&args).await {
                    Ok(_) => Ok(()),
                    Err(e) if e.is_not_found() => Err(image_missing(reference)),
                    Err(e) => Err(core(
                        e,
                        format!("inspect image {reference}"),
                        Subject::image(reference),
                    )),
                }
            }
            ImageSource::Build { tag, .. } => {
                let Some(args) = argv::build(image) else {
                    return Ok(());
                };
                let args = args.map_err(|e| core(e, "build image", Subject::image(tag)))?;
                self.runner
                    .stream_lines(&args, progress)
                    .await
                    .map_err(|e| core(e, format!("build image {tag}"), Subject::image(tag)))
            }
        }
    }

    /// Creates the run's volumes (named `berth-<run id>-<n>`, labelled) and networks,
    /// then the container, with the environment in a 0600 env file (in berth's
    /// 0700 env directory) that is deleted as soon as `container create` has
    /// returned. Sweeps env files that killed berth processes left first.
    async fn create(&self, spec: &CreateSpec<'_>) -> Result<String, Error> {
        self.gate()?;
        let plan = spec.plan;
        if plan.runtime != RuntimeKind::Apple {
            return Err(Error::Unsupported {
                runtime: RuntimeKind::Apple,
                operation: "create",
                reason: format!("the plan was resolved for {}", plan.runtime),
            });
        }
        let refuse = |e: AppleError| core(e, "create", Subject::created("sandbox", &spec.name));
        argv::check_plan(plan).map_err(refuse)?;
        argv::check_reference(plan.image.reference()).map_err(refuse)?;
        self.env_dir.sweep();
        let env_file = if spec.env.is_empty() {
            None
        } else {
            let text = argv::env_file_contents(&spec.env).map_err(refuse)?;
            Some(self.env_dir.file(&text).map_err(refuse)?)
        };
        let args = argv::create(spec, env_file.as_ref().map(|f| f.path())).map_err(refuse)?;
        let labels = spec.labels();
        let volumes = plan
            .mounts
            .iter()
            .filter(|m| matches!(m, Mount::Volume { .. }))
            .count();
        for index in 0..volumes {
            let name = argv::volume_name(&spec.run_id, index);
            self.runner
                .run(&argv::volume_create(&name, &labels))
                .await
                .map_err(|e| {
                    core(
                        e,
                        format!("create volume {name}"),
                        Subject::created("volume", &name),
                    )
                })?;
        }
        for network in &plan.network.create {
            self.runner
                .run(&argv::network_create(network, &labels))
                .await
                .map_err(|e| {
                    core(
                        e,
                        format!("create network {network}"),
                        Subject::created("network", network),
                    )
                })?;
        }
        let id = self.runner.id(&args).await.map_err(|e| {
            core(
                e,
                format!("create container {}", spec.name),
                Subject::created("sandbox", &spec.name),
            )
        })?;
        drop(env_file);
        Ok(id)
    }

    /// `container start ID`; a no-op when an `attach` of this backend started it.
    async fn start(&self, id: &str) -> Result<(), Error> {
        self.gate()?;
        if self.live_attach(id) {
            return Ok(());
        }
        self.runner
            .run(&argv::start(id))
            .await
            .map(drop)
            .map_err(|e| core(e, format!("start {id}"), Subject::sandbox(id)))
    }

    /// `container start -a [-i] ID`: starts the container with its output (and
    /// input) connected to the session. Refused when the container already runs.
    async fn attach(&self, id: &str, stdin: bool) -> Result<Session, Error> {
        self.gate()?;
        let record = self.inspect(id).await?;
        if record.state != ContainerState::Stopped {
            return Err(Error::Unsupported {
                runtime: RuntimeKind::Apple,
                operation: "attach",
                reason: format!(
                    "Apple `container` connects to a container's main process only when it starts it (`container start -a`), and {id} is {}; follow its output with `berth logs -f`",
                    record.state
                ),
            });
        }
        let args = argv::attach(id, stdin);
        let failed = |e: AppleError| core(e, format!("attach to {id}"), Subject::sandbox(id));
        // With a terminal and input, Apple's CLI needs a terminal to put in raw mode.
        let (child, argv, output, input) = if record.terminal && stdin {
            let pty = self.runner.spawn_pty(&args).map_err(failed)?;
            let (output, input) =
                sessions::pty_session(pty.master, &pty.argv).map_err(|source| {
                    failed(AppleError::Io {
                        argv: pty.argv.clone(),
                        source,
                    })
                })?;
            (pty.child, pty.argv, output, Some(input))
        } else {
            let (mut child, argv) = self.runner.spawn(&args, stdin).map_err(failed)?;
            let output = sessions::output_stream(&mut child, &argv);
            let input = sessions::input(&mut child);
            (child, argv, output, input)
        };
        let (exit, rx) = sessions::exit_watch(child, argv, ());
        self.attached().insert(id.to_owned(), rx);
        Ok(Session {
            input,
            output,
            exit,
            control: None,
        })
    }

    /// The exit code of this backend's attach session when there is one; else polls
    /// `container inspect` until the container stops and returns the exit code the
    /// CLI reports, or `Unsupported` when (as with Apple's CLI up to 1.2) it reports none.
    async fn wait(&self, id: &str) -> Result<i64, Error> {
        self.gate()?;
        loop {
            let attached = self.attached().get(id).cloned();
            if let Some(mut rx) = attached {
                return sessions::wait_exit(&mut rx).await;
            }
            let record = self.inspect(id).await?;
            if record.state.is_stopped() {
                if let Some(code) = record.exit_code {
                    return Ok(code);
                }
                return Err(core(
                    AppleError::NoExitCode {
                        id: id.to_owned(),
                        reason: format!(
                            "{id} has stopped, but Apple `container` does not report exit codes; berth knows one only for a sandbox it attached to when starting it (`berth run` without -d)"
                        ),
                    },
                    format!("wait for {id}"),
                    Subject::sandbox(id),
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// `container exec ...` with the process's stdio piped straight through: with
    /// `stdin` and no `tty`, bytes pass unchanged both ways. Extra environment goes
    /// through a 0600 FIFO in berth's env directory: the CLI reads it, and its
    /// path is gone, before this returns.
    async fn exec(&self, id: &str, spec: &ExecSpec) -> Result<Session, Error> {
        self.gate()?;
        let record = self.inspect(id).await?;
        if record.state != ContainerState::Running {
            return Err(Error::engine(
                RuntimeKind::Apple,
                format!("exec in {id}"),
                format!("{id} is {}, not running", record.state),
            ));
        }
        let refuse = |e: AppleError| core(e, format!("exec in {id}"), Subject::sandbox(id));
        self.env_dir.sweep();
        // The exec's variables win over the sandbox's, as on every runtime.
        let (vars, cmd) =
            argv::exec_env(&spec.env, &spec.cmd, &record.env_names).map_err(refuse)?;
        let spec = &ExecSpec {
            cmd,
            env: vars,
            ..spec.clone()
        };
        let env = if spec.env.is_empty() {
            None
        } else {
            let text = argv::env_file_contents(&spec.env).map_err(refuse)?;
            Some((text, self.env_dir.fifo().map_err(refuse)?))
        };
        let args =
            argv::exec(id, spec, env.as_ref().map(|(_, fifo)| fifo.path())).map_err(refuse)?;
        // With a terminal and input, Apple's CLI needs a terminal to put in raw mode.
        let (mut child, argv, pty) = if spec.tty && spec.stdin {
            let pty = self.runner.spawn_pty(&args).map_err(refuse)?;
            (pty.child, pty.argv, Some(pty.master))
        } else {
            let (child, argv) = self.runner.spawn(&args, spec.stdin).map_err(refuse)?;
            (child, argv, None)
        };
        if let Some((text, fifo)) = env {
            // Dropped on cancellation: the FIFO is removed and the child killed.
            fifo.feed(text, &mut child).await.map_err(refuse)?;
        }
        let (output, input) = match pty {
            Some(master) => {
                let (output, input) = sessions::pty_session(master, &argv).map_err(|source| {
                    refuse(AppleError::Io {
                        argv: argv.clone(),
                        source,
                    })
                })?;
                (output, Some(input))
            }
            None => (
                sessions::output_stream(&mut child, &argv),
                sessions::input(&mut child),
            ),
        };
        let (exit, _) = sessions::exit_watch(child, argv, ());
        Ok(Session {
            input,
            output,
            exit,
            control: None,
        })
    }

    /// `container logs [-f] [-n N] ID`. Apple keeps one log per container, with
    /// stdout and stderr merged, so everything arrives as stdout. Apple's `-f`
    /// follows for ever, also after the container has stopped, so berth ends the
    /// stream itself once `inspect` says the container stopped (after a moment
    /// for the last output). Without `-f` the CLI trims the log's trailing
    /// newlines, and with `-n` it skips blank lines before counting.
    async fn logs(&self, id: &str, options: &LogOptions) -> Result<OutputStream, Error> {
        self.gate()?;
        self.inspect(id).await?;
        let args = argv::logs(id, options);
        let (mut child, argv) = self
            .runner
            .spawn(&args, false)
            .map_err(|e| core(e, format!("read the logs of {id}"), Subject::sandbox(id)))?;
        let output = sessions::output_stream(&mut child, &argv);
        let name = id.to_owned();
        // The child lives in the stream: dropping the stream (a `-f` the caller
        // stops reading, or the end of a follow) kills it.
        let check = futures::stream::once(async move {
            let failed = |detail: String| {
                Some(Err(Error::engine(
                    RuntimeKind::Apple,
                    format!("read the logs of {name}"),
                    detail,
                )))
            };
            match child.wait().await {
                Ok(status) if status.success() => None,
                Ok(status) => failed(format!(
                    "`container logs` failed ({})",
                    crate::error::describe_status(status)
                )),
                Err(e) => failed(format!("failed to wait for `container logs`: {e}")),
            }
        })
        .filter_map(futures::future::ready);
        let stream = output.chain(check);
        if !options.follow {
            return Ok(Box::pin(stream));
        }
        let this = self.clone();
        let id = id.to_owned();
        let stopped = async move {
            loop {
                tokio::time::sleep(POLL).await;
                match this.inspect(&id).await {
                    Ok(record) if record.state.is_stopped() => break,
                    Ok(_) => {}
                    // Gone (deleted) ends the follow too.
                    Err(_) => break,
                }
            }
            tokio::time::sleep(FOLLOW_DRAIN).await;
        };
        Ok(Box::pin(stream.take_until(Box::pin(stopped))))
    }

    /// `container stop -t SECS ID`.
    async fn stop(&self, id: &str, grace: Duration) -> Result<(), Error> {
        self.gate()?;
        self.runner
            .run(&argv::stop(id, grace))
            .await
            .map(drop)
            .map_err(|e| core(e, format!("stop {id}"), Subject::sandbox(id)))
    }

    /// Lists everything (`ls -a`, volumes, networks), keeps what carries both
    /// `berth.managed-by=berth` and `berth.run-id=<run_id>` (the CLI has no label
    /// filter), and deletes it:
    /// containers forcibly, then their volumes (Apple's `--rm` would leave them),
    /// then networks.
    async fn remove(&self, run_id: &runtime_core::RunId) -> Result<Removed, Error> {
        self.gate()?;
        let mut removed = Removed::default();
        self.remove_containers(run_id, &mut removed).await?;
        self.remove_volumes(run_id, &mut removed).await?;
        self.remove_networks(run_id, &mut removed).await?;
        Ok(removed)
    }

    /// berth's volumes and networks (labelled `berth.managed-by=berth`), from
    /// `volume list` and `network list` (none before macOS 26).
    async fn resources(&self) -> Result<Vec<ResourceInfo>, Error> {
        self.gate()?;
        // Env files of berth processes killed mid-create or mid-exec.
        self.env_dir.sweep();
        let managed = |labels: &std::collections::BTreeMap<String, String>| {
            labels.get(labels::MANAGED_BY).map(String::as_str) == Some(labels::MANAGED_BY_VALUE)
        };
        let mut out: Vec<ResourceInfo> = self
            .list_networks()
            .await?
            .into_iter()
            .filter(|n| managed(&n.labels))
            .map(|n| ResourceInfo {
                kind: ResourceKind::Network,
                name: n.name,
                labels: n.labels,
            })
            .collect();
        out.extend(
            self.list_volumes()
                .await?
                .into_iter()
                .filter(|v| managed(&v.labels))
                .map(|v| ResourceInfo {
                    kind: ResourceKind::Volume,
                    name: v.name,
                    labels: v.labels,
                }),
        );
        Ok(out)
    }

    async fn list(&self, all: bool) -> Result<Vec<SandboxInfo>, Error> {
        self.gate()?;
        Ok(self
            .records(all)
            .await?
            .into_iter()
            .map(ContainerRecord::into_sandbox_info)
            .collect())
    }
}
