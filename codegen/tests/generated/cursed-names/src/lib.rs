//! Generator fixture: keywords, leading digits, punctuation and colliding names.

#[rustfmt::skip]
mod generated;

#[cfg(feature = "client")]
pub use generated::client::{self, Client};
pub use generated::types;
