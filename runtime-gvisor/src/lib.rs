//! berth's gVisor backend: the Docker engine with runsc as the OCI runtime.
//!
//! The design decision: gVisor is not a separate engine but a runtime registered with
//! Docker, so this crate reuses the Docker backend for every operation and owns only
//! what differs: finding runsc among the engine's runtimes (users rename it), reading
//! its runtimeArgs as typed flags, and deriving what the sandbox can do from them
//! (a host socket needs `--host-uds`; docker-in-gVisor needs raw sockets).

pub mod capabilities;
pub mod flags;
pub mod runtime;

pub use capabilities::capabilities;
pub use flags::{HostUds, RunscFlags, find_runsc, is_runsc};
pub use runtime::GvisorRuntime;
