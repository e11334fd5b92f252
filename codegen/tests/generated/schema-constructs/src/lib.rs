//! Generator fixture: every schema construct the model generator must handle, each in its smallest form.

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
