//! Typed Rust for the ZStack backup storage API.
//!
//! Everything under `generated/` is produced by `cargo xtask regenerate` from `specs/zstack.yaml`;
//! this file is the hand-written part. Regenerate after changing the spec; never edit the generated
//! files.

#[rustfmt::skip]
mod generated;

// Every generated module (`types`; `client` and `server` by feature; `stub` with both).
#[cfg(feature = "client")]
pub use generated::client::Client;
pub use generated::*;
