//! Finding the engine's socket on the host, the way the docker CLI does:
//! `DOCKER_HOST` (a `unix://` path; any other scheme is a remote engine), then the
//! rootless socket under `XDG_RUNTIME_DIR`, then `/var/run/docker.sock`. berth
//! talks to the engine there and hands the same socket to sandboxes in docker
//! `host` mode.

use std::path::{Path, PathBuf};

use runtime_core::{HostEnv, SocketFacts};

/// The socket path when nothing else names one.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// Finds and stats the engine socket on `host`.
pub fn discover(host: &dyn HostEnv) -> SocketFacts {
    let (path, source) = match host.var("DOCKER_HOST").filter(|v| !v.is_empty()) {
        Some(value) => match value.strip_prefix("unix://") {
            Some(path) => (PathBuf::from(path), "DOCKER_HOST"),
            None if value.starts_with('/') => (PathBuf::from(value), "DOCKER_HOST"),
            None => return SocketFacts::Remote { docker_host: value },
        },
        None => {
            let rootless = host
                .var("XDG_RUNTIME_DIR")
                .filter(|d| !d.is_empty())
                .map(|d| Path::new(&d).join("docker.sock"))
                .filter(|p| host.stat(p).is_ok_and(|s| s.is_socket));
            match rootless {
                Some(path) => (path, "rootless socket under XDG_RUNTIME_DIR"),
                None => (PathBuf::from(DEFAULT_SOCKET), "default path"),
            }
        }
    };
    let stat = host.stat(&path);
    SocketFacts::from_stat(path, source.to_owned(), stat)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::io;

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
            discover(&host(&[("DOCKER_HOST", "tcp://10.0.0.5:2376")])),
            SocketFacts::Remote {
                docker_host: "tcp://10.0.0.5:2376".to_owned()
            }
        );
        assert!(matches!(
            discover(&host(&[("DOCKER_HOST", "/nowhere.sock")])),
            SocketFacts::Missing { source, .. } if source == "DOCKER_HOST"
        ));
    }
}
