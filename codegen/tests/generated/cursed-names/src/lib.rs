//! Generator fixture: keywords, leading digits, punctuation and colliding names.

#[rustfmt::skip]
mod generated;

pub use generated::types;
