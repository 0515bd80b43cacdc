//! How `berth run` shows what a launch reports (image builds, swept runs,
//! warnings). Long waits are visible, short ones quiet:
//! - on a terminal, a build is one line that overwrites itself on stderr: a bar
//!   of its steps, the step that runs, and its latest output line; when it ends
//!   the line gives way to one that says how it ended;
//! - elsewhere (a log, CI), plain lines: the steps that run and their output;
//! - either way, a build whose every step came from the cache is one line;
//! - with `-q`, nothing but warnings.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use runtime_core::progress::{BuildNote, OUTPUT_MARK};

/// How many cells the bar has.
const BAR: usize = 20;

/// Where lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Warnings only.
    Quiet,
    /// One line per line (stderr is not a terminal).
    Plain,
    /// A status line that overwrites itself, and lines above it.
    Terminal,
}

/// What has been shown so far.
#[derive(Debug, Default)]
struct State {
    /// A build's first line, not shown yet (plain: shown once a step runs).
    held: Option<String>,
    /// The status line's parts: the build, its step with the bar, and the latest
    /// output line.
    building: Option<String>,
    step: Option<String>,
    output: Option<String>,
    /// Whether a status line is on the screen.
    drawn: bool,
}

/// Shows a launch's progress lines on stderr.
#[derive(Debug)]
pub struct Reporter {
    mode: Mode,
    state: Mutex<State>,
}

impl Reporter {
    /// A reporter for berth's stderr: quiet with `-q`, else a status line on a
    /// terminal and plain lines elsewhere.
    pub fn new(quiet: bool) -> Self {
        let mode = if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            Mode::Terminal
        } else {
            Mode::Plain
        };
        Self {
            mode,
            state: Mutex::new(State::default()),
        }
    }

    /// Shows one progress line.
    pub fn line(&self, line: &str) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let warning = line.starts_with("warning: ");
        match (self.mode, BuildNote::parse(line)) {
            (Mode::Quiet, _) if !warning => {}
            (Mode::Terminal, Some(note)) => self.status(&mut state, note),
            (Mode::Terminal, None) if line.starts_with(OUTPUT_MARK) => {
                state.output = Some(line[OUTPUT_MARK.len()..].trim().to_owned());
                draw(&mut state);
            }
            (Mode::Plain, Some(BuildNote::Started { .. })) => state.held = Some(line.to_owned()),
            (Mode::Plain, Some(BuildNote::Finished { ran: 0, .. })) => {
                state.held = None;
                print(line);
            }
            (Mode::Plain, _) => {
                if let Some(held) = state.held.take() {
                    print(&held);
                }
                print(line);
            }
            (_, _) => {
                clear(&mut state);
                print(line);
                draw(&mut state);
            }
        }
    }

    /// Updates the status line for a note of the build.
    fn status(&self, state: &mut State, note: BuildNote) {
        match note {
            BuildNote::Started { tag } => {
                state.building = Some(format!("building {tag}"));
                state.step = None;
                state.output = None;
                draw(state);
            }
            BuildNote::Step {
                number,
                total,
                what,
            } => {
                let filled = usize::try_from(number.saturating_sub(1).min(total))
                    .unwrap_or(0)
                    .saturating_mul(BAR)
                    .checked_div(usize::try_from(total).unwrap_or(0))
                    .unwrap_or(0);
                state.step = Some(format!(
                    "[{}{}] {number}/{total} {what}",
                    "#".repeat(filled),
                    "-".repeat(BAR - filled)
                ));
                state.output = None;
                draw(state);
            }
            finished @ BuildNote::Finished { .. } => {
                clear(state);
                state.building = None;
                state.step = None;
                state.output = None;
                print(&finished.to_string());
            }
        }
    }
}

impl Drop for Reporter {
    /// Takes a status line off the screen (a build that failed leaves one), so
    /// that what berth prints next starts on a clean line.
    fn drop(&mut self) {
        if let Ok(mut state) = self.state.lock() {
            clear(&mut state);
        }
    }
}

/// Prints `berth: <line>` on a line of its own.
fn print(line: &str) {
    crate::stdio::note(line);
}

/// Draws the status line, cut to the terminal's width, over the one drawn before.
fn draw(state: &mut State) {
    let Some(building) = &state.building else {
        return;
    };
    let mut text = format!("berth: {building}");
    for part in [&state.step, &state.output].into_iter().flatten() {
        text.push_str("  ");
        text.push_str(part);
    }
    let width = crate::terminal::stderr_width().unwrap_or(80);
    let shown: String = text
        .chars()
        .filter(|c| !c.is_control())
        .take(usize::from(width.saturating_sub(1)))
        .collect();
    let mut stderr = std::io::stderr();
    let _ = write!(stderr, "\r\x1b[2K{shown}");
    let _ = stderr.flush();
    state.drawn = true;
}

/// Takes the status line off the screen, if one is drawn.
fn clear(state: &mut State) {
    if state.drawn {
        let mut stderr = std::io::stderr();
        let _ = write!(stderr, "\r\x1b[2K");
        let _ = stderr.flush();
        state.drawn = false;
    }
}
