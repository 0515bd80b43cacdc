//! The Apple `container` backend's [`Runtime`] implementation.

use std::time::Duration;

use async_trait::async_trait;
use runtime_core::plan::ImageSource;
use runtime_core::runtime::Progress;
use runtime_core::{
    Availability, Capabilities, CreateSpec, Error, ExecSpec, HostFacts, LogOptions, Os,
    ProbeReport, Removed, Runtime, RuntimeKind, SandboxInfo, Session,
};

/// Drives the `container` CLI.
#[derive(Debug, Clone, Default)]
pub struct AppleRuntime {
    _private: (),
}

impl AppleRuntime {
    /// A backend using `container` from PATH.
    pub fn new() -> Self {
        Self::default()
    }

    fn unsupported(&self, operation: &'static str) -> Error {
        Error::Unsupported {
            runtime: RuntimeKind::Apple,
            operation,
            reason: "the Apple backend cannot drive `container` yet on this build".to_owned(),
        }
    }
}

#[async_trait]
impl Runtime for AppleRuntime {
    fn kind(&self) -> RuntimeKind {
        RuntimeKind::Apple
    }

    async fn probe(&self) -> ProbeReport {
        let availability = match Os::current() {
            Os::Macos => Availability::Unavailable {
                reason: "the Apple backend cannot drive `container` yet on this build".to_owned(),
                fix: "use --runtime docker".to_owned(),
            },
            os => Availability::Unavailable {
                reason: format!("Apple `container` runs only on macOS, and this host is {os}"),
                fix: "use --runtime docker or --runtime gvisor".to_owned(),
            },
        };
        ProbeReport {
            availability,
            engine: None,
        }
    }

    fn capabilities(&self, host: &HostFacts, probe: &ProbeReport) -> Capabilities {
        crate::capabilities(host, probe)
    }

    async fn ensure_image(
        &self,
        _image: &ImageSource,
        _progress: Progress<'_>,
    ) -> Result<(), Error> {
        Err(self.unsupported("ensure_image"))
    }

    async fn create(&self, _spec: &CreateSpec<'_>) -> Result<String, Error> {
        Err(self.unsupported("create"))
    }

    async fn start(&self, _id: &str) -> Result<(), Error> {
        Err(self.unsupported("start"))
    }

    async fn attach(&self, _id: &str, _stdin: bool) -> Result<Session, Error> {
        Err(self.unsupported("attach"))
    }

    async fn wait(&self, _id: &str) -> Result<i64, Error> {
        Err(self.unsupported("wait"))
    }

    async fn exec(&self, _id: &str, _spec: &ExecSpec) -> Result<Session, Error> {
        Err(self.unsupported("exec"))
    }

    async fn logs(
        &self,
        _id: &str,
        _options: &LogOptions,
    ) -> Result<runtime_core::runtime::OutputStream, Error> {
        Err(self.unsupported("logs"))
    }

    async fn stop(&self, _id: &str, _grace: Duration) -> Result<(), Error> {
        Err(self.unsupported("stop"))
    }

    async fn remove(&self, _run_id: &str) -> Result<Removed, Error> {
        Err(self.unsupported("remove"))
    }

    async fn list(&self, _all: bool) -> Result<Vec<SandboxInfo>, Error> {
        Err(self.unsupported("list"))
    }
}
