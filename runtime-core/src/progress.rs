//! What an image build tells a client besides its own output: that it started,
//! which step runs now, and how it ended, as [`BuildNote`]s.
//!
//! Progress stays a stream of lines ([`crate::runtime::Progress`]), so a client
//! that only prints lines reads sense; a note is one such line, written with
//! `to_string` by a backend and read back with [`BuildNote::parse`] by a client
//! that draws a progress bar, or prints a fully cached build as one line.
//!
//! The build's own output goes in lines of their own too, each marked with
//! [`OUTPUT_MARK`] ([`output_line`]), so that no output can pass for a note.
//!
//! ```
//! use runtime_core::progress::BuildNote;
//! let step = BuildNote::Step { number: 2, total: 5, what: "RUN make".to_owned() };
//! let line = step.to_string();
//! assert_eq!(line, "step 2/5: RUN make");
//! assert_eq!(BuildNote::parse(&line), Some(step));
//! assert_eq!(BuildNote::parse("make: Nothing to be done"), None);
//! let output = runtime_core::progress::output_line("step 1/1: not a note");
//! assert_eq!(BuildNote::parse(&output), None);
//! ```

use std::fmt;

/// What begins a progress line that carries a line of the build's own output.
pub const OUTPUT_MARK: &str = "| ";

/// The progress line for a line of the build's own output.
pub fn output_line(text: &str) -> String {
    format!("{OUTPUT_MARK}{text}")
}

/// One note of a build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildNote {
    /// Building `tag` began (the context is being sent).
    Started {
        /// The image's tag.
        tag: String,
    },
    /// Step `number` of `total` runs: it was not in the build cache. Steps that
    /// were are not noted.
    Step {
        /// The step's number, from 1.
        number: u32,
        /// How many steps the build has.
        total: u32,
        /// The instruction, such as `RUN make`.
        what: String,
    },
    /// The image `tag` is ready; `ran` of its `total` steps ran (none: every
    /// step came from the cache).
    Finished {
        /// The image's tag.
        tag: String,
        /// How many steps the build has.
        total: u32,
        /// How many of them ran.
        ran: u32,
    },
}

impl BuildNote {
    /// The note a progress line is, if it is one (a line of build output, which
    /// begins with [`OUTPUT_MARK`], never is).
    pub fn parse(line: &str) -> Option<Self> {
        if line.starts_with(OUTPUT_MARK) {
            return None;
        }
        if let Some(tag) = line.strip_prefix("building ") {
            return Some(Self::Started {
                tag: tag.split(' ').next()?.to_owned(),
            });
        }
        if let Some(rest) = line.strip_prefix("step ") {
            let (counts, what) = rest.split_once(": ")?;
            let (number, total) = counts.split_once('/')?;
            return Some(Self::Step {
                number: number.parse().ok()?,
                total: total.parse().ok()?,
                what: what.to_owned(),
            });
        }
        if let Some(rest) = line.strip_prefix("built ") {
            let (tag, counts) = rest.split_once(": ")?;
            let (ran, rest) = counts.split_once(" of ")?;
            let total = rest.strip_suffix(" steps ran")?;
            return Some(Self::Finished {
                tag: tag.to_owned(),
                total: total.parse().ok()?,
                ran: ran.parse().ok()?,
            });
        }
        let (tag, rest) = line.split_once(" is up to date: all ")?;
        let total = rest.strip_suffix(" steps cached")?;
        Some(Self::Finished {
            tag: tag.to_owned(),
            total: total.parse().ok()?,
            ran: 0,
        })
    }
}

impl fmt::Display for BuildNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Started { tag } => write!(f, "building {tag}"),
            Self::Step {
                number,
                total,
                what,
            } => write!(f, "step {number}/{total}: {what}"),
            Self::Finished { tag, total, ran: 0 } => {
                write!(f, "{tag} is up to date: all {total} steps cached")
            }
            Self::Finished { tag, total, ran } => {
                write!(f, "built {tag}: {ran} of {total} steps ran")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::BuildNote;

    #[test]
    fn notes_read_back_as_written_and_other_lines_are_none() {
        let notes = [
            BuildNote::Started {
                tag: "berth-local/a:latest".to_owned(),
            },
            BuildNote::Step {
                number: 3,
                total: 12,
                what: "RUN echo a: b/c".to_owned(),
            },
            BuildNote::Finished {
                tag: "t:1".to_owned(),
                total: 4,
                ran: 2,
            },
            BuildNote::Finished {
                tag: "t:1".to_owned(),
                total: 4,
                ran: 0,
            },
        ];
        for note in notes {
            assert_eq!(BuildNote::parse(&note.to_string()), Some(note.clone()));
        }
        assert_eq!(
            BuildNote::parse("building x from ./Dockerfile (context .)"),
            Some(BuildNote::Started {
                tag: "x".to_owned()
            })
        );
        for other in [
            "Step 1/2 : FROM scratch",
            "step x/2: RUN",
            "built it",
            "npm WARN deprecated",
            "",
        ] {
            assert_eq!(BuildNote::parse(other), None, "{other}");
        }
    }
}
