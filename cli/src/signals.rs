//! SIGINT, SIGTERM and SIGHUP as a future, so a launch or attach can be abandoned
//! and torn down instead of leaving debris (SIGHUP: the terminal closed under an
//! interactive run, which then goes as it would on SIGTERM).

use std::future::Future;

use runtime_core::launch::{Cancellation, Signal as Stop};
use tokio::signal::unix::{Signal, SignalKind, signal};

/// Listens for SIGINT, SIGTERM and SIGHUP from the moment it is created.
pub struct Interrupts {
    int: Option<Signal>,
    term: Option<Signal>,
    hup: Option<Signal>,
}

impl Interrupts {
    /// Starts listening. If a handler cannot be installed, that signal keeps its
    /// default action.
    pub fn new() -> Self {
        Self {
            int: signal(SignalKind::interrupt()).ok(),
            term: signal(SignalKind::terminate()).ok(),
            hup: signal(SignalKind::hangup()).ok(),
        }
    }

    /// Awaits `launching`; a signal meanwhile cancels it through `cancel` (the
    /// launch then removes what it created and fails naming the signal).
    pub async fn cancel_on_signal<T>(
        &mut self,
        cancel: &Cancellation,
        launching: impl Future<Output = T>,
    ) -> T {
        tokio::pin!(launching);
        tokio::select! {
            done = &mut launching => done,
            signal = self.recv() => {
                eprintln!("berth: {signal}: stopping the launch and removing what it created");
                cancel.cancel(signal);
                launching.await
            }
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
            () = next(&mut self.hup) => Stop::Hangup,
        }
    }
}
