//! The lazily connected, version-negotiated client of the endpoint
//! [`crate::endpoint`] chooses (the same engine docker `host` mode hands to
//! sandboxes). A unix socket is dialed by bollard; TCP and SSH by
//! [`crate::transport`].

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use bollard::models::SystemVersion;
use bollard::{API_DEFAULT_VERSION, ClientVersion, Docker};
use runtime_core::{HostEnv, RealHost};
use tokio::sync::OnceCell;

use crate::endpoint::{self, Chosen, Endpoint, EndpointError, EndpointSource};
use crate::errors::DockerError;
use crate::socket::DEFAULT_SOCKET;
use crate::transport;

/// How long a request may take to get its response headers. Streams (logs, wait,
/// attach, build output) are not bounded by it; a stop with a long grace period is.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3600);

/// The engine's endpoint on this host, as [`endpoint::discover`] chooses it.
pub(crate) fn discover() -> Result<Chosen, EndpointError> {
    endpoint::discover(&RealHost, &endpoint::read_from_disk)
}

/// The endpoint on this host, for wording errors; the default socket when none
/// can be chosen.
pub(crate) fn endpoint() -> Endpoint {
    discover().map_or_else(
        |_| Endpoint::Unix(PathBuf::from(DEFAULT_SOCKET)),
        |c| c.endpoint,
    )
}

/// The oldest API version berth speaks: Docker 20.10's.
const MINIMUM_API: ClientVersion = ClientVersion {
    major_version: 1,
    minor_version: 41,
};

/// A lazily connected, version-negotiated client. A failed connection is not
/// remembered: the next call tries again.
#[derive(Debug, Default)]
pub(crate) struct Engine {
    /// Where to connect; found on this host at first use when `None`.
    endpoint: Option<Endpoint>,
    /// The endpoint found on this host, once looked for.
    discovered: OnceLock<Result<Chosen, EndpointError>>,
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
    /// The endpoint and how it was chosen: given at construction, else found
    /// on this host (once).
    pub(crate) fn chosen(&self) -> Result<Chosen, EndpointError> {
        match &self.endpoint {
            Some(endpoint) => Ok(Chosen {
                endpoint: endpoint.clone(),
                source: EndpointSource::Given,
            }),
            None => self.discovered.get_or_init(discover).clone(),
        }
    }

    /// An engine at a given endpoint.
    pub(crate) fn at(endpoint: Endpoint) -> Self {
        Self {
            endpoint: Some(endpoint),
            discovered: OnceLock::new(),
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
            .get_or_try_init(|| async {
                let chosen = self.chosen()?;
                connect(chosen.endpoint).await
            })
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

/// The ssh command: `BERTH_SSH_COMMAND` split on whitespace (as git's
/// `GIT_SSH_COMMAND`), else `ssh`.
fn ssh_command(host: &dyn HostEnv) -> Vec<String> {
    host.var("BERTH_SSH_COMMAND")
        .map(|c| c.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// A client of `endpoint` speaking `version`.
fn client(endpoint: &Endpoint, version: &ClientVersion) -> Result<Docker, DockerError> {
    match endpoint {
        Endpoint::Unix(path) => {
            Docker::connect_with_socket(&path.to_string_lossy(), REQUEST_TIMEOUT.as_secs(), version)
                .map_err(|source| DockerError::Connect {
                    endpoint: Box::new(endpoint.clone()),
                    source,
                })
        }
        _ => transport::docker(endpoint, &ssh_command(&RealHost), REQUEST_TIMEOUT, version),
    }
}

async fn connect(endpoint: Endpoint) -> Result<Connected, DockerError> {
    let docker = client(&endpoint, API_DEFAULT_VERSION)?;
    // Negotiated by hand from one `/version` answer, which the probe reuses: the
    // lower of the engine's API version and bollard's.
    let version = match docker.version().await {
        Ok(version) => version,
        Err(source) => {
            return Err(DockerError::Connect {
                endpoint: Box::new(endpoint),
                source,
            });
        }
    };
    let Some(server) = version.api_version.as_deref().and_then(api_version) else {
        return Err(DockerError::Connect {
            endpoint: Box::new(endpoint),
            source: bollard::errors::Error::APIVersionParseError {},
        });
    };
    if server < MINIMUM_API {
        return Err(DockerError::TooOld {
            endpoint: endpoint.to_string(),
            api: format!("{}.{}", server.major_version, server.minor_version),
            version: version.version.clone().unwrap_or_default(),
            minimum: format!(
                "{}.{}",
                MINIMUM_API.major_version, MINIMUM_API.minor_version
            ),
        });
    }
    let docker = if server >= docker.client_version() {
        docker
    } else {
        match &endpoint {
            Endpoint::Unix(_) => client(&endpoint, &server)?,
            // Keeps the pooled connection (an ssh process for ssh://): one more
            // request rather than a new client.
            _ => match docker.negotiate_version().await {
                Ok(docker) => docker,
                Err(source) => {
                    return Err(DockerError::Connect {
                        endpoint: Box::new(endpoint),
                        source,
                    });
                }
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
