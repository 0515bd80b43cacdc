//! The connection to the engine (lazy, version-negotiated) and the crate's one error
//! type, turned into `runtime_core::Error` once, at the boundary.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use bollard::Docker;
use bollard::errors::Error as BollardError;
use runtime_core::{Error, RuntimeKind};
use tokio::sync::OnceCell;

/// How long a single request may take to get its response headers. Streams (logs,
/// wait, build output) are not bounded by it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3600);

/// Everything that can go wrong talking to the engine.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    /// The engine did not answer the version negotiation.
    #[error("failed to connect to the Docker engine at {}", socket.display())]
    Connect {
        /// The socket tried.
        socket: PathBuf,
        /// Why.
        #[source]
        source: BollardError,
    },
    /// An API call failed.
    #[error("failed to {operation}")]
    Api {
        /// What berth was doing, such as "create container x".
        operation: String,
        /// The kind of object the call was about (for not-found and conflict).
        what: &'static str,
        /// Its name.
        name: String,
        /// The engine's error.
        #[source]
        source: BollardError,
    },
    /// An image build reported an error.
    #[error("failed to build {tag}: {message}")]
    Build {
        /// The tag being built.
        tag: String,
        /// The engine's error message.
        message: String,
    },
    /// The build context could not be packed.
    #[error("failed to pack the build context {}", path.display())]
    Context {
        /// The context directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
}

impl DockerError {
    /// An API error with what it was about.
    pub fn api(
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
            Self::Build { .. } | Self::Context { .. } => None,
        }
    }

    /// The HTTP status and message, when the engine answered with an error.
    fn server_error(&self) -> Option<(u16, &str)> {
        match self.bollard()? {
            BollardError::DockerResponseServerError {
                status_code,
                message,
            } => Some((*status_code, message.as_str())),
            _ => None,
        }
    }

    /// The first I/O error kind in the cause chain (connection refused, permission
    /// denied, socket missing).
    fn io_kind(&self) -> Option<io::ErrorKind> {
        if let Some(BollardError::SocketNotFoundError(_)) = self.bollard() {
            return Some(io::ErrorKind::NotFound);
        }
        let mut cause: Option<&(dyn std::error::Error + 'static)> = self
            .bollard()
            .map(|e| e as &(dyn std::error::Error + 'static));
        while let Some(err) = cause {
            if let Some(io) = err.downcast_ref::<io::Error>() {
                return Some(io.kind());
            }
            cause = err.source();
        }
        None
    }

    /// Converts into the core error, once, at the trait boundary.
    pub fn into_core(self, runtime: RuntimeKind) -> Error {
        let socket = socket_path();
        match self.io_kind() {
            Some(io::ErrorKind::PermissionDenied) => {
                return Error::PermissionDenied {
                    fix: permission_fix(&socket),
                    path: socket,
                };
            }
            Some(io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused)
                if matches!(self, Self::Connect { .. }) || self.server_error().is_none() =>
            {
                return Error::Unavailable {
                    runtime,
                    reason: format!(
                        "the Docker engine is not running (no answer at {})",
                        socket.display()
                    ),
                    fix: crate::capabilities::START_ENGINE_FIX.to_owned(),
                };
            }
            _ => {}
        }
        if let Some((status, message)) = self.server_error() {
            let message = message.to_owned();
            if let Some(error) = self.classify(runtime, status, &message) {
                return error;
            }
        }
        let operation = match &self {
            Self::Api { operation, .. } => operation.clone(),
            Self::Connect { .. } => "connect to the engine".to_owned(),
            Self::Build { tag, .. } => format!("build {tag}"),
            Self::Context { .. } => "pack the build context".to_owned(),
        };
        Error::engine(runtime, operation, self)
    }

    fn classify(&self, runtime: RuntimeKind, status: u16, message: &str) -> Option<Error> {
        let (what, name) = match self {
            Self::Api { what, name, .. } => (*what, name.clone()),
            _ => ("object", String::new()),
        };
        if message.contains("Unknown runtime specified") {
            return Some(Error::Unavailable {
                runtime,
                reason: format!("the engine has no such OCI runtime ({message})"),
                fix: runtime_fix(runtime),
            });
        }
        if message.contains("cannot run with network enabled in root network namespace") {
            return Some(Error::Unavailable {
                runtime,
                reason: "runsc is registered but every sandbox fails to start: it cannot run with network enabled in the root network namespace".to_owned(),
                fix: "add \"--network=host\" to the runtimeArgs of runsc in /etc/docker/daemon.json, e.g. \"runsc\": {\"path\": \"/usr/bin/runsc\", \"runtimeArgs\": [\"--network=host\"]}, then reload dockerd (kill -HUP $(pidof dockerd))".to_owned(),
            });
        }
        match status {
            404 if what == "image" => Some(image_missing(runtime, &name)),
            404 => Some(Error::NotFound { what, name }),
            409 if what == "container" && message.contains("already in use") => {
                Some(Error::Conflict { what, name })
            }
            _ => None,
        }
    }
}

/// The error for an image that is not present locally.
pub fn image_missing(runtime: RuntimeKind, reference: &str) -> Error {
    Error::ImageMissing {
        runtime,
        reference: reference.to_owned(),
        fix: format!(
            "berth never pulls implicitly: build it locally (docker build -t {reference} DIR), load it (docker load), pull it yourself (docker pull {reference}), or set [sandbox.build] in berth.toml"
        ),
    }
}

fn runtime_fix(runtime: RuntimeKind) -> String {
    match runtime {
        RuntimeKind::Gvisor => {
            "register runsc in /etc/docker/daemon.json: {\"runtimes\": {\"runsc\": {\"path\": \"/usr/bin/runsc\", \"runtimeArgs\": [\"--network=host\"]}}}, then reload dockerd".to_owned()
        }
        _ => "check `docker info` for the registered runtimes, or use --runtime docker".to_owned(),
    }
}

/// The socket berth talks to: `DOCKER_HOST` when it is a unix socket, else the
/// default path.
pub fn socket_path() -> PathBuf {
    match std::env::var("DOCKER_HOST") {
        Ok(host) if host.starts_with("unix://") => {
            PathBuf::from(host.trim_start_matches("unix://"))
        }
        _ => PathBuf::from("/var/run/docker.sock"),
    }
}

/// "add your user to group `docker` (gid 105)".
pub fn permission_fix(socket: &std::path::Path) -> String {
    use std::os::unix::fs::MetadataExt;
    let group = std::fs::metadata(socket).ok().map(|m| m.gid());
    match group {
        Some(gid) => {
            let name = nix::unistd::Group::from_gid(gid.into())
                .ok()
                .flatten()
                .map_or_else(|| gid.to_string(), |g| g.name);
            format!(
                "join the socket's group `{name}` (gid {gid}): sudo usermod -aG {name} $USER, then log in again"
            )
        }
        None => format!(
            "make {} readable and writable by your user",
            socket.display()
        ),
    }
}

/// A lazily connected, version-negotiated client.
#[derive(Debug, Default)]
pub struct Engine {
    client: OnceCell<Docker>,
}

impl Engine {
    /// The client, connecting and negotiating on first use.
    pub async fn client(&self) -> Result<&Docker, DockerError> {
        self.client
            .get_or_try_init(|| async {
                let connect_err = |source| DockerError::Connect {
                    socket: socket_path(),
                    source,
                };
                let docker = Docker::connect_with_local_defaults()
                    .map_err(connect_err)?
                    .with_timeout(REQUEST_TIMEOUT);
                docker.negotiate_version().await.map_err(connect_err)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(status_code: u16, message: &str, what: &'static str) -> DockerError {
        DockerError::api(
            "create container x",
            what,
            "x",
            BollardError::DockerResponseServerError {
                status_code,
                message: message.to_owned(),
            },
        )
    }

    #[test]
    fn engine_errors_become_typed_core_errors() {
        let broken = server(
            500,
            "OCI runtime create failed: cannot run with network enabled in root network namespace: unknown",
            "container",
        );
        match broken.into_core(RuntimeKind::Gvisor) {
            Error::Unavailable { fix, .. } => assert!(fix.contains("--network=host"), "{fix}"),
            other => panic!("{other:?}"),
        }
        match server(400, "Unknown runtime specified runsc", "container")
            .into_core(RuntimeKind::Gvisor)
        {
            Error::Unavailable { fix, .. } => assert!(fix.contains("daemon.json"), "{fix}"),
            other => panic!("{other:?}"),
        }
        let conflict = server(
            409,
            "Conflict. The container name \"/x\" is already in use",
            "container",
        );
        assert!(matches!(
            conflict.into_core(RuntimeKind::Docker),
            Error::Conflict { .. }
        ));
        assert!(matches!(
            server(404, "No such image: x", "image").into_core(RuntimeKind::Docker),
            Error::ImageMissing { .. }
        ));
        assert!(matches!(
            server(404, "No such container: x", "sandbox").into_core(RuntimeKind::Docker),
            Error::NotFound { .. }
        ));
        assert!(matches!(
            server(500, "something else", "container").into_core(RuntimeKind::Docker),
            Error::Engine { .. }
        ));
    }

    #[test]
    fn a_missing_socket_means_the_engine_is_unavailable() {
        let err = DockerError::Connect {
            socket: PathBuf::from("/nope.sock"),
            source: BollardError::SocketNotFoundError("/nope.sock".to_owned()),
        };
        assert!(matches!(
            err.into_core(RuntimeKind::Docker),
            Error::Unavailable { .. }
        ));
    }
}
