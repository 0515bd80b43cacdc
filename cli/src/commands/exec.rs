//! `berth exec`: a command in a running sandbox, stdio byte-exact with -i.

use runtime_core::{Error, ExecSpec};

use crate::signals::Interrupts;
use crate::{ExecArgs, backends, environment, stdio};

/// Runs the command; SIGINT or SIGTERM ends the session (the backend's handle
/// cleans up what it holds, such as Apple's env FIFO) and exits 128 + the signal.
pub async fn execute(args: ExecArgs) -> Result<u8, Error> {
    let mut interrupts = Interrupts::new();
    let mut env = Vec::new();
    let from_berth = |name: &str| std::env::var(name).ok();
    for file in &args.env_file {
        for item in environment::read_file(file)? {
            env.extend(item.resolve(from_berth));
        }
    }
    for item in &args.env {
        env.extend(environment::Item::parse(item)?.resolve(from_berth));
    }
    let (runtime, info) = backends::locate(args.runtime, &args.run).await?;
    let spec = ExecSpec {
        cmd: args.command,
        workdir: args.workdir,
        env,
        user: args.user,
        stdin: args.interactive,
        tty: args.tty,
    };
    let session = tokio::select! {
        session = runtime.exec(&info.id, &spec) => session?,
        signal = interrupts.recv() => return Ok(crate::exit::signalled(signal)),
    };
    let raw = args.tty.then(stdio::RawTerminal::enter);
    let code = tokio::select! {
        code = stdio::pump(session, args.interactive) => code,
        signal = interrupts.recv() => Ok(i64::from(crate::exit::signalled(signal))),
    };
    drop(raw);
    Ok(crate::exit::of_process(code?))
}
