//! Where the engine is, and the lazily connected, version-negotiated client.
//!
//! The socket is the one [`crate::socket::discover`] finds (`DOCKER_HOST`, then the
//! rootless socket, then `/var/run/docker.sock`), the same one docker `host` mode
//! mounts, so berth talks to the engine it hands to sandboxes.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::models::SystemVersion;
use bollard::{API_DEFAULT_VERSION, ClientVersion, Docker};
use runtime_core::{RealHost, SocketFacts};

use crate::socket::{self, DEFAULT_SOCKET};
use tokio::sync::OnceCell;

use crate::errors::DockerError;

/// How long a request may take to get its response headers. Streams (logs, wait,
/// attach, build output) are not bounded by it; a stop with a long grace period is.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3600);

/// Where the engine listens: what [`crate::DockerRuntime::with_endpoint`] connects to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Endpoint {
    /// A unix socket.
    Unix(PathBuf),
    /// `DOCKER_HOST` naming a TCP (or other non-unix) engine.
    Remote(String),
}

impl Endpoint {
    /// The socket path; for a remote engine, the default path (used only to word
    /// permission errors, which a remote engine does not produce).
    pub(crate) fn socket(&self) -> &Path {
        match self {
            Self::Unix(path) => path,
            Self::Remote(_) => Path::new(DEFAULT_SOCKET),
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unix(path) => write!(f, "{}", path.display()),
            Self::Remote(host) => write!(f, "DOCKER_HOST={host}"),
        }
    }
}

/// The engine's endpoint on this host.
pub(crate) fn endpoint() -> Endpoint {
    match socket::discover(&RealHost) {
        SocketFacts::Usable { path, .. }
        | SocketFacts::RootGroup { path, .. }
        | SocketFacts::NoGroupAccess { path, .. }
        | SocketFacts::Missing { path, .. } => Endpoint::Unix(path),
        SocketFacts::Remote { docker_host } => Endpoint::Remote(docker_host),
    }
}

/// A lazily connected, version-negotiated client. A failed connection is not
/// remembered: the next call tries again.
#[derive(Debug, Default)]
pub(crate) struct Engine {
    /// Where to connect; found on this host at first use when `None`.
    endpoint: Option<Endpoint>,
    client: OnceCell<Connected>,
}

/// A client and the engine's version answer it was negotiated with, which the
/// probe reuses rather than asking again.
#[derive(Debug)]
struct Connected {
    docker: Docker,
    version: SystemVersion,
}

impl Engine {
    /// The endpoint given at construction, if any.
    pub(crate) fn endpoint(&self) -> Option<&Endpoint> {
        self.endpoint.as_ref()
    }

    /// An engine at a given endpoint.
    pub(crate) fn at(endpoint: Endpoint) -> Self {
        Self {
            endpoint: Some(endpoint),
            client: OnceCell::new(),
        }
    }

    /// The client, connecting and negotiating the API version on first use.
    pub(crate) async fn client(&self) -> Result<&Docker, DockerError> {
        Ok(&self.connected().await?.docker)
    }

    /// The engine's answer to `/version`, as read when connecting.
    pub(crate) async fn version(&self) -> Result<&SystemVersion, DockerError> {
        Ok(&self.connected().await?.version)
    }

    async fn connected(&self) -> Result<&Connected, DockerError> {
        self.client
            .get_or_try_init(|| connect(self.endpoint.clone().unwrap_or_else(endpoint)))
            .await
    }
}

/// `major.minor` as a client version.
fn api_version(text: &str) -> Option<ClientVersion> {
    let (major, minor) = text.split_once('.')?;
    Some(ClientVersion {
        major_version: major.parse().ok()?,
        minor_version: minor.parse().ok()?,
    })
}

async fn connect(endpoint: Endpoint) -> Result<Connected, DockerError> {
    let connected = match &endpoint {
        Endpoint::Unix(path) => Docker::connect_with_socket(
            &path.to_string_lossy(),
            REQUEST_TIMEOUT.as_secs(),
            API_DEFAULT_VERSION,
        ),
        Endpoint::Remote(host) => {
            Docker::connect_with_host(host).map(|d| d.with_timeout(REQUEST_TIMEOUT))
        }
    };
    let docker = match connected {
        Ok(docker) => docker,
        Err(source) => return Err(DockerError::Connect { endpoint, source }),
    };
    // Negotiated by hand from one `/version` answer, which the probe reuses: the
    // lower of the engine's API version and bollard's.
    let version = match docker.version().await {
        Ok(version) => version,
        Err(source) => return Err(DockerError::Connect { endpoint, source }),
    };
    let Some(server) = version.api_version.as_deref().and_then(api_version) else {
        return Err(DockerError::Connect {
            endpoint,
            source: bollard::errors::Error::APIVersionParseError {},
        });
    };
    let docker = if server >= docker.client_version() {
        docker
    } else {
        match &endpoint {
            Endpoint::Unix(path) => Docker::connect_with_socket(
                &path.to_string_lossy(),
                REQUEST_TIMEOUT.as_secs(),
                &server,
            )
            .map_err(|source| DockerError::Connect {
                endpoint: endpoint.clone(),
                source,
            })?,
            // A remote client takes no version when it is made: negotiate (one
            // more request).
            Endpoint::Remote(_) => match docker.negotiate_version().await {
                Ok(docker) => docker,
                Err(source) => return Err(DockerError::Connect { endpoint, source }),
            },
        }
    };
    let api = docker.client_version();
    tracing::debug!(
        %endpoint,
        api = %format_args!("{}.{}", api.major_version, api.minor_version),
        "connected to the Docker engine"
    );
    Ok(Connected { docker, version })
}
