//! Connecting a session's streams to berth's own stdio: output chunks are written and
//! flushed as they arrive, stdin is forwarded as read, and end of input closes the
//! process's stdin. Nothing is buffered or translated, so `berth exec -i` carries
//! MCP's JSON-RPC byte for byte.

use std::io::IsTerminal;

use futures::StreamExt;
use runtime_core::runtime::DEFAULT_STOP_GRACE;
use runtime_core::{Error, Output, Sandbox, Session};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Pumps `session` until its output ends, then returns its exit code.
pub async fn pump(session: Session, forward_stdin: bool) -> Result<i64, Error> {
    let Session {
        input,
        mut output,
        exit,
        ..
    } = session;
    let stdin_task = match (input, forward_stdin) {
        (Some(mut input), true) => Some(tokio::spawn(async move {
            let mut stdin = tokio::io::stdin();
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match stdin.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if input.write_all(&buf[..n]).await.is_err() || input.flush().await.is_err()
                        {
                            return;
                        }
                    }
                }
            }
            let _ = input.shutdown().await;
        })),
        (Some(mut input), false) => {
            let _ = input.shutdown().await;
            None
        }
        (None, _) => None,
    };
    let mut stdout = tokio::io::stdout();
    let mut stderr = tokio::io::stderr();
    let mut stdout_open = true;
    let mut stderr_open = true;
    while let Some(chunk) = output.next().await {
        match chunk? {
            Output::Stdout(bytes) if stdout_open => {
                stdout_open =
                    stdout.write_all(&bytes).await.is_ok() && stdout.flush().await.is_ok();
            }
            Output::Stderr(bytes) if stderr_open => {
                stderr_open =
                    stderr.write_all(&bytes).await.is_ok() && stderr.flush().await.is_ok();
            }
            _ => {}
        }
    }
    if let Some(task) = stdin_task {
        task.abort();
    }
    exit.await
}

/// Runs a created sandbox in the foreground: attaches berth's stdio, starts it,
/// and pumps until it exits (its exit code) or a signal arrives (128 + the
/// signal's number). Then, with `rm`, removes it; else leaves it stopped.
pub async fn foreground(
    mut sandbox: Sandbox,
    interrupts: &mut crate::signals::Interrupts,
    interactive: bool,
    tty: bool,
    rm: bool,
) -> Result<u8, Error> {
    let session = sandbox.attach_and_start().await?;
    let raw = tty.then(RawTerminal::enter);
    let outcome = tokio::select! {
        code = pump(session, interactive) => Ok(code),
        signal = interrupts.recv() => Err(signal),
    };
    drop(raw);
    if let Err(signal) = outcome {
        let verb = if rm { "removing" } else { "stopping" };
        eprintln!("berth: {signal}: {verb} {}", sandbox.name());
    }
    let exit_code = outcome
        .as_ref()
        .ok()
        .and_then(|code| code.as_ref().ok().copied());
    if rm {
        let run_id = sandbox.run_id().clone();
        if let Err(err) = sandbox.remove().await {
            eprintln!(
                "berth: warning: cleanup of run {run_id} failed: {}; run `berth rm -f {run_id}` to finish it",
                err.report()
            );
        }
    } else {
        if outcome.is_err() {
            let _ = sandbox.stop(DEFAULT_STOP_GRACE).await;
        }
        sandbox.keep(exit_code);
    }
    match outcome {
        Ok(code) => Ok(crate::exit::of_process(code?)),
        Err(signal) => Ok(crate::exit::signalled(signal)),
    }
}

/// Puts the terminal in raw mode while alive, when stdin is a terminal.
pub struct RawTerminal {
    saved: Option<nix::sys::termios::Termios>,
}

impl RawTerminal {
    /// Enters raw mode if stdin is a terminal; otherwise does nothing.
    pub fn enter() -> Self {
        use nix::sys::termios::{SetArg, cfmakeraw, tcgetattr, tcsetattr};
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return Self { saved: None };
        }
        let Ok(saved) = tcgetattr(&stdin) else {
            return Self { saved: None };
        };
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        if tcsetattr(&stdin, SetArg::TCSANOW, &raw).is_err() {
            return Self { saved: None };
        }
        Self { saved: Some(saved) }
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            let _ = nix::sys::termios::tcsetattr(
                std::io::stdin(),
                nix::sys::termios::SetArg::TCSANOW,
                saved,
            );
        }
    }
}
