//! Launching a plan in order (image, then create, then start) behind a guard that
//! removes everything the run created if any step fails or the launch is cancelled.
//!
//! Cancellation is cooperative: a request in flight to the engine is allowed to
//! finish (dropping it could let the engine create a container after the cleanup
//! looked for it), then the launch stops at the next step and tears down by label.
//! Only an image build, which creates nothing that belongs to the run, is abandoned
//! mid-way.

use tokio_util::sync::CancellationToken;

use crate::error::Error;
use crate::host::RealHost;
use crate::runtime::{CreateSpec, Progress, Runtime};

/// Checks that the plan's host paths still resolve as planned, makes the image
/// present, creates the sandbox and, when `start`, starts it.
/// On failure or cancellation the run's resources are removed before the error is
/// returned (cancellation returns [`Error::Interrupted`]). Returns the container id.
pub async fn launch(
    runtime: &dyn Runtime,
    spec: &CreateSpec<'_>,
    start: bool,
    progress: Progress<'_>,
    cancel: &CancellationToken,
) -> Result<String, Error> {
    let interrupted = || Error::Interrupted { signal: "a signal" };
    let result = async {
        spec.plan.verify_host_paths(&RealHost)?;
        tokio::select! {
            biased;
            () = cancel.cancelled() => return Err(interrupted()),
            built = runtime.ensure_image(&spec.plan.image, progress) => built?,
        }
        if cancel.is_cancelled() {
            return Err(interrupted());
        }
        // Once more right before the engine mounts them: an image build can be long.
        spec.plan.verify_host_paths(&RealHost)?;
        let id = runtime.create(spec).await?;
        if cancel.is_cancelled() {
            return Err(interrupted());
        }
        if start {
            runtime.start(&id).await?;
        }
        Ok(id)
    }
    .await;
    if result.is_err() {
        teardown(runtime, &spec.run_id).await;
    }
    result
}

/// Removes everything labelled with `run_id`, never failing the caller's path: a
/// removal error is reported on stderr with the command that finishes the job.
pub async fn teardown(runtime: &dyn Runtime, run_id: &str) {
    if let Err(err) = runtime.remove(run_id).await {
        eprintln!(
            "berth: warning: cleanup of run {run_id} failed: {}; run `berth rm -f {run_id}` to finish it",
            err.report()
        );
    }
}
