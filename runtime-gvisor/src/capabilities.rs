//! What Docker with gVisor can do, derived from the registered runsc runtime's flags.

use runtime_core::{
    Availability, Capabilities, HostFacts, LimitNotes, LimitSupport, OciRuntime, ProbeReport,
    RuntimeKind, Support,
};

use crate::flags::{RunscFlags, find_runsc};

/// What to do when no runsc is registered and docker `host` mode is asked for.
const NO_RUNSC_SOCKET_FIX: &str =
    "use --runtime docker on a host with a Docker engine, or set [docker] mode = \"none\"";

/// The daemon.json entry that registers runsc the way berth's setup does.
pub(crate) const REGISTER_HINT: &str = "install runsc and register it in /etc/docker/daemon.json: {\"runtimes\": {\"runsc\": {\"path\": \"/usr/bin/runsc\", \"runtimeArgs\": [\"--network=host\"]}}}, then reload dockerd (kill -HUP $(pidof dockerd))";

/// gVisor capabilities on this host. Pure.
pub fn capabilities(host: &HostFacts, probe: &ProbeReport) -> Capabilities {
    let runsc = probe.engine.as_ref().and_then(find_runsc).cloned();
    let availability = match (&probe.availability, &runsc) {
        (Availability::Unavailable { reason, fix }, _) => Availability::Unavailable {
            reason: reason.clone(),
            fix: fix.clone(),
        },
        (denied @ Availability::Denied { .. }, _) => denied.clone(),
        (Availability::Available, None) => Availability::Unavailable {
            reason: "no runsc runtime is registered with the Docker engine".to_owned(),
            fix: REGISTER_HINT.to_owned(),
        },
        (Availability::Available, Some(_)) => Availability::Available,
    };
    let flags = runsc.as_ref().map(|r| RunscFlags::parse(&r.args));
    let socket_mount = match (&runsc, &flags) {
        (Some(_), Some(f)) if f.can_connect_host_sockets() => Support::Supported,
        (Some(r), _) => needs_host_uds(r),
        (None, _) => Support::Unsupported {
            reason: "no runsc runtime is registered with the Docker engine".to_owned(),
            fix: NO_RUNSC_SOCKET_FIX.to_owned(),
        },
    };
    let privileged = match &flags {
        Some(f) if f.supports_docker_in_gvisor() => Support::Supported,
        None => Support::Unsupported {
            reason: "no runsc runtime is registered with the Docker engine".to_owned(),
            fix: REGISTER_HINT.to_owned(),
        },
        Some(_) => Support::Unsupported {
            reason: "an outer privileged container is not sandboxed by gVisor, and this runsc is not set up for docker-in-gVisor".to_owned(),
            fix: format!(
                "use --runtime docker, or add \"--net-raw\" and \"--allow-packet-socket-write\" to the runtimeArgs of \"{}\" in /etc/docker/daemon.json and reload dockerd",
                runsc_name(runsc.as_ref())
            ),
        },
    };
    let reaches_dns = flags.as_ref().is_some_and(RunscFlags::reaches_embedded_dns);
    Capabilities {
        runtime: RuntimeKind::Gvisor,
        availability,
        oci_runtime: runsc.clone(),
        socket_mount,
        privileged,
        user_network_dns: if reaches_dns {
            Support::Supported
        } else {
            Support::Unsupported {
                reason: "Docker's embedded DNS is unreachable from gVisor".to_owned(),
                fix: "reach sidecars by IP address".to_owned(),
            }
        },
        // The proxy runs under runc beside the runsc sandbox, which reaches it by
        // address: neither needs the embedded DNS from inside gVisor.
        egress_proxy: Support::Supported,
        init: runtime_docker::init_support(host),
        init_exec: match (runtime_docker::init_support(host), &flags) {
            (Support::Supported, Some(f)) if f.can_create_host_sockets() => Support::Supported,
            (Support::Supported, _) => Support::Unsupported {
                reason: format!(
                    "{} keeps a Unix socket made inside the sandbox to itself (no --host-uds=create)",
                    runsc_name(runsc.as_ref())
                ),
                fix: "nothing to do: exec goes through the engine; add \"--host-uds=create\" to runsc's runtimeArgs for berth-init's faster exec".to_owned(),
            },
            (unsupported, _) => unsupported,
        },
        functional: Support::Supported,
        network_none: true,
        limits: LimitSupport {
            cpus: true,
            memory: true,
            pids: true,
        },
        limit_notes: LimitNotes::default(),
        non_root_fallback: true,
        shared_network: if reaches_dns {
            Support::Supported
        } else {
            Support::Unsupported {
                reason: format!(
                    "{} cannot reach Docker's embedded DNS on a user-defined network (its own network stack answers 127.0.0.11), so the sandbox stays on the engine's default {}",
                    runsc_name(runsc.as_ref()),
                    runtime_docker::DEFAULT_NETWORK
                ),
                fix: "register runsc with --network=host to get it".to_owned(),
            }
        },
        default_network: runtime_docker::DEFAULT_NETWORK.to_owned(),
        // The socket is the Docker engine's, found as the Docker backend finds it.
        engine_socket_fix: runtime_docker::capabilities(host, probe).engine_socket_fix,
        no_new_privileges: Support::Supported,
        tmpfs_options: true,
    }
}

/// The name the engine knows runsc by (`runsc` when none is registered).
fn runsc_name(runsc: Option<&OciRuntime>) -> &str {
    runsc.map_or("runsc", |r| r.name.as_str())
}

/// docker `host` mode under a runsc that may not connect to host sockets: the fix
/// is its runtimeArgs with `--host-uds=open` (or `=all`, keeping `create`).
fn needs_host_uds(runsc: &OciRuntime) -> Support {
    let mut wanted: Vec<String> = runsc
        .args
        .iter()
        .filter(|a| !a.starts_with("--host-uds"))
        .cloned()
        .collect();
    let had_create = runsc.args.iter().any(|a| a == "--host-uds=create");
    wanted.push(
        if had_create {
            "--host-uds=all"
        } else {
            "--host-uds=open"
        }
        .to_owned(),
    );
    Support::Unsupported {
        reason: format!(
            "the OCI runtime `{}` runs with runtimeArgs {:?}, which do not allow host unix sockets",
            runsc.name, runsc.args
        ),
        fix: format!(
            "set \"runtimeArgs\": {} for \"{}\" under \"runtimes\" in /etc/docker/daemon.json, then reload dockerd (kill -HUP $(pidof dockerd)); or use --runtime docker",
            json_list(&wanted),
            runsc.name
        ),
    }
}

fn json_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|a| format!("\"{a}\"")).collect();
    format!("[{}]", quoted.join(", "))
}
