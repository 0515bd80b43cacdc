//! `berth stop`: SIGTERM, then SIGKILL after the grace period. Only berth's own
//! sandboxes: a foreign one (berth's label without a valid run id) is refused.

use std::time::Duration;

use runtime_core::Error;
use runtime_core::state::RunState;

use crate::{StopArgs, backends};

pub async fn execute(args: StopArgs) -> Result<u8, Error> {
    let flag = args.runtime;
    super::sweep_expired(flag).await;
    let store = super::run_store()?;
    for run in &args.runs {
        let (runtime, info) = backends::locate(flag, run).await?;
        let run_id = super::run_of(&info, run)?;
        store.update(run_id, |r| r.transition(RunState::Stopping))?;
        runtime
            .stop(&info.id, Duration::from_secs(args.time))
            .await?;
        store.update(run_id, |r| r.transition(RunState::Stopped))?;
        crate::outln!("{}", info.name);
    }
    Ok(0)
}
