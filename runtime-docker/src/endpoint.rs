//! Where the engine listens and how that was chosen, the way the docker CLI
//! chooses: `DOCKER_HOST`, else the docker context named by `DOCKER_CONTEXT`,
//! else the `currentContext` of the docker CLI's `config.json`, else the rootless
//! socket under `XDG_RUNTIME_DIR`, else `/var/run/docker.sock`.
//!
//! An endpoint is a unix socket, TCP (with TLS, verified against the CA berth is
//! given and nothing else; plain TCP only to a loopback address), or SSH
//! (`ssh://[user@]host[:port]`, reached by running `ssh` with the engine's
//! `docker system dial-stdio`). Everything read here (variables, the docker CLI's
//! JSON) is outside input: it becomes an [`Endpoint`] or an [`EndpointError`].
//!
//! Only a unix-socket endpoint is local ([`Endpoint::is_local`]): a host path,
//! socket or binary can be bind-mounted into a sandbox only there.

use std::fmt;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use runtime_core::HostEnv;
use sha2::{Digest, Sha256};

use crate::socket::DEFAULT_SOCKET;

/// The engine's endpoint: what [`crate::DockerRuntime::with_endpoint`] connects to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Endpoint {
    /// A unix socket on this host.
    Unix(PathBuf),
    /// An engine over TCP.
    Tcp {
        /// Host name or IP address.
        host: String,
        /// Port.
        port: u16,
        /// The certificates of a TLS connection; `None` is plain TCP, which is
        /// accepted only for a loopback address.
        tls: Option<TlsFiles>,
    },
    /// An engine reached over SSH.
    Ssh {
        /// The login user, when named.
        user: Option<String>,
        /// Host name or address.
        host: String,
        /// The SSH port, when named.
        port: Option<u16>,
    },
}

/// The PEM files of a verified TLS connection, as the docker CLI names them in
/// `DOCKER_CERT_PATH` (`ca.pem`, `cert.pem`, `key.pem`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The CA the engine's certificate must chain to (the only one trusted).
    pub ca: PathBuf,
    /// The client certificate.
    pub cert: PathBuf,
    /// The client certificate's private key.
    pub key: PathBuf,
}

impl TlsFiles {
    /// The three files in `dir`, named as the docker CLI names them.
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            ca: dir.join("ca.pem"),
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        }
    }
}

impl Endpoint {
    /// Whether the engine runs on this host: only then can a host path, the
    /// engine's socket or a binary of this host be bind-mounted into a sandbox.
    pub fn is_local(&self) -> bool {
        matches!(self, Self::Unix(_))
    }

    /// The socket path of a local endpoint.
    pub fn socket(&self) -> Option<&Path> {
        match self {
            Self::Unix(path) => Some(path),
            _ => None,
        }
    }

    /// Parses a `DOCKER_HOST`-style address; `tls` applies to `tcp://` only.
    /// Plain TCP to anything but a loopback address is refused.
    pub fn parse(address: &str, tls: Option<TlsFiles>) -> Result<Self, EndpointError> {
        let bad = |reason: &str| EndpointError::Invalid {
            address: address.to_owned(),
            reason: reason.to_owned(),
        };
        if let Some(path) = address.strip_prefix("unix://") {
            if !path.starts_with('/') {
                return Err(bad("a unix socket path must be absolute"));
            }
            return Ok(Self::Unix(PathBuf::from(path)));
        }
        if address.starts_with('/') {
            return Ok(Self::Unix(PathBuf::from(address)));
        }
        if let Some(rest) = address.strip_prefix("tcp://") {
            let authority = rest.trim_end_matches('/');
            let (host, port) = split_host_port(authority)
                .ok_or_else(|| bad("expected tcp://HOST[:PORT] (an IPv6 address in brackets)"))?;
            let port = match port {
                Some(p) => p,
                None if tls.is_some() => 2376,
                None => 2375,
            };
            if tls.is_none() && !is_loopback(&host) {
                return Err(EndpointError::PlainTcp {
                    address: address.to_owned(),
                });
            }
            return Ok(Self::Tcp { host, port, tls });
        }
        if let Some(rest) = address.strip_prefix("ssh://") {
            let authority = rest.trim_end_matches('/');
            let (user, hostport) = match authority.rsplit_once('@') {
                Some((user, hp)) if !user.is_empty() && valid_word(user) => {
                    (Some(user.to_owned()), hp)
                }
                Some(_) => return Err(bad("the ssh user is empty or has unusual characters")),
                None => (None, authority),
            };
            let (host, port) = split_host_port(hostport)
                .ok_or_else(|| bad("expected ssh://[USER@]HOST[:PORT]"))?;
            return Ok(Self::Ssh { user, host, port });
        }
        Err(bad(
            "berth speaks unix://PATH, tcp://HOST:PORT (with TLS) and ssh://[USER@]HOST[:PORT]",
        ))
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unix(path) => write!(f, "unix://{}", path.display()),
            Self::Tcp { host, port, tls } => {
                let host = bracketed(host);
                match tls {
                    Some(_) => write!(f, "tcp://{host}:{port} (TLS)"),
                    None => write!(f, "tcp://{host}:{port}"),
                }
            }
            Self::Ssh { user, host, port } => {
                f.write_str("ssh://")?;
                if let Some(user) = user {
                    write!(f, "{user}@")?;
                }
                f.write_str(&bracketed(host))?;
                if let Some(port) = port {
                    write!(f, ":{port}")?;
                }
                Ok(())
            }
        }
    }
}

fn bracketed(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

/// Host names (IPv6 addresses included) and users passed to `ssh`: letters,
/// digits, `.`, `_`, `-` and `:` only, and no option-looking leading dash. ssh
/// substitutes them into `ProxyCommand` and `Match exec` lines of the user's
/// config, where a shell would read `$(...)` or `;`.
fn valid_word(word: &str) -> bool {
    !word.starts_with('-')
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':'))
}

/// `host[:port]` or `[v6]:port`.
fn split_host_port(authority: &str) -> Option<(String, Option<u16>)> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        host.parse::<std::net::Ipv6Addr>().ok()?;
        match after.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if after.is_empty() => (host, None),
            None => return None,
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() || !valid_word(host) || host.contains('@') {
        return None;
    }
    let port = match port {
        Some(p) => Some(p.parse::<u16>().ok().filter(|p| *p != 0)?),
        None => None,
    };
    Some((host.to_owned(), port))
}

/// Whether `host` is a loopback address or `localhost`.
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// How the endpoint was chosen, for `berth doctor` and error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndpointSource {
    /// The `DOCKER_HOST` variable.
    DockerHost,
    /// The docker context named by the `DOCKER_CONTEXT` variable.
    ContextVariable(String),
    /// The docker CLI's current context (`docker context use`).
    CurrentContext(String),
    /// The rootless engine's socket under `XDG_RUNTIME_DIR`.
    Rootless,
    /// Nothing named one: the default socket path.
    Default,
    /// The program embedding berth named it.
    Given,
}

impl fmt::Display for EndpointSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DockerHost => f.write_str("DOCKER_HOST"),
            Self::ContextVariable(name) => write!(f, "docker context {name} (DOCKER_CONTEXT)"),
            Self::CurrentContext(name) => {
                write!(
                    f,
                    "docker context {name} (the docker CLI's current context)"
                )
            }
            Self::Rootless => f.write_str("rootless socket under XDG_RUNTIME_DIR"),
            Self::Default => f.write_str("default path"),
            Self::Given => f.write_str("the backend's endpoint"),
        }
    }
}

/// An endpoint and how it was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    /// The endpoint.
    pub endpoint: Endpoint,
    /// How it was chosen.
    pub source: EndpointSource,
}

/// Why no usable endpoint could be chosen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EndpointError {
    /// The address is not one berth can use.
    #[error("{address} is not a Docker endpoint berth can use: {reason}")]
    Invalid {
        /// The address as written.
        address: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Plain TCP to a host that is not this one.
    #[error(
        "{address} is plain TCP: anyone on the path could drive the engine (root on its host), so berth speaks plain TCP only to a loopback address"
    )]
    PlainTcp {
        /// The address as written.
        address: String,
    },
    /// A docker context that cannot be read.
    #[error("the docker context {name} cannot be used ({}): {reason}", path.display())]
    Context {
        /// The context's name.
        name: String,
        /// Its metadata file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl EndpointError {
    /// The address or context it is about, as the user wrote it.
    pub fn address(&self) -> String {
        match self {
            Self::Invalid { address, .. } | Self::PlainTcp { address } => address.clone(),
            Self::Context { name, .. } => format!("docker context {name}"),
        }
    }

    /// What to do about it.
    pub fn fix(&self) -> String {
        match self {
            Self::Invalid { .. } => "set DOCKER_HOST to unix:///PATH, tcp://HOST:2376 with DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH, or ssh://USER@HOST".to_owned(),
            Self::PlainTcp { .. } => "protect the engine with TLS (dockerd --tlsverify) and set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH, or use ssh://USER@HOST".to_owned(),
            Self::Context { name, .. } => format!(
                "check it with docker context inspect {name}, or choose another with docker context use"
            ),
        }
    }
}

/// Reads a file; injected so that discovery is tested without touching disk.
pub type ReadFile<'a> = &'a dyn Fn(&Path) -> io::Result<String>;

/// Reads a file from disk.
pub fn read_from_disk(path: &Path) -> io::Result<String> {
    std::fs::read_to_string(path)
}

/// Chooses the endpoint from `host`'s variables and the docker CLI's files.
pub fn discover(host: &dyn HostEnv, read: ReadFile<'_>) -> Result<Chosen, EndpointError> {
    let var = |name: &str| host.var(name).filter(|v| !v.is_empty());
    if let Some(address) = var("DOCKER_HOST") {
        let tls = tls_from_env(host);
        return Ok(Chosen {
            endpoint: Endpoint::parse(&address, tls)?,
            source: EndpointSource::DockerHost,
        });
    }
    let config_dir = var("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|home| Path::new(&home).join(".docker")));
    let context = match var("DOCKER_CONTEXT") {
        Some(name) => Some((name.clone(), EndpointSource::ContextVariable(name))),
        None => config_dir
            .as_deref()
            .and_then(|dir| current_context(dir, read))
            .map(|name| (name.clone(), EndpointSource::CurrentContext(name))),
    };
    if let Some((name, source)) = context
        && name != "default"
    {
        let dir = config_dir.ok_or_else(|| EndpointError::Context {
            name: name.clone(),
            path: PathBuf::from("~/.docker"),
            reason: "neither DOCKER_CONFIG nor HOME is set".to_owned(),
        })?;
        return Ok(Chosen {
            endpoint: context_endpoint(&dir, &name, read)?,
            source,
        });
    }
    let rootless = var("XDG_RUNTIME_DIR")
        .map(|dir| Path::new(&dir).join("docker.sock"))
        .filter(|p| host.stat(p).is_ok_and(|s| s.is_socket));
    Ok(match rootless {
        Some(path) => Chosen {
            endpoint: Endpoint::Unix(path),
            source: EndpointSource::Rootless,
        },
        None => Chosen {
            endpoint: Endpoint::Unix(PathBuf::from(DEFAULT_SOCKET)),
            source: EndpointSource::Default,
        },
    })
}

/// TLS as the docker CLI's variables ask for it: `DOCKER_TLS_VERIFY` (or a
/// `DOCKER_CERT_PATH`) means TLS with the files in `DOCKER_CERT_PATH`, else in
/// `~/.docker`.
fn tls_from_env(host: &dyn HostEnv) -> Option<TlsFiles> {
    let var = |name: &str| host.var(name).filter(|v| !v.is_empty());
    let cert_path = var("DOCKER_CERT_PATH");
    if var("DOCKER_TLS_VERIFY").is_none() && cert_path.is_none() {
        return None;
    }
    let dir = cert_path
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|home| Path::new(&home).join(".docker")))?;
    Some(TlsFiles::in_dir(&dir))
}

/// The `currentContext` of `config.json`, when it names one.
fn current_context(config_dir: &Path, read: ReadFile<'_>) -> Option<String> {
    let text = read(&config_dir.join("config.json")).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    value
        .get("currentContext")?
        .as_str()
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
}

/// The docker endpoint of context `name`: its `meta.json` lives under
/// `contexts/meta/<sha256 of the name>/`, its TLS files (if any) under
/// `contexts/tls/<same>/docker/`.
fn context_endpoint(
    config_dir: &Path,
    name: &str,
    read: ReadFile<'_>,
) -> Result<Endpoint, EndpointError> {
    let digest = format!("{:x}", Sha256::digest(name.as_bytes()));
    let path = config_dir
        .join("contexts/meta")
        .join(&digest)
        .join("meta.json");
    let fail = |reason: String| EndpointError::Context {
        name: name.to_owned(),
        path: path.clone(),
        reason,
    };
    let text = read(&path).map_err(|e| fail(e.to_string()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| fail(format!("not JSON: {e}")))?;
    let docker = value
        .get("Endpoints")
        .and_then(|e| e.get("docker"))
        .ok_or_else(|| fail("it has no docker endpoint".to_owned()))?;
    let address = docker
        .get("Host")
        .and_then(serde_json::Value::as_str)
        .filter(|h| !h.is_empty())
        .ok_or_else(|| fail("its docker endpoint has no Host".to_owned()))?;
    if docker
        .get("SkipTLSVerify")
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false)
    {
        return Err(fail(
            "it skips TLS verification, which berth never does".to_owned(),
        ));
    }
    let tls_dir = config_dir.join("contexts/tls").join(&digest).join("docker");
    let tls = TlsFiles::in_dir(&tls_dir);
    let tls = read(&tls.ca).is_ok().then_some(tls);
    Endpoint::parse(address, tls).map_err(|e| fail(e.to_string()))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use runtime_core::{FileStat, Os};

    use super::*;

    struct FakeHost(HashMap<&'static str, String>);

    impl HostEnv for FakeHost {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).cloned()
        }
        fn stat(&self, _: &Path) -> io::Result<FileStat> {
            Err(io::ErrorKind::NotFound.into())
        }
        fn cap_bounding_set(&self) -> Option<u64> {
            None
        }
        fn os(&self) -> Os {
            Os::Linux
        }
        fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
            Ok(path.to_path_buf())
        }

        fn helper(&self) -> Result<PathBuf, String> {
            Err("no helper on this fake host".to_owned())
        }
    }

    fn host(vars: &[(&'static str, &str)]) -> FakeHost {
        FakeHost(vars.iter().map(|(k, v)| (*k, (*v).to_owned())).collect())
    }

    fn files(entries: &[(&str, &str)]) -> impl Fn(&Path) -> io::Result<String> {
        let map: HashMap<PathBuf, String> = entries
            .iter()
            .map(|(p, t)| (PathBuf::from(p), (*t).to_owned()))
            .collect();
        move |p: &Path| map.get(p).cloned().ok_or(io::ErrorKind::NotFound.into())
    }

    fn no_files(_: &Path) -> io::Result<String> {
        Err(io::ErrorKind::NotFound.into())
    }

    #[test]
    fn addresses_parse_into_endpoints() {
        assert_eq!(
            Endpoint::parse("unix:///run/d.sock", None),
            Ok(Endpoint::Unix("/run/d.sock".into()))
        );
        let tls = TlsFiles::in_dir(Path::new("/c"));
        assert_eq!(
            Endpoint::parse("tcp://box.example:2376", Some(tls.clone())),
            Ok(Endpoint::Tcp {
                host: "box.example".into(),
                port: 2376,
                tls: Some(tls.clone())
            })
        );
        assert_eq!(
            Endpoint::parse("tcp://[::1]", Some(tls.clone()))
                .map(|e| e.to_string())
                .as_deref(),
            Ok("tcp://[::1]:2376 (TLS)")
        );
        assert_eq!(
            Endpoint::parse("ssh://me@box:2222", None),
            Ok(Endpoint::Ssh {
                user: Some("me".into()),
                host: "box".into(),
                port: Some(2222)
            })
        );
        assert_eq!(
            Endpoint::parse("ssh://box", None).map(|e| e.to_string()),
            Ok("ssh://box".to_owned())
        );
        for bad in [
            "tcp://",
            "ssh://-oProxyCommand=x",
            "ssh://@box",
            // What ssh would put into a ProxyCommand for a shell to run.
            "ssh://box$(touch${IFS}pwned)",
            "ssh://me;id@box",
            "ssh://`id`@box",
            "ssh://box:0",
            "http://box",
            "unix://relative",
            "tcp://box:port",
        ] {
            assert!(
                matches!(
                    Endpoint::parse(bad, None),
                    Err(EndpointError::Invalid { .. })
                ),
                "{bad}"
            );
        }
        assert!(Endpoint::parse("unix:///x", None).unwrap().is_local());
        assert!(!Endpoint::parse("ssh://box", None).unwrap().is_local());
    }

    #[test]
    fn plain_tcp_only_to_loopback() {
        assert!(Endpoint::parse("tcp://127.0.0.1:2375", None).is_ok());
        assert!(Endpoint::parse("tcp://localhost:2375", None).is_ok());
        assert!(Endpoint::parse("tcp://[::1]:2375", None).is_ok());
        let err = Endpoint::parse("tcp://10.0.0.5:2375", None).expect_err("plain");
        assert!(matches!(err, EndpointError::PlainTcp { .. }), "{err:?}");
        assert!(err.to_string().contains("loopback"), "{err}");
    }

    #[test]
    fn docker_host_wins_and_takes_tls_from_the_cli_variables() {
        let chosen = discover(
            &host(&[
                ("DOCKER_HOST", "tcp://box:2376"),
                ("DOCKER_TLS_VERIFY", "1"),
                ("DOCKER_CERT_PATH", "/certs"),
                ("DOCKER_CONTEXT", "other"),
            ]),
            &no_files,
        )
        .expect("chosen");
        assert_eq!(chosen.source, EndpointSource::DockerHost);
        assert_eq!(
            chosen.endpoint,
            Endpoint::Tcp {
                host: "box".into(),
                port: 2376,
                tls: Some(TlsFiles::in_dir(Path::new("/certs")))
            }
        );
        let home = discover(
            &host(&[
                ("DOCKER_HOST", "tcp://box"),
                ("DOCKER_TLS_VERIFY", "1"),
                ("HOME", "/home/u"),
            ]),
            &no_files,
        )
        .expect("chosen");
        assert!(
            matches!(&home.endpoint, Endpoint::Tcp { tls: Some(t), port: 2376, .. } if t.ca == Path::new("/home/u/.docker/ca.pem"))
        );
    }

    fn context_files(meta: &str, with_tls: bool) -> impl Fn(&Path) -> io::Result<String> {
        let digest = format!("{:x}", Sha256::digest(b"remote"));
        let meta_path = format!("/h/.docker/contexts/meta/{digest}/meta.json");
        let ca = format!("/h/.docker/contexts/tls/{digest}/docker/ca.pem");
        let mut entries = vec![
            (
                "/h/.docker/config.json".to_owned(),
                r#"{"auths":{},"currentContext":"remote"}"#.to_owned(),
            ),
            (meta_path, meta.to_owned()),
        ];
        if with_tls {
            entries.push((ca, "pem".to_owned()));
        }
        move |p: &Path| {
            entries
                .iter()
                .find(|(path, _)| Path::new(path) == p)
                .map(|(_, t)| t.clone())
                .ok_or(io::ErrorKind::NotFound.into())
        }
    }

    #[test]
    fn the_current_context_names_the_endpoint_and_its_tls_files() {
        let read = context_files(
            r#"{"Name":"remote","Metadata":{},"Endpoints":{"docker":{"Host":"tcp://box:2376","SkipTLSVerify":false}}}"#,
            true,
        );
        let chosen = discover(&host(&[("HOME", "/h")]), &read).expect("chosen");
        assert_eq!(
            chosen.source,
            EndpointSource::CurrentContext("remote".into())
        );
        let digest = format!("{:x}", Sha256::digest(b"remote"));
        assert_eq!(
            chosen.endpoint,
            Endpoint::Tcp {
                host: "box".into(),
                port: 2376,
                tls: Some(TlsFiles::in_dir(
                    &Path::new("/h/.docker/contexts/tls")
                        .join(&digest)
                        .join("docker")
                ))
            }
        );
        let ssh = context_files(
            r#"{"Name":"remote","Endpoints":{"docker":{"Host":"ssh://me@box"}}}"#,
            false,
        );
        let chosen = discover(
            &host(&[
                ("DOCKER_CONFIG", "/h/.docker"),
                ("DOCKER_CONTEXT", "remote"),
            ]),
            &ssh,
        )
        .expect("chosen");
        assert_eq!(
            chosen.source,
            EndpointSource::ContextVariable("remote".into())
        );
        assert_eq!(chosen.endpoint.to_string(), "ssh://me@box");
    }

    #[test]
    fn a_context_without_tls_on_a_remote_host_or_skipping_verification_is_refused() {
        let plain = context_files(
            r#"{"Endpoints":{"docker":{"Host":"tcp://box:2375"}}}"#,
            false,
        );
        let err = discover(&host(&[("HOME", "/h")]), &plain).expect_err("plain tcp");
        assert!(err.to_string().contains("plain TCP"), "{err}");
        let skip = context_files(
            r#"{"Endpoints":{"docker":{"Host":"tcp://box:2376","SkipTLSVerify":true}}}"#,
            true,
        );
        let err = discover(&host(&[("HOME", "/h")]), &skip).expect_err("skip verify");
        assert!(err.to_string().contains("skips TLS verification"), "{err}");
        let missing = discover(&host(&[("HOME", "/h"), ("DOCKER_CONTEXT", "gone")]), &plain)
            .expect_err("missing context");
        assert!(
            matches!(&missing, EndpointError::Context { name, .. } if name == "gone"),
            "{missing:?}"
        );
    }

    #[test]
    fn the_default_context_and_no_context_mean_the_local_socket() {
        let read = files(&[("/h/.docker/config.json", r#"{"currentContext":"default"}"#)]);
        let chosen = discover(&host(&[("HOME", "/h")]), &read).expect("chosen");
        assert_eq!(
            chosen,
            Chosen {
                endpoint: Endpoint::Unix(DEFAULT_SOCKET.into()),
                source: EndpointSource::Default
            }
        );
    }
}
