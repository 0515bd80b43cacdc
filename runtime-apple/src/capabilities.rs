//! What Apple `container` can do: no host socket, no privileged; cpus, memory, and
//! a pids limit as the closest Apple has, a per-user process limit in the
//! container's virtual machine (`--ulimit nproc`, 0.12.0 and later); no image
//! inspection at launch (so no non-root fallback), no berth network.

use runtime_core::{
    Capabilities, HostFacts, LimitNotes, LimitSupport, ProbeReport, RuntimeKind, Support,
};

/// The network Apple `container` puts every container on.
pub(crate) const DEFAULT_NETWORK: &str = "default";

/// What to do instead of mounting a host engine socket, which Apple has none of.
const NO_SOCKET_FIX: &str =
    "use --runtime docker on a host with a Docker engine, or set [docker] mode = \"none\"";

/// How Apple applies limits: each container is a virtual machine, which gets
/// whole CPUs and always some size, and the closest Apple has to a pids limit is
/// a per-user process limit inside it.
fn limit_notes() -> LimitNotes {
    LimitNotes::new("Apple `container`")
        .with_whole_cpus("it gives a virtual machine whole CPUs")
        .with_unlimited("Apple `container` always sizes its virtual machine: a limit left unlimited gets Apple's own default (4 CPUs, 1 GiB)")
        .with_pids("a process limit for the sandbox's user inside its virtual machine (--ulimit nproc), which does not hold the root user")
}

/// Apple `container` capabilities. Pure.
pub fn capabilities(_host: &HostFacts, probe: &ProbeReport) -> Capabilities {
    Capabilities {
        runtime: RuntimeKind::Apple,
        availability: probe.availability.clone(),
        oci_runtime: None,
        socket_mount: Support::Unsupported {
            reason: "each Apple container is its own virtual machine, and there is no host Docker engine socket to mount into it".to_owned(),
            fix: NO_SOCKET_FIX.to_owned(),
        },
        privileged: Support::Unsupported {
            reason: "Apple `container` has no --privileged".to_owned(),
            fix: "use --runtime docker on a host with a Docker engine".to_owned(),
        },
        user_network_dns: Support::Supported,
        egress_proxy: Support::Unsupported {
            reason: "Apple `container` has no internal networks, so berth cannot give a sandbox a network whose only way out is its egress proxy; the path without one (--network none, with the proxy on a published socket) is not verified on macOS yet".to_owned(),
            fix: "use --runtime docker or --runtime gvisor for an allowlist, or policy = \"none\" for no network".to_owned(),
        },
        init: Support::Unsupported {
            reason: "berth-init is not verified on Apple `container`, whose sandboxes are virtual machines with an init of their own".to_owned(),
            fix: "nothing to do: Apple's init and exec are used".to_owned(),
        },
        init_exec: Support::Unsupported {
            reason: "berth-init is not verified on Apple `container`".to_owned(),
            fix: "nothing to do: Apple's exec is used".to_owned(),
        },
        functional: Support::Supported,
        network_none: true,
        limits: LimitSupport {
            cpus: true,
            memory: true,
            pids: true,
        },
        limit_notes: limit_notes(),
        non_root_fallback: false,
        shared_network: Support::Unsupported {
            reason: "Apple `container` sandboxes join Apple's default network".to_owned(),
            fix: "use --runtime docker for one".to_owned(),
        },
        default_network: DEFAULT_NETWORK.to_owned(),
        engine_socket_fix: NO_SOCKET_FIX.to_owned(),
        no_new_privileges: Support::Unsupported {
            reason: "Apple `container` has no such setting and leaves it off; the isolation is that each container runs in its own virtual machine".to_owned(),
            fix: "use --runtime docker or --runtime gvisor where it must be set".to_owned(),
        },
        tmpfs_options: false,
    }
}
