//! Generator fixture: every schema construct the model generator must handle, each in its smallest form.

#[rustfmt::skip]
mod generated;

// Every generated module (`types`; `client` and `server` by feature; `stub` with both).
#[cfg(feature = "client")]
pub use generated::client::Client;
pub use generated::*;
