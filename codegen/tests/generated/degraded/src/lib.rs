//! Generator fixture: constructs Rust cannot express, each degraded to `serde_json::Value` with a warning.

#[rustfmt::skip]
mod generated;

// Every generated module (`types`; `client` and `server` by feature; `stub` with both).
#[cfg(feature = "client")]
pub use generated::client::Client;
pub use generated::*;
