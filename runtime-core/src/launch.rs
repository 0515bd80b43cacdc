//! Launching a plan in order (image, then create, then start) behind a guard that
//! removes everything the run created if any step fails or the launch is cancelled.
//!
//! Cancellation is cooperative: a request in flight to the engine is allowed to
//! finish (dropping it could let the engine create a container after the cleanup
//! looked for it), then the launch stops at the next step and tears down by label.
//! Only an image build, which creates nothing that belongs to the run, is abandoned
//! mid-way.

use std::fmt;
use std::sync::{Arc, OnceLock};

use tokio_util::sync::CancellationToken;

use crate::error::Error;
use crate::host::RealHost;
use crate::run_id::RunId;
use crate::runtime::{CreateSpec, Progress, Runtime};

/// A signal that stops berth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM.
    Terminate,
    /// SIGHUP: the terminal berth ran in went away.
    Hangup,
}

impl Signal {
    /// The signal's name, such as `SIGTERM`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Interrupt => "SIGINT",
            Self::Terminate => "SIGTERM",
            Self::Hangup => "SIGHUP",
        }
    }

    /// The signal's number: 2 for SIGINT, 15 for SIGTERM, 1 for SIGHUP.
    pub fn number(self) -> u8 {
        match self {
            Self::Interrupt => 2,
            Self::Terminate => 15,
            Self::Hangup => 1,
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Cancels a launch and says which signal asked for it. Clones share the state.
#[derive(Debug, Clone, Default)]
pub struct Cancellation {
    token: CancellationToken,
    signal: Arc<OnceLock<Signal>>,
}

impl Cancellation {
    /// A cancellation that has not happened yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Cancels because of `signal`; a second call keeps the first signal.
    pub fn cancel(&self, signal: Signal) {
        let _ = self.signal.set(signal);
        self.token.cancel();
    }

    /// The signal, once cancelled.
    pub(crate) fn signal(&self) -> Option<Signal> {
        self.signal.get().copied()
    }

    /// Resolves with the signal when the cancellation happens.
    pub(crate) async fn cancelled(&self) -> Signal {
        self.token.cancelled().await;
        // Set before the token is cancelled.
        self.signal().unwrap_or(Signal::Interrupt)
    }
}

/// Checks that the plan's host paths still resolve as planned, makes the image
/// present, creates the sandbox and, when `start`, starts it.
/// On failure or cancellation the run's resources are removed before the error is
/// returned (cancellation returns [`Error::Interrupted`] naming the signal that
/// cancelled it); a removal that fails too is reported to `progress`, as a
/// `warning:` line naming the command that finishes the job. Returns the
/// container id.
pub async fn launch(
    runtime: &dyn Runtime,
    spec: &CreateSpec<'_>,
    start: bool,
    progress: Progress<'_>,
    cancel: &Cancellation,
) -> Result<String, Error> {
    let result = async {
        spec.plan.verify_host_paths(&RealHost)?;
        tokio::select! {
            biased;
            signal = cancel.cancelled() => return Err(Error::Interrupted { signal }),
            built = runtime.ensure_image(&spec.plan.image, progress) => built?,
        }
        if let Some(signal) = cancel.signal() {
            return Err(Error::Interrupted { signal });
        }
        // Once more right before the engine mounts them: an image build can be long.
        spec.plan.verify_host_paths(&RealHost)?;
        let id = runtime.create(spec).await?;
        if let Some(signal) = cancel.signal() {
            return Err(Error::Interrupted { signal });
        }
        if start {
            runtime.start(&id).await?;
        }
        Ok(id)
    }
    .await;
    if result.is_err() {
        teardown(runtime, &spec.run_id, progress).await;
    }
    result
}

/// Removes everything labelled with `run_id`, never failing the caller's path: a
/// removal error goes to `progress`, with the command that finishes the job.
pub(crate) async fn teardown(runtime: &dyn Runtime, run_id: &RunId, progress: Progress<'_>) {
    if let Err(err) = runtime.remove(run_id).await {
        progress(&format!(
            "warning: cleanup of run {run_id} failed: {}; run `berth rm -f {run_id}` to finish it",
            err.report()
        ));
    }
}
