//! `berth rm`: remove a run's container, networks and anonymous volumes, by label.

use runtime_core::{Error, SandboxState};

use crate::{RmArgs, backends};

pub async fn execute(args: RmArgs) -> Result<u8, Error> {
    let flag = args.runtime.map(Into::into);
    for run in &args.runs {
        let (runtime, info) = backends::locate(flag, run).await?;
        if !args.force && matches!(info.state, SandboxState::Running | SandboxState::Paused) {
            return Err(crate::usage(format!(
                "{} is running: stop it first (berth stop {}), or remove it anyway with berth rm -f",
                info.name, info.name
            )));
        }
        let removed = runtime.remove(&info.run_id).await?;
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
