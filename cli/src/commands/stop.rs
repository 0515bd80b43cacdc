//! `berth stop`: SIGTERM, then SIGKILL after the grace period.

use std::time::Duration;

use runtime_core::Error;

use crate::{StopArgs, backends};

pub async fn execute(args: StopArgs) -> Result<u8, Error> {
    let flag = args.runtime.map(Into::into);
    for run in &args.runs {
        let (runtime, info) = backends::locate(flag, run).await?;
        runtime
            .stop(&info.id, Duration::from_secs(args.time))
            .await?;
        println!("{}", info.name);
    }
    Ok(0)
}
