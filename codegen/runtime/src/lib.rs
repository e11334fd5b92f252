//! Runtime for generated API crates.
//!
//! The code generator (`codegen/`) turns the OpenAPI specs in `specs/` into typed clients and
//! axum server stubs; what those share, and what is easier to write (and review) once by hand,
//! lives here:
//!
//! - [`secret`]: values that never reach logs.
//! - [`encoding`]: OpenAPI parameter styles, both directions.
//! - [`retry`]: backoff and `Retry-After` arithmetic.
//! - [`error`]: the error type of every generated operation.
//! - [`job`]: following `x-job` long-running operations.
//! - `auth` and `client` (feature `client`, default): the reqwest client with the vendors'
//!   login flows, retries and streaming uploads.
//! - `validation` (feature `server`): answering invalid requests the way the vendor does
//!   (`x-validation-error`).
//!
//! The pure modules build without either feature.

#![warn(missing_docs)]

pub mod de;
pub mod encoding;
pub mod error;
pub mod job;
pub mod nullable;
pub mod retry;
pub mod secret;
pub mod ser;

#[cfg(feature = "client")]
pub mod auth;
#[cfg(feature = "client")]
pub mod client;

#[cfg(feature = "server")]
pub mod server;
#[cfg(feature = "server")]
pub mod validation;

pub use encoding::{ParamValue, Style, ToParam};
pub use error::{BuildError, DecodeError, Error, InvalidInput, LoginError, TransportError};
pub use job::{
    JobError, JobOutcome, JobSpec, JobTracker, Meaning, StateSource, WaitError, WaitOptions,
};
pub use retry::RetryPolicy;
pub use secret::Secret;

#[cfg(feature = "client")]
pub use auth::Auth;
#[cfg(feature = "client")]
pub use client::{
    api_error, read_all, unexpected, ApiBody, ApiRequest, ApiResponse, ByteStream, ClientBuilder,
    MultipartForm, RawClient,
};

#[cfg(feature = "server")]
pub use validation::{Problem, RequestPart, ValidationRule};

// Dependencies whose types appear in this crate's API, so generated crates use the same versions.
#[cfg(feature = "server")]
pub use axum;
pub use bytes;
pub use http;
#[cfg(feature = "client")]
pub use reqwest;
pub use serde_json;
#[cfg(feature = "client")]
pub use url;
