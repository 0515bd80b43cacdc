//! `berth start` and `berth restart`: a stopped detached run started again, with
//! what its run needs beside it (`runtime_core::restart`); `restart` stops it
//! first (SIGTERM, then SIGKILL after the grace period).

use std::time::Duration;

use runtime_core::state::RunState;
use runtime_core::{Error, SandboxState};

use crate::{StartArgs, StopArgs, backends};

pub async fn execute(args: StartArgs) -> Result<u8, Error> {
    let flag = args.runtime;
    super::sweep_expired(flag).await;
    let store = super::run_store()?;
    for run in &args.runs {
        let (runtime, info) = backends::locate(flag, run).await?;
        runtime_core::restart::start_stopped(&*runtime, &info, &store).await?;
        crate::outln!("{}", info.name);
    }
    Ok(0)
}

pub async fn restart(args: StopArgs) -> Result<u8, Error> {
    let flag = args.runtime;
    super::sweep_expired(flag).await;
    let store = super::run_store()?;
    for run in &args.runs {
        let (runtime, mut info) = backends::locate(flag, run).await?;
        let run_id = super::run_of(&info, run)?.clone();
        if info.state == SandboxState::Running {
            store.update(&run_id, |r| r.transition(RunState::Stopping))?;
            runtime
                .stop(&info.id, Duration::from_secs(args.time))
                .await?;
            store.update(&run_id, |r| r.transition(RunState::Stopped))?;
            info.state = SandboxState::Exited;
        }
        runtime_core::restart::start_stopped(&*runtime, &info, &store).await?;
        crate::outln!("{}", info.name);
    }
    Ok(0)
}
