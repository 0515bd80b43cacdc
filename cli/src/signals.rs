//! SIGINT and SIGTERM as a future, so a launch or attach can be abandoned and torn
//! down instead of leaving debris.

use tokio::signal::unix::{Signal, SignalKind, signal};

/// Listens for SIGINT and SIGTERM from the moment it is created.
pub struct Interrupts {
    int: Option<Signal>,
    term: Option<Signal>,
}

impl Interrupts {
    /// Starts listening. If a handler cannot be installed, that signal keeps its
    /// default action.
    pub fn new() -> Self {
        Self {
            int: signal(SignalKind::interrupt()).ok(),
            term: signal(SignalKind::terminate()).ok(),
        }
    }

    /// Resolves with the signal's name when one arrives.
    pub async fn recv(&mut self) -> &'static str {
        async fn next(sig: &mut Option<Signal>) {
            match sig {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        }
        tokio::select! {
            () = next(&mut self.int) => "SIGINT",
            () = next(&mut self.term) => "SIGTERM",
        }
    }
}

/// The exit code for a signal name (128 + number).
pub fn exit_code(signal: &str) -> u8 {
    match signal {
        "SIGTERM" => 143,
        _ => 130,
    }
}
