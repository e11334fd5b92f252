//! Generator fixture: keywords, leading digits, punctuation and colliding names.

#[rustfmt::skip]
mod generated;

#[cfg(feature = "client")]
pub use generated::client::{self, Client};
#[cfg(feature = "server")]
pub use generated::server;
#[cfg(feature = "type-registry")]
#[doc(hidden)]
pub use generated::registry;
pub use generated::types;
