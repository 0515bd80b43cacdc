//! The one error type of berth's core: config errors, refusals from resolution, and
//! what backends report through the [`crate::Runtime`] trait. Every variant carries
//! the context a person needs to act, and belongs to one [`Category`], which a
//! program maps to its own exit codes (the `berth` CLI's table is its own).

use std::path::PathBuf;

use crate::capabilities::RuntimeKind;
use crate::diagnostic::ConfigDiagnostic;

/// A boxed error from a backend's engine or tool, kept as the source.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What kind of failure an [`Error`] is, so that a program can map errors to its
/// own exit codes or retry policy without matching every variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// A usage, config or input error: fix the command or berth.toml.
    Usage,
    /// The runtime cannot (or may not) do what was asked.
    Refused,
    /// The runtime is not there to ask (not running, not installed).
    Unavailable,
    /// The engine refused this user.
    PermissionDenied,
    /// The image is missing.
    ImageMissing,
    /// A name is already taken.
    Conflict,
    /// No such sandbox or run.
    NotFound,
    /// Anything else that failed in berth or the engine.
    Failed,
    /// A signal stopped the work.
    Interrupted(crate::launch::Signal),
}

/// Everything that can go wrong in berth's core and backends.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The config file could not be read.
    #[error("failed to read {}", path.display())]
    ReadConfig {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },

    /// The config file is invalid.
    #[error("{0}")]
    Config(Box<ConfigDiagnostic>),

    /// A command-line or environment value is invalid.
    #[error("{message}")]
    Usage {
        /// What is wrong.
        message: String,
    },

    /// A command-line value that overrides a berth.toml key is not valid there
    /// (checked as the file's value is).
    #[error("{flag} {value}: {reason}")]
    InvalidFlag {
        /// The `berth run` flag, such as `--memory`.
        flag: &'static str,
        /// The value given (for `-e`, only the variable's name).
        value: String,
        /// Why it is refused, and what would be accepted.
        reason: String,
    },

    /// A process was asked for in a sandbox that is not running.
    #[error("sandbox {name} ({runtime}) is {state}, not running\n  = fix: {fix}")]
    NotRunning {
        /// The sandbox's name.
        name: String,
        /// Its runtime.
        runtime: RuntimeKind,
        /// What it is instead, such as "exited (code 0)".
        state: String,
        /// How to get a running one.
        fix: String,
    },

    /// docker `host` mode on a runtime that cannot mount a host socket (or not as
    /// it is set up here).
    #[error(
        "{runtime} cannot give the sandbox the host docker engine (docker mode \"host\"): {reason}\n  = fix: {fix}"
    )]
    DockerHostUnsupported {
        /// The runtime.
        runtime: RuntimeKind,
        /// Why.
        reason: String,
        /// What to do.
        fix: String,
    },

    /// docker `dind` mode on a runtime that cannot run privileged.
    #[error(
        "{runtime} cannot run a private docker engine inside the sandbox (docker mode \"dind\"): {reason}\n  = fix: {fix}"
    )]
    DindUnsupported {
        /// The runtime.
        runtime: RuntimeKind,
        /// Why.
        reason: String,
        /// What to do.
        fix: String,
    },

    /// No engine socket to mount for docker `host` mode.
    #[error("docker mode \"host\" needs the engine socket, but {} ({source_name}) is missing: {reason}\n  = fix: {fix}", path.display())]
    SocketMissing {
        /// The path looked at.
        path: PathBuf,
        /// Where the path came from.
        source_name: String,
        /// What stat said.
        reason: String,
        /// What to do.
        fix: String,
    },

    /// The engine is remote (TCP or SSH) and where its socket is on its own host
    /// is not known: the probe there found none, or could not run.
    #[error(
        "docker mode \"host\" needs the engine's socket, but the engine at {docker_host} is not on this host, and its socket there is not known: {reason}\n  = fix: {fix}"
    )]
    SocketRemote {
        /// The engine's endpoint.
        docker_host: String,
        /// What the probe on the engine's host said, or why it did not run.
        reason: String,
        /// What to do.
        fix: String,
    },

    /// `berth pool` for a plan whose runs cannot be served from a pool.
    #[error("this plan has no pool: {reason}\n  = fix: {fix}")]
    PoolUnavailable {
        /// Why.
        reason: String,
        /// What to do.
        fix: String,
    },

    /// A host path the sandbox would bind-mount, with a remote engine: the path
    /// is on this host, the engine on another.
    #[error(
        "the {what} {} is a path on this host, but the engine at {endpoint} is not on this host, so it cannot mount it into the sandbox\n  = fix: {fix}",
        path.display()
    )]
    HostPathRemote {
        /// What the path is, such as "workspace".
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// The engine's endpoint.
        endpoint: String,
        /// What to do.
        fix: String,
    },

    /// The socket is owned by group 0 and the sandbox user is not root.
    #[error("the engine socket {} is owned by group 0 (root); adding that group would give the sandbox root's group, and user {user} could not use the socket otherwise\n  = fix: {fix}", path.display())]
    SocketRootGroup {
        /// Socket path.
        path: PathBuf,
        /// The sandbox user.
        user: String,
        /// What to do.
        fix: String,
    },

    /// The socket's group cannot read and write it.
    #[error("the engine socket {} has mode {mode:04o}: its group {gid} cannot read and write it, so a non-root sandbox user could not use it\n  = fix: {fix}", path.display())]
    SocketNoGroupAccess {
        /// Socket path.
        path: PathBuf,
        /// Group id.
        gid: u32,
        /// Permission bits.
        mode: u32,
        /// What to do.
        fix: String,
    },

    /// `policy = "allowlist"`, or secrets bound to hosts, on a runtime that cannot
    /// run their egress proxy.
    #[error(
        "{runtime} cannot run the egress proxy that network policy \"allowlist\" and secrets bound to hosts need: {reason}\n  = fix: {fix}"
    )]
    AllowlistUnsupported {
        /// The runtime.
        runtime: RuntimeKind,
        /// Why not.
        reason: String,
        /// What to do.
        fix: String,
    },

    /// A configured limit the runtime cannot enforce.
    #[error("{runtime} cannot enforce resources.{limit}\n  = fix: {fix}")]
    LimitUnsupported {
        /// The runtime.
        runtime: RuntimeKind,
        /// The limit's key.
        limit: &'static str,
        /// What to do.
        fix: String,
    },

    /// A required secret is not set on the host.
    #[error(
        "secret {name} has no value: it is not set in the host environment, or its file cannot be read\n  = fix: {fix}"
    )]
    SecretMissing {
        /// The variable's name.
        name: String,
        /// What to do.
        fix: String,
    },

    /// The runtime cannot be used here.
    #[error("{runtime} is unavailable: {reason}\n  = fix: {fix}")]
    Unavailable {
        /// The runtime.
        runtime: RuntimeKind,
        /// Why.
        reason: String,
        /// What to do.
        fix: String,
    },

    /// An operation this backend does not have.
    #[error("{runtime} does not support {operation}: {reason}")]
    Unsupported {
        /// The runtime.
        runtime: RuntimeKind,
        /// The operation.
        operation: &'static str,
        /// Why.
        reason: String,
    },

    /// Permission denied talking to the engine.
    #[error("permission denied on the engine socket {}\n  = fix: {fix}", path.display())]
    PermissionDenied {
        /// Socket path.
        path: PathBuf,
        /// What to do (names the group to join).
        fix: String,
    },

    /// The image is not present.
    #[error("image {reference} is not present on {runtime}\n  = fix: {fix}")]
    ImageMissing {
        /// The runtime.
        runtime: RuntimeKind,
        /// The reference.
        reference: String,
        /// What to do.
        fix: String,
    },

    /// A name is already taken.
    #[error(
        "the name {name} is already taken by another {what}\n  = fix: choose another name with --name, or remove the other one"
    )]
    Conflict {
        /// What kind of resource.
        what: &'static str,
        /// The name.
        name: String,
    },

    /// No such resource.
    #[error("no {what} named {name}")]
    NotFound {
        /// What kind of resource.
        what: &'static str,
        /// The name or id looked for.
        name: String,
    },

    /// The engine or tool failed.
    #[error("{runtime}: failed to {operation}")]
    Engine {
        /// The runtime.
        runtime: RuntimeKind,
        /// What berth was doing, such as "create container berth-x".
        operation: String,
        /// The engine's error.
        #[source]
        source: BoxError,
    },

    /// A local file operation failed.
    #[error("failed to {operation} {}", path.display())]
    Io {
        /// What berth was doing.
        operation: &'static str,
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },

    /// The plan asks for what weakens isolation, and nothing outside the config
    /// acknowledged it.
    #[error("{}\n  = fix: {fix}", dangers_message(dangers))]
    DangersNotAcknowledged {
        /// The dangers not acknowledged.
        dangers: Vec<crate::danger::Danger>,
        /// What to run.
        fix: String,
    },

    /// The Dockerfile is outside the build context.
    #[error("the Dockerfile {} is outside the build context {}: the engine would be sent a file the context does not hold\n  = fix: move the Dockerfile into the context, or make the context a directory that holds it", dockerfile.display(), context.display())]
    DockerfileOutsideContext {
        /// The Dockerfile's real path.
        dockerfile: PathBuf,
        /// The context's real path.
        context: PathBuf,
    },

    /// A host path resolves elsewhere than when the plan was made.
    #[error("the {what} {} resolved to {} when the plan was made and to {} now: a symlink on the way changed\n  = fix: check what changed it, then run again", declared.display(), planned.display(), now.display())]
    HostPathChanged {
        /// What the path is for.
        what: &'static str,
        /// The path as the config wrote it.
        declared: PathBuf,
        /// Its real path when the plan was made.
        planned: PathBuf,
        /// Its real path now.
        now: PathBuf,
    },

    /// A signal (SIGINT or SIGTERM) stopped berth; the exit code is 128 + its number.
    #[error("interrupted by {signal}")]
    Interrupted {
        /// The signal.
        signal: crate::launch::Signal,
    },

    /// A value that should be a run id is not one (12 lowercase hex digits).
    #[error("invalid run id \"{value}\": {reason}")]
    InvalidRunId {
        /// The value, escaped for printing.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A resource carries berth's label but fails berth's checks, so berth does not
    /// act on it.
    #[error(
        "{name} is not a berth run: {reason}\n  = fix: it was not created by berth; inspect it with the engine's own tools"
    )]
    Foreign {
        /// The name or id asked for.
        name: String,
        /// Which label failed the check.
        reason: String,
    },
}

/// The message of [`Error::DangersNotAcknowledged`]: one line per danger.
fn dangers_message(dangers: &[crate::danger::Danger]) -> String {
    let mut out = String::from(
        "this sandbox asks for what weakens its isolation from the host, and nothing outside berth.toml acknowledged it:",
    );
    for danger in dangers {
        out.push_str(&format!("\n  - {danger}"));
    }
    out
}

impl Error {
    /// Wraps an I/O failure of `operation` on `path` as [`Error::Io`], for
    /// `map_err`.
    pub(crate) fn io(
        operation: &'static str,
        path: &std::path::Path,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.to_owned();
        move |source| Self::Io {
            operation,
            path,
            source,
        }
    }

    /// The kind of failure.
    pub fn category(&self) -> Category {
        match self {
            Self::ReadConfig { .. }
            | Self::Config(_)
            | Self::Usage { .. }
            | Self::InvalidFlag { .. }
            | Self::SecretMissing { .. }
            | Self::DockerfileOutsideContext { .. }
            | Self::InvalidRunId { .. } => Category::Usage,
            Self::DockerHostUnsupported { .. }
            | Self::DindUnsupported { .. }
            | Self::SocketRemote { .. }
            | Self::HostPathRemote { .. }
            | Self::PoolUnavailable { .. }
            | Self::SocketRootGroup { .. }
            | Self::SocketNoGroupAccess { .. }
            | Self::AllowlistUnsupported { .. }
            | Self::LimitUnsupported { .. }
            | Self::Unsupported { .. }
            | Self::DangersNotAcknowledged { .. }
            | Self::HostPathChanged { .. }
            | Self::NotRunning { .. }
            | Self::Foreign { .. } => Category::Refused,
            Self::Unavailable { .. } | Self::SocketMissing { .. } => Category::Unavailable,
            Self::PermissionDenied { .. } => Category::PermissionDenied,
            Self::ImageMissing { .. } => Category::ImageMissing,
            Self::Conflict { .. } => Category::Conflict,
            Self::NotFound { .. } => Category::NotFound,
            Self::Engine { .. } | Self::Io { .. } => Category::Failed,
            Self::Interrupted { signal } => Category::Interrupted(*signal),
        }
    }

    /// Wraps a backend error as [`Error::Engine`].
    pub fn engine(
        runtime: RuntimeKind,
        operation: impl Into<String>,
        source: impl Into<BoxError>,
    ) -> Self {
        Self::Engine {
            runtime,
            operation: operation.into(),
            source: source.into(),
        }
    }

    /// The message with its chain of causes, one per line.
    pub fn report(&self) -> String {
        let mut out = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(err) = cause {
            out.push_str(&format!("\n  caused by: {err}"));
            cause = err.source();
        }
        out
    }
}
