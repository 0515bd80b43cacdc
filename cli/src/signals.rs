//! SIGINT and SIGTERM as a future, so a launch or attach can be abandoned and torn
//! down instead of leaving debris.

use runtime_core::launch::Signal as Stop;
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

    /// Resolves with the signal when one arrives.
    pub async fn recv(&mut self) -> Stop {
        async fn next(sig: &mut Option<Signal>) {
            match sig {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        }
        tokio::select! {
            () = next(&mut self.int) => Stop::Interrupt,
            () = next(&mut self.term) => Stop::Terminate,
        }
    }
}
