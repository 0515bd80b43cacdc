//! What Docker with runc can do: everything the capability matrix asks of it.

use runtime_core::{
    Availability, Capabilities, HostFacts, LimitNotes, LimitSupport, OciRuntime, ProbeReport,
    RuntimeKind, Support,
};

/// The engine's own network, which sandboxes join when they have no berth-owned one.
pub const DEFAULT_NETWORK: &str = "bridge";

/// What to do when the engine socket is missing: the ways [`crate::socket::discover`]
/// finds one.
const SOCKET_MISSING_FIX: &str =
    "start the Docker engine, or point DOCKER_HOST at its socket (unix:///path/to/docker.sock)";

/// The OCI runtime `--runtime docker` always uses.
pub(crate) const RUNC: &str = "runc";

/// Whether berth-init can be a sandbox's PID 1 on this engine: its binary is
/// bind-mounted from this host, so the engine must run on this host's kernel.
/// Pure; shared with the gVisor backend.
pub fn init_support(host: &HostFacts) -> Support {
    if host.os != runtime_core::Os::Linux {
        return Support::Unsupported {
            reason: format!(
                "berth-init is a Linux binary mounted from this host, and this host is {}",
                host.os
            ),
            fix: "nothing to do: the engine's init and exec are used".to_owned(),
        };
    }
    if let Some(runtime_core::SocketFacts::Remote { docker_host, .. }) = &host.socket {
        return Support::Unsupported {
            reason: format!(
                "the engine at {docker_host} runs on another machine, which cannot mount berth-init from this one"
            ),
            fix: "nothing to do: the engine's init and exec are used".to_owned(),
        };
    }
    Support::Supported
}

/// Docker (runc) capabilities on this host. Pure.
pub fn capabilities(host: &HostFacts, probe: &ProbeReport) -> Capabilities {
    let runc = probe
        .engine
        .as_ref()
        .and_then(|e| e.runtimes.iter().find(|r| r.name == RUNC))
        .cloned()
        .unwrap_or_else(|| OciRuntime {
            name: RUNC.to_owned(),
            path: None,
            args: Vec::new(),
        });
    Capabilities {
        runtime: RuntimeKind::Docker,
        availability: probe.availability.clone(),
        oci_runtime: Some(runc),
        socket_mount: Support::Supported,
        privileged: Support::Supported,
        user_network_dns: Support::Supported,
        egress_proxy: Support::Supported,
        init: init_support(host),
        init_exec: init_support(host),
        functional: Support::Supported,
        network_none: true,
        limits: LimitSupport {
            cpus: true,
            memory: true,
            pids: true,
        },
        limit_notes: LimitNotes::default(),
        non_root_fallback: true,
        shared_network: Support::Supported,
        default_network: DEFAULT_NETWORK.to_owned(),
        engine_socket_fix: SOCKET_MISSING_FIX.to_owned(),
        no_new_privileges: Support::Supported,
        tmpfs_options: true,
    }
}

/// What to do when the engine does not answer.
pub(crate) const START_ENGINE_FIX: &str = "start the Docker engine (sudo systemctl start docker, or scripts/setup-engine.sh), or set DOCKER_HOST to its socket";

/// The availability of an engine that did not answer, with the fix.
pub(crate) fn unreachable(reason: String) -> Availability {
    Availability::Unavailable {
        reason,
        fix: START_ENGINE_FIX.to_owned(),
    }
}
