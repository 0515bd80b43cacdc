//! berth's core: the `berth.toml` model, host facts, runtime capabilities, the pure
//! [`prepare`] resolution to a [`Plan`], and the object-safe [`Runtime`] trait that
//! every backend implements.
//!
//! The design decision behind this crate: everything that decides *what* to create is
//! a pure function of injected inputs ([`Config`], [`Capabilities`], [`HostFacts`]),
//! so every resolved plan and every refusal can be snapshot-tested without a daemon,
//! and a refusal happens before anything exists. Nothing here performs daemon I/O or
//! exposes a backend's types.
//!
//! ```
//! use runtime_core::{Config, NetworkPolicy};
//! let text = "[sandbox]\nimage = \"debian:bookworm-slim\"\ncommand = [\"bash\"]\n";
//! let config = Config::parse("berth.toml".as_ref(), text, "/work".into()).unwrap();
//! assert_eq!(config.sandbox_name(), "work");
//! assert_eq!(config.image(), Some("debian:bookworm-slim"));
//! assert_eq!(config.command(), Some(&["bash".to_owned()][..]));
//! assert_eq!(config.network_policy(), NetworkPolicy::Open);
//! ```
//!
//! From a config to a running sandbox, with the one backend a program has (here
//! any `Arc<dyn Runtime>`, such as runtime-docker's): [`select::choose`] probes it,
//! [`prepare`] resolves the plan (or refuses it), and a [`Sandbox`] owns the run
//! until it is removed, kept or detached. A plan with a warm pool (`[pool]`) has
//! sandboxes started ahead of time by [`pool::fill`], and a builder told to
//! [`claim_from_pool`](sandbox::Builder::claim_from_pool) takes one of them.
//!
//! ```no_run
//! # async fn demo(backend: std::sync::Arc<dyn runtime_core::Runtime>) -> Result<(), runtime_core::Error> {
//! use runtime_core::{Config, ExecSpec, RealHost, Sandbox, prepare, select};
//! let config = Config::load("berth.toml".as_ref())?;
//! let chosen = select::choose(&[backend], None, &config, &RealHost).await?;
//! let plan = prepare(&config, &chosen.probed.caps, &chosen.host)?;
//! let sandbox = Sandbox::builder(chosen.probed.runtime.clone(), &plan)
//!     .command(["sleep", "infinity"])
//!     .start()
//!     .await?;
//! let session = sandbox.exec(&ExecSpec::new(["uname", "-a"])).await?;
//! let code = session.exit.await?;
//! sandbox.remove().await?;
//! # let _ = code;
//! # Ok(()) }
//! ```

mod capabilities;
pub mod collector;
pub mod config;
pub mod danger;
pub mod diagnostic;
pub mod duration;
pub mod egress;
pub mod error;
pub mod gc;
pub mod helper;
pub mod host;
pub mod init;
pub mod labels;
pub mod launch;
pub mod owner;
pub mod plan;
pub mod pool;
pub mod progress;
pub mod reference;
pub mod resolve;
pub mod restart;
mod run_id;
pub mod runtime;
pub mod sandbox;
pub mod select;
pub mod size;
pub mod socket_probe;
pub mod state;
pub mod terminal;
mod validate;

pub use capabilities::{
    Availability, Capabilities, LimitNotes, LimitSupport, RuntimeChoice, RuntimeKind, Support,
};
pub use config::{Config, DockerMode, NetworkPolicy};
pub use error::Error;
pub use host::{
    EngineFacts, FileStat, HostEnv, HostFacts, OciRuntime, Os, RealHost, RemoteSocket, SocketFacts,
};
pub use owner::HostIdentity;
pub use plan::Plan;
pub use resolve::prepare;
pub use run_id::RunId;
pub use runtime::{
    CreateSpec, ExecSpec, LogOptions, Output, ProbeReport, Removed, Runtime, SandboxInfo,
    SandboxState, Session, SessionControl,
};
pub use sandbox::Sandbox;
pub use select::{Chosen, Probed, Selection, SelectionSource, select};
pub use validate::is_env_name;
