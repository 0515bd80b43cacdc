//! berth's Apple `container` backend, driving the `container` CLI on macOS.
//!
//! The design decision: Apple's runtime has no stable API but its CLI, so this crate
//! treats the CLI as the contract: a typed command runner ([`runner`]: spawn
//! failure, non-zero exit and unparsable output are distinct errors), ids read from
//! stdout only, command lines built by pure functions ([`argv`]) that are
//! snapshot-tested, and JSON parsed into structs ([`model`]) in both the 0.x and
//! 1.x shapes. Environment values never reach a command line: they travel through
//! `--env-file`, a 0600 file or FIFO in a berth-owned 0700 directory that is gone
//! once the CLI has read it ([`envfile`]).
//!
//! ```no_run
//! # async fn demo() {
//! use runtime_core::Runtime;
//! let apple = runtime_apple::AppleRuntime::new();
//! let probe = apple.probe().await;
//! println!("{:?}", probe.availability);
//! # }
//! ```

pub mod argv;
pub mod capabilities;
pub mod envfile;
pub mod error;
mod inventory;
pub mod model;
pub mod probe;
pub mod runner;
pub mod runtime;
pub mod sessions;

pub use capabilities::capabilities;
pub use error::AppleError;
pub use runner::Runner;
pub use runtime::AppleRuntime;
