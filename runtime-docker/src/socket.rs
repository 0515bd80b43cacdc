//! The engine's socket on the host, from the endpoint [`crate::endpoint`]
//! chooses (`DOCKER_HOST`, a docker context, the rootless socket under
//! `XDG_RUNTIME_DIR`, then `/var/run/docker.sock`). berth talks to the engine
//! there and hands the same socket to sandboxes in docker `host` mode; a TCP or
//! SSH endpoint has no socket on this host (its engine's host is asked where
//! its socket is: `remote_socket`).

use runtime_core::{HostEnv, SocketFacts};

use crate::endpoint::{Chosen, Endpoint, EndpointError};

/// The socket path when nothing else names one.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// Finds and stats the engine socket on `host`, with the endpoint
/// [`crate::endpoint::discover`] chooses (docker contexts read from disk).
pub fn discover(host: &dyn HostEnv) -> SocketFacts {
    facts_of(
        crate::endpoint::discover(host, &crate::endpoint::read_from_disk),
        host,
    )
}

/// The socket facts of an endpoint, or of one berth cannot use (connecting
/// reports why; there is nothing to stat here).
pub(crate) fn facts_of(chosen: Result<Chosen, EndpointError>, host: &dyn HostEnv) -> SocketFacts {
    match chosen {
        Ok(chosen) => facts(&chosen, host),
        Err(err) => SocketFacts::Remote {
            docker_host: err.address(),
            on_host: None,
        },
    }
}

/// The socket facts of a chosen endpoint: a unix socket stat'ed on `host`, or
/// a remote engine with nothing to stat here.
pub fn facts(chosen: &Chosen, host: &dyn HostEnv) -> SocketFacts {
    match &chosen.endpoint {
        Endpoint::Unix(path) => {
            SocketFacts::from_stat(path.clone(), chosen.source.to_string(), host.stat(path))
        }
        remote => SocketFacts::Remote {
            docker_host: remote.to_string(),
            on_host: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::io;
    use std::path::{Path, PathBuf};

    use runtime_core::{FileStat, Os};

    use super::*;

    /// A host with some variables and some sockets.
    struct FakeHost {
        vars: HashMap<&'static str, &'static str>,
        sockets: HashMap<PathBuf, FileStat>,
    }

    impl HostEnv for FakeHost {
        fn var(&self, name: &str) -> Option<String> {
            self.vars.get(name).map(|v| (*v).to_owned())
        }
        fn stat(&self, path: &Path) -> io::Result<FileStat> {
            self.sockets
                .get(path)
                .copied()
                .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
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

    fn socket(gid: u32, mode: u32) -> FileStat {
        FileStat {
            uid: 0,
            gid,
            mode: 0o140_000 | mode,
            is_socket: true,
        }
    }

    #[test]
    fn docker_host_then_rootless_then_the_default_path() {
        let sockets = HashMap::from([
            (
                PathBuf::from("/run/user/1000/docker.sock"),
                socket(1000, 0o660),
            ),
            (PathBuf::from(DEFAULT_SOCKET), socket(0, 0o660)),
            (PathBuf::from("/tmp/d.sock"), socket(998, 0o600)),
        ]);
        let host = |vars: &[(&'static str, &'static str)]| FakeHost {
            vars: vars.iter().copied().collect(),
            sockets: sockets.clone(),
        };
        assert_eq!(
            discover(&host(&[
                ("DOCKER_HOST", "unix:///tmp/d.sock"),
                ("XDG_RUNTIME_DIR", "/run/user/1000")
            ])),
            SocketFacts::NoGroupAccess {
                path: "/tmp/d.sock".into(),
                source: "DOCKER_HOST".to_owned(),
                gid: 998,
                mode: 0o600
            }
        );
        assert_eq!(
            discover(&host(&[("XDG_RUNTIME_DIR", "/run/user/1000")])),
            SocketFacts::Usable {
                path: "/run/user/1000/docker.sock".into(),
                source: "rootless socket under XDG_RUNTIME_DIR".to_owned(),
                gid: 1000,
                mode: 0o660
            }
        );
        assert_eq!(
            discover(&host(&[("XDG_RUNTIME_DIR", "/run/user/1001")])),
            SocketFacts::RootGroup {
                path: DEFAULT_SOCKET.into(),
                source: "default path".to_owned(),
                mode: 0o660
            }
        );
        assert_eq!(
            discover(&host(&[
                ("DOCKER_HOST", "tcp://10.0.0.5"),
                ("DOCKER_TLS_VERIFY", "1"),
                ("DOCKER_CERT_PATH", "/certs")
            ])),
            SocketFacts::Remote {
                docker_host: "tcp://10.0.0.5:2376 (TLS)".to_owned(),
                on_host: None,
            }
        );
        // An endpoint berth refuses (plain TCP to another host) is no local
        // socket either; connecting says why it is refused.
        assert_eq!(
            discover(&host(&[("DOCKER_HOST", "tcp://10.0.0.5:2375")])),
            SocketFacts::Remote {
                docker_host: "tcp://10.0.0.5:2375".to_owned(),
                on_host: None,
            }
        );
        assert!(matches!(
            discover(&host(&[("DOCKER_HOST", "/nowhere.sock")])),
            SocketFacts::Missing { source, .. } if source == "DOCKER_HOST"
        ));
    }
}
