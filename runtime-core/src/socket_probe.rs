//! Where a remote Docker engine's socket is on the engine's own host: what
//! `berth-helper socket-probe` reports from there, and the parsers the Docker
//! backend reads its output with.
//!
//! The engine's API does not say where it listens, and the path that is usual
//! (`/var/run/docker.sock`) may belong to another engine on the same host. So
//! the probe runs in two short-lived containers on the engine: the first, in
//! the engine's network namespace, lists the unix sockets that listen there
//! and are named like Docker's ([`listening_docker_sockets`], from
//! `/proc/net/unix`); the second gets each of those mounted read-only under
//! [`MOUNT_ROOT`], stats it, and asks it `GET /info` ([`engine_identity`]).
//! The socket that answers as the engine itself (its ID and its data root:
//! engines that share `/etc/docker/key.json` share an ID, never a data root) is
//! the engine's ([`choose`]).
//! Everything the helper prints is parsed here into typed values, strictly.

use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::host::RemoteSocket;

/// The helper's subcommand.
pub const SUBCOMMAND: &str = "socket-probe";

/// Where the second container finds candidate `i`: `MOUNT_ROOT/i`.
pub const MOUNT_ROOT: &str = "/berth-probe";

/// At most this many candidates are checked.
pub const MAX_CANDIDATES: usize = 16;

/// The longest path accepted (`PATH_MAX`).
const MAX_PATH: usize = 4096;

/// The request each candidate is asked: HTTP/1.0, so the engine answers with a
/// plain body and closes the connection.
pub const INFO_REQUEST: &[u8] = b"GET /info HTTP/1.0\r\nHost: docker\r\n\r\n";

/// The paths of the listening stream sockets in `proc_net_unix` (the text of
/// `/proc/net/unix`) whose file name names Docker and ends in `.sock`, in the
/// order listed, without duplicates, at most [`MAX_CANDIDATES`]. Abstract
/// sockets, and paths that are not absolute and plain, are left out.
pub fn listening_docker_sockets(proc_net_unix: &str) -> Vec<PathBuf> {
    // Num RefCount Protocol Flags Type St Inode Path
    const ACCEPTING: u32 = 0x0001_0000;
    const STREAM: u32 = 1;
    let mut out: Vec<PathBuf> = Vec::new();
    for line in proc_net_unix.lines().skip(1) {
        let mut fields = line.split_whitespace();
        let (Some(flags), Some(kind)) = (fields.nth(3), fields.next()) else {
            continue;
        };
        let (Ok(flags), Ok(kind)) = (
            u32::from_str_radix(flags, 16),
            u32::from_str_radix(kind, 16),
        ) else {
            continue;
        };
        let Some(path) = fields.nth(2) else {
            continue;
        };
        if flags & ACCEPTING == 0 || kind != STREAM || fields.next().is_some() {
            continue;
        }
        let Ok(path) = plain_path(path) else {
            continue;
        };
        let named = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(".sock") && n.to_ascii_lowercase().contains("docker"));
        if named && !out.contains(&path) {
            out.push(path);
        }
        if out.len() == MAX_CANDIDATES {
            break;
        }
    }
    out
}

/// `path` as a typed path when it is absolute and plain: no `.` or `..`, no
/// control characters, at most `PATH_MAX` bytes, not `/` itself.
pub fn plain_path(path: &str) -> Result<PathBuf, String> {
    let shown: String = path
        .chars()
        .take(80)
        .collect::<String>()
        .escape_debug()
        .to_string();
    if path.len() > MAX_PATH || path.chars().any(char::is_control) {
        return Err(format!("\"{shown}\" is not a plain path"));
    }
    let parsed = Path::new(path);
    let plain = parsed.is_absolute()
        && parsed
            .components()
            .all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
    if !plain || parsed.parent().is_none() {
        return Err(format!("\"{shown}\" is not an absolute, plain path"));
    }
    Ok(parsed.to_path_buf())
}

/// Parses what `socket-probe list` printed: one JSON array of paths, each
/// absolute and plain, at most [`MAX_CANDIDATES`].
pub fn parse_candidates(printed: &[u8]) -> Result<Vec<PathBuf>, String> {
    let paths: Vec<String> = serde_json::from_slice(trim(printed))
        .map_err(|e| format!("the probe printed no list of paths ({e})"))?;
    if paths.len() > MAX_CANDIDATES {
        return Err(format!(
            "the probe listed {} paths, more than {MAX_CANDIDATES}",
            paths.len()
        ));
    }
    paths.iter().map(|p| plain_path(p)).collect()
}

/// Who an engine is, as its `info` says: its ID, and its data root, which no
/// two engines on one host share (the ID alone comes from a key file that two
/// engines may share).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineIdentity {
    /// `ID`.
    pub id: String,
    /// `DockerRootDir`.
    pub root_dir: String,
}

impl std::fmt::Display for EngineIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} with data root {}", self.id, self.root_dir)
    }
}

/// What the probe found at one candidate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Checked {
    /// A socket that answered `GET /info` as an engine.
    Engine {
        /// Owning group id.
        gid: u32,
        /// Permission bits (`st_mode & 0o7777`).
        mode: u32,
        /// Who the engine said it is.
        engine: EngineIdentity,
    },
    /// A socket that did not answer as an engine.
    Silent {
        /// Owning group id.
        gid: u32,
        /// Permission bits.
        mode: u32,
        /// What happened.
        reason: String,
    },
    /// Not a socket, or it could not be stat'ed.
    Unusable {
        /// Why.
        reason: String,
    },
}

/// The longest engine ID or reason accepted.
const MAX_TEXT: usize = 512;

/// Parses what `socket-probe check N` printed: one JSON array of `expected`
/// [`Checked`] values, in the order of the candidates.
pub fn parse_checks(printed: &[u8], expected: usize) -> Result<Vec<Checked>, String> {
    let checks: Vec<Checked> = serde_json::from_slice(trim(printed))
        .map_err(|e| format!("the probe printed no list of checks ({e})"))?;
    if checks.len() != expected {
        return Err(format!(
            "the probe checked {} sockets, not the {expected} it was given",
            checks.len()
        ));
    }
    for check in &checks {
        let (text, mode) = match check {
            Checked::Engine { engine, mode, .. } => {
                if !plain_text(&engine.root_dir) {
                    return Err(
                        "the probe printed a value that is too long or not plain text".to_owned(),
                    );
                }
                (&engine.id, Some(*mode))
            }
            Checked::Silent { reason, mode, .. } => (reason, Some(*mode)),
            Checked::Unusable { reason } => (reason, None),
        };
        if !plain_text(text) {
            return Err("the probe printed a value that is too long or not plain text".to_owned());
        }
        if mode.is_some_and(|m| m > 0o7777) {
            return Err("the probe printed a mode that is not permission bits".to_owned());
        }
    }
    Ok(checks)
}

fn plain_text(text: &str) -> bool {
    text.len() <= MAX_TEXT && !text.chars().any(char::is_control)
}

/// Who answered [`INFO_REQUEST`]: status 200 and a JSON body with a non-empty
/// `ID` and `DockerRootDir` of plain text.
pub fn engine_identity(response: &[u8]) -> Result<EngineIdentity, String> {
    #[derive(Deserialize)]
    struct Info {
        #[serde(rename = "ID")]
        id: String,
        #[serde(rename = "DockerRootDir")]
        root_dir: String,
    }
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| "no HTTP response".to_owned())?;
    let head = String::from_utf8_lossy(&response[..split]);
    let status = head.lines().next().unwrap_or_default();
    let code = status.split_whitespace().nth(1);
    if !status.starts_with("HTTP/1.") || code != Some("200") {
        let shown: String = status.chars().take(80).collect();
        return Err(format!("answered \"{}\", not 200", shown.escape_debug()));
    }
    let info: Info = serde_json::from_slice(&response[split + 4..])
        .map_err(|_| "answered with no engine ID".to_owned())?;
    if [&info.id, &info.root_dir]
        .iter()
        .any(|t| t.is_empty() || !plain_text(t))
    {
        return Err("answered with an engine ID or data root that is not plain text".to_owned());
    }
    Ok(EngineIdentity {
        id: info.id,
        root_dir: info.root_dir,
    })
}

/// The socket of the engine `identity`, among `candidates` as the probe
/// `checks`ed them: the first that answered as that engine (the default paths
/// first), else why none is it.
pub fn choose(
    candidates: &[PathBuf],
    checks: &[Checked],
    identity: &EngineIdentity,
) -> RemoteSocket {
    let preferred = |p: &Path| match p.to_str() {
        Some("/var/run/docker.sock") => 0,
        Some("/run/docker.sock") => 1,
        _ => 2,
    };
    let mut found: Vec<(&PathBuf, u32, u32)> = candidates
        .iter()
        .zip(checks)
        .filter_map(|(path, check)| match check {
            Checked::Engine { gid, mode, engine } if engine == identity => {
                Some((path, *gid, *mode))
            }
            _ => None,
        })
        .collect();
    found.sort_by_key(|(path, ..)| preferred(path));
    if let Some((path, gid, mode)) = found.first() {
        return RemoteSocket::Found {
            path: (*path).clone(),
            gid: *gid,
            mode: *mode,
            cached: false,
        };
    }
    if candidates.is_empty() {
        return RemoteSocket::Missing {
            reason: "no unix socket named like Docker's (*docker*.sock) listens in the engine's network namespace".to_owned(),
        };
    }
    let seen: Vec<String> = candidates
        .iter()
        .zip(checks)
        .map(|(path, check)| {
            let what = match check {
                Checked::Engine { engine, .. } => format!("answers as engine {engine}"),
                Checked::Silent { reason, .. } | Checked::Unusable { reason } => reason.clone(),
            };
            format!("{} {what}", path.display())
        })
        .collect();
    RemoteSocket::Missing {
        reason: format!(
            "none of the sockets there answers as this engine ({identity}): {}",
            seen.join("; ")
        ),
    }
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROC_NET_UNIX: &str = "\
Num       RefCount Protocol Flags    Type St Inode Path
0000000000000000: 00000002 00000000 00010000 0001 01 20431 /run/containerd/containerd.sock
0000000000000000: 00000002 00000000 00010000 0001 01 31337 /var/run/docker.sock
0000000000000000: 00000002 00000000 00010000 0001 01 31338 /var/run/docker/metrics.sock
0000000000000000: 00000003 00000000 00000000 0001 03 31339 /var/run/docker.sock
0000000000000000: 00000002 00000000 00010000 0002 01 31340 /run/docker-dgram.sock
0000000000000000: 00000002 00000000 00010000 0001 01 31341 @/docker/abstract.sock
0000000000000000: 00000002 00000000 00010000 0001 01 31342 /tmp/berth-remote.x1/docker.sock
0000000000000000: 00000002 00000000 00010000 0001 01 31343 /tmp/../etc/docker.sock
0000000000000000: 00000002 00000000 00010000 0001 01 31344 /tmp/two words docker.sock
0000000000000000: 00000002 00000000 00010000 0001 01 31345
0000000000000000: 00000002 00000000 00010000 0001 01 31346 /run/user/1000/docker.sock
";

    #[test]
    fn listening_stream_sockets_named_like_docker_s_are_candidates() {
        assert_eq!(
            listening_docker_sockets(PROC_NET_UNIX),
            vec![
                PathBuf::from("/var/run/docker.sock"),
                PathBuf::from("/tmp/berth-remote.x1/docker.sock"),
                PathBuf::from("/run/user/1000/docker.sock"),
            ]
        );
        let many: String = std::iter::once("header\n".to_owned())
            .chain((0..40).map(|i| {
                format!("0: 00000002 00000000 00010000 0001 01 {i} /run/d{i}/docker.sock\n")
            }))
            .collect();
        assert_eq!(listening_docker_sockets(&many).len(), MAX_CANDIDATES);
    }

    #[test]
    fn the_list_is_parsed_strictly() {
        assert_eq!(
            parse_candidates(b" [\"/var/run/docker.sock\"]\n"),
            Ok(vec![PathBuf::from("/var/run/docker.sock")])
        );
        for bad in [
            &b""[..],
            b"not json",
            b"{\"path\": \"/x.sock\"}",
            b"[\"relative/docker.sock\"]",
            b"[\"/a/../docker.sock\"]",
            b"[\"/\"]",
            b"[\"/a/docker\\n.sock\"]",
            b"[1]",
        ] {
            assert!(
                parse_candidates(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let too_many = serde_json::to_vec(&vec!["/d.sock"; MAX_CANDIDATES + 1]).unwrap();
        assert!(parse_candidates(&too_many).is_err());
    }

    #[test]
    fn checks_are_parsed_strictly() {
        let printed = br#"[{"status":"engine","gid":998,"mode":432,"engine":{"id":"AB:CD","root_dir":"/var/lib/docker"}},
            {"status":"silent","gid":0,"mode":384,"reason":"connection refused"},
            {"status":"unusable","reason":"not a socket"}]"#;
        assert_eq!(
            parse_checks(printed, 3),
            Ok(vec![
                Checked::Engine {
                    gid: 998,
                    mode: 0o660,
                    engine: identity("AB:CD", "/var/lib/docker"),
                },
                Checked::Silent {
                    gid: 0,
                    mode: 0o600,
                    reason: "connection refused".to_owned()
                },
                Checked::Unusable {
                    reason: "not a socket".to_owned()
                },
            ])
        );
        assert!(parse_checks(printed, 2).is_err(), "one per candidate");
        for bad in [
            &br#"[{"status":"engine","gid":998,"mode":432}]"#[..],
            br#"[{"status":"engine","gid":-1,"mode":432,"engine":{"id":"x","root_dir":"/d"}}]"#,
            br#"[{"status":"engine","gid":1,"mode":65535,"engine":{"id":"x","root_dir":"/d"}}]"#,
            br#"[{"status":"engine","gid":1,"mode":432,"engine":{"id":"x","root_dir":"/d"},"path":"/etc"}]"#,
            br#"[{"status":"engine","gid":1,"mode":432,"engine":{"id":"a\nb","root_dir":"/d"}}]"#,
            br#"[{"status":"engine","gid":1,"mode":432,"engine":{"id":"x","root_dir":"/d\u0000"}}]"#,
            br#"[{"status":"engine","gid":1,"mode":432,"engine":{"id":"x"}}]"#,
            br#"[{"status":"mystery"}]"#,
        ] {
            assert!(
                parse_checks(bad, 1).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn the_engine_identity_comes_from_a_200_with_a_json_body() {
        let ok = b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{\"ID\":\"WXYZ:1234\",\"Name\":\"box\",\"DockerRootDir\":\"/var/lib/docker\"}\n";
        assert_eq!(
            engine_identity(ok),
            Ok(identity("WXYZ:1234", "/var/lib/docker"))
        );
        for bad in [
            &b"HTTP/1.0 404 Not Found\r\n\r\n{}"[..],
            b"SSH-2.0-OpenSSH\r\n",
            b"HTTP/1.0 200 OK\r\n\r\n{\"ID\":\"\",\"DockerRootDir\":\"/d\"}",
            b"HTTP/1.0 200 OK\r\n\r\n{\"ID\":\"X\"}",
            b"HTTP/1.0 200 OK\r\n\r\nnot json",
        ] {
            assert!(
                engine_identity(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    fn identity(id: &str, root_dir: &str) -> EngineIdentity {
        EngineIdentity {
            id: id.to_owned(),
            root_dir: root_dir.to_owned(),
        }
    }

    #[test]
    fn the_socket_that_answers_as_the_engine_is_chosen() {
        let candidates = vec![
            PathBuf::from("/tmp/other/docker.sock"),
            PathBuf::from("/run/docker.sock"),
            PathBuf::from("/var/run/docker.sock"),
        ];
        let this = identity("SHARED:KEY", "/var/lib/docker");
        let engine = |root: &str, gid| Checked::Engine {
            gid,
            mode: 0o660,
            engine: identity("SHARED:KEY", root),
        };
        // Two paths of this engine: the default one wins.
        let checks = vec![
            engine("/var/lib/docker", 7),
            engine("/srv/other", 8),
            engine("/var/lib/docker", 9),
        ];
        assert_eq!(
            choose(&candidates, &checks, &this),
            RemoteSocket::Found {
                path: PathBuf::from("/var/run/docker.sock"),
                gid: 9,
                mode: 0o660,
                cached: false
            }
        );
        // The usual path belongs to another engine with the same ID (they share
        // a key file) and another data root: never chosen.
        let checks = vec![
            engine("/var/lib/docker", 7),
            Checked::Unusable {
                reason: "gone".to_owned(),
            },
            engine("/srv/other", 9),
        ];
        assert_eq!(
            choose(&candidates, &checks, &this),
            RemoteSocket::Found {
                path: PathBuf::from("/tmp/other/docker.sock"),
                gid: 7,
                mode: 0o660,
                cached: false
            }
        );
        let RemoteSocket::Missing { reason } =
            choose(&candidates, &checks, &identity("SHARED:KEY", "/elsewhere"))
        else {
            panic!("found a socket of an engine that has none");
        };
        assert!(
            reason.contains(
                "/var/run/docker.sock answers as engine SHARED:KEY with data root /srv/other"
            ),
            "{reason}"
        );
        assert!(matches!(
            choose(&[], &[], &this),
            RemoteSocket::Missing { .. }
        ));
    }
}
