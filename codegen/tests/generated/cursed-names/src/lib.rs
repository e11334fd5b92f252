//! Generator fixture: keywords, leading digits, punctuation and colliding names.

#[rustfmt::skip]
mod generated;

// Every generated module (`types`; `client` and `server` by feature; `stub` with both).
#[cfg(feature = "client")]
pub use generated::client::Client;
pub use generated::*;
