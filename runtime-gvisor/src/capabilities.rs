//! What Docker with gVisor can do, derived from the registered runsc runtime's flags.

use runtime_core::{
    Availability, Capabilities, HostFacts, LimitSupport, Privileged, ProbeReport, RuntimeKind,
    SocketMount,
};

use crate::flags::{RunscFlags, find_runsc};

/// The daemon.json entry that registers runsc the way berth's setup does.
pub const REGISTER_HINT: &str = "install runsc and register it in /etc/docker/daemon.json: {\"runtimes\": {\"runsc\": {\"path\": \"/usr/bin/runsc\", \"runtimeArgs\": [\"--network=host\"]}}}, then reload dockerd (kill -HUP $(pidof dockerd))";

/// gVisor capabilities on this host. Pure.
pub fn capabilities(_host: &HostFacts, probe: &ProbeReport) -> Capabilities {
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
        (Some(_), Some(f)) if f.can_connect_host_sockets() => SocketMount::Supported,
        (Some(r), _) => SocketMount::NeedsHostUds {
            oci_runtime: r.name.clone(),
            runtime_args: r.args.clone(),
        },
        (None, _) => SocketMount::Unsupported {
            reason: "no runsc runtime is registered with the Docker engine".to_owned(),
        },
    };
    let privileged = match &flags {
        Some(f) if f.supports_docker_in_gvisor() => Privileged::Supported,
        None => Privileged::Unsupported {
            reason: "no runsc runtime is registered with the Docker engine".to_owned(),
            fix: REGISTER_HINT.to_owned(),
        },
        Some(_) => Privileged::Unsupported {
            reason: "an outer privileged container is not sandboxed by gVisor, and this runsc is not set up for docker-in-gVisor".to_owned(),
            fix: format!(
                "use --runtime docker, or add \"--net-raw\" and \"--allow-packet-socket-write\" to the runtimeArgs of \"{}\" in /etc/docker/daemon.json and reload dockerd",
                runsc.as_ref().map_or("runsc", |r| r.name.as_str())
            ),
        },
    };
    Capabilities {
        runtime: RuntimeKind::Gvisor,
        availability,
        oci_runtime: runsc,
        socket_mount,
        privileged,
        user_network_dns: flags.as_ref().is_some_and(RunscFlags::reaches_embedded_dns),
        network_none: true,
        limits: LimitSupport {
            cpus: true,
            memory: true,
            pids: true,
        },
        non_root_fallback: true,
        shared_network: true,
        tmpfs_options: true,
    }
}
