//! `berth attach`: berth's stdio joined to a running sandbox's main process, as
//! `docker attach` does. A run with a terminal (`run -d -it`) gets berth's
//! terminal in raw mode, its window size, and the detach keys, which leave it
//! running. A signal to berth leaves it running too: attaching is never how a run
//! ends by accident (`berth stop` is).

use runtime_core::Error;

use crate::signals::Interrupts;
use crate::stdio::{self, Ended, Input};
use crate::terminal::{RawTerminal, window_size};
use crate::{AttachArgs, backends};

pub async fn execute(args: AttachArgs) -> Result<u8, Error> {
    let mut interrupts = Interrupts::new();
    let (runtime, info) = backends::locate(args.runtime, &args.run).await?;
    super::exec::require_running(&info)?;
    // A run from before the label was written is taken to have no terminal: raw
    // mode on a process without one would garble its output.
    let tty = runtime_core::labels::tty(&info.labels).unwrap_or(false);
    let input = match (args.no_stdin, tty) {
        (true, _) => Input::Closed,
        (false, true) => Input::Terminal(Some(args.detach_keys)),
        (false, false) => Input::Share,
    };
    let attaching = async {
        match &input {
            Input::Terminal(Some(keys)) => runtime.attach_terminal(&info.id, true, keys).await,
            Input::Closed => runtime.attach(&info.id, false).await,
            Input::Forward | Input::Share | Input::Terminal(None) => {
                runtime.attach(&info.id, true).await
            }
        }
    };
    let name = &info.name;
    let left = |how: &str| {
        stdio::note_below(format_args!(
            "{how} {name}; it keeps running: `berth attach {name}` returns to it, `berth stop {name}` stops it"
        ));
    };
    let session = tokio::select! {
        session = attaching => session?,
        signal = interrupts.recv() => return Ok(crate::exit::signalled(signal)),
    };
    // A program that draws the whole screen (an agent's TUI) redraws on
    // SIGWINCH, which comes only when the size changes: one column less first,
    // then the terminal's own size from the pump, changes it even when this
    // terminal is as large as the last one attached.
    if tty && let (Some(control), Some((rows, cols))) = (&session.control, window_size()) {
        let _ = control.resize(rows, cols.saturating_sub(1).max(1)).await;
    }
    let raw = input.raw().then(RawTerminal::enter);
    let outcome = tokio::select! {
        ended = stdio::pump(session, input) => Ok(ended),
        signal = interrupts.recv() => Err(signal),
    };
    drop(raw);
    match outcome {
        Ok(ended) => match ended? {
            Ended::Exited(code) => Ok(crate::exit::of_process(code)),
            Ended::Detached => {
                left("detached from");
                Ok(0)
            }
        },
        Err(signal) => {
            left(&format!("{signal}: left"));
            Ok(crate::exit::signalled(signal))
        }
    }
}
