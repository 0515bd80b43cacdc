//! The exit codes and JSON error kinds of the `berth` command: the CLI's
//! contract with scripts, kept here rather than in the library. Exit codes follow
//! the error's [`Category`] (see the README's table).

use runtime_core::Error;
use runtime_core::error::Category;
use runtime_core::launch::Signal;

/// Usage or config error.
pub const USAGE: u8 = 2;
/// The runtime cannot do what was asked.
pub const REFUSED: u8 = 3;
/// The runtime is unavailable (engine not running, not installed).
pub const UNAVAILABLE: u8 = 4;
/// Permission denied on the engine socket.
pub const PERMISSION: u8 = 5;
/// The image is missing.
pub const IMAGE_MISSING: u8 = 6;
/// A name is already taken.
pub const CONFLICT: u8 = 7;
/// No such run.
pub const NOT_FOUND: u8 = 8;
/// Any other failure of berth or the engine, as `docker run` uses 125.
pub const FAILED: u8 = 125;

/// The exit code of a process stopped by `signal`: 128 + its number (130 for
/// SIGINT, 143 for SIGTERM).
pub fn signalled(signal: Signal) -> u8 {
    128 + signal.number()
}

/// The exit code for an error.
pub fn code(err: &Error) -> u8 {
    match err.category() {
        Category::Usage => USAGE,
        Category::Refused => REFUSED,
        Category::Unavailable => UNAVAILABLE,
        Category::PermissionDenied => PERMISSION,
        Category::ImageMissing => IMAGE_MISSING,
        Category::Conflict => CONFLICT,
        Category::NotFound => NOT_FOUND,
        Category::Failed => FAILED,
        Category::Interrupted(signal) => signalled(signal),
    }
}

/// A sandbox process's exit code as berth's own (taken modulo 256, as a shell does).
pub fn of_process(code: i64) -> u8 {
    u8::try_from(code.rem_euclid(256)).unwrap_or(FAILED)
}

/// The `kind` of an error in `--format json` output: one name per variant of
/// [`Error`]. A variant this table does not know yet is "error" (a test checks
/// that every variant has its own name).
pub fn kind(err: &Error) -> &'static str {
    match err {
        Error::ReadConfig { .. } => "read-config",
        Error::Config(_) => "config",
        Error::Usage { .. } => "usage",
        Error::InvalidFlag { .. } => "invalid-flag",
        Error::NotRunning { .. } => "not-running",
        Error::DockerHostUnsupported { .. } => "docker-host-unsupported",
        Error::DindUnsupported { .. } => "dind-unsupported",
        Error::SocketMissing { .. } => "socket-missing",
        Error::SocketRemote { .. } => "socket-remote",
        Error::HostPathRemote { .. } => "host-path-remote",
        Error::PoolUnavailable { .. } => "pool-unavailable",
        Error::SocketRootGroup { .. } => "socket-root-group",
        Error::SocketNoGroupAccess { .. } => "socket-no-group-access",
        Error::AllowlistUnsupported { .. } => "allowlist-unsupported",
        Error::LimitUnsupported { .. } => "limit-unsupported",
        Error::SecretMissing { .. } => "secret-missing",
        Error::Unavailable { .. } => "unavailable",
        Error::Unsupported { .. } => "unsupported",
        Error::PermissionDenied { .. } => "permission-denied",
        Error::ImageMissing { .. } => "image-missing",
        Error::Conflict { .. } => "conflict",
        Error::NotFound { .. } => "not-found",
        Error::Engine { .. } => "engine",
        Error::Io { .. } => "io",
        Error::DangersNotAcknowledged { .. } => "dangers-not-acknowledged",
        Error::DockerfileOutsideContext { .. } => "dockerfile-outside-context",
        Error::HostPathChanged { .. } => "host-path-changed",
        Error::Interrupted { .. } => "interrupted",
        Error::InvalidRunId { .. } => "invalid-run-id",
        Error::Foreign { .. } => "foreign",
        _ => "error",
    }
}
