//! The person's terminal during an interactive session: raw mode while the session
//! lasts, so every key (Ctrl-C and Ctrl-D included) goes to the program inside,
//! restored on every way out (a return, an error, a signal berth handles, a
//! panic); and the window size, given to the session's terminal when it starts
//! and again after every SIGWINCH.

use std::io::IsTerminal;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::Duration;

use runtime_core::SessionControl;
use tokio::signal::unix::{SignalKind, signal};
use tokio::task::JoinHandle;

/// How often the first resize is tried: an exec the engine has just started may
/// not be running yet, and the engine refuses to resize it until it is.
const FIRST_RESIZE_TRIES: u32 = 10;
const FIRST_RESIZE_PAUSE: Duration = Duration::from_millis(20);

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
            // TCSAFLUSH would drop what the person typed after the session ended;
            // TCSANOW keeps it for the shell that gets the terminal back.
            let _ = nix::sys::termios::tcsetattr(
                std::io::stdin(),
                nix::sys::termios::SetArg::TCSANOW,
                saved,
            );
        }
    }
}

/// The terminal's window size as (rows, columns): stdout's, else stdin's; `None`
/// when neither is a terminal (or it reports no size).
pub fn window_size() -> Option<(u16, u16)> {
    let stdout = std::io::stdout();
    let stdin = std::io::stdin();
    [stdout.as_fd(), stdin.as_fd()]
        .into_iter()
        .filter_map(|fd| rustix::termios::tcgetwinsize(fd).ok())
        .map(|size| (size.ws_row, size.ws_col))
        .find(|&(rows, cols)| rows > 0 && cols > 0)
}

/// The width of the terminal stderr goes to, when it goes to one.
pub fn stderr_width() -> Option<u16> {
    rustix::termios::tcgetwinsize(std::io::stderr())
        .ok()
        .map(|size| size.ws_col)
        .filter(|&cols| cols > 0)
}

/// Gives the session's terminal this terminal's window size now, and again after
/// every SIGWINCH, until the returned task is aborted. `None` when berth runs on
/// no terminal (there is no size to give).
pub fn follow_window(control: Arc<dyn SessionControl>) -> Option<JoinHandle<()>> {
    window_size()?;
    // Listening starts before the first size is read, so no change is missed.
    let mut changes = signal(SignalKind::window_change()).ok();
    Some(tokio::spawn(async move {
        if let Some((rows, cols)) = window_size() {
            for attempt in 1..=FIRST_RESIZE_TRIES {
                match control.resize(rows, cols).await {
                    Ok(()) => break,
                    Err(err) if attempt == FIRST_RESIZE_TRIES => {
                        tracing::debug!("the session's terminal was not resized: {err}");
                    }
                    Err(_) => tokio::time::sleep(FIRST_RESIZE_PAUSE * attempt).await,
                }
            }
        }
        let Some(changes) = changes.as_mut() else {
            return;
        };
        while changes.recv().await.is_some() {
            if let Some((rows, cols)) = window_size()
                && let Err(err) = control.resize(rows, cols).await
            {
                tracing::debug!("the session's terminal was not resized: {err}");
            }
        }
    }))
}
