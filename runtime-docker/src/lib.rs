//! berth's Docker Engine backend, over the engine's HTTP API with bollard.
//!
//! The design decision: talk to the engine's API rather than shelling out to the
//! `docker` CLI, so that exec stdio is a hijacked stream berth controls byte for
//! byte, engine errors are typed at one boundary, and nothing depends on a CLI
//! version. The API version is always negotiated.

pub mod capabilities;

pub use capabilities::capabilities;
