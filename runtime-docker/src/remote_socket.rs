//! docker `host` mode on a remote engine: where the engine's socket is on its
//! own host, and its group there, asked of that host.
//!
//! The engine's API does not say where it listens, and berth cannot stat a
//! path on another machine, so the engine runs the probe itself: two
//! short-lived containers from berth's helper image (built on the engine on
//! first use, as for the egress proxy, so the probe needs no image of the
//! user's and nothing mounted from this host), under runc, with every
//! capability dropped and a read-only root. The first shares the engine's
//! network namespace and lists the sockets named like Docker's that listen
//! there; the second gets exactly those mounted read-only and asks each for
//! the engine's identity (its ID and data root), so a socket of another engine
//! on the same host (the usual `/var/run/docker.sock` may be one) is never
//! taken for this one ([`runtime_core::socket_probe`]). Both carry berth's labels and a run id of
//! their own, as a sidecar: removed when the probe ends, and by `berth gc` if
//! berth dies meanwhile.
//!
//! The answer is kept per engine (by the engine's identity) in berth's state
//! directory, 0600, for a day; it is parsed strictly on read, and anything
//! wrong with it means a new probe. The path it holds is only ever the source
//! of a mount on that engine.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, CreateContainerOptions, RemoveContainerOptionsBuilder,
    StartContainerOptions, WaitContainerOptionsBuilder,
};
use futures::StreamExt;
use runtime_core::socket_probe::{self, EngineIdentity, MOUNT_ROOT, SUBCOMMAND};
use runtime_core::{HostFacts, HostIdentity, RemoteSocket, RunId, labels};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::capabilities::RUNC;

/// `berth.role` of the probe's containers.
pub(crate) const ROLE_SOCKET_PROBE: &str = "socket-probe";

/// How long the whole probe may take (the helper image may be built first).
const PROBE_TIMEOUT: Duration = Duration::from_secs(120);

/// How long a cached answer is used: a socket's group can change.
const CACHE_MAX_AGE: i64 = 24 * 60 * 60;

/// The most output a probe container's stream is read for.
const MAX_OUTPUT: usize = 64 << 10;

/// The engine's socket on its own host: from the cache when a fresh answer for
/// this engine is there, else probed (and cached when found). `labels` go on
/// the probe's containers besides berth's own.
pub(crate) async fn find(
    docker: &Docker,
    host: &HostFacts,
    labels: &BTreeMap<String, String>,
) -> RemoteSocket {
    let identity = match docker.info().await {
        Ok(info) => match (info.id, info.docker_root_dir) {
            (Some(id), Some(root_dir)) if !id.is_empty() && !root_dir.is_empty() => {
                EngineIdentity { id, root_dir }
            }
            _ => {
                return RemoteSocket::Unknown {
                    reason: "the engine reported no ID and data root to tell its socket from another engine's"
                        .to_owned(),
                };
            }
        },
        Err(e) => {
            return RemoteSocket::Unknown {
                reason: format!("the engine did not answer `info` ({e})"),
            };
        }
    };
    let cache = host
        .state_dir
        .as_deref()
        .map(|dir| cache_file(dir, &identity));
    let now = runtime_core::state::now();
    if let Some(found) = cache
        .as_deref()
        .and_then(|file| read_cache(file, &identity, now))
    {
        return found;
    }
    let started = Instant::now();
    let run_id = RunId::random();
    let probe_labels = probe_labels(&run_id, labels);
    let probing = probe(docker, &identity, &probe_labels);
    let found = match tokio::time::timeout(PROBE_TIMEOUT, probing).await {
        Ok(Ok(found)) => found,
        Ok(Err(reason)) => RemoteSocket::Unknown { reason },
        Err(_) => {
            // Cut short between create and remove: what it made goes by label.
            if let Err(e) = crate::remove::remove(docker, &run_id).await {
                tracing::debug!(%run_id, error = %e, "cannot remove the probe's containers");
            }
            RemoteSocket::Unknown {
                reason: format!(
                    "the probe on the engine took longer than {}s",
                    PROBE_TIMEOUT.as_secs()
                ),
            }
        }
    };
    tracing::debug!(elapsed = ?started.elapsed(), ?found, "probed the remote engine's socket");
    if let (
        Some(file),
        RemoteSocket::Found {
            path, gid, mode, ..
        },
    ) = (&cache, &found)
    {
        let entry = Cached {
            engine: identity.clone(),
            path: path.clone(),
            gid: *gid,
            mode: *mode,
            probed_at: now,
        };
        // A cache that cannot be written costs another probe next time, no more.
        if let Err(e) = write_cache(file, &entry) {
            tracing::debug!(file = %file.display(), error = %e, "cannot cache the remote socket");
        }
    }
    found
}

/// The two probe containers, in turn.
async fn probe(
    docker: &Docker,
    identity: &EngineIdentity,
    labels: &HashMap<String, String>,
) -> Result<RemoteSocket, String> {
    let image = crate::egress::ensure_helper_image(docker)
        .await
        .map_err(|e| format!("berth's helper image is not on the engine: {}", chain(&e)))?;
    let list = HostConfig {
        network_mode: Some("host".to_owned()),
        ..confined()
    };
    let printed = run(
        docker,
        &image,
        vec![SUBCOMMAND.to_owned(), "list".to_owned()],
        list,
        labels,
        None,
    )
    .await?;
    let candidates = socket_probe::parse_candidates(&printed)?;
    if candidates.is_empty() {
        return Ok(socket_probe::choose(&[], &[], identity));
    }
    let mounts = candidates
        .iter()
        .enumerate()
        .map(|(i, path)| Mount {
            typ: Some(MountType::BIND),
            source: Some(path.to_string_lossy().into_owned()),
            target: Some(format!("{MOUNT_ROOT}/{i}")),
            read_only: Some(true),
            ..Default::default()
        })
        .collect();
    let check = HostConfig {
        network_mode: Some("none".to_owned()),
        mounts: Some(mounts),
        ..confined()
    };
    // As root: the socket's owner may be the only one who can connect to it
    // (no capability comes with it).
    let printed = run(
        docker,
        &image,
        vec![
            SUBCOMMAND.to_owned(),
            "check".to_owned(),
            candidates.len().to_string(),
        ],
        check,
        labels,
        Some("0:0"),
    )
    .await?;
    let checks = socket_probe::parse_checks(&printed, candidates.len())?;
    Ok(socket_probe::choose(&candidates, &checks, identity))
}

/// What both probe containers share: runc, no capabilities, nothing writable.
fn confined() -> HostConfig {
    HostConfig {
        runtime: Some(RUNC.to_owned()),
        readonly_rootfs: Some(true),
        cap_drop: Some(vec!["ALL".to_owned()]),
        security_opt: Some(vec!["no-new-privileges".to_owned()]),
        pids_limit: Some(16),
        ..Default::default()
    }
}

/// berth's labels for the probe's containers: a run of their own, as a
/// sidecar, owned by this process; and `extra`.
fn probe_labels(run_id: &RunId, extra: &BTreeMap<String, String>) -> HashMap<String, String> {
    let mut out: HashMap<String, String> =
        extra.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    for (key, value) in [
        (labels::MANAGED_BY, labels::MANAGED_BY_VALUE.to_owned()),
        (labels::RUN_ID, run_id.to_string()),
        (labels::ROLE, ROLE_SOCKET_PROBE.to_owned()),
        (labels::OWNER_PID, std::process::id().to_string()),
        (
            labels::OWNER_HOST,
            HostIdentity::current().map_or_else(|| labels::UNKNOWN.to_owned(), |h| h.to_string()),
        ),
        (labels::DETACHED, "false".to_owned()),
        (labels::EXPIRES, labels::NEVER.to_owned()),
    ] {
        out.insert(key.to_owned(), value);
    }
    out
}

/// Creates, runs and removes one probe container, as `user` (else the
/// image's); its standard output when it exits 0.
async fn run(
    docker: &Docker,
    image: &str,
    cmd: Vec<String>,
    host_config: HostConfig,
    labels: &HashMap<String, String>,
    user: Option<&str>,
) -> Result<Vec<u8>, String> {
    let body = ContainerCreateBody {
        image: Some(image.to_owned()),
        cmd: Some(cmd),
        user: user.map(str::to_owned),
        labels: Some(labels.clone()),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        host_config: Some(host_config),
        ..Default::default()
    };
    let created = docker
        .create_container(None::<CreateContainerOptions>, body)
        .await
        .map_err(|e| format!("the engine refused the probe's container ({e})"))?;
    let outcome = attach_start_wait(docker, &created.id).await;
    let remove = RemoveContainerOptionsBuilder::default().force(true).build();
    if let Err(e) = docker.remove_container(&created.id, Some(remove)).await {
        tracing::debug!(id = created.id, error = %e, "cannot remove a probe container");
    }
    outcome
}

async fn attach_start_wait(docker: &Docker, id: &str) -> Result<Vec<u8>, String> {
    let options = AttachContainerOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .stream(true)
        .build();
    let mut attached = docker
        .attach_container(id, Some(options))
        .await
        .map_err(|e| format!("cannot attach to the probe's container ({e})"))?;
    docker
        .start_container(id, None::<StartContainerOptions>)
        .await
        .map_err(|e| format!("the engine cannot start the probe's container ({e})"))?;
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    while let Some(frame) = attached.output.next().await {
        match frame {
            Ok(bollard::container::LogOutput::StdErr { message }) => {
                if stderr.len() < MAX_OUTPUT {
                    stderr.extend_from_slice(&message);
                }
            }
            Ok(other) => {
                if stdout.len() < MAX_OUTPUT {
                    stdout.extend_from_slice(&other.into_bytes());
                }
            }
            Err(e) => return Err(format!("the probe's output broke off ({e})")),
        }
    }
    let wait = WaitContainerOptionsBuilder::default()
        .condition("not-running")
        .build();
    let code = match docker.wait_container(id, Some(wait)).next().await {
        Some(Ok(exit)) => exit.status_code,
        // A non-zero exit comes as an error carrying the code.
        Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => code,
        Some(Err(e)) => return Err(format!("cannot wait for the probe's container ({e})")),
        None => return Err("the probe's container vanished".to_owned()),
    };
    if code != 0 {
        let said: String = String::from_utf8_lossy(&stderr)
            .trim()
            .chars()
            .filter(|c| !c.is_control() || *c == ' ')
            .take(300)
            .collect();
        return Err(format!("the probe exited with {code}: {said}"));
    }
    Ok(stdout)
}

/// `error` and its sources, joined.
fn chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

/// One cached answer: the engine and what the probe found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Cached {
    engine: EngineIdentity,
    path: PathBuf,
    gid: u32,
    mode: u32,
    /// Seconds since the Unix epoch.
    probed_at: i64,
}

/// The cache file of the engine `identity`: named by a hash of it, since it
/// comes from the engine and so never makes a path.
fn cache_file(state_dir: &Path, identity: &EngineIdentity) -> PathBuf {
    let mut digest = Sha256::new();
    digest.update(identity.id.as_bytes());
    digest.update([0]);
    digest.update(identity.root_dir.as_bytes());
    let digest = digest.finalize();
    let name: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    state_dir
        .join("engine-sockets")
        .join(format!("{name}.json"))
}

/// The cached answer in `file` for `identity`, if it is there, well formed,
/// of that engine, and fresh at `now`.
fn read_cache(file: &Path, identity: &EngineIdentity, now: i64) -> Option<RemoteSocket> {
    let meta = std::fs::symlink_metadata(file).ok()?;
    if !meta.is_file() || meta.len() > 4096 {
        return None;
    }
    parse_cache(&std::fs::read(file).ok()?, identity, now)
}

fn parse_cache(bytes: &[u8], identity: &EngineIdentity, now: i64) -> Option<RemoteSocket> {
    let cached: Cached = serde_json::from_slice(bytes).ok()?;
    let path = socket_probe::plain_path(cached.path.to_str()?).ok()?;
    let fresh = cached.probed_at <= now + 60 && now - cached.probed_at < CACHE_MAX_AGE;
    (cached.engine == *identity && fresh && cached.mode <= 0o7777).then_some(RemoteSocket::Found {
        path,
        gid: cached.gid,
        mode: cached.mode,
        cached: true,
    })
}

/// Writes `entry` to `file` (0600, in a 0700 directory): a temporary file, then
/// a rename.
fn write_cache(file: &Path, entry: &Cached) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let dir = file
        .parent()
        .ok_or_else(|| std::io::Error::other("the cache file has no directory"))?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let tmp = dir.join(format!(".{}.tmp", std::process::id()));
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    out.write_all(&serde_json::to_vec(entry).map_err(std::io::Error::other)?)?;
    out.sync_all()?;
    std::fs::rename(&tmp, file)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn id(root_dir: &str) -> EngineIdentity {
        EngineIdentity {
            id: "WXYZ:ABCD:1234".to_owned(),
            root_dir: root_dir.to_owned(),
        }
    }

    fn entry() -> Cached {
        Cached {
            engine: id("/var/lib/docker"),
            path: PathBuf::from("/var/run/docker.sock"),
            gid: 998,
            mode: 0o660,
            probed_at: NOW - 60,
        }
    }

    #[test]
    fn a_cached_answer_is_used_only_when_it_is_sound() {
        let good = serde_json::to_vec(&entry()).unwrap();
        assert_eq!(
            parse_cache(&good, &id("/var/lib/docker"), NOW),
            Some(RemoteSocket::Found {
                path: PathBuf::from("/var/run/docker.sock"),
                gid: 998,
                mode: 0o660,
                cached: true,
            })
        );
        let with = |change: &dyn Fn(&mut Cached)| {
            let mut e = entry();
            change(&mut e);
            serde_json::to_vec(&e).unwrap()
        };
        let bad: Vec<(&str, Vec<u8>)> = vec![
            ("another engine's", with(&|e| e.engine.id = "OTHER".to_owned())),
            (
                "another engine's with the same ID",
                with(&|e| e.engine.root_dir = "/srv/docker".to_owned()),
            ),
            ("stale", with(&|e| e.probed_at = NOW - CACHE_MAX_AGE)),
            ("from the future", with(&|e| e.probed_at = NOW + 3600)),
            ("relative path", with(&|e| e.path = "docker.sock".into())),
            ("dotted path", with(&|e| e.path = "/run/../etc/x".into())),
            ("not a mode", with(&|e| e.mode = 0o170_000)),
            ("not json", b"{\"engine\":".to_vec()),
            ("empty", Vec::new()),
            (
                "unknown field",
                br#"{"engine":{"id":"WXYZ:ABCD:1234","root_dir":"/var/lib/docker"},"path":"/var/run/docker.sock","gid":1,"mode":432,"probed_at":1800000000,"extra":1}"#.to_vec(),
            ),
            (
                "negative gid",
                br#"{"engine":{"id":"WXYZ:ABCD:1234","root_dir":"/var/lib/docker"},"path":"/var/run/docker.sock","gid":-1,"mode":432,"probed_at":1800000000}"#.to_vec(),
            ),
        ];
        for (what, bytes) in bad {
            assert_eq!(
                parse_cache(&bytes, &id("/var/lib/docker"), NOW),
                None,
                "{what}"
            );
        }
    }

    #[test]
    fn the_cache_is_written_owner_only_and_read_back_and_bad_content_is_ignored() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let this = id("/var/lib/docker");
        let file = cache_file(dir.path(), &this);
        assert!(file.starts_with(dir.path().join("engine-sockets")));
        assert_ne!(
            file,
            cache_file(dir.path(), &id("/srv/docker")),
            "one file per engine"
        );
        assert_eq!(read_cache(&file, &this, NOW), None, "nothing cached yet");
        write_cache(&file, &entry()).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(file.parent().unwrap()), 0o700);
        assert!(matches!(
            read_cache(&file, &this, NOW),
            Some(RemoteSocket::Found { cached: true, .. })
        ));
        // Corrupt content means a new probe, never an error or a guess.
        std::fs::write(&file, b"/etc/shadow").unwrap();
        assert_eq!(read_cache(&file, &this, NOW), None);
        // A symlink in its place is not followed.
        let elsewhere = dir.path().join("elsewhere.json");
        std::fs::write(&elsewhere, serde_json::to_vec(&entry()).unwrap()).unwrap();
        std::fs::remove_file(&file).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &file).unwrap();
        assert_eq!(read_cache(&file, &this, NOW), None);
        // Written again over it, it is read again.
        std::fs::remove_file(&file).unwrap();
        write_cache(&file, &entry()).unwrap();
        assert!(read_cache(&file, &this, NOW).is_some());
    }

    #[test]
    fn the_probe_s_containers_carry_berth_s_labels_as_a_run_of_their_own() {
        let run = RunId::random();
        let extra = BTreeMap::from([
            (labels::SANDBOX.to_owned(), "proj".to_owned()),
            (labels::ROLE.to_owned(), "agent".to_owned()),
        ]);
        let got = probe_labels(&run, &extra);
        let owner = runtime_core::labels::Ownership::classify(&got.clone().into_iter().collect());
        assert_eq!(owner.run_id(), Some(&run));
        assert_eq!(got[labels::ROLE], ROLE_SOCKET_PROBE, "berth's own win");
        assert_eq!(got[labels::SANDBOX], "proj");
        assert_eq!(got[labels::DETACHED], "false");
        assert!(crate::egress::is_sidecar(Some(ROLE_SOCKET_PROBE)));
    }
}
