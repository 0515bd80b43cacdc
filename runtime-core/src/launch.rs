//! Launching a plan in order (image, then create, then start) behind a guard that
//! removes everything the run created if any step fails. Cancellation (Ctrl-C) is the
//! caller's: it drops the launch future and calls [`Runtime::remove`] with the run id,
//! which finds everything by label, including what a half-finished step created.

use crate::error::Error;
use crate::runtime::{CreateSpec, Progress, Runtime};

/// Makes the image present, creates the sandbox and, unless `start` is false, starts
/// it. On failure the run's resources are removed before the error is returned.
/// Returns the container id.
pub async fn launch(
    runtime: &dyn Runtime,
    spec: &CreateSpec<'_>,
    start: bool,
    progress: Progress<'_>,
) -> Result<String, Error> {
    let result = async {
        runtime.ensure_image(&spec.plan.image, progress).await?;
        let id = runtime.create(spec).await?;
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
