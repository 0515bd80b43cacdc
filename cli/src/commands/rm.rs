//! `berth rm`: remove a run's container, networks and anonymous volumes, by label.
//! Only berth's own runs: a foreign sandbox is refused, and a run that exists only
//! as a record (a failed launch, or a corrupt record named by its run id) is
//! forgotten.

use runtime_core::{Error, RunId, SandboxState};

use crate::{RmArgs, backends};

pub async fn execute(args: RmArgs) -> Result<u8, Error> {
    let flag = args.runtime;
    super::sweep_expired(flag).await;
    let store = super::run_store()?;
    for run in &args.runs {
        let (runtime, info) = match backends::locate(flag, run).await {
            Ok(found) => found,
            Err(Error::NotFound { what, name }) => {
                // A run that only berth remembers (a failed launch): forget it.
                let listing = store.list();
                if let Some(record) = listing
                    .records
                    .iter()
                    .find(|r| r.name == *run || r.run_id == run.as_str())
                {
                    store.remove(&record.run_id)?;
                    crate::outln!("{} (run record only)", record.name);
                    continue;
                }
                let corrupt = RunId::parse(run)
                    .ok()
                    .and_then(|id| listing.corrupt.into_iter().find(|c| c.run_id == id));
                match corrupt {
                    Some(bad) => {
                        store.remove(&bad.run_id)?;
                        crate::outln!("{} (corrupt run record {})", bad.run_id, bad.path.display());
                        continue;
                    }
                    None => return Err(Error::NotFound { what, name }),
                }
            }
            Err(err) => return Err(err),
        };
        let run_id = super::run_of(&info, run)?;
        if !args.force && matches!(info.state, SandboxState::Running | SandboxState::Paused) {
            return Err(crate::usage(format!(
                "{} is running: stop it first (berth stop {}), or remove it anyway with berth rm -f",
                info.name, info.name
            )));
        }
        let removed = runtime.remove(run_id).await?;
        store.remove(run_id)?;
        let extra = removed.networks.len() + removed.volumes.len();
        if extra > 0 {
            crate::outln!(
                "{} (and {} network(s), {} volume(s))",
                info.name,
                removed.networks.len(),
                removed.volumes.len()
            );
        } else {
            crate::outln!("{}", info.name);
        }
    }
    Ok(0)
}
