//! `berth inspect`: one run as JSON, as `docker inspect` prints a container: its
//! run record (states and their times, TTL, owner, the error of a failed step)
//! and the engine's view of its sandbox (state, status, image, OCI runtime,
//! labels). A run whose container is gone still shows its record.

use runtime_core::state::RunRecord;
use runtime_core::{Error, RunId, SandboxInfo};
use serde::Serialize;

use crate::{InspectArgs, backends, render};

#[derive(Serialize)]
struct Inspected {
    run_id: RunId,
    /// berth's record of the run; `None` when it has none (it was removed).
    record: Option<RunRecord>,
    /// The engine's view; `None` when the container is gone.
    sandbox: Option<SandboxInfo>,
}

pub async fn execute(args: InspectArgs) -> Result<u8, Error> {
    let store = super::run_store()?;
    let inspected = match backends::locate(args.runtime, &args.run).await {
        Ok((_, info)) => {
            let run_id = super::run_of(&info, &args.run)?.clone();
            Inspected {
                record: store.load(&run_id),
                run_id,
                sandbox: Some(info),
            }
        }
        Err(err @ Error::NotFound { .. }) => {
            // A run id whose container is gone: its record is all there is.
            let record = RunId::parse(&args.run)
                .ok()
                .and_then(|run_id| store.load(&run_id));
            match record {
                Some(record) => Inspected {
                    run_id: record.run_id.clone(),
                    record: Some(record),
                    sandbox: None,
                },
                None => return Err(err),
            }
        }
        Err(err) => return Err(err),
    };
    render::json(&inspected);
    Ok(0)
}
