//! What differs between backends that drive the Docker engine under different OCI
//! runtimes: the hook a [`crate::DockerRuntime`] is built with.
//!
//! Every operation is the engine's; a flavour says only which berth runtime the
//! backend is, what it can do (which also names the OCI runtime the plan carries
//! into `HostConfig.Runtime` at create), and what the engine's errors mean when its
//! OCI runtime is the one that failed. The gVisor backend is this crate's
//! [`crate::DockerRuntime`] with runtime-gvisor's flavour.

use std::fmt;

use runtime_core::{Capabilities, Error, HostFacts, ProbeReport, RuntimeKind};

/// The hook of the Docker backend.
pub trait Flavour: fmt::Debug + Send + Sync + 'static {
    /// The berth runtime the backend reports itself as, in plans, labels and errors.
    fn kind(&self) -> RuntimeKind;

    /// What the backend can do on this host, from the engine's probe. Pure. The
    /// [`Capabilities::oci_runtime`] it names is the one containers are created
    /// with.
    fn capabilities(&self, host: &HostFacts, probe: &ProbeReport) -> Capabilities;

    /// The error an engine refusal stands for, when this flavour's OCI runtime
    /// explains it (the engine passes the runtime's own words on in `message`);
    /// `None` leaves it to the generic translation. The default knows nothing.
    fn engine_error(&self, status: u16, message: &str) -> Option<Error> {
        let _ = (status, message);
        None
    }

    /// The fix to suggest when this flavour's OCI runtime fails berth's self-test;
    /// `None` (the default) runs no self-test.
    fn self_test_fix(&self) -> Option<&'static str> {
        None
    }
}

/// Docker with runc: `--runtime docker`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Runc;

impl Flavour for Runc {
    fn kind(&self) -> RuntimeKind {
        RuntimeKind::Docker
    }

    fn capabilities(&self, host: &HostFacts, probe: &ProbeReport) -> Capabilities {
        crate::capabilities::capabilities(host, probe)
    }
}
