//! Typed Rust for the IBM Cloud Backup and Recovery API.
//!
//! Everything under `generated/` is produced by `cargo xtask regenerate` from `specs/ibm-backup-recovery.yaml`;
//! this file is the hand-written part. Regenerate after changing the spec; never edit the generated
//! files.

#[rustfmt::skip]
mod generated;

#[cfg(feature = "client")]
pub use generated::client::{self, Client};
#[cfg(feature = "type-registry")]
#[doc(hidden)]
pub use generated::registry;
#[cfg(feature = "server")]
pub use generated::server;
pub use generated::types;
