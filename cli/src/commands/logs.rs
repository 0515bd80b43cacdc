//! `berth logs`: a sandbox's output, stdout to stdout and stderr to stderr.

use futures::StreamExt;
use runtime_core::{Error, LogOptions, Output};
use tokio::io::AsyncWriteExt;

use crate::{LogsArgs, backends};

pub async fn execute(args: LogsArgs) -> Result<u8, Error> {
    let (runtime, info) = backends::locate(args.runtime, &args.run).await?;
    let options = LogOptions {
        follow: args.follow,
        tail: args.tail,
    };
    let mut stream = runtime.logs(&info.id, &options).await?;
    let mut stdout = tokio::io::stdout();
    let mut stderr = tokio::io::stderr();
    while let Some(chunk) = stream.next().await {
        let written = match chunk? {
            Output::Stdout(b) => stdout.write_all(&b).await.and(stdout.flush().await),
            Output::Stderr(b) => stderr.write_all(&b).await.and(stderr.flush().await),
        };
        if written.is_err() {
            break;
        }
    }
    Ok(0)
}
