//! The crate's one error type, [`DockerError`], and its conversion into
//! `runtime_core::Error`, which happens once, at the trait boundary.
//!
//! The engine answers with an HTTP status and a message; the status alone does not
//! say what went wrong (a 404 on create is a missing image, not a missing
//! container), so each API error carries what the call was about, and the
//! conversion reads status, message and subject together.

use std::io;
use std::path::{Path, PathBuf};

use bollard::errors::Error as BollardError;
use runtime_core::{Error, RuntimeKind};

use crate::endpoint::{Endpoint, EndpointError};
use crate::flavour::Flavour;

/// Everything that can go wrong talking to the engine.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DockerError {
    /// The engine did not answer the version negotiation.
    #[error("failed to connect to the Docker engine at {endpoint}")]
    Connect {
        /// The endpoint tried.
        endpoint: Box<Endpoint>,
        /// Why.
        #[source]
        source: BollardError,
    },
    /// An API call failed.
    #[error("failed to {operation}")]
    Api {
        /// What berth was doing, such as "create container x".
        operation: String,
        /// The kind of object the call was about (`container`, `image`, `sandbox`,
        /// `network`, `volume`, `exec`), for not-found and conflict errors.
        what: &'static str,
        /// Its name or id.
        name: String,
        /// The engine's error.
        #[source]
        source: BollardError,
    },
    /// A network the run needs already exists.
    #[error("failed to create network {name}: the name is taken")]
    NetworkExists {
        /// The network's name.
        name: String,
    },
    /// A network with the shared network's name exists without berth's labels.
    #[error(
        "a network named {name} exists but is not berth's (it lacks the berth.managed-by=berth and berth.role=network labels): remove or rename it (docker network rm {name})"
    )]
    NetworkForeign {
        /// The network's name.
        name: String,
    },
    /// The shared network was gone right after it was created.
    #[error("the network {name} disappeared while it was being created; run the command again")]
    NetworkVanished {
        /// The network's name.
        name: String,
    },
    /// An image build reported an error in its output.
    #[error("failed to build {tag}")]
    Build {
        /// The tag being built.
        tag: String,
        /// What the engine said, with the last lines of output.
        #[source]
        source: BuildFailed,
    },
    /// The build context could not be read or packed.
    #[error("failed to pack the build context {}", path.display())]
    Context {
        /// The file or directory that could not be read.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The Dockerfile is not inside the build context.
    #[error("the Dockerfile {} is outside the build context {}", dockerfile.display(), context.display())]
    DockerfileOutsideContext {
        /// The Dockerfile.
        dockerfile: PathBuf,
        /// The context.
        context: PathBuf,
    },
    /// A `.dockerignore` line is not a valid pattern.
    #[error("invalid pattern {pattern:?} in {}", path.display())]
    Dockerignore {
        /// The `.dockerignore` file.
        path: PathBuf,
        /// The pattern as written.
        pattern: String,
        /// Why it is invalid.
        #[source]
        source: globset::Error,
    },
    /// Something berth will not do to this run, and why.
    #[error("cannot {operation}: {reason}")]
    Refused {
        /// What was asked.
        operation: &'static str,
        /// Why not.
        reason: String,
    },
    /// The egress proxy's helper binary is missing, unusable, or failed to start.
    #[error("{reason}")]
    Helper {
        /// What is wrong.
        reason: String,
    },
    /// No usable endpoint: a `DOCKER_HOST` or docker context berth cannot use.
    #[error(transparent)]
    Endpoint {
        /// What is wrong with it.
        #[from]
        source: EndpointError,
    },
    /// The engine's host did not answer (nothing listens, no route, no name).
    #[error("the Docker engine at {endpoint} is unreachable: {reason}")]
    Unreachable {
        /// The endpoint.
        endpoint: String,
        /// What the connection attempt said.
        reason: String,
    },
    /// TLS failed: the engine's certificate did not verify against the CA, or
    /// the engine rejected the client certificate.
    #[error("TLS with the Docker engine at {endpoint} failed")]
    Tls {
        /// The endpoint.
        endpoint: String,
        /// What TLS said.
        #[source]
        source: rustls::Error,
    },
    /// A TLS file (CA, certificate or key) cannot be used.
    #[error("cannot use the TLS file {}: {reason}", path.display())]
    TlsFiles {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The ssh program could not be started.
    #[error("failed to run {program} to reach the Docker engine")]
    SshSpawn {
        /// The program.
        program: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The SSH server refused the login.
    #[error("ssh authentication to {endpoint} failed: {stderr}")]
    SshAuth {
        /// The endpoint.
        endpoint: String,
        /// What ssh said.
        stderr: String,
    },
    /// The SSH server's host key is unknown or changed.
    #[error("the host key of {endpoint} is not trusted: {stderr}")]
    SshHostKey {
        /// The endpoint.
        endpoint: String,
        /// What ssh said.
        stderr: String,
    },
    /// ssh logged in, but `docker system dial-stdio` failed on the remote host.
    #[error(
        "the Docker engine at {endpoint} could not be reached through ssh ({status}): {stderr}"
    )]
    SshFailed {
        /// The endpoint.
        endpoint: String,
        /// How ssh exited.
        status: String,
        /// What it said.
        stderr: String,
    },
    /// The engine speaks an API older than berth needs.
    #[error(
        "the Docker engine at {endpoint} is too old: it speaks API {api} (engine {version}), berth needs API {minimum} (Docker 20.10) or newer"
    )]
    TooOld {
        /// The endpoint.
        endpoint: String,
        /// The engine's API version.
        api: String,
        /// The engine's version.
        version: String,
        /// The oldest API berth speaks.
        minimum: String,
    },
    /// A stream ended before it said what the caller waited for.
    #[error("failed to {operation}")]
    Incomplete {
        /// What berth was doing, such as "wait for x".
        operation: String,
        /// What was missing.
        #[source]
        source: Incomplete,
    },
}

/// What an engine stream left out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Incomplete {
    /// The wait stream closed without an exit code.
    #[error("the engine closed the wait stream without an exit code")]
    WaitEnded,
    /// The exec was still running long after its output ended.
    #[error("the exec still runs after its output ended")]
    ExecStillRunning,
    /// The engine started an attached exec detached.
    #[error("the engine detached an attached exec")]
    ExecDetached,
}

/// A build that failed, with the engine's message and the last lines it printed
/// (so the failure is readable even when progress output was not shown).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}{}", render_lines(last_lines))]
pub(crate) struct BuildFailed {
    /// The engine's error message.
    pub(crate) message: String,
    /// The last lines of build output before the error, oldest first.
    pub(crate) last_lines: Vec<String>,
}

fn render_lines(lines: &[String]) -> String {
    if lines.is_empty() {
        return String::new();
    }
    let mut out = String::from("\n  last build output:");
    for line in lines {
        out.push_str("\n    ");
        out.push_str(line);
    }
    out
}

impl DockerError {
    /// An API error with what it was about.
    pub(crate) fn api(
        operation: impl Into<String>,
        what: &'static str,
        name: impl Into<String>,
        source: BollardError,
    ) -> Self {
        Self::Api {
            operation: operation.into(),
            what,
            name: name.into(),
            source,
        }
    }

    fn bollard(&self) -> Option<&BollardError> {
        match self {
            Self::Connect { source, .. } | Self::Api { source, .. } => Some(source),
            _ => None,
        }
    }

    /// Converts into the core error, once, at the trait boundary; the backend's
    /// flavour names the runtime and reads its OCI runtime's refusals.
    pub(crate) fn into_core(self, flavour: &dyn Flavour) -> Error {
        let runtime = flavour.kind();
        if let Some(error) = self.unreachable(runtime) {
            return error;
        }
        if let Some(source) = self.bollard() {
            // Connecting is the first request, so the endpoint is nearly always known.
            let endpoint = || match &self {
                Self::Connect { endpoint, .. } => (**endpoint).clone(),
                _ => crate::connect::endpoint(),
            };
            match io_kind(source) {
                Some(io::ErrorKind::PermissionDenied) => {
                    let endpoint = endpoint();
                    let path = endpoint
                        .socket()
                        .unwrap_or(Path::new(crate::socket::DEFAULT_SOCKET))
                        .to_owned();
                    return Error::PermissionDenied {
                        fix: permission_fix(&path),
                        path,
                    };
                }
                Some(io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused) => {
                    return engine_not_running(runtime, &endpoint());
                }
                _ => {}
            }
            if let BollardError::DockerResponseServerError {
                status_code,
                message,
            } = source
                && let Some(error) = flavour
                    .engine_error(*status_code, message)
                    .or_else(|| self.classify(runtime, *status_code, message))
            {
                return error;
            }
        }
        match self {
            Self::Connect { endpoint, source } => Error::engine(
                runtime,
                format!("connect to the Docker engine at {endpoint}"),
                source,
            ),
            Self::Api {
                operation, source, ..
            } => Error::engine(runtime, operation, source),
            Self::NetworkExists { name } => Error::Conflict {
                what: "network",
                name,
            },
            Self::Build { tag, source } => Error::engine(runtime, format!("build {tag}"), source),
            Self::DockerfileOutsideContext {
                dockerfile,
                context,
            } => Error::DockerfileOutsideContext {
                dockerfile,
                context,
            },
            shared @ (Self::NetworkForeign { .. } | Self::NetworkVanished { .. }) => {
                Error::engine(runtime, "prepare the sandbox network", shared)
            }
            Self::Context { path, source } => Error::Io {
                operation: "pack the build context",
                path,
                source,
            },
            Self::Dockerignore {
                path,
                pattern,
                source,
            } => Error::Usage {
                message: format!(
                    "invalid pattern {pattern:?} in {}: {source}",
                    path.display()
                ),
            },
            Self::Incomplete { operation, source } => Error::engine(runtime, operation, source),
            Self::Refused { operation, reason } => Error::Unsupported {
                runtime,
                operation,
                reason,
            },
            Self::Endpoint { .. }
            | Self::Unreachable { .. }
            | Self::Tls { .. }
            | Self::TlsFiles { .. }
            | Self::SshSpawn { .. }
            | Self::SshAuth { .. }
            | Self::SshHostKey { .. }
            | Self::SshFailed { .. }
            | Self::TooOld { .. } => match self.dial_failure(runtime) {
                Some(error) => error,
                None => Error::engine(runtime, "reach the Docker engine", self),
            },
            Self::Helper { reason } => Error::Unavailable {
                runtime,
                reason: format!("the egress allowlist needs its proxy: {reason}"),
                fix: format!(
                    "build the static helper with scripts/build-helper.sh (it goes next to the berth binary), or set {} to a statically linked berth-helper",
                    crate::egress::HELPER_VAR
                ),
            },
        }
    }

    /// The engine cannot be reached (this error, or one its bollard error
    /// carries from the transport), as [`Error::Unavailable`] naming the
    /// endpoint, with the fix for that failure.
    fn unreachable(&self, runtime: RuntimeKind) -> Option<Error> {
        if let Some(error) = self.dial_failure(runtime) {
            return Some(error);
        }
        find_in_chain::<Self>(self.bollard()?)?.dial_failure(runtime)
    }

    /// This error as [`Error::Unavailable`], when it is a failure to reach the
    /// engine.
    fn dial_failure(&self, runtime: RuntimeKind) -> Option<Error> {
        let fix = match self {
            Self::Endpoint { source } => source.fix(),
            Self::Unreachable { .. } => "check that the engine's host is up and the engine listens there (for tcp://, dockerd -H tcp://0.0.0.0:2376 --tlsverify; for ssh://, that ssh USER@HOST works)".to_owned(),
            Self::Tls { source, .. } => match source {
                rustls::Error::AlertReceived(_) => "the engine rejected berth's client certificate: set DOCKER_CERT_PATH to a directory whose cert.pem and key.pem are signed by the CA the engine trusts (dockerd --tlscacert)".to_owned(),
                _ => "set DOCKER_CERT_PATH to a directory whose ca.pem is the CA that signed the engine's certificate, and check that the certificate names the host".to_owned(),
            },
            Self::TlsFiles { .. } => "set DOCKER_CERT_PATH to a directory holding ca.pem, cert.pem and key.pem (as docker --tlsverify uses them)".to_owned(),
            Self::SshSpawn { .. } => "install the OpenSSH client (apt-get install openssh-client), or set BERTH_SSH_COMMAND to the ssh command to run".to_owned(),
            Self::SshAuth { .. } => "make ssh USER@HOST work without a prompt: add your key to the agent (ssh-add) or name it in ~/.ssh/config (IdentityFile), and authorize it on the host".to_owned(),
            Self::SshHostKey { .. } => "connect once with ssh USER@HOST and check the host key, so that it is in known_hosts".to_owned(),
            Self::SshFailed { .. } => "on the remote host, the user must be able to run docker system dial-stdio: install the docker CLI and give the user access to the engine's socket".to_owned(),
            Self::TooOld { .. } => "upgrade the engine on that host to Docker 20.10 or newer".to_owned(),
            _ => return None,
        };
        let reason = match self {
            Self::Tls { source, .. } => format!("{self}: {source}"),
            Self::SshSpawn { source, .. } => format!("{self}: {source}"),
            _ => self.to_string(),
        };
        Some(Error::Unavailable {
            runtime,
            reason,
            fix,
        })
    }

    /// The core error a server error stands for, when it is one berth knows.
    fn classify(&self, runtime: RuntimeKind, status: u16, message: &str) -> Option<Error> {
        let (what, name) = match self {
            Self::Api { what, name, .. } => (*what, name.as_str()),
            _ => ("engine", ""),
        };
        if message.contains("Unknown runtime specified") {
            return Some(Error::Unavailable {
                runtime,
                reason: format!("the engine has no such OCI runtime ({message})"),
                fix: "check `docker info` for the registered runtimes, or use --runtime docker"
                    .to_owned(),
            });
        }
        match status {
            404 if what == "image" => Some(image_missing(runtime, name)),
            // Create answers 404 when the image is missing, not the container.
            404 if message.starts_with("No such image") => {
                let reference = message
                    .strip_prefix("No such image:")
                    .map_or(name, str::trim);
                Some(image_missing(runtime, reference))
            }
            404 => Some(Error::NotFound {
                what,
                name: name.to_owned(),
            }),
            409 if what == "container" && message.contains("already in use") => {
                Some(Error::Conflict {
                    what,
                    name: name.to_owned(),
                })
            }
            _ => None,
        }
    }
}

/// The first `T` in `err`'s cause chain, looking inside I/O errors too (whose
/// `source()` skips the error they wrap).
pub(crate) fn find_in_chain<'a, T: std::error::Error + 'static>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut cause = Some(err);
    while let Some(err) = cause {
        if let Some(found) = err.downcast_ref::<T>() {
            return Some(found);
        }
        // bollard's I/O variant is transparent: its `source()` skips the I/O
        // error, as that error's own `source()` skips what it wraps.
        let io = match err.downcast_ref::<BollardError>() {
            Some(BollardError::IOError { err }) => Some(err),
            _ => err.downcast_ref::<io::Error>(),
        };
        if let Some(inner) = io.and_then(io::Error::get_ref)
            && let Some(found) = find_in_chain::<T>(inner)
        {
            return Some(found);
        }
        cause = err.source();
    }
    None
}

/// The first I/O error kind in a bollard error's cause chain (connection refused,
/// permission denied); a socket path that does not exist counts as not found.
fn io_kind(source: &BollardError) -> Option<io::ErrorKind> {
    match source {
        BollardError::SocketNotFoundError(_) => return Some(io::ErrorKind::NotFound),
        // Transparent: its `source()` skips the I/O error itself.
        BollardError::IOError { err } => return Some(err.kind()),
        // A server error never means the socket is unreachable, whatever it wraps.
        BollardError::DockerResponseServerError { .. } => return None,
        _ => {}
    }
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(source);
    while let Some(err) = cause {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            return Some(io.kind());
        }
        cause = err.source();
    }
    None
}

/// The error for an engine that does not answer.
pub(crate) fn engine_not_running(runtime: RuntimeKind, endpoint: &Endpoint) -> Error {
    Error::Unavailable {
        runtime,
        reason: format!("the Docker engine is not running (no answer at {endpoint})"),
        fix: crate::capabilities::START_ENGINE_FIX.to_owned(),
    }
}

/// The error for an image that is not present locally.
pub(crate) fn image_missing(runtime: RuntimeKind, reference: &str) -> Error {
    Error::ImageMissing {
        runtime,
        reference: reference.to_owned(),
        fix: format!(
            "berth never pulls implicitly: build it locally (docker build -t {reference} DIR), set [sandbox.build] in berth.toml so berth builds it, or load it (docker load -i FILE)"
        ),
    }
}

/// What to do about permission denied on `socket`: join its group, named.
pub(crate) fn permission_fix(socket: &Path) -> String {
    use std::os::unix::fs::MetadataExt;
    match std::fs::metadata(socket).map(|m| m.gid()) {
        Ok(gid) => permission_fix_for_gid(socket, gid, group_name(gid).as_deref()),
        Err(_) => format!(
            "make {} readable and writable by your user, or set DOCKER_HOST to a socket you may use",
            socket.display()
        ),
    }
}

fn group_name(gid: u32) -> Option<String> {
    nix::unistd::Group::from_gid(gid.into())
        .ok()
        .flatten()
        .map(|g| g.name)
}

/// The fix text for a socket owned by group `gid` (named `name` when known). Pure.
pub(crate) fn permission_fix_for_gid(socket: &Path, gid: u32, name: Option<&str>) -> String {
    match name {
        Some(name) => format!(
            "join the group `{name}` (gid {gid}) that owns {}: sudo usermod -aG {name} $USER, then log in again (or run `newgrp {name}`)",
            socket.display()
        ),
        None => format!(
            "{} belongs to gid {gid}, which has no name here: create the group (sudo groupadd -g {gid} docker) and join it (sudo usermod -aG docker $USER), then log in again",
            socket.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flavour::Runc;

    fn server(status_code: u16, message: &str, what: &'static str, name: &str) -> DockerError {
        DockerError::api(
            format!("do something to {name}"),
            what,
            name,
            BollardError::DockerResponseServerError {
                status_code,
                message: message.to_owned(),
            },
        )
    }

    #[test]
    fn an_unknown_oci_runtime_is_unavailable_unless_the_flavour_explains_it() {
        let unknown = || server(400, "Unknown runtime specified runsc", "container", "x");
        match unknown().into_core(&Runc) {
            Error::Unavailable { runtime, fix, .. } => {
                assert_eq!(runtime, RuntimeKind::Docker);
                assert!(fix.contains("docker info"), "{fix}");
            }
            other => panic!("{other:?}"),
        }
        /// A flavour whose OCI runtime explains every refusal.
        #[derive(Debug)]
        struct Explains;
        impl Flavour for Explains {
            fn kind(&self) -> RuntimeKind {
                RuntimeKind::Gvisor
            }
            fn capabilities(
                &self,
                host: &runtime_core::HostFacts,
                probe: &runtime_core::ProbeReport,
            ) -> runtime_core::Capabilities {
                Runc.capabilities(host, probe)
            }
            fn engine_error(&self, status: u16, message: &str) -> Option<Error> {
                Some(Error::Usage {
                    message: format!("{status} {message}"),
                })
            }
        }
        match unknown().into_core(&Explains) {
            Error::Usage { message } => {
                assert_eq!(message, "400 Unknown runtime specified runsc");
            }
            other => panic!("{other:?}"),
        }
        match server(500, "boom", "container", "x").into_core(&Explains) {
            Error::Usage { message } => assert_eq!(message, "500 boom"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn statuses_become_typed_errors() {
        let conflict = server(
            409,
            "Conflict. The container name \"/x\" is already in use by container \"abc\". You have to remove (or rename) that container to be able to reuse that name.",
            "container",
            "x",
        );
        assert!(matches!(
            conflict.into_core(&Runc),
            Error::Conflict { what: "container", name } if name == "x"
        ));
        assert!(matches!(
            server(404, "No such container: abc", "sandbox", "abc").into_core(&Runc),
            Error::NotFound { what: "sandbox", name } if name == "abc"
        ));
        assert!(matches!(
            server(500, "something else", "container", "x").into_core(&Runc),
            Error::Engine { .. }
        ));
    }

    #[test]
    fn a_missing_image_is_image_missing_wherever_it_is_found() {
        for err in [
            server(404, "No such image: nope:1", "image", "nope:1"),
            server(404, "No such image: nope:1", "container", "agent-x"),
        ] {
            match err.into_core(&Runc) {
                Error::ImageMissing { reference, fix, .. } => {
                    assert_eq!(reference, "nope:1");
                    assert!(fix.contains("docker build -t nope:1"), "{fix}");
                    assert!(fix.contains("[sandbox.build]"), "{fix}");
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn engine_errors_keep_the_engine_message_as_their_cause_once() {
        let err = server(500, "boom", "container", "x").into_core(&Runc);
        let report = err.report();
        assert_eq!(
            report,
            "docker: failed to do something to x\n  caused by: Docker responded with status code 500: boom"
        );
    }

    #[test]
    fn failures_to_reach_an_engine_are_unavailable_and_name_it() {
        let too_old = DockerError::TooOld {
            endpoint: "ssh://me@box".to_owned(),
            api: "1.40".to_owned(),
            version: "19.03.15".to_owned(),
            minimum: "1.41".to_owned(),
        };
        let Error::Unavailable { reason, fix, .. } = too_old.into_core(&Runc) else {
            panic!("too old is unavailable");
        };
        assert_eq!(
            reason,
            "the Docker engine at ssh://me@box is too old: it speaks API 1.40 (engine 19.03.15), berth needs API 1.41 (Docker 20.10) or newer"
        );
        assert!(fix.contains("upgrade"), "{fix}");
        // A transport failure deep inside a bollard error is found and named.
        let inner = DockerError::SshAuth {
            endpoint: "ssh://me@box".to_owned(),
            stderr: "me@box: Permission denied (publickey).".to_owned(),
        };
        let wrapped = DockerError::api(
            "list containers",
            "container",
            "",
            BollardError::IOError {
                err: io::Error::other(inner),
            },
        );
        let Error::Unavailable { reason, .. } = wrapped.into_core(&Runc) else {
            panic!("ssh authentication is unavailable");
        };
        assert!(
            reason.starts_with("ssh authentication to ssh://me@box failed"),
            "{reason}"
        );
    }

    #[test]
    fn a_missing_socket_means_the_engine_is_unavailable() {
        let err = DockerError::Connect {
            endpoint: Box::new(Endpoint::Unix(PathBuf::from("/nope.sock"))),
            source: BollardError::SocketNotFoundError("/nope.sock".to_owned()),
        };
        assert!(matches!(err.into_core(&Runc), Error::Unavailable { .. }));
        let refused = DockerError::api(
            "list containers",
            "container",
            "",
            BollardError::IOError {
                err: io::Error::from(io::ErrorKind::ConnectionRefused),
            },
        );
        assert!(matches!(
            refused.into_core(&Runc),
            Error::Unavailable { .. }
        ));
    }

    #[test]
    fn permission_denied_names_the_group_to_join() {
        let fix = permission_fix_for_gid(Path::new("/var/run/docker.sock"), 998, Some("docker"));
        assert!(fix.contains("sudo usermod -aG docker $USER"), "{fix}");
        assert!(fix.contains("gid 998"), "{fix}");
        let fix = permission_fix_for_gid(Path::new("/s.sock"), 4321, None);
        assert!(fix.contains("gid 4321"), "{fix}");
        let denied = DockerError::api(
            "list containers",
            "container",
            "",
            BollardError::IOError {
                err: io::Error::from(io::ErrorKind::PermissionDenied),
            },
        );
        assert!(matches!(
            denied.into_core(&Runc),
            Error::PermissionDenied { .. }
        ));
    }

    #[test]
    fn a_failed_build_shows_its_last_lines() {
        let err = DockerError::Build {
            tag: "t:1".to_owned(),
            source: BuildFailed {
                message: "The command '/bin/sh -c false' returned a non-zero code: 1".to_owned(),
                last_lines: vec!["Step 2/2 : RUN false".to_owned()],
            },
        }
        .into_core(&Runc);
        assert_eq!(
            err.report(),
            "docker: failed to build t:1\n  caused by: The command '/bin/sh -c false' returned a non-zero code: 1\n  last build output:\n    Step 2/2 : RUN false"
        );
    }
}
