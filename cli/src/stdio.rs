//! Connecting a session's streams to berth's own stdio: output chunks are written and
//! flushed as they arrive, stdin is forwarded as read, and end of input closes the
//! process's stdin. Nothing is buffered or translated, so `berth exec -i` carries
//! MCP's JSON-RPC byte for byte. With a terminal, what the person types is watched
//! for the detach keys, and the window size follows berth's terminal.

use futures::StreamExt;
use runtime_core::runtime::DEFAULT_STOP_GRACE;
use runtime_core::terminal::{DetachKeys, DetachScanner};
use runtime_core::{Error, Output, Sandbox, Session};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::terminal::{RawTerminal, follow_window};

/// Prints `berth: <line>` on stderr, ignoring a stderr that is gone: after a
/// SIGHUP the terminal is, and the teardown must go on (`eprintln!` would panic).
pub fn note(line: impl std::fmt::Display) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "berth: {line}");
}

/// [`note`], on a line of its own below what the session left on the screen
/// (after detaching, the cursor is wherever the program inside left it).
pub fn note_below(line: impl std::fmt::Display) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "\nberth: {line}");
}

/// What berth does with its stdin during a session.
#[derive(Debug, Clone)]
pub enum Input {
    /// Nothing is forwarded; the process's stdin (if open) is closed.
    Closed,
    /// Forwarded byte for byte; end of input closes the process's stdin.
    Forward,
    /// Forwarded byte for byte; end of input leaves the process's stdin open (an
    /// attach: the stdin belongs to the run, not to this session).
    Share,
    /// Forwarded to the process's terminal; the detach keys, when there are
    /// any, end the session and leave the process running, and end of input
    /// leaves its terminal open.
    Terminal(Option<DetachKeys>),
}

impl Input {
    /// The input of a session with stdin (`interactive`) and a terminal (`tty`),
    /// left with `keys` (none: it cannot be left).
    pub fn new(interactive: bool, tty: bool, keys: Option<DetachKeys>) -> Self {
        match (interactive, tty) {
            (false, _) => Self::Closed,
            (true, false) => Self::Forward,
            (true, true) => Self::Terminal(keys),
        }
    }

    /// Whether berth's terminal goes raw for it: a person types into a terminal
    /// inside, so every key must reach it unchanged.
    pub fn raw(&self) -> bool {
        matches!(self, Self::Terminal(_))
    }
}

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The process exited with this code.
    Exited(i64),
    /// The person typed the detach keys; the process is still running.
    Detached,
}

/// Pumps `session` until its output ends (then returns its exit code) or the
/// person detaches. With a terminal, its window size follows berth's.
pub async fn pump(session: Session, input: Input) -> Result<Ended, Error> {
    let Session {
        input: sink,
        mut output,
        exit,
        control,
    } = session;
    // The control is kept until the session ends: a backend may take the end of
    // its control for the end of the session (berth-init's exec does).
    let window = control.clone().and_then(follow_window);
    let (detached_tx, mut detached_rx) = tokio::sync::oneshot::channel::<()>();
    let mut scanner = match &input {
        Input::Terminal(keys) => keys.clone().map(DetachScanner::new),
        Input::Closed | Input::Forward | Input::Share => None,
    };
    let close_at_end = matches!(input, Input::Forward);
    let stdin_task = match (sink, input) {
        (Some(mut sink), Input::Forward | Input::Share | Input::Terminal(_)) => {
            Some(tokio::spawn(async move {
                let mut stdin = tokio::io::stdin();
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let n = match stdin.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    let (bytes, detached) = match scanner.as_mut() {
                        Some(scanner) => {
                            let scanned = scanner.scan(&buf[..n]);
                            (scanned.forward, scanned.detached)
                        }
                        None => (buf[..n].to_vec(), false),
                    };
                    let written =
                        sink.write_all(&bytes).await.is_ok() && sink.flush().await.is_ok();
                    if detached {
                        // The process's stdin stays open: it keeps running.
                        let _ = detached_tx.send(());
                        return;
                    }
                    if !written {
                        return;
                    }
                }
                if close_at_end {
                    let _ = sink.shutdown().await;
                } else {
                    // Half-closing would make the engine end the session's output
                    // while the process runs on; the connection stays as it is.
                    std::future::pending::<()>().await;
                }
            }))
        }
        (Some(mut sink), Input::Closed) => {
            let _ = sink.shutdown().await;
            None
        }
        (None, _) => None,
    };
    let mut stdout = tokio::io::stdout();
    let mut stderr = tokio::io::stderr();
    let mut stdout_open = true;
    let mut stderr_open = true;
    let mut may_detach = stdin_task.is_some();
    let ended = loop {
        tokio::select! {
            chunk = output.next() => match chunk {
                None => break None,
                Some(Err(err)) => break Some(Err(err)),
                Some(Ok(Output::Stdout(bytes))) if stdout_open => {
                    stdout_open =
                        stdout.write_all(&bytes).await.is_ok() && stdout.flush().await.is_ok();
                }
                Some(Ok(Output::Stderr(bytes))) if stderr_open => {
                    stderr_open =
                        stderr.write_all(&bytes).await.is_ok() && stderr.flush().await.is_ok();
                }
                Some(Ok(_)) => {}
            },
            detached = &mut detached_rx, if may_detach => match detached {
                Ok(()) => break Some(Ok(Ended::Detached)),
                // Input ended without the keys: the output decides.
                Err(_) => may_detach = false,
            },
        }
    };
    if let Some(task) = stdin_task {
        task.abort();
    }
    if let Some(window) = window {
        window.abort();
    }
    let ended = match ended {
        Some(ended) => ended,
        None => exit.await.map(Ended::Exited),
    };
    drop(control);
    ended
}

/// Runs a created sandbox in the foreground: attaches berth's stdio, starts it,
/// and pumps until it exits (its exit code), a signal arrives (128 + the
/// signal's number), or the person detaches (0). On exit or a signal, with `rm`,
/// removes it; else leaves it stopped. Detached, the run keeps running, handed
/// over as a detached run is (for `berth attach`, `stop`, `rm`).
pub async fn foreground(
    mut sandbox: Sandbox,
    interrupts: &mut crate::signals::Interrupts,
    input: Input,
    rm: bool,
) -> Result<u8, Error> {
    let session = sandbox.attach_and_start().await?;
    let raw = input.raw().then(RawTerminal::enter);
    let outcome = tokio::select! {
        ended = pump(session, input) => Ok(ended),
        signal = interrupts.recv() => Err(signal),
    };
    drop(raw);
    if let Ok(Ok(Ended::Detached)) = outcome {
        let name = sandbox.detach();
        let removal = if rm {
            format!(" (--rm no longer applies: `berth rm -f {name}` removes it)")
        } else {
            String::new()
        };
        note_below(format_args!(
            "detached from {name}; it keeps running{removal}: `berth attach {name}` returns to it, `berth stop {name}` stops it"
        ));
        return Ok(0);
    }
    if let Err(signal) = outcome {
        let verb = if rm { "removing" } else { "stopping" };
        note(format_args!("{signal}: {verb} {}", sandbox.name()));
    }
    let exit_code = match &outcome {
        Ok(Ok(Ended::Exited(code))) => Some(*code),
        _ => None,
    };
    if rm {
        let run_id = sandbox.run_id().clone();
        if let Err(err) = sandbox.remove().await {
            note(format_args!(
                "warning: cleanup of run {run_id} failed: {}; run `berth rm -f {run_id}` to finish it",
                err.report()
            ));
        }
    } else {
        if outcome.is_err() {
            let _ = sandbox.stop(DEFAULT_STOP_GRACE).await;
        }
        sandbox.keep(exit_code);
    }
    match outcome {
        Ok(ended) => match ended? {
            Ended::Exited(code) => Ok(crate::exit::of_process(code)),
            Ended::Detached => Ok(0),
        },
        Err(signal) => Ok(crate::exit::signalled(signal)),
    }
}
