//! A running sandbox as a handle: what `berth run` does, for any crate that embeds
//! berth with the backend it chose.
//!
//! [`Sandbox::builder`] takes a backend and a resolved [`Plan`]; creating the
//! sandbox writes its run record, sweeps expired runs alongside, launches behind
//! the guard of [`launch`] (everything the run created is removed if a step fails
//! or the launch is cancelled), and returns a [`Sandbox`]. The handle attaches,
//! starts, execs (byte-exact stdio streams), reads logs, waits, stops and removes,
//! keeping the run record in step. A handle that is dropped while it still owns
//! its run removes the run and its record; [`Sandbox::keep`] and
//! [`Sandbox::detach`] hand the run over instead.
//!
//! ```no_run
//! # async fn demo(runtime: std::sync::Arc<dyn runtime_core::Runtime>, plan: runtime_core::Plan)
//! # -> Result<(), runtime_core::Error> {
//! use runtime_core::{ExecSpec, Sandbox};
//! let sandbox = Sandbox::builder(runtime, &plan)
//!     .command(["sleep", "600"])
//!     .start()
//!     .await?;
//! let session = sandbox.exec(&ExecSpec::new(["echo", "hello"])).await?;
//! let code = session.exit.await?;
//! sandbox.remove().await?;
//! # let _ = code;
//! # Ok(())
//! # }
//! ```

use std::sync::Arc;
use std::time::Duration;

use crate::collector::{self, Swept};
use crate::error::Error;
use crate::init::ExecPath;
use crate::launch::{Cancellation, launch};
use crate::plan::Plan;
use crate::run_id::RunId;
use crate::runtime::{CreateSpec, ExecSpec, LogOptions, OutputStream, Removed, Runtime, Session};
use crate::state::{self, RunRecord, RunState, RunStore};
use crate::terminal::DetachKeys;

/// How long a cancelled launch may take to finish the request it has in flight.
const CANCEL_BOUND: Duration = Duration::from_secs(60);

/// Receives progress lines: image builds, swept runs, and warnings (a cleanup that
/// failed, with the command that finishes it), which start with `warning:`.
pub type ProgressFn = dyn Fn(&str) + Send + Sync;

/// How to create a sandbox; from [`Sandbox::builder`].
#[must_use = "a builder does nothing until create() or start() is awaited"]
pub struct Builder<'a> {
    runtime: Arc<dyn Runtime>,
    plan: &'a Plan,
    store: Option<Result<RunStore, Error>>,
    name: Option<String>,
    command: Option<Vec<String>>,
    env: Option<Vec<(String, String)>>,
    stdin: bool,
    tty: bool,
    detach_keys: Option<DetachKeys>,
    detach: Option<Option<Duration>>,
    sweep: bool,
    progress: Option<Arc<ProgressFn>>,
    cancel: Cancellation,
    seat: Option<crate::pool::Seat>,
    claim: bool,
}

impl<'a> Builder<'a> {
    /// Keeps the run record in `store` rather than in the user's state directory
    /// (`$XDG_STATE_HOME/berth`, else `~/.local/state/berth`).
    pub fn records(mut self, store: RunStore) -> Self {
        self.store = Some(Ok(store));
        self
    }

    /// The container's name; by default the plan's name and 8 hex digits, free on
    /// the engine. A pinned name that is taken fails at create (a conflict).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The command, instead of the plan's (and the image's).
    pub fn command<S: Into<String>>(mut self, command: impl IntoIterator<Item = S>) -> Self {
        self.command = Some(command.into_iter().map(Into::into).collect());
        self
    }

    /// The environment, instead of the plan's literal values and, for its
    /// secrets, this process's environment ([`Plan::environment`]).
    pub fn env(mut self, env: Vec<(String, String)>) -> Self {
        self.env = Some(env);
        self
    }

    /// Keeps the main process's stdin open for [`Sandbox::attach`].
    pub fn stdin(mut self, stdin: bool) -> Self {
        self.stdin = stdin;
        self
    }

    /// Gives the main process a terminal.
    pub fn tty(mut self, tty: bool) -> Self {
        self.tty = tty;
        self
    }

    /// With a terminal, a person's way out that leaves the main process running:
    /// [`Sandbox::attach`] tells the engine to use `keys` as its own escape
    /// sequence ([`Runtime::attach_terminal`]), for a client that watches for them.
    pub fn detach_keys(mut self, keys: DetachKeys) -> Self {
        self.detach_keys = Some(keys);
        self
    }

    /// The run outlives this process (and the handle, once [`Sandbox::detach`]ed),
    /// until `ttl` passes, when any later sweep removes it.
    pub fn detach(mut self, ttl: Option<Duration>) -> Self {
        self.detach = Some(ttl);
        self
    }

    /// Whether to remove expired runs while this one launches (on by default).
    pub fn sweep_expired(mut self, sweep: bool) -> Self {
        self.sweep = sweep;
        self
    }

    /// Where progress lines go, for as long as the sandbox lives (a cleanup when
    /// the handle is dropped reports there too). Without one, warnings are logged
    /// with `tracing` and other lines go nowhere.
    pub fn progress(mut self, progress: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(progress));
        self
    }

    /// A cancellation that stops the launch: what it created is removed and
    /// creating fails with [`Error::Interrupted`].
    pub fn cancel(mut self, cancel: &Cancellation) -> Self {
        self.cancel = cancel.clone();
        self
    }

    /// Takes a ready member of the plan's warm pool ([`crate::pool`]) when the
    /// plan has one that serves runs, the run is not detached and its name is
    /// not pinned: the sandbox is then that member, and its command starts
    /// through berth-init at [`Sandbox::attach`] (see [`Sandbox::claimed`]).
    /// Without a ready member the sandbox is created as usual. Off by default.
    pub fn claim_from_pool(mut self, claim: bool) -> Self {
        self.claim = claim;
        self
    }

    /// Makes the sandbox a member of a warm pool: berth-init waits on standby
    /// for a claim instead of starting the command ([`crate::pool::fill`]).
    pub(crate) fn seat(mut self, seat: crate::pool::Seat) -> Self {
        self.seat = Some(seat);
        self
    }

    /// Creates the sandbox without starting it, so that [`Sandbox::attach`] can
    /// come before [`Sandbox::start`] and miss no output.
    pub async fn create(self) -> Result<Sandbox, Error> {
        self.launch(false).await
    }

    /// Creates and starts the sandbox.
    pub async fn start(self) -> Result<Sandbox, Error> {
        self.launch(true).await
    }

    async fn launch(mut self, start: bool) -> Result<Sandbox, Error> {
        let store = match self.store.take() {
            Some(store) => store?,
            None => RunStore::from_env(|name| std::env::var(name).ok())?,
        };
        if self.claim
            && self.detach.is_none()
            && self.name.is_none()
            && let Some(sandbox) = self.claim(&store).await
        {
            return Ok(sandbox);
        }
        let runtime = self.runtime;
        let plan = self.plan;
        let progress = self.progress;
        let say = |line: &str| report_to(progress.as_deref(), line);
        let run_id = RunId::random();
        let sweep = self.sweep.then(|| {
            let (runtime, store) = (runtime.clone(), store.clone());
            tokio::spawn(async move {
                collector::sweep_expired(std::slice::from_ref(&runtime), &store).await
            })
        });
        let name = match self.name {
            Some(name) => name,
            None => free_name(&*runtime, &plan.name, &run_id).await?,
        };
        let detached = self.detach.is_some();
        let expires_at = self.detach.flatten().map(|ttl| {
            state::now().saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX))
        });
        let lookup = |name: &str| std::env::var(name).ok();
        let credentials = plan.credentials(lookup);
        // A secret read from a file the launch cannot read stops it: the config
        // named the file, so its absence is a mistake, not an optional secret.
        for var in &plan.env {
            if let crate::plan::EnvValue::BoundSecret {
                file: Some(path), ..
            } = &var.value
                && !credentials.iter().any(|c| c.name == var.name)
            {
                return Err(Error::SecretMissing {
                    name: var.name.clone(),
                    fix: format!(
                        "berth cannot read {}: create it, or fix `file` under [secrets.{}]",
                        path.display(),
                        var.name
                    ),
                });
            }
        }
        let mut env = self.env.unwrap_or_else(|| plan.environment(lookup));
        env.extend(
            credentials
                .iter()
                .map(|c| (c.name.clone(), c.placeholder.clone())),
        );
        let mut spec = CreateSpec::new(plan, run_id.clone(), name)
            .with_env(env)
            .with_credentials(credentials)
            .with_stdin(self.stdin)
            .with_tty(self.tty);
        if let Some(command) = self.command {
            spec = spec.with_command(command);
        }
        if detached {
            // A pool member's TTL is in its record alone: a claim makes the run
            // its claimant's, with no TTL, and a container's labels cannot
            // change, so a berth judging by labels (another user's, another
            // state directory's) must not take a claimed run for an expired one.
            let label_expiry = if self.seat.is_some() {
                None
            } else {
                expires_at
            };
            spec = spec.with_detached(label_expiry);
        }
        let mut record = RunRecord::new(&run_id, &spec.name, plan.runtime, detached, expires_at)
            .on_engine(runtime.engine_id());
        if let Some(seat) = self.seat {
            spec = spec.with_pool(seat.key.clone());
            record.pool = Some(seat);
        }
        store.create(&record)?;
        // After the record: a directory without one may be swept as incomplete.
        if plan.init.exec == ExecPath::Init {
            match crate::init::arm(&store, &run_id) {
                Ok(dir) => spec = spec.with_exec_dir(dir),
                Err(err) => say(&format!(
                    "warning: exec in this run goes through the engine: {}",
                    err.report()
                )),
            }
        }
        let mut sandbox = Sandbox {
            runtime: runtime.clone(),
            store,
            run_id,
            name: spec.name.clone(),
            id: String::new(),
            stdin: self.stdin,
            terminal: self.detach_keys.filter(|_| self.tty),
            detached,
            owned: true,
            progress: progress.clone(),
            claim: std::sync::Mutex::new(None),
            member: false,
        };
        sandbox.record(|r| r.transition(RunState::Starting));

        let launched = {
            let fut = async {
                let launched = launch(&*runtime, &spec, start, &say, &self.cancel).await;
                if let Some(sweep) = sweep {
                    for swept in sweep.await.unwrap_or_default() {
                        say(&Swept::message(&swept));
                    }
                }
                launched
            };
            tokio::pin!(fut);
            tokio::select! {
                result = &mut fut => result,
                signal = self.cancel.cancelled() => {
                    sandbox.record(|r| r.transition(RunState::Stopping));
                    // The launch sees the cancellation at its next step; let the
                    // request in flight land first, so nothing is created after the
                    // teardown looked.
                    let _ = tokio::time::timeout(CANCEL_BOUND, &mut fut).await;
                    Err(Error::Interrupted { signal })
                }
            }
        };
        match launched {
            Ok(id) => {
                sandbox.id = id;
                let id = sandbox.id.clone();
                sandbox.record(|r| r.container_id = Some(id));
                if start {
                    sandbox.record(|r| r.transition(RunState::Running));
                }
                Ok(sandbox)
            }
            Err(err @ Error::Interrupted { .. }) => {
                // Dropping the handle removes what the launch created and the record.
                drop(sandbox);
                Err(err)
            }
            Err(err) => {
                // launch() already removed what it created; the record goes too, so
                // a launch that never ran (a missing image, a taken name) leaves no
                // row in `berth ps --all`. The error is the caller's to report.
                sandbox.fail();
                Err(err)
            }
        }
    }
}

impl Builder<'_> {
    /// A ready member of the plan's pool, claimed and connected to, as this
    /// run's sandbox; `None` when there is none (or the plan has no pool that
    /// serves runs). A member whose init does not answer is removed.
    async fn claim(&self, store: &RunStore) -> Option<Sandbox> {
        let pool = crate::pool::usable(self.plan).ok()?;
        let image = self.runtime.image_id(&self.plan.image).await.ok()?;
        let engine = self.runtime.engine_id();
        while let Some(record) = crate::pool::claim(store, &engine, &pool.key, image.as_deref()) {
            let client = crate::init::connect(store, &record.run_id)
                .await
                .ok()
                .flatten();
            let sandbox = Sandbox {
                runtime: self.runtime.clone(),
                store: store.clone(),
                run_id: record.run_id.clone(),
                name: record.name.clone(),
                id: record.container_id.clone().unwrap_or_default(),
                stdin: self.stdin,
                terminal: None,
                detached: false,
                owned: true,
                progress: self.progress.clone(),
                claim: std::sync::Mutex::new(None),
                member: true,
            };
            let Some(client) = client else {
                // Claimed, so no one else tries it; dropping the handle removes it.
                drop(sandbox);
                continue;
            };
            let lookup = |name: &str| std::env::var(name).ok();
            let spec = ExecSpec {
                cmd: self
                    .command
                    .clone()
                    .or_else(|| self.plan.command.clone())
                    .unwrap_or_default(),
                workdir: self.plan.workdir.clone(),
                env: self
                    .env
                    .clone()
                    .unwrap_or_else(|| self.plan.environment(lookup)),
                user: None,
                stdin: self.stdin,
                tty: self.tty,
            };
            if let Ok(mut pending) = sandbox.claim.lock() {
                *pending = Some((client, spec));
            }
            return Some(sandbox);
        }
        None
    }
}

/// A sandbox this process launched. Record keeping never fails a run: a record
/// that cannot be written is logged (as a warning) and the run goes on.
pub struct Sandbox {
    runtime: Arc<dyn Runtime>,
    store: RunStore,
    run_id: RunId,
    name: String,
    id: String,
    stdin: bool,
    /// The detach keys of a main process with a terminal, when the builder gave some.
    terminal: Option<DetachKeys>,
    detached: bool,
    /// Whether the handle still owns the run: dropping it then removes the run.
    owned: bool,
    /// Where warnings go (the builder's progress).
    progress: Option<Arc<ProgressFn>>,
    /// A claimed pool member's init, and the command it is to start, until
    /// [`Sandbox::attach`] starts it.
    claim: std::sync::Mutex<Option<(crate::init::Client, ExecSpec)>>,
    /// A warm pool's member this run claimed: it runs already.
    member: bool,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("runtime", &self.runtime.kind())
            .field("run_id", &self.run_id)
            .field("name", &self.name)
            .field("id", &self.id)
            .field("owned", &self.owned)
            .finish_non_exhaustive()
    }
}

impl Sandbox {
    /// How to create a sandbox for `plan` on `runtime`.
    pub fn builder(runtime: Arc<dyn Runtime>, plan: &Plan) -> Builder<'_> {
        Builder {
            runtime,
            plan,
            store: None,
            name: None,
            command: None,
            env: None,
            stdin: false,
            tty: false,
            detach_keys: None,
            detach: None,
            sweep: true,
            progress: None,
            cancel: Cancellation::new(),
            seat: None,
            claim: false,
        }
    }

    /// Whether the sandbox is a warm pool's member this run claimed (its
    /// command starts through berth-init at [`Sandbox::attach`]).
    pub fn claimed(&self) -> bool {
        self.member
    }

    /// The run's id (its `berth.run-id` label).
    pub fn run_id(&self) -> &RunId {
        &self.run_id
    }

    /// The container's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The engine's id of the container.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The backend it runs on.
    pub fn runtime(&self) -> &Arc<dyn Runtime> {
        &self.runtime
    }

    /// Attaches to the main process (with stdin when the builder asked for it;
    /// with its detach keys, for a terminal, when it gave some).
    pub async fn attach(&self) -> Result<Session, Error> {
        let claimed = self.claim.lock().ok().and_then(|mut c| c.take());
        if let Some((client, spec)) = claimed {
            return client.claim(&spec).await;
        }
        match &self.terminal {
            Some(keys) => {
                self.runtime
                    .attach_terminal(&self.id, self.stdin, keys)
                    .await
            }
            None => self.runtime.attach(&self.id, self.stdin).await,
        }
    }

    /// Starts a created sandbox (a claimed pool member is running already).
    pub async fn start(&self) -> Result<(), Error> {
        if self.member {
            return Ok(());
        }
        self.runtime.start(&self.id).await?;
        self.record(|r| r.transition(RunState::Running));
        Ok(())
    }

    /// Attaches, then starts: the main process's whole output. On failure the run
    /// is removed with its record.
    pub async fn attach_and_start(&mut self) -> Result<Session, Error> {
        let attached = async {
            let session = self.attach().await?;
            self.start().await?;
            Ok::<_, Error>(session)
        }
        .await;
        if attached.is_err() {
            self.teardown().await;
            self.fail();
        }
        attached
    }

    /// Runs a process inside: through berth-init when it serves this run (see
    /// [`Sandbox::exec_path`]), else through the runtime's exec.
    pub async fn exec(&self, spec: &ExecSpec) -> Result<Session, Error> {
        if let Some(session) = crate::init::exec(&self.store, &self.run_id, spec).await? {
            return Ok(session);
        }
        self.runtime.exec(&self.id, spec).await
    }

    /// The path [`Sandbox::exec`] takes now (a spec that names a user takes the
    /// engine's).
    pub fn exec_path(&self) -> ExecPath {
        crate::init::current_path(&self.store, &self.run_id)
    }

    /// The main process's output.
    pub async fn logs(&self, options: &LogOptions) -> Result<OutputStream, Error> {
        self.runtime.logs(&self.id, options).await
    }

    /// Waits for the main process to exit; its exit code.
    pub async fn wait(&self) -> Result<i64, Error> {
        self.runtime.wait(&self.id).await
    }

    /// Stops the main process (SIGTERM, then SIGKILL after `grace`). The run stays
    /// owned: dropping the handle still removes it.
    pub async fn stop(&self, grace: Duration) -> Result<(), Error> {
        self.record(|r| r.transition(RunState::Stopping));
        let stopped = self.runtime.stop(&self.id, grace).await;
        self.record(|r| r.transition(RunState::Stopped));
        stopped
    }

    /// Removes the run: its containers, networks and volumes, then its record.
    pub async fn remove(mut self) -> Result<Removed, Error> {
        self.owned = false;
        self.record(|r| r.transition(RunState::Stopping));
        let removed = self.runtime.remove(&self.run_id).await?;
        self.forget();
        Ok(removed)
    }

    /// Leaves the run on the engine, stopped, for `berth ps`, `logs` and `rm`;
    /// records its exit code when known.
    pub fn keep(mut self, exit_code: Option<i64>) {
        self.owned = false;
        self.record(|r| {
            r.exit_code = exit_code.or(r.exit_code);
            r.transition(RunState::Stopped);
        });
    }

    /// Hands the run over: it keeps running after this process (until its TTL,
    /// when the builder gave one). Returns its name.
    pub fn detach(mut self) -> String {
        self.owned = false;
        if !self.detached {
            self.record(|r| r.detached = true);
        }
        std::mem::take(&mut self.name)
    }

    fn record(&self, change: impl FnOnce(&mut RunRecord)) {
        if let Err(err) = self.store.update(&self.run_id, change) {
            tracing::warn!(run_id = %self.run_id, "run record not updated: {}", err.report());
        }
    }

    fn forget(&self) {
        if let Err(err) = self.store.remove(&self.run_id) {
            tracing::warn!(run_id = %self.run_id, "run record not removed: {}", err.report());
        }
    }

    /// Forgets a run whose launch failed (what it created is gone already).
    fn fail(&mut self) {
        self.owned = false;
        self.forget();
    }

    async fn teardown(&self) {
        let say = |line: &str| report_to(self.progress.as_deref(), line);
        crate::launch::teardown(&*self.runtime, &self.run_id, &say).await;
    }
}

impl Drop for Sandbox {
    /// Removes a run the handle still owns, and its record. Inside a multi-thread
    /// tokio runtime the removal runs to completion here; inside a current-thread
    /// one it is spawned on it (await [`Sandbox::remove`] there to be sure); with
    /// no runtime, one is made for it.
    fn drop(&mut self) {
        if !self.owned {
            return;
        }
        self.owned = false;
        let runtime = self.runtime.clone();
        let store = self.store.clone();
        let run_id = self.run_id.clone();
        let progress = self.progress.clone();
        let job = async move {
            let say = |line: &str| report_to(progress.as_deref(), line);
            crate::launch::teardown(&*runtime, &run_id, &say).await;
            if let Err(err) = store.remove(&run_id) {
                tracing::warn!(%run_id, "run record not removed: {}", err.report());
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| handle.block_on(job));
            }
            Ok(handle) => {
                handle.spawn(job);
            }
            Err(_) => match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(job),
                Err(err) => tracing::warn!(run_id = %self.run_id, "cannot remove the run: {err}"),
            },
        }
    }
}

/// Passes `line` to `progress`; without one, logs a warning line with `tracing`.
fn report_to(progress: Option<&ProgressFn>, line: &str) {
    match progress {
        Some(progress) => progress(line),
        None => {
            if let Some(warning) = line.strip_prefix("warning: ") {
                tracing::warn!("{warning}");
            }
        }
    }
}

/// `<sandbox>-<8 hex digits>`, with other digits while the name is taken.
async fn free_name(runtime: &dyn Runtime, base: &str, run_id: &RunId) -> Result<String, Error> {
    let mut candidate = format!("{base}-{}", run_id.short());
    for _ in 0..5 {
        match runtime.find(&candidate).await {
            Err(Error::NotFound { .. }) => return Ok(candidate),
            // Taken, by one of berth's sandboxes or by a foreign container.
            Ok(_) | Err(Error::Foreign { .. }) => {
                candidate = format!("{base}-{}", RunId::random().short());
            }
            Err(other) => return Err(other),
        }
    }
    Ok(candidate)
}
