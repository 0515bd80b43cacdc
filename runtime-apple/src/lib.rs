//! berth's Apple `container` backend, driving the `container` CLI on macOS.
//!
//! The design decision: Apple's runtime has no stable API but its CLI, so this crate
//! treats the CLI as the contract: a typed command runner (spawn failure, non-zero
//! exit and unparsable output are distinct [`AppleError`]s), ids read from stdout
//! only, command lines built by pure functions that are snapshot-tested, and JSON
//! parsed into structs in both the 0.x and 1.x shapes. Environment values never
//! reach a command line: they travel through `--env-file`, a 0600 file or FIFO in a
//! berth-owned 0700 directory that is gone once the CLI has read it.
//!
//! The public surface is what a program that embeds berth needs: [`AppleRuntime`]
//! (the [`runtime_core::Runtime`] implementation), the [`Runner`] it drives the CLI
//! with (to name another container-compatible CLI and see the command lines run),
//! [`capabilities`] for resolution without a backend, and [`AppleError`].
//!
//! ```no_run
//! # async fn demo() {
//! use runtime_core::Runtime;
//! let apple = runtime_apple::AppleRuntime::new();
//! let probe = apple.probe().await;
//! println!("{:?}", probe.availability);
//! # }
//! ```

mod argv;
mod capabilities;
mod envfile;
mod error;
mod inventory;
mod model;
mod probe;
mod runner;
mod runtime;
mod sessions;

pub use capabilities::capabilities;
pub use error::AppleError;
pub use runner::Runner;
pub use runtime::AppleRuntime;
