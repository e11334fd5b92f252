//! The intermediate representation: a type space (every schema, named) separate from operations.
//! Only `lower` reads `openapiv3`; emitters read only this.

pub mod names;
