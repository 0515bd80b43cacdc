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

use async_trait::async_trait;
use futures::StreamExt;
use runtime_core::plan::{ImageSource, Mount};
use runtime_core::runtime::{OutputStream, Progress};
use runtime_core::{
    Capabilities, CreateSpec, Error, ExecSpec, HostFacts, LogOptions, Os, ProbeReport, Removed,
    Runtime, RuntimeKind, SandboxInfo, Session, labels,
};
use tempfile::NamedTempFile;

use crate::argv;
use crate::error::{AppleError, Subject, image_missing};
use crate::model::{self, ContainerRecord, ContainerState};
use crate::runner::Runner;
use crate::sessions::{self, ExitWatch};

/// How often `wait` polls `container inspect`.
const POLL: Duration = Duration::from_millis(250);

/// How often, and how far apart, deleting a volume or network is retried: both can
/// stay busy for a moment after their container is gone, and network deletes are
/// asynchronous.
const DELETE_ATTEMPTS: u32 = 10;
const DELETE_BACKOFF: Duration = Duration::from_millis(300);

/// Drives the `container` CLI.
#[derive(Debug, Clone)]
pub struct AppleRuntime {
    runner: Runner,
    /// Exit codes of the `container start -a` sessions this backend started, by id.
    attached: Arc<Mutex<HashMap<String, ExitWatch>>>,
}

impl Default for AppleRuntime {
    fn default() -> Self {
        Self::new()
    }
}

fn core(err: AppleError, operation: impl Into<String>, subject: Subject<'_>) -> Error {
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
        }
    }

    /// The command runner (its history holds every command line run).
    pub fn runner(&self) -> &Runner {
        &self.runner
    }

    fn attached(&self) -> MutexGuard<'_, HashMap<String, ExitWatch>> {
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
        let position = records.iter().position(|r| r.id == id).unwrap_or(0);
        records
            .into_iter()
            .nth(position)
            .ok_or_else(|| Error::NotFound {
                what: "sandbox",
                name: id.to_owned(),
            })
    }

    /// berth's containers (all labelled `berth.managed-by=berth`).
    async fn records(&self, all: bool) -> Result<Vec<ContainerRecord>, Error> {
        let records = self
            .runner
            .parse(&argv::list(all), model::parse_containers)
            .await
            .map_err(|e| core(e, "list containers", Subject::sandbox("")))?;
        Ok(records
            .into_iter()
            .filter(|r| {
                r.labels.get(labels::MANAGED_BY).map(String::as_str)
                    == Some(labels::MANAGED_BY_VALUE)
            })
            .collect())
    }

    /// Writes `env` to a 0600 temporary file, removed when the handle drops.
    fn env_file(env: &[(String, String)]) -> Result<Option<NamedTempFile>, AppleError> {
        if env.is_empty() {
            return Ok(None);
        }
        let text = argv::env_file_contents(env)?;
        let dir = std::env::temp_dir();
        // tempfile creates the file with mode 0600 on unix.
        let mut file = tempfile::Builder::new()
            .prefix("berth-env-")
            .suffix(".env")
            .tempfile_in(&dir)
            .map_err(|source| AppleError::EnvFile { path: dir, source })?;
        use std::io::Write;
        file.write_all(text.as_bytes())
            .and_then(|()| file.flush())
            .map_err(|source| AppleError::EnvFile {
                path: file.path().to_owned(),
                source,
            })?;
        Ok(Some(file))
    }

    /// Runs a delete, retrying while the resource is busy; a missing one is gone.
    async fn delete_with_retry(
        &self,
        args: &[String],
        what: &'static str,
        name: &str,
    ) -> Result<bool, Error> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.runner.run(args).await {
                Ok(_) => return Ok(true),
                Err(e) if e.is_not_found() => return Ok(false),
                Err(e) if attempt >= DELETE_ATTEMPTS => {
                    return Err(core(
                        e,
                        format!("delete {what} {name}"),
                        Subject { what, name },
                    ));
                }
                Err(_) => tokio::time::sleep(DELETE_BACKOFF).await,
            }
        }
    }

    async fn remove_containers(&self, run_id: &str, removed: &mut Removed) -> Result<(), Error> {
        let ids: Vec<String> = self
            .records(true)
            .await?
            .into_iter()
            .filter(|r| r.labels.get(labels::RUN_ID).map(String::as_str) == Some(run_id))
            .map(|r| r.id)
            .collect();
        for id in ids {
            match self
                .runner
                .run(&argv::delete(std::slice::from_ref(&id)))
                .await
            {
                Ok(_) => removed.containers.push(id.clone()),
                Err(e) if e.is_not_found() => {}
                Err(e) => {
                    return Err(core(
                        e,
                        format!("delete container {id}"),
                        Subject::sandbox(&id),
                    ));
                }
            }
            self.attached().remove(&id);
        }
        Ok(())
    }

    async fn remove_volumes(&self, run_id: &str, removed: &mut Removed) -> Result<(), Error> {
        let volumes = self
            .runner
            .parse(&argv::volume_list(), model::parse_volumes)
            .await
            .map_err(|e| {
                core(
                    e,
                    "list volumes",
                    Subject {
                        what: "volume",
                        name: "",
                    },
                )
            })?;
        for volume in volumes {
            if volume.labels.get(labels::RUN_ID).map(String::as_str) != Some(run_id) {
                continue;
            }
            let args = argv::volume_delete(std::slice::from_ref(&volume.name));
            if self
                .delete_with_retry(&args, "volume", &volume.name)
                .await?
            {
                removed.volumes.push(volume.name);
            }
        }
        Ok(())
    }

    async fn remove_networks(&self, run_id: &str, removed: &mut Removed) -> Result<(), Error> {
        let captured = self
            .runner
            .capture(&argv::network_list())
            .await
            .map_err(|e| {
                core(
                    e,
                    "list networks",
                    Subject {
                        what: "network",
                        name: "",
                    },
                )
            })?;
        if !captured.status.success() {
            // Before macOS 26 there is no `network` command, and so no networks.
            if captured.status.code() == Some(crate::probe::EXIT_USAGE)
                || captured.stderr.to_ascii_lowercase().contains("plugin")
            {
                return Ok(());
            }
        }
        let captured = captured.check().map_err(|e| {
            core(
                e,
                "list networks",
                Subject {
                    what: "network",
                    name: "",
                },
            )
        })?;
        let networks = model::parse_networks(&captured.stdout).map_err(|source| {
            core(
                AppleError::Parse {
                    argv: captured.argv.clone(),
                    source,
                    output: crate::error::prefix(&captured.stdout),
                },
                "list networks",
                Subject {
                    what: "network",
                    name: "",
                },
            )
        })?;
        for network in networks {
            if network.labels.get(labels::RUN_ID).map(String::as_str) != Some(run_id) {
                continue;
            }
            let args = argv::network_delete(&network.name);
            if self
                .delete_with_retry(&args, "network", &network.name)
                .await?
            {
                removed.networks.push(network.name);
            }
        }
        Ok(())
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
        match image {
            ImageSource::Reference { reference } => {
                match self.runner.run(&argv::image_inspect(reference)).await {
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
                self.runner
                    .stream_lines(&args, progress)
                    .await
                    .map_err(|e| core(e, format!("build image {tag}"), Subject::image(tag)))
            }
        }
    }

    /// Creates the run's volumes (named `berth-<run id>-<n>`, labelled) and networks,
    /// then the container, with the environment in a 0600 env file that is deleted
    /// as soon as `container create` has returned.
    async fn create(&self, spec: &CreateSpec<'_>) -> Result<String, Error> {
        let plan = spec.plan;
        if plan.runtime != RuntimeKind::Apple {
            return Err(Error::Unsupported {
                runtime: RuntimeKind::Apple,
                operation: "create",
                reason: format!("the plan was resolved for {}", plan.runtime),
            });
        }
        let refuse = |e: AppleError| core(e, "create", Subject::sandbox(&spec.name));
        argv::check_plan(plan).map_err(refuse)?;
        let env_file = Self::env_file(&spec.env).map_err(refuse)?;
        let args =
            argv::create(spec, env_file.as_ref().map(NamedTempFile::path)).map_err(refuse)?;
        let labels = plan.labels_for_run(&spec.run_id);
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
                        Subject {
                            what: "volume",
                            name: &name,
                        },
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
                        Subject {
                            what: "network",
                            name: network,
                        },
                    )
                })?;
        }
        let id = self.runner.id(&args).await.map_err(|e| {
            core(
                e,
                format!("create container {}", spec.name),
                Subject::sandbox(&spec.name),
            )
        })?;
        drop(env_file);
        Ok(id)
    }

    /// `container start ID`; a no-op when an `attach` of this backend started it.
    async fn start(&self, id: &str) -> Result<(), Error> {
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
        let (mut child, argv) = self
            .runner
            .spawn(&args, stdin)
            .map_err(|e| core(e, format!("attach to {id}"), Subject::sandbox(id)))?;
        let output = sessions::output_stream(&mut child, &argv);
        let input = sessions::input(&mut child);
        let (exit, rx) = sessions::exit_watch(child, argv, ());
        self.attached().insert(id.to_owned(), rx);
        Ok(Session {
            input,
            output,
            exit,
        })
    }

    /// The exit code of this backend's attach session when there is one; else polls
    /// `container inspect` until the container stops and returns the exit code the
    /// CLI reports, or `Unsupported` when (as with Apple's CLI up to 1.2) it reports none.
    async fn wait(&self, id: &str) -> Result<i64, Error> {
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
    /// through a 0600 env file kept until the process exits.
    async fn exec(&self, id: &str, spec: &ExecSpec) -> Result<Session, Error> {
        let record = self.inspect(id).await?;
        if record.state != ContainerState::Running {
            return Err(Error::engine(
                RuntimeKind::Apple,
                format!("exec in {id}"),
                format!("{id} is {}, not running", record.state),
            ));
        }
        let refuse = |e: AppleError| core(e, format!("exec in {id}"), Subject::sandbox(id));
        let env_file = Self::env_file(&spec.env).map_err(refuse)?;
        let args =
            argv::exec(id, spec, env_file.as_ref().map(NamedTempFile::path)).map_err(refuse)?;
        let (mut child, argv) = self.runner.spawn(&args, spec.stdin).map_err(refuse)?;
        let output = sessions::output_stream(&mut child, &argv);
        let input = sessions::input(&mut child);
        let (exit, _) = sessions::exit_watch(child, argv, env_file);
        Ok(Session {
            input,
            output,
            exit,
        })
    }

    /// `container logs [-f] [-n N] ID`. Apple keeps one log per container, with
    /// stdout and stderr merged, so everything arrives as stdout.
    async fn logs(&self, id: &str, options: &LogOptions) -> Result<OutputStream, Error> {
        self.inspect(id).await?;
        let args = argv::logs(id, options);
        let (mut child, argv) = self
            .runner
            .spawn(&args, false)
            .map_err(|e| core(e, format!("read the logs of {id}"), Subject::sandbox(id)))?;
        let output = sessions::output_stream(&mut child, &argv);
        let id = id.to_owned();
        let (exit, _) = sessions::exit_watch(child, argv, ());
        let check = futures::stream::once(async move {
            match exit.await {
                Ok(0) => None,
                Ok(code) => Some(Err(Error::engine(
                    RuntimeKind::Apple,
                    format!("read the logs of {id}"),
                    format!("`container logs` exited with code {code}"),
                ))),
                Err(e) => Some(Err(e)),
            }
        })
        .filter_map(futures::future::ready);
        Ok(Box::pin(output.chain(check)))
    }

    /// `container stop -t SECS ID`.
    async fn stop(&self, id: &str, grace: Duration) -> Result<(), Error> {
        self.runner
            .run(&argv::stop(id, grace))
            .await
            .map(drop)
            .map_err(|e| core(e, format!("stop {id}"), Subject::sandbox(id)))
    }

    /// Lists everything (`ls -a`, volumes, networks), keeps what carries
    /// `berth.run-id=<run_id>` (the CLI has no label filter), and deletes it:
    /// containers forcibly, then their volumes (Apple's `--rm` would leave them),
    /// then networks.
    async fn remove(&self, run_id: &str) -> Result<Removed, Error> {
        let mut removed = Removed::default();
        self.remove_containers(run_id, &mut removed).await?;
        self.remove_volumes(run_id, &mut removed).await?;
        self.remove_networks(run_id, &mut removed).await?;
        Ok(removed)
    }

    async fn list(&self, all: bool) -> Result<Vec<SandboxInfo>, Error> {
        Ok(self
            .records(all)
            .await?
            .into_iter()
            .map(ContainerRecord::into_sandbox_info)
            .collect())
    }
}
