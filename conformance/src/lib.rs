//! Stateful emulators of the vendor appliances, and the conformance suite.
//!
//! An emulator implements a generated crate's `server::Api` trait; the generated router does all
//! routing, parameter parsing and validation, and answers invalid requests as the vendor does.
//! What every emulator shares lives in one module per concept:
//!
//! - [`clock`]: real or virtual time; everything time-dependent asks it.
//! - [`ids`]: deterministic or random ids, in the vendor's format.
//! - [`jobs`]: the job engine (progress from the clock, effects on completion, cancel, expiry).
//! - [`observe`]: what an answer was computed from (state epoch, clock, ids), so that it can be
//!   replayed while none of it changed.
//! - [`faults`]: per-operation fault injection and the layer that applies it.
//! - [`serve`]: HTTP/HTTPS serving with graceful shutdown, and the request log.
//! - [`seed`]: initial state from YAML or a built-in default.
//! - [`emulators`]: one module per vendor.
//! - [`suite`]: the conformance suite that runs scenarios against an emulator or an appliance.

pub mod clock;
pub mod emulators;
pub mod faults;
pub mod ids;
pub mod jobs;
pub mod observe;
pub mod seed;
pub mod serve;
pub mod suite;
pub mod yaml;
