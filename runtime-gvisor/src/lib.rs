//! berth's gVisor backend: the Docker engine with runsc as the OCI runtime.
//!
//! The design decision: gVisor is not a separate engine but a runtime registered with
//! Docker, so the backend is runtime-docker's `DockerRuntime` built with this crate's
//! [`Gvisor`] flavour, which owns only what differs: finding runsc among the
//! engine's runtimes (users rename it), reading its runtimeArgs as typed flags,
//! deriving what the sandbox can do from them (a host socket needs `--host-uds`;
//! docker-in-gVisor needs raw sockets), and explaining runsc's refusals with the
//! daemon.json fix.

mod capabilities;
mod flags;
mod flavour;

pub use capabilities::capabilities;
pub use flags::RunscFlags;
pub use flavour::{Gvisor, runtime};
