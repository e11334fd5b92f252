//! From hand-written OpenAPI 3.0 specs to typed Rust: loading with source positions, lint, and (in
//! later modules) the IR and emitters.
//!
//! This crate does no file or network IO: callers hand it text and get values and diagnostics back.
//! `xtask` does the IO.

pub mod diagnostic;
pub mod emit;
pub mod extensions;
pub mod ir;
pub mod lint;
pub mod load;
pub mod schema_check;
pub mod source;
pub mod structure;
pub mod walk;

pub use diagnostic::{Diagnostic, Severity};
pub use load::{load, Spec};
