//! The gVisor flavour of the Docker backend: its kind, its capabilities, and what
//! the engine's refusals mean when runsc is the OCI runtime that failed.

use runtime_core::{Capabilities, Error, HostFacts, ProbeReport, RuntimeKind};
use runtime_docker::{DockerRuntime, Flavour};

use crate::capabilities::REGISTER_HINT;

/// Docker with runsc: the hook that makes a [`DockerRuntime`] the gVisor backend.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Gvisor;

impl Flavour for Gvisor {
    fn kind(&self) -> RuntimeKind {
        RuntimeKind::Gvisor
    }

    fn capabilities(&self, host: &HostFacts, probe: &ProbeReport) -> Capabilities {
        crate::capabilities(host, probe)
    }

    fn self_test_fix(&self) -> Option<&'static str> {
        Some(
            "install a newer runsc (gVisor releases from 2023 on implement it), or use --runtime docker",
        )
    }

    fn engine_error(&self, _status: u16, message: &str) -> Option<Error> {
        if message.contains("Unknown runtime specified") {
            return Some(Error::Unavailable {
                runtime: RuntimeKind::Gvisor,
                reason: format!("the engine has no such OCI runtime ({message})"),
                fix: format!("{REGISTER_HINT}; or use --runtime docker"),
            });
        }
        if message.contains("cannot run with network enabled in root network namespace") {
            return Some(Error::Unavailable {
                runtime: RuntimeKind::Gvisor,
                reason: "runsc is registered but every sandbox fails to start: it cannot run with network enabled in the root network namespace".to_owned(),
                fix: "add \"--network=host\" to the runtimeArgs of runsc in /etc/docker/daemon.json, e.g. \"runsc\": {\"path\": \"/usr/bin/runsc\", \"runtimeArgs\": [\"--network=host\"]}, then reload dockerd (kill -HUP $(pidof dockerd))".to_owned(),
            });
        }
        None
    }
}

/// The gVisor backend on the local Docker engine (`DOCKER_HOST`, the rootless
/// socket, or `/var/run/docker.sock`); connects on first use.
///
/// ```no_run
/// # async fn demo() {
/// use runtime_core::Runtime;
/// let gvisor = runtime_gvisor::runtime();
/// assert_eq!(gvisor.kind(), runtime_core::RuntimeKind::Gvisor);
/// println!("{:?}", gvisor.probe().await.availability);
/// # }
/// ```
pub fn runtime() -> DockerRuntime {
    DockerRuntime::with_flavour(Gvisor)
}

#[cfg(test)]
mod tests {
    use runtime_core::{Availability, EngineFacts, OciRuntime, Os, Runtime};

    use super::*;

    fn probe(runtimes: &[(&str, &[&str])]) -> ProbeReport {
        ProbeReport {
            availability: Availability::Available,
            engine: Some(EngineFacts {
                version: "20.10.24".to_owned(),
                api_version: "1.41".to_owned(),
                default_runtime: Some("runc".to_owned()),
                runtimes: runtimes
                    .iter()
                    .map(|(name, args)| OciRuntime {
                        name: (*name).to_owned(),
                        path: None,
                        args: args.iter().map(|a| (*a).to_owned()).collect(),
                    })
                    .collect(),
                ncpu: None,
                mem_total: None,
            }),
        }
    }

    fn host() -> HostFacts {
        HostFacts {
            os: Os::Linux,
            socket: None,
            engine: None,
            cap_bounding_set: None,
            env_names: Default::default(),
            paths: Default::default(),
            home: None,
            state_dir: None,
            helper: None,
        }
    }

    #[test]
    fn the_backend_is_docker_under_runsc_with_gvisor_s_limits() {
        let gvisor = runtime();
        assert_eq!(gvisor.kind(), RuntimeKind::Gvisor);
        let caps = gvisor.capabilities(
            &host(),
            &probe(&[("runc", &[]), ("runsc-kvm", &["--network=host"])]),
        );
        assert_eq!(caps.runtime, RuntimeKind::Gvisor);
        assert!(caps.availability.is_available());
        assert_eq!(
            caps.oci_runtime.map(|r| r.name).as_deref(),
            Some("runsc-kvm")
        );
        assert!(caps.socket_mount.problem().is_some(), "no --host-uds");
        let caps = gvisor.capabilities(&host(), &probe(&[("runc", &[])]));
        match caps.availability {
            Availability::Unavailable { fix, .. } => assert_eq!(fix, REGISTER_HINT),
            other => panic!("without runsc gVisor is unavailable, got {other:?}"),
        }
    }

    #[test]
    fn runsc_refusals_become_unavailable_with_the_daemon_json_fix() {
        let broken = Gvisor.engine_error(
            500,
            "OCI runtime create failed: cannot run with network enabled in root network namespace: unknown",
        );
        match broken {
            Some(Error::Unavailable { runtime, fix, .. }) => {
                assert_eq!(runtime, RuntimeKind::Gvisor);
                assert!(fix.contains("--network=host"), "{fix}");
            }
            other => panic!("{other:?}"),
        }
        match Gvisor.engine_error(400, "Unknown runtime specified runsc") {
            Some(Error::Unavailable { reason, fix, .. }) => {
                assert!(
                    reason.contains("Unknown runtime specified runsc"),
                    "{reason}"
                );
                assert!(fix.contains("daemon.json"), "{fix}");
                assert!(fix.ends_with("or use --runtime docker"), "{fix}");
            }
            other => panic!("{other:?}"),
        }
        assert!(Gvisor.engine_error(500, "No such container: x").is_none());
    }
}
