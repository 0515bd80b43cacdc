//! The transports of TCP and SSH endpoints, handed to bollard as a custom
//! transport: a hyper client whose connector dials TCP (TLS, or plain to
//! loopback) or runs `ssh ... docker system dial-stdio` and speaks HTTP over the
//! child's stdio, as the docker CLI does.
//!
//! Why berth dials itself rather than using bollard's `ssl` and `ssh` features:
//! its TLS trusts the system roots besides the given CA (the docker CLI trusts the
//! CA alone), and its SSH connector starts a new ssh master for every request
//! (bollard keeps no idle connections); both bury the cause of a failure in an
//! untyped error. Here the given CA is the only root, connections are kept in the
//! pool between requests (one ssh process serves many), and every failure to dial
//! leaves the stream as a [`DockerError`] naming the endpoint: unreachable, TLS
//! rejected (either side), ssh authentication, or the remote command failing.

use std::future::Future;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bollard::{BollardRequest, ClientVersion, Docker};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::process::{ChildStdin, ChildStdout, Command};
use tokio::sync::oneshot;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::endpoint::{Endpoint, TlsFiles};
use crate::errors::DockerError;

/// How long dialing (TCP connect and TLS handshake) may take.
const DIAL_TIMEOUT: Duration = Duration::from_secs(10);

/// How long an idle connection stays in the pool (an ssh process for SSH).
const IDLE: Duration = Duration::from_secs(30);

/// The most of an ssh child's standard error kept for its error.
const STDERR_LIMIT: usize = 4096;

/// A client for a TCP or SSH endpoint; `ssh` is the ssh command (program and
/// leading arguments). A unix endpoint is not for this module.
pub(crate) fn docker(
    endpoint: &Endpoint,
    ssh: &[String],
    timeout: Duration,
    version: &ClientVersion,
) -> Result<Docker, DockerError> {
    let dial = match endpoint {
        Endpoint::Unix(_) => {
            return Err(DockerError::Endpoint {
                source: crate::endpoint::EndpointError::Invalid {
                    address: endpoint.to_string(),
                    reason: "a unix socket is dialed by bollard itself".to_owned(),
                },
            });
        }
        Endpoint::Tcp { host, port, tls } => Dial::Tcp {
            host: host.clone(),
            port: *port,
            tls: match tls {
                Some(files) => Some((tls_connector(files)?, server_name(host, endpoint)?)),
                None => None,
            },
            endpoint: endpoint.to_string(),
        },
        Endpoint::Ssh { user, host, port } => {
            let (program, leading) = match ssh.split_first() {
                Some((program, rest)) => (program.clone(), rest.to_vec()),
                None => ("ssh".to_owned(), Vec::new()),
            };
            let mut args = leading;
            // No prompts (there is no one to answer them), and a bounded connect.
            args.extend(["-o", "BatchMode=yes", "-o", "ConnectTimeout=10"].map(str::to_owned));
            if let Some(user) = user {
                args.extend(["-l".to_owned(), user.clone()]);
            }
            if let Some(port) = port {
                args.extend(["-p".to_owned(), port.to_string()]);
            }
            args.extend(["--", host, "docker", "system", "dial-stdio"].map(|s| (*s).to_owned()));
            Dial::Ssh {
                program,
                args,
                endpoint: endpoint.to_string(),
            }
        }
    };
    let client = Client::builder(TokioExecutor::new())
        .pool_idle_timeout(IDLE)
        .build(Dialer(Arc::new(dial)));
    let client = Arc::new(client);
    Docker::connect_with_custom_transport(
        move |request: BollardRequest| {
            let client = client.clone();
            async move {
                client
                    .request(request)
                    .await
                    .map_err(bollard::errors::Error::from)
            }
        },
        Some("http://docker"),
        timeout.as_secs(),
        version,
    )
    .map_err(|source| DockerError::Connect {
        endpoint: Box::new(endpoint.clone()),
        source,
    })
}

fn server_name(host: &str, endpoint: &Endpoint) -> Result<ServerName<'static>, DockerError> {
    ServerName::try_from(host.to_owned()).map_err(|_| DockerError::Endpoint {
        source: crate::endpoint::EndpointError::Invalid {
            address: endpoint.to_string(),
            reason: "the host is not a valid TLS server name".to_owned(),
        },
    })
}

/// A TLS client trusting `files.ca` alone, presenting `files.cert`.
fn tls_connector(files: &TlsFiles) -> Result<TlsConnector, DockerError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|e| DockerError::TlsFiles {
            path: path.to_owned(),
            reason: e.to_string(),
        })
    };
    let bad = |path: &Path, reason: &str| DockerError::TlsFiles {
        path: path.to_owned(),
        reason: reason.to_owned(),
    };
    let certs = |path: &Path| -> Result<Vec<CertificateDer<'static>>, DockerError> {
        let pem = read(path)?;
        let certs = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(path, &format!("not PEM certificates: {e}")))?;
        if certs.is_empty() {
            return Err(bad(path, "it holds no certificate"));
        }
        Ok(certs)
    };
    let mut roots = rustls::RootCertStore::empty();
    for ca in certs(&files.ca)? {
        roots
            .add(ca)
            .map_err(|e| bad(&files.ca, &format!("not a usable CA certificate: {e}")))?;
    }
    let chain = certs(&files.cert)?;
    let key = PrivateKeyDer::from_pem_slice(&read(&files.key)?)
        .map_err(|e| bad(&files.key, &format!("not a PEM private key: {e}")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(&files.ca, &e.to_string()))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| {
            bad(
                &files.key,
                &format!("it does not go with {}: {e}", files.cert.display()),
            )
        })?;
    Ok(TlsConnector::from(Arc::new(config)))
}

/// What the connector dials.
enum Dial {
    Tcp {
        host: String,
        port: u16,
        tls: Option<(TlsConnector, ServerName<'static>)>,
        endpoint: String,
    },
    Ssh {
        program: String,
        args: Vec<String>,
        endpoint: String,
    },
}

impl Dial {
    async fn connect(&self) -> Result<Stream, DockerError> {
        match self {
            Self::Tcp {
                host,
                port,
                tls,
                endpoint,
            } => {
                let unreachable = |reason: String| DockerError::Unreachable {
                    endpoint: endpoint.clone(),
                    reason,
                };
                let tcp =
                    tokio::time::timeout(DIAL_TIMEOUT, TcpStream::connect((host.as_str(), *port)))
                        .await
                        .map_err(|_| {
                            unreachable(format!("no answer within {}s", DIAL_TIMEOUT.as_secs()))
                        })?
                        .map_err(|e| unreachable(e.to_string()))?;
                let _ = tcp.set_nodelay(true);
                let Some((connector, name)) = tls else {
                    return Ok(Stream::Tcp(tcp));
                };
                let handshake =
                    tokio::time::timeout(DIAL_TIMEOUT, connector.connect(name.clone(), tcp))
                        .await
                        .map_err(|_| {
                            unreachable(format!(
                                "no TLS handshake within {}s",
                                DIAL_TIMEOUT.as_secs()
                            ))
                        })?;
                match handshake {
                    Ok(stream) => Ok(Stream::Tls {
                        stream: Box::new(stream),
                        endpoint: endpoint.clone(),
                    }),
                    Err(err) => Err(tls_error(endpoint, &err)
                        .unwrap_or_else(|| unreachable(format!("TLS handshake: {err}")))),
                }
            }
            Self::Ssh {
                program,
                args,
                endpoint,
            } => Ok(Stream::Ssh(Box::new(SshStream::spawn(
                program, args, endpoint,
            )?))),
        }
    }
}

/// The TLS failure an I/O error carries, named for `endpoint`.
fn tls_error(endpoint: &str, err: &io::Error) -> Option<DockerError> {
    let tls = err.get_ref()?.downcast_ref::<rustls::Error>()?;
    Some(DockerError::Tls {
        endpoint: endpoint.to_owned(),
        source: tls.clone(),
    })
}

/// The connector hyper's client calls for a new connection.
#[derive(Clone)]
struct Dialer(Arc<Dial>);

impl tower_service::Service<hyper::Uri> for Dialer {
    type Response = TokioIo<Stream>;
    type Error = DockerError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, DockerError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), DockerError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: hyper::Uri) -> Self::Future {
        let dial = self.0.clone();
        Box::pin(async move { dial.connect().await.map(TokioIo::new) })
    }
}

/// One connection to the engine.
enum Stream {
    Tcp(TcpStream),
    Tls {
        stream: Box<TlsStream<TcpStream>>,
        endpoint: String,
    },
    Ssh(Box<SshStream>),
}

impl Connection for Stream {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl Stream {
    /// Names a TLS failure (an alert from the engine, such as a rejected client
    /// certificate, arrives after the handshake) with the endpoint.
    fn tag(&self, err: io::Error) -> io::Error {
        match self {
            Self::Tls { endpoint, .. } => match tls_error(endpoint, &err) {
                Some(tagged) => io::Error::other(tagged),
                None => err,
            },
            _ => err,
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let result = match this {
            Self::Tcp(s) => ready!(Pin::new(s).poll_read(cx, buf)),
            Self::Tls { stream, .. } => ready!(Pin::new(stream.as_mut()).poll_read(cx, buf)),
            Self::Ssh(s) => return Pin::new(s.as_mut()).poll_read(cx, buf),
        };
        Poll::Ready(result.map_err(|e| this.tag(e)))
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = match this {
            Self::Tcp(s) => ready!(Pin::new(s).poll_write(cx, data)),
            Self::Tls { stream, .. } => ready!(Pin::new(stream.as_mut()).poll_write(cx, data)),
            Self::Ssh(s) => return Pin::new(s.as_mut()).poll_write(cx, data),
        };
        Poll::Ready(result.map_err(|e| this.tag(e)))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_flush(cx),
            Self::Tls { stream, .. } => Pin::new(stream.as_mut()).poll_flush(cx),
            Self::Ssh(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    /// Half-closes: the engine sees the end of an exec's standard input and
    /// keeps sending its output.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls { stream, .. } => Pin::new(stream.as_mut()).poll_shutdown(cx),
            Self::Ssh(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// How the ssh child ended, with the end of what it wrote to standard error.
type Ended = (Option<ExitStatus>, String);

/// HTTP over the standard input and output of `ssh HOST docker system
/// dial-stdio`. The child is killed when the stream is dropped.
struct SshStream {
    stdin: Option<ChildStdin>,
    stdout: ChildStdout,
    /// Whether any byte came back: an end before the first one is a failure to
    /// connect, reported from the child's exit and standard error.
    answered: bool,
    ended: oneshot::Receiver<Ended>,
    /// Dropped with the stream, which tells the waiting task to kill the child.
    _alive: oneshot::Sender<()>,
    endpoint: String,
}

impl SshStream {
    fn spawn(program: &str, args: &[String], endpoint: &str) -> Result<Self, DockerError> {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| DockerError::SshSpawn {
                program: program.to_owned(),
                source,
            })?;
        let (Some(stdin), Some(stdout), Some(mut stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(DockerError::SshSpawn {
                program: program.to_owned(),
                source: io::Error::other("its standard streams were not piped"),
            });
        };
        let (ended_tx, ended) = oneshot::channel();
        let (alive, gone) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let finished = async {
                let mut text = Vec::new();
                let mut chunk = [0u8; 1024];
                loop {
                    match stderr.read(&mut chunk).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            text.extend_from_slice(&chunk[..n]);
                            if text.len() > STDERR_LIMIT {
                                text.drain(..text.len() - STDERR_LIMIT);
                            }
                        }
                    }
                }
                let status = child.wait().await.ok();
                (status, String::from_utf8_lossy(&text).trim().to_owned())
            };
            tokio::select! {
                ended = finished => { let _ = ended_tx.send(ended); }
                // The stream is gone: `child` is dropped here, which kills it.
                _ = gone => {}
            }
        });
        Ok(Self {
            stdin: Some(stdin),
            stdout,
            answered: false,
            ended,
            _alive: alive,
            endpoint: endpoint.to_owned(),
        })
    }

    /// Before the first byte, waits for the child to end and turns a failure
    /// into its error; `None` when it did not fail.
    fn poll_failure(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Error>> {
        if self.answered {
            return Poll::Ready(None);
        }
        match ready!(Pin::new(&mut self.ended).poll(cx)) {
            Ok((status, stderr)) if !status.is_some_and(|s| s.success()) => {
                let status = status.map_or_else(|| "unknown".to_owned(), |s| s.to_string());
                Poll::Ready(Some(io::Error::other(ssh_failure(
                    &self.endpoint,
                    status,
                    stderr,
                ))))
            }
            _ => Poll::Ready(None),
        }
    }
}

/// What an ssh child's standard error says went wrong.
pub(crate) fn ssh_failure(endpoint: &str, status: String, stderr: String) -> DockerError {
    let endpoint = endpoint.to_owned();
    let said = |needles: &[&str]| needles.iter().any(|n| stderr.contains(n));
    if said(&["Permission denied", "Too many authentication failures"]) {
        DockerError::SshAuth { endpoint, stderr }
    } else if said(&[
        "Host key verification failed",
        "REMOTE HOST IDENTIFICATION HAS CHANGED",
        "No ED25519 host key is known",
        "host key is known",
    ]) {
        DockerError::SshHostKey { endpoint, stderr }
    } else if said(&[
        "Connection refused",
        "Could not resolve hostname",
        "No route to host",
        "timed out",
        "Network is unreachable",
        "Connection closed by",
        "Connection reset",
    ]) {
        DockerError::Unreachable {
            endpoint,
            reason: last_line(&stderr),
        }
    } else {
        DockerError::SshFailed {
            endpoint,
            status,
            stderr,
        }
    }
}

fn last_line(text: &str) -> String {
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("ssh failed")
        .trim()
        .to_owned()
}

impl AsyncRead for SshStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.stdout).poll_read(cx, buf))?;
        if buf.filled().len() > before {
            this.answered = true;
            return Poll::Ready(Ok(()));
        }
        match ready!(this.poll_failure(cx)) {
            Some(err) => Poll::Ready(Err(err)),
            None => Poll::Ready(Ok(())),
        }
    }
}

impl AsyncWrite for SshStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let Some(stdin) = this.stdin.as_mut() else {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        };
        match ready!(Pin::new(stdin).poll_write(cx, data)) {
            Err(err) if err.kind() == io::ErrorKind::BrokenPipe => {
                Poll::Ready(Err(ready!(this.poll_failure(cx)).unwrap_or(err)))
            }
            other => Poll::Ready(other),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().stdin.as_mut() {
            Some(stdin) => Pin::new(stdin).poll_flush(cx),
            None => Poll::Ready(Ok(())),
        }
    }

    /// Closes the child's standard input: ssh passes the end on, and the
    /// remote `dial-stdio` half-closes its connection to the engine.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(stdin) = this.stdin.as_mut() {
            ready!(Pin::new(stdin).poll_shutdown(cx))?;
        }
        this.stdin = None;
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_failures_are_told_apart_by_what_ssh_said() {
        let of =
            |stderr: &str| ssh_failure("ssh://u@box", "exit status: 255".into(), stderr.into());
        assert!(matches!(
            of("u@box: Permission denied (publickey)."),
            DockerError::SshAuth { .. }
        ));
        assert!(matches!(
            of("Host key verification failed."),
            DockerError::SshHostKey { .. }
        ));
        assert!(matches!(
            of("ssh: connect to host box port 22: Connection refused"),
            DockerError::Unreachable { reason, .. } if reason.ends_with("Connection refused")
        ));
        assert!(matches!(
            of("bash: docker: command not found"),
            DockerError::SshFailed { .. }
        ));
    }

    #[test]
    fn unreadable_tls_files_name_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = TlsFiles::in_dir(dir.path());
        let err = tls_connector(&files).err().expect("missing files");
        assert!(
            matches!(&err, DockerError::TlsFiles { path, .. } if path.ends_with("ca.pem")),
            "{err:?}"
        );
        std::fs::write(&files.ca, "not pem").expect("write");
        let err = tls_connector(&files).err().expect("not pem");
        assert!(err.to_string().contains("ca.pem"), "{err}");
    }
}
