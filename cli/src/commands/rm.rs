//! `berth rm`: remove a run's container, networks and anonymous volumes, by label.

use runtime_core::{Error, SandboxState};

use crate::{RmArgs, backends};

pub async fn execute(args: RmArgs) -> Result<u8, Error> {
    let flag = args.runtime.map(Into::into);
    super::gc::sweep_expired(flag).await;
    let store = super::run_store()?;
    for run in &args.runs {
        let (runtime, info) = match backends::locate(flag, run).await {
            Ok(found) => found,
            Err(Error::NotFound { what, name }) => {
                // A run that only berth remembers (a failed launch): forget it.
                let (records, _) = store.list();
                match records.iter().find(|r| r.name == *run || r.run_id == *run) {
                    Some(record) => {
                        store.remove(&record.run_id)?;
                        println!("{} (run record only)", record.name);
                        continue;
                    }
                    None => return Err(Error::NotFound { what, name }),
                }
            }
            Err(err) => return Err(err),
        };
        if !args.force && matches!(info.state, SandboxState::Running | SandboxState::Paused) {
            return Err(crate::usage(format!(
                "{} is running: stop it first (berth stop {}), or remove it anyway with berth rm -f",
                info.name, info.name
            )));
        }
        let removed = runtime.remove(&info.run_id).await?;
        store.remove(&info.run_id)?;
        let extra = removed.networks.len() + removed.volumes.len();
        if extra > 0 {
            println!(
                "{} (and {} network(s), {} volume(s))",
                info.name,
                removed.networks.len(),
                removed.volumes.len()
            );
        } else {
            println!("{}", info.name);
        }
    }
    Ok(0)
}
