//! The crate's one error type, [`AppleError`], and its conversion to
//! [`runtime_core::Error`], done once, at the [`runtime_core::Runtime`] boundary.
//!
//! Running the CLI can fail in three distinct ways, each its own variant: the
//! program could not be spawned, it exited non-zero (its stderr says why), or it
//! printed something berth cannot parse. A non-zero exit is classified by the
//! `Error: <code>: "<message>"` text Apple's CLI prints on stderr.

use std::path::PathBuf;
use std::process::ExitStatus;

use runtime_core::{Error, RuntimeKind};

/// How many bytes of output an error message quotes.
pub(crate) const QUOTE_LIMIT: usize = 512;

/// What to do when Apple's services are not running.
pub(crate) const FIX_SYSTEM_START: &str =
    "start Apple's container services with `container system start`";

/// What to do when no default kernel is configured.
pub(crate) const FIX_KERNEL: &str =
    "install the recommended kernel with `container system kernel set --recommended`";

/// What to do when the CLI is missing.
pub(crate) const FIX_INSTALL: &str = "install Apple's `container` (the signed installer from the apple/container releases page), run `container system start`, or point BERTH_APPLE_CONTAINER at the CLI";

/// Everything that can go wrong driving the `container` CLI.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppleError {
    /// The program could not be started at all.
    #[error("failed to run `{}`", argv.join(" "))]
    Spawn {
        /// The command line.
        argv: Vec<String>,
        /// Why the spawn failed.
        #[source]
        source: std::io::Error,
    },

    /// The program ran and exited with a failure status.
    #[error("`{}` failed ({}): {}", argv.join(" "), describe_status(*status), quote(stderr))]
    Exit {
        /// The command line.
        argv: Vec<String>,
        /// How it exited.
        status: ExitStatus,
        /// What it printed on stderr.
        stderr: String,
    },

    /// The program succeeded but its output is not what berth expects.
    #[error("failed to parse the output of `{}`, which starts with {}", argv.join(" "), quote(output))]
    Parse {
        /// The command line.
        argv: Vec<String>,
        /// What the parser said.
        #[source]
        source: serde_json::Error,
        /// The start of the output.
        output: String,
    },

    /// Text output (from CLIs too old for `--format json`) that berth does not recognise.
    #[error("unrecognized output from `{}`: {}", argv.join(" "), quote(output))]
    Unrecognized {
        /// The command line.
        argv: Vec<String>,
        /// The start of the output.
        output: String,
    },

    /// Waiting on a process or reading its pipes failed.
    #[error("failed to read from `{}`", argv.join(" "))]
    Io {
        /// The command line.
        argv: Vec<String>,
        /// Why.
        #[source]
        source: std::io::Error,
    },

    /// The temporary env file could not be written.
    #[error("failed to write the env file {}", path.display())]
    EnvFile {
        /// The file (or its directory when it was never created).
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },

    /// The plan asks for something this backend refuses to express.
    #[error("cannot {operation}: {reason}")]
    Refused {
        /// What berth was asked to do.
        operation: &'static str,
        /// Why it cannot.
        reason: String,
    },

    /// An image reference or tag that is not one (it could read as an option, or
    /// breaks Docker's grammar); it never reaches a command line.
    #[error("`{reference}` is not an image reference: {reason}")]
    InvalidReference {
        /// The value, as given.
        reference: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// The sandbox stopped, but Apple's CLI does not report exit codes.
    #[error("{id} stopped, but its exit code is unknown: {reason}")]
    NoExitCode {
        /// The container.
        id: String,
        /// Why.
        reason: String,
    },
}

/// What a failed command was about, for `NotFound` and `Conflict`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Subject<'a> {
    /// The kind of resource, such as "sandbox" or "image".
    pub(crate) what: &'static str,
    /// Its name or id.
    pub(crate) name: &'a str,
    /// Whether the command looked it up, so that "not found" means it is missing
    /// (false while creating it: then "not found" is about something else, such
    /// as a network or a mount source).
    pub(crate) looked_up: bool,
}

impl<'a> Subject<'a> {
    /// An existing resource of kind `what`.
    pub(crate) fn existing(what: &'static str, name: &'a str) -> Self {
        Self {
            what,
            name,
            looked_up: true,
        }
    }

    /// A resource of kind `what` being created.
    pub(crate) fn created(what: &'static str, name: &'a str) -> Self {
        Self {
            what,
            name,
            looked_up: false,
        }
    }

    /// An existing sandbox (container) by id.
    pub(crate) fn sandbox(name: &'a str) -> Self {
        Self::existing("sandbox", name)
    }

    /// An image by reference.
    pub(crate) fn image(name: &'a str) -> Self {
        Self::existing("image", name)
    }
}

impl AppleError {
    /// Whether this is a non-zero exit whose message says the subject does not exist.
    pub(crate) fn is_not_found(&self) -> bool {
        matches!(self, Self::Exit { stderr, .. } if says_not_found(stderr))
    }

    /// Converts to the core error: a missing kernel or stopped services become
    /// `Unavailable` with the command that fixes them, "not found" becomes
    /// `NotFound` (or `ImageMissing` for an image), "already exists" becomes
    /// `Conflict`, and everything else keeps this error as its source.
    pub(crate) fn into_core(self, operation: impl Into<String>, subject: Subject<'_>) -> Error {
        let runtime = RuntimeKind::Apple;
        match &self {
            Self::Spawn { source, argv } if source.kind() == std::io::ErrorKind::NotFound => {
                return Error::Unavailable {
                    runtime,
                    reason: format!(
                        "the `container` CLI was not found (tried `{}`)",
                        argv.first().map(String::as_str).unwrap_or("container")
                    ),
                    fix: FIX_INSTALL.to_owned(),
                };
            }
            Self::Refused { operation, reason } => {
                return Error::Unsupported {
                    runtime,
                    operation,
                    reason: reason.clone(),
                };
            }
            Self::InvalidReference { .. } => {
                return Error::Usage {
                    message: self.to_string(),
                };
            }
            Self::NoExitCode { reason, .. } => {
                return Error::Unsupported {
                    runtime,
                    operation: "wait",
                    reason: reason.clone(),
                };
            }
            Self::Exit { stderr, status, .. } => {
                if status.code() == Some(64) && stderr.contains("Unknown option") {
                    return Error::Unsupported {
                        runtime,
                        operation: "this version of the `container` CLI",
                        reason: format!(
                            "it rejects an option berth needs ({}); berth needs Apple container 0.12 or later",
                            message_of(stderr)
                        ),
                    };
                }
                let lower = stderr.to_ascii_lowercase();
                if says_kernel_missing(&lower) {
                    return Error::Unavailable {
                        runtime,
                        reason: format!("no default kernel is configured ({})", message_of(stderr)),
                        fix: FIX_KERNEL.to_owned(),
                    };
                }
                if says_services_down(&lower) {
                    return Error::Unavailable {
                        runtime,
                        reason: format!(
                            "Apple's container services are not running ({})",
                            message_of(stderr)
                        ),
                        fix: FIX_SYSTEM_START.to_owned(),
                    };
                }
                if lower.contains("image not found") || lower.contains("image with reference") {
                    return image_missing(subject.name);
                }
                if lower.contains("already exists") || lower.contains("already in use") {
                    return Error::Conflict {
                        what: subject.what,
                        name: subject.name.to_owned(),
                    };
                }
                if says_not_found(&lower) && subject.looked_up {
                    if subject.what == "image" {
                        return image_missing(subject.name);
                    }
                    return Error::NotFound {
                        what: subject.what,
                        name: subject.name.to_owned(),
                    };
                }
            }
            _ => {}
        }
        Error::engine(runtime, operation, self)
    }
}

/// The `ImageMissing` error for `reference`, with how to get it.
pub(crate) fn image_missing(reference: &str) -> Error {
    Error::ImageMissing {
        runtime: RuntimeKind::Apple,
        reference: reference.to_owned(),
        fix: format!(
            "pull it with `container image pull {reference}`, or set [sandbox.build] to build it"
        ),
    }
}

fn says_not_found(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    // A volume or network delete naming one that is gone fails as a whole with
    // `notFound: "failed to delete one or more volumes: [...]"`, without the words.
    lower.contains("not found") || lower.contains("notfound: \"failed to delete one or more")
}

fn says_kernel_missing(lower: &str) -> bool {
    lower.contains("default kernel not configured")
        || lower.contains("default kernel not found")
        || lower.contains("kernel not configured")
        || lower.contains("no default kernel")
}

fn says_services_down(lower: &str) -> bool {
    lower.contains("xpc connection error")
        || lower.contains("apiserver is not running")
        || lower.contains("container system start")
}

/// The message of Apple's `Error: code: "message"` line, else the trimmed text.
pub(crate) fn message_of(stderr: &str) -> String {
    let line = stderr
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("Error:"))
        .or_else(|| stderr.lines().map(str::trim).rfind(|l| !l.is_empty()))
        .unwrap_or("");
    let line = line.strip_prefix("Error:").unwrap_or(line).trim();
    quote_plain(line)
}

/// How a process exited, in words.
pub(crate) fn describe_status(status: ExitStatus) -> String {
    match exit_code(status) {
        code if code > 128 && status.code().is_none() => {
            format!("killed by signal {}", code - 128)
        }
        code => format!("exit code {code}"),
    }
}

/// A process's exit code; a signal `n` counts as `128 + n`, as shells report it.
pub(crate) fn exit_code(status: ExitStatus) -> i64 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => i64::from(code),
        (None, Some(signal)) => 128 + i64::from(signal),
        (None, None) => -1,
    }
}

/// Up to [`QUOTE_LIMIT`] bytes of `text`, trimmed, in quotes.
fn quote(text: &str) -> String {
    format!("{:?}", quote_plain(text))
}

fn quote_plain(text: &str) -> String {
    let text = text.trim();
    if text.len() <= QUOTE_LIMIT {
        return text.to_owned();
    }
    let mut end = QUOTE_LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

/// The start of `output`, for error messages.
pub(crate) fn prefix(output: &str) -> String {
    quote_plain(output)
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt;
    use std::process::ExitStatus;

    use runtime_core::Error;

    use super::{AppleError, Subject};

    fn failed(stderr: &str) -> AppleError {
        AppleError::Exit {
            argv: vec!["container".into(), "start".into(), "x".into()],
            status: ExitStatus::from_raw(1 << 8),
            stderr: stderr.to_owned(),
        }
    }

    #[test]
    fn deleting_what_is_gone_is_not_found() {
        for kind in ["volumes", "networks"] {
            let err = failed(&format!(
                "Error: notFound: \"failed to delete one or more {kind}: [\"berth-1-0\"]\"\n"
            ));
            assert!(err.is_not_found(), "{kind}");
        }
        let busy =
            failed("Error: internalError: \"delete failed for one or more volumes: [\"v\"]\"");
        assert!(!busy.is_not_found());
    }

    #[test]
    fn not_found_becomes_not_found() {
        let err = failed("Error: notFound: \"get failed: container x not found\"\n")
            .into_core("start x", Subject::sandbox("x"));
        assert!(
            matches!(
                err,
                Error::NotFound {
                    what: "sandbox",
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn not_found_while_creating_is_about_something_else() {
        let err = failed("Error: notFound: \"network berth-net not found\"")
            .into_core("create container x", Subject::created("sandbox", "x"));
        assert!(matches!(err, Error::Engine { .. }), "{err:?}");
    }

    #[test]
    fn exists_becomes_conflict() {
        let err = failed("Error: exists: \"container already exists: x\"\n")
            .into_core("create x", Subject::sandbox("x"));
        assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
    }

    #[test]
    fn image_not_found_becomes_image_missing() {
        let err = failed("Error: notFound: \"image not found: busybox\"\n")
            .into_core("inspect image busybox", Subject::image("busybox"));
        assert!(matches!(err, Error::ImageMissing { .. }), "{err:?}");
        assert!(err.to_string().contains("container image pull busybox"));
    }

    #[test]
    fn missing_kernel_says_how_to_install_one() {
        let err = failed("Error: notFound: \"default kernel not configured for architecture arm64, please use the `container system kernel set` command to configure it\"")
            .into_core("create x", Subject::sandbox("x"));
        match err {
            Error::Unavailable { fix, .. } => {
                assert!(fix.contains("container system kernel set --recommended"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn other_failures_keep_the_source() {
        let err =
            failed("Error: internalError: \"boom\"").into_core("start x", Subject::sandbox("x"));
        assert!(matches!(err, Error::Engine { .. }));
        assert!(err.report().contains("boom"), "{}", err.report());
    }

    #[test]
    fn missing_binary_is_unavailable() {
        let err = AppleError::Spawn {
            argv: vec!["/nope/container".into()],
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        }
        .into_core("probe", Subject::sandbox(""));
        assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
    }

    #[test]
    fn signals_count_as_128_plus() {
        assert_eq!(super::exit_code(ExitStatus::from_raw(9)), 137);
        assert_eq!(super::exit_code(ExitStatus::from_raw(3 << 8)), 3);
    }
}
