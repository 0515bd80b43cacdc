//! The egress allowlist on the engine: per run, an internal network with no
//! gateway for the sandbox, an egress network, and the proxy sidecar on both.
//!
//! The internal network is created with `internal` (no route out) and with the
//! bridge's own address inhibited: measured on Docker 20.10, a container on an
//! internal network still reaches a host service at its network's gateway and at
//! docker0's address, and with no address on the bridge it reaches neither. The
//! proxy runs from the static `berth-helper` binary in an image berth builds on
//! first use (no registry), under runc whatever runtime the sandbox uses: it is
//! berth's own code and reaches the engine's DNS from there. Everything carries the
//! run's labels, so removing the run removes it, and a sidecar is never a sandbox.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;

use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, HostConfig, Mount, MountType, NetworkConnectRequest, NetworkCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, InspectContainerOptions, ListContainersOptionsBuilder,
    ListNetworksOptions, StartContainerOptions,
};
use runtime_core::egress::{
    CA_DIR, PROXY_PORT, ProxySettings, SETTINGS_VAR, ca_environment, proxy_environment,
};
use runtime_core::{CreateSpec, RunId, labels};
use sha2::{Digest, Sha256};

use crate::capabilities::RUNC;
use crate::errors::DockerError;

/// `berth.role` of a proxy sidecar.
pub(crate) const ROLE_EGRESS: &str = "egress";

/// The label of a proxy that holds bound secrets, in its memory only: it cannot
/// be started again, since the values went with it.
pub(crate) const HOLDS_SECRETS: &str = "berth.egress-holds-secrets";

pub use runtime_core::helper::HELPER_VAR;

/// The run's internal network, which the sandbox joins.
pub(crate) fn internal_network(run_id: &RunId) -> String {
    format!("berth-{run_id}-internal")
}

/// The run's egress network, the proxy's way out.
pub(crate) fn egress_network(run_id: &RunId) -> String {
    format!("berth-{run_id}-egress")
}

/// The run's CA volume: the proxy writes the CA certificate into it, the sandbox
/// reads it.
pub(crate) fn ca_volume(run_id: &RunId) -> String {
    format!("berth-{run_id}-ca")
}

/// The run's proxy container.
pub(crate) fn proxy_name(run_id: &RunId) -> String {
    format!("berth-{run_id}-proxy")
}

/// Whether a container's labels mark it as a sidecar rather than a sandbox.
pub(crate) fn is_sidecar(role: Option<&str>) -> bool {
    role == Some(ROLE_EGRESS)
        || role == Some(ROLE_SELF_TEST)
        || role == Some(crate::remote_socket::ROLE_SOCKET_PROBE)
}

/// The helper binary berth would use for an allowlist run, or why there is none
/// that can run (with what to do in the error's text).
pub fn helper() -> Result<PathBuf, String> {
    runtime_core::helper::locate(|name| std::env::var(name).ok())
}

/// The helper binary's bytes, checked to be static.
fn read_helper() -> Result<(PathBuf, Vec<u8>), DockerError> {
    let path = helper().map_err(|reason| DockerError::Helper { reason })?;
    let bytes = std::fs::read(&path).map_err(|e| DockerError::Helper {
        reason: format!("cannot read {}: {e}", path.display()),
    })?;
    Ok((path, bytes))
}

/// The helper image for the installed binary, built when missing; returns its tag,
/// which names the binary's digest, so a new binary gets a new image.
pub(crate) async fn ensure_helper_image(docker: &Docker) -> Result<String, DockerError> {
    let (path, bytes) = read_helper()?;
    let digest = Sha256::digest(&bytes);
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    let tag = format!("berth-helper:{}-{hex}", env!("CARGO_PKG_VERSION"));
    if docker.inspect_image(&tag).await.is_ok() {
        return Ok(tag);
    }
    let dir = tempfile::tempdir().map_err(|source| DockerError::Context {
        path: std::env::temp_dir(),
        source,
    })?;
    let write = |name: &str, data: &[u8]| {
        std::fs::write(dir.path().join(name), data).map_err(|source| DockerError::Context {
            path: dir.path().join(name),
            source,
        })
    };
    write("berth-helper", &bytes)?;
    // The run's CA volume is filled from the image's /ca, owned by the proxy's user.
    std::fs::create_dir(dir.path().join("ca")).map_err(|source| DockerError::Context {
        path: dir.path().join("ca"),
        source,
    })?;
    write("ca/.keep", b"")?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let file = dir.path().join("berth-helper");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755))
            .map_err(|source| DockerError::Context { path: file, source })?;
    }
    let dockerfile = format!(
        "FROM scratch\nLABEL {}={} {}=helper\nCOPY berth-helper /berth-helper\nCOPY --chown=65534:65534 ca/ {CA_DIR}/\nUSER 65534:65534\nENTRYPOINT [\"/berth-helper\"]\n",
        labels::MANAGED_BY,
        labels::MANAGED_BY_VALUE,
        labels::ROLE,
    );
    write("Dockerfile", dockerfile.as_bytes())?;
    tracing::debug!(helper = %path.display(), tag, "building the helper image");
    crate::image::build(
        docker,
        &dir.path().join("Dockerfile"),
        dir.path(),
        &tag,
        &Default::default(),
        &|_| {},
    )
    .await?;
    Ok(tag)
}

/// Gateway addresses of every network on the engine: the host, as sandboxes and
/// the proxy see it.
async fn gateways(docker: &Docker) -> Result<Vec<IpAddr>, DockerError> {
    let networks = docker
        .list_networks(None::<ListNetworksOptions>)
        .await
        .map_err(|e| DockerError::api("list networks", "network", "", e))?;
    let mut out: Vec<IpAddr> = networks
        .iter()
        .filter_map(|n| n.ipam.as_ref()?.config.as_ref())
        .flatten()
        .filter_map(|c| c.gateway.as_deref()?.parse().ok())
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

async fn create_network(
    docker: &Docker,
    name: &str,
    internal: bool,
    run_labels: &HashMap<String, String>,
) -> Result<(), DockerError> {
    let options = internal.then(|| {
        HashMap::from([(
            "com.docker.network.bridge.inhibit_ipv4".to_owned(),
            "true".to_owned(),
        )])
    });
    docker
        .create_network(NetworkCreateRequest {
            name: name.to_owned(),
            internal: Some(internal),
            // No IPv6 gateway either, whatever the daemon's default.
            enable_ipv6: Some(false),
            options,
            labels: Some(run_labels.clone()),
            ..Default::default()
        })
        .await
        .map_err(|e| DockerError::api(format!("create network {name}"), "network", name, e))?;
    Ok(())
}

/// What the sandbox joins under an allowlist: the network, and the proxy variables.
pub(crate) struct Join {
    /// The internal network's name.
    pub(crate) network: String,
    /// `HTTP_PROXY` and the rest, naming the proxy's address, and with bound
    /// secrets the variables naming the run's CA.
    pub(crate) env: Vec<(String, String)>,
    /// With bound secrets: the CA volume, mounted read-only at [`runtime_core::egress::CA_MOUNT`].
    pub(crate) ca_volume: Option<String>,
}

/// Creates the run's networks and its started proxy. Everything carries
/// `run_labels`; a failure part-way is cleaned up by removing the run.
pub(crate) async fn setup(
    docker: &Docker,
    spec: &CreateSpec<'_>,
    run_labels: &HashMap<String, String>,
) -> Result<Option<Join>, DockerError> {
    let Some(policy) = &spec.plan.network.egress else {
        return Ok(None);
    };
    let internal = internal_network(&spec.run_id);
    let egress = egress_network(&spec.run_id);
    // Independent requests, made at once: each network create runs iptables.
    let (image, (), ()) = tokio::try_join!(
        ensure_helper_image(docker),
        create_network(docker, &internal, true, run_labels),
        create_network(docker, &egress, false, run_labels),
    )?;
    let upstream_ca = match &spec.plan.network.upstream_ca {
        Some(path) => Some(
            std::fs::read_to_string(path).map_err(|e| DockerError::Helper {
                reason: format!("cannot read [network] upstream_ca {}: {e}", path.display()),
            })?,
        ),
        None => None,
    };
    let settings = ProxySettings {
        policy: policy.clone(),
        gateways: gateways(docker).await?,
        upstream_ca,
        secrets_on_stdin: !spec.credentials.is_empty(),
    };
    let secrets = settings.secrets_on_stdin;
    let volume = ca_volume(&spec.run_id);
    if secrets {
        docker
            .create_volume(bollard::models::VolumeCreateRequest {
                name: Some(volume.clone()),
                labels: Some(run_labels.clone()),
                ..Default::default()
            })
            .await
            .map_err(|e| {
                DockerError::api(format!("create volume {volume}"), "volume", &volume, e)
            })?;
    }
    let settings = serde_json::to_string(&settings).map_err(|e| DockerError::Helper {
        reason: format!("cannot write the proxy's settings: {e}"),
    })?;
    let mut proxy_labels = run_labels.clone();
    proxy_labels.insert(labels::ROLE.to_owned(), ROLE_EGRESS.to_owned());
    proxy_labels.insert(labels::OCI_RUNTIME.to_owned(), RUNC.to_owned());
    if secrets {
        proxy_labels.insert(HOLDS_SECRETS.to_owned(), "true".to_owned());
    }
    let name = proxy_name(&spec.run_id);
    let body = ContainerCreateBody {
        image: Some(image),
        cmd: Some(vec!["egress".to_owned()]),
        env: Some(vec![format!("{SETTINGS_VAR}={settings}")]),
        labels: Some(proxy_labels),
        exposed_ports: Some(vec![format!("{PROXY_PORT}/tcp")]),
        // Bound secrets arrive on standard input, never in the environment.
        open_stdin: Some(secrets),
        stdin_once: Some(secrets),
        attach_stdin: Some(secrets),
        attach_stderr: Some(secrets),
        host_config: Some(HostConfig {
            runtime: Some(RUNC.to_owned()),
            network_mode: Some(egress.clone()),
            mounts: secrets.then(|| {
                vec![
                    Mount {
                        typ: Some(MountType::VOLUME),
                        source: Some(volume.clone()),
                        target: Some(CA_DIR.to_owned()),
                        read_only: Some(false),
                        ..Default::default()
                    },
                    // The engine host's trust store, to verify the upstreams.
                    Mount {
                        typ: Some(MountType::BIND),
                        source: Some("/etc/ssl/certs".to_owned()),
                        target: Some("/etc/ssl/certs".to_owned()),
                        read_only: Some(true),
                        ..Default::default()
                    },
                ]
            }),
            readonly_rootfs: Some(true),
            cap_drop: Some(vec!["ALL".to_owned()]),
            security_opt: Some(vec!["no-new-privileges:true".to_owned()]),
            memory: Some(128 << 20),
            pids_limit: Some(256),
            ..Default::default()
        }),
        ..Default::default()
    };
    let options = CreateContainerOptionsBuilder::default().name(&name).build();
    let created = docker
        .create_container(Some(options), body)
        .await
        .map_err(|e| DockerError::api(format!("create container {name}"), "container", &name, e))?;
    docker
        .connect_network(
            &internal,
            NetworkConnectRequest {
                container: created.id.clone(),
                endpoint_config: None,
            },
        )
        .await
        .map_err(|e| {
            DockerError::api(
                format!("connect {name} to {internal}"),
                "network",
                &internal,
                e,
            )
        })?;
    if secrets {
        hand_over_secrets(docker, &created.id, &name, spec).await?;
    } else {
        docker
            .start_container(&created.id, None::<StartContainerOptions>)
            .await
            .map_err(|e| DockerError::api(format!("start {name}"), "container", &name, e))?;
    }
    let inspected = docker
        .inspect_container(&created.id, None::<InspectContainerOptions>)
        .await
        .map_err(|e| DockerError::api(format!("inspect {name}"), "container", &name, e))?;
    let address: Option<IpAddr> = inspected
        .network_settings
        .and_then(|s| s.networks)
        .and_then(|mut n| n.remove(&internal))
        .and_then(|e| e.ip_address)
        .and_then(|ip| ip.parse().ok());
    let Some(address) = address else {
        return Err(DockerError::Helper {
            reason: format!("the proxy {name} got no address on {internal}"),
        });
    };
    tracing::debug!(proxy = %name, %address, "egress proxy started");
    let mut env = proxy_environment(address);
    if secrets {
        env.extend(ca_environment());
    }
    Ok(Some(Join {
        network: internal,
        env,
        ca_volume: secrets.then_some(volume),
    }))
}

/// Starts the proxy attached, writes the bound secrets to its standard input and
/// closes it, and waits until it says it is ready (its CA is written then).
async fn hand_over_secrets(
    docker: &Docker,
    id: &str,
    name: &str,
    spec: &CreateSpec<'_>,
) -> Result<(), DockerError> {
    use futures::StreamExt;
    use tokio::io::AsyncWriteExt;
    let options = bollard::query_parameters::AttachContainerOptionsBuilder::default()
        .stdin(true)
        .stderr(true)
        .stream(true)
        .build();
    let mut attached = docker
        .attach_container(id, Some(options))
        .await
        .map_err(|e| DockerError::api(format!("attach to {name}"), "container", name, e))?;
    docker
        .start_container(id, None::<StartContainerOptions>)
        .await
        .map_err(|e| DockerError::api(format!("start {name}"), "container", name, e))?;
    // Values go to the proxy's stdin only: never logged, never in its environment.
    let payload = serde_json::to_vec(&spec.credentials).map_err(|e| DockerError::Helper {
        reason: format!("cannot hand the bound secrets over: {e}"),
    })?;
    let written = async {
        attached.input.write_all(&payload).await?;
        attached.input.shutdown().await
    }
    .await;
    if let Err(e) = written {
        return Err(DockerError::Helper {
            reason: format!("cannot hand the bound secrets to {name}: {e}"),
        });
    }
    let mut said = String::new();
    let wait = async {
        while let Some(chunk) = attached.output.next().await {
            let Ok(chunk) = chunk else { break };
            said.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
            if said.contains(READY) {
                return true;
            }
        }
        false
    };
    let ready = tokio::time::timeout(std::time::Duration::from_secs(20), wait)
        .await
        .unwrap_or(false);
    if ready {
        return Ok(());
    }
    Err(DockerError::Helper {
        reason: format!(
            "the egress proxy {name} did not start: {}",
            said.lines()
                .rfind(|l| !l.trim().is_empty())
                .unwrap_or("it said nothing")
        ),
    })
}

/// What the helper prints once it listens, with its CA written.
const READY: &str = "berth-helper: ready";

/// Where self-test results are kept: `$XDG_CACHE_HOME/berth/self-test`, else
/// `~/.cache/berth/self-test`.
fn self_test_cache() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("berth").join("self-test"))
}

/// What `berth-helper selftest` reports under an OCI runtime: the failures (empty
/// when all worked). Cached per runtime (name, arguments, and the path, size and
/// time of its binary when it is on this host) and helper (the same); `None` when
/// it cannot run
/// (no helper, the engine refused), and then nothing is assumed.
pub(crate) async fn self_test(
    docker: &Docker,
    oci: &runtime_core::OciRuntime,
) -> Option<Vec<String>> {
    // Who the binaries are by their size and time, not their bytes: this runs
    // on every probe of the runtime, and reading and hashing the helper is not free.
    let helper = runtime_core::helper::candidates(|name| std::env::var(name).ok())
        .into_iter()
        .find(|p| p.is_file())?;
    let mut key = Sha256::new();
    key.update(oci.name.as_bytes());
    for arg in &oci.args {
        key.update(arg.as_bytes());
    }
    for path in oci.path.iter().map(PathBuf::from).chain([helper]) {
        key.update(path.as_os_str().as_encoded_bytes());
        if let Ok(meta) = std::fs::metadata(&path) {
            key.update(meta.len().to_le_bytes());
            if let Ok(modified) = meta.modified() {
                key.update(format!("{modified:?}").as_bytes());
            }
        }
    }
    let key: String = key
        .finalize()
        .iter()
        .take(12)
        .map(|b| format!("{b:02x}"))
        .collect();
    let file = self_test_cache().map(|dir| dir.join(format!("{key}.json")));
    if let Some(cached) = file
        .as_ref()
        .and_then(|f| std::fs::read(f).ok())
        .and_then(|bytes| serde_json::from_slice::<Vec<String>>(&bytes).ok())
    {
        return Some(cached);
    }
    let failures = run_self_test(docker, &oci.name).await?;
    if let Some(file) = file {
        // A cache that cannot be written costs a second self-test later, no more.
        if let Some(dir) = file.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = std::fs::write(&file, serde_json::to_vec(&failures).unwrap_or_default());
    }
    Some(failures)
}

async fn run_self_test(docker: &Docker, oci_runtime: &str) -> Option<Vec<String>> {
    use futures::StreamExt;
    let image = ensure_helper_image(docker).await.ok()?;
    let body = ContainerCreateBody {
        image: Some(image),
        cmd: Some(vec!["selftest".to_owned()]),
        labels: Some(HashMap::from([
            (
                labels::MANAGED_BY.to_owned(),
                labels::MANAGED_BY_VALUE.to_owned(),
            ),
            (labels::ROLE.to_owned(), ROLE_SELF_TEST.to_owned()),
        ])),
        attach_stdout: Some(true),
        host_config: Some(HostConfig {
            runtime: Some(oci_runtime.to_owned()),
            // Gone when it exits, whatever happens to berth meanwhile.
            auto_remove: Some(true),
            network_mode: Some("none".to_owned()),
            readonly_rootfs: Some(true),
            cap_drop: Some(vec!["ALL".to_owned()]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let created = docker
        .create_container(
            None::<bollard::query_parameters::CreateContainerOptions>,
            body,
        )
        .await
        .ok()?;
    let options = bollard::query_parameters::AttachContainerOptionsBuilder::default()
        .stdout(true)
        .stream(true)
        .build();
    let started = async {
        let attached = docker
            .attach_container(&created.id, Some(options))
            .await
            .ok()?;
        docker
            .start_container(&created.id, None::<StartContainerOptions>)
            .await
            .ok()?;
        Some(attached)
    };
    let Some(mut attached) = started.await else {
        // Never started, so never auto-removed.
        let _ = docker
            .remove_container(
                &created.id,
                None::<bollard::query_parameters::RemoveContainerOptions>,
            )
            .await;
        return None;
    };
    let mut said = Vec::new();
    let read = async {
        while let Some(Ok(chunk)) = attached.output.next().await {
            said.extend_from_slice(&chunk.into_bytes());
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(30), read)
        .await
        .ok()?;
    let line = String::from_utf8_lossy(&said);
    serde_json::from_str(line.trim()).ok()
}

/// `berth.role` of the self-test's short-lived container.
pub(crate) const ROLE_SELF_TEST: &str = "self-test";

/// Stops the run's proxy sidecars, after its sandbox stopped.
pub(crate) async fn stop_sidecars(docker: &Docker, run_id: &RunId) -> Result<(), DockerError> {
    let mut filters = crate::remove::run_filter(run_id);
    filters
        .entry("label".to_owned())
        .or_default()
        .push(format!("{}={ROLE_EGRESS}", labels::ROLE));
    let sidecars = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(|e| DockerError::api("list sidecars", "container", "", e))?;
    for id in sidecars.into_iter().filter_map(|c| c.id) {
        crate::container::stop(docker, &id, std::time::Duration::from_secs(2)).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_run_s_objects_are_named_from_its_id() {
        let id: RunId = "0123456789ab".parse().unwrap();
        assert_eq!(internal_network(&id), "berth-0123456789ab-internal");
        assert_eq!(egress_network(&id), "berth-0123456789ab-egress");
        assert_eq!(proxy_name(&id), "berth-0123456789ab-proxy");
    }
}
