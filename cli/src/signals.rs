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
            // Started under nohup (SIGHUP ignored), berth keeps ignoring it.
            hup: (!hangup_ignored())
                .then(|| signal(SignalKind::hangup()).ok())
                .flatten(),
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

/// Whether this process was started with SIGHUP ignored (as `nohup` starts a
/// program), read from the kernel's `SigIgn` mask in /proc/self/status; false
/// where there is none to read.
fn hangup_ignored() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .as_deref()
        .and_then(ignored_mask)
        .is_some_and(|mask| mask & (1 << (nix::sys::signal::Signal::SIGHUP as u32 - 1)) != 0)
}

/// The `SigIgn` mask of a /proc/PID/status text.
fn ignored_mask(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("SigIgn:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_ignored_mask_is_read_from_the_status_text() {
        let status =
            "Name:\tberth\nSigBlk:\t0000000000000000\nSigIgn:\t0000000000000001\nSigCgt:\t0\n";
        assert_eq!(super::ignored_mask(status), Some(1));
        assert_eq!(super::ignored_mask("Name:\tberth\n"), None);
    }
}
