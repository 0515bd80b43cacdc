//! Starting a stopped detached run again (`berth start`, `berth restart`), with
//! its record kept in step.
//!
//! Only detached runs: a foreground run's container carries the pid of the berth
//! process that owned it, and once that process is gone `berth gc` takes the run
//! for an orphan, so starting it again would only hand it to the collector.

use crate::labels::Ownership;
use crate::state::{RunState, RunStore};
use crate::{Error, Runtime, SandboxInfo, SandboxState};

/// Starts `info`'s sandbox (a stopped detached run, found with
/// [`crate::Runtime::find`]) and what its run needs beside it, and marks its
/// record running. A running sandbox is left as it is.
pub async fn start_stopped(
    runtime: &dyn Runtime,
    info: &SandboxInfo,
    store: &RunStore,
) -> Result<(), Error> {
    let labels = match Ownership::classify_container(&info.labels) {
        Ownership::Run(labels) => labels,
        Ownership::Foreign { reason } => {
            return Err(Error::Foreign {
                name: info.name.clone(),
                reason,
            });
        }
        Ownership::Shared { .. } => {
            return Err(Error::Foreign {
                name: info.name.clone(),
                reason: "it belongs to no run".to_owned(),
            });
        }
    };
    if info.state == SandboxState::Running {
        return Ok(());
    }
    let claimed = store
        .load(&labels.run_id)
        .and_then(|r| r.pool)
        .is_some_and(|seat| seat.claimed);
    if claimed {
        return Err(Error::Usage {
            message: format!(
                "{} was a warm pool's member whose command a run started through berth-init: that command cannot start again; start a new one with berth run, and remove this one with berth rm {}",
                info.name, info.name
            ),
        });
    }
    if labels.detached != Some(true) {
        return Err(Error::Usage {
            message: format!(
                "{} is a foreground run: only a detached run (berth run -d) can be started again; start a new one with berth run, and remove this one with berth rm {}",
                info.name, info.name
            ),
        });
    }
    // berth-init takes its token at every start. Without one it serves no exec,
    // and `berth exec` takes the engine's. Only into a sandbox that runs
    // nothing: a paused or stopping one's processes could read it.
    if matches!(info.state, SandboxState::Exited | SandboxState::Created)
        && let Err(err) = crate::init::rearm(store, &labels.run_id)
    {
        tracing::warn!(run_id = %labels.run_id, "exec goes through the engine: {}", err.report());
    }
    runtime.start_stopped(&info.id).await?;
    store.update(&labels.run_id, |r| {
        r.exit_code = None;
        r.error = None;
        r.transition(RunState::Running);
    })
}
