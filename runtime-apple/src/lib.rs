//! berth's Apple `container` backend, driving the `container` CLI on macOS.
//!
//! The design decision: Apple's runtime has no stable API but its CLI, so this crate
//! treats the CLI as the contract: a typed command runner (spawn failure, non-zero
//! exit and unparsable output are distinct errors), ids read from stdout only, and
//! JSON parsed into structs in both the 0.x and 1.x shapes.

pub mod capabilities;
pub mod runtime;

pub use capabilities::capabilities;
pub use runtime::AppleRuntime;
