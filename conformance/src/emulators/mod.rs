//! One module per vendor, each an implementation of its generated `server::Api`.

pub mod connection;
pub mod front;
pub mod ibm;
pub mod lxca;
pub mod replay;
pub mod zstack;

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

use crate::clock::Clock;
use crate::faults::{FaultLayer, Faults, OperationTable};
use crate::ids::{IdMode, Ids};
use crate::observe::Epoch;
use crate::serve::Transport;

/// What every emulator is built from.
#[derive(Debug, Clone)]
pub struct Environment {
    /// The clock: real when served, virtual in tests.
    pub clock: Clock,
    /// Where ids come from.
    pub ids: Arc<Ids>,
    /// The fault rules.
    pub faults: Arc<Faults>,
    /// Moves whenever the emulator's state changes ([`crate::observe`]).
    pub epoch: Arc<Epoch>,
    /// How many answers the emulator replayed ([`replay`]).
    pub replayed: Arc<AtomicU64>,
    /// Whether answers are replayed at all (`--no-replay` turns it off).
    pub replays: bool,
}

impl Environment {
    /// Real time, random ids (or deterministic ones), no faults: what `cargo xtask emulate` uses
    /// before options.
    pub fn real(id_mode: IdMode) -> Self {
        Environment {
            clock: Clock::real(),
            ids: Arc::new(Ids::new(id_mode)),
            faults: Arc::new(Faults::default()),
            epoch: Arc::default(),
            replayed: Arc::default(),
            replays: true,
        }
    }

    /// The fault-injection layer's settings for one emulator: its operations (method, path
    /// template, operationId), the base path it is served under, and its vendor's body for an
    /// injected status.
    pub fn fault_layer(
        &self,
        operations: &[(&str, &str, &'static str)],
        base_path: &'static str,
        error_body: fn(u16) -> (&'static str, Vec<u8>),
    ) -> FaultLayer {
        FaultLayer {
            faults: self.faults.clone(),
            table: Arc::new(OperationTable::new(operations)),
            base_path,
            clock: self.clock.clone(),
            error_body,
        }
    }

    /// Where the emulator's answers to reads are kept and replayed, checked as the build says
    /// ([`replay::Check::default`]), or nowhere when replays are off.
    pub fn replay(&self) -> replay::Replay {
        let check = if self.replays {
            replay::Check::default()
        } else {
            replay::Check::Off
        };
        replay::Replay::new(
            self.epoch.clone(),
            self.clock.clone(),
            self.replayed.clone(),
            check,
        )
    }

    /// A virtual clock, deterministic ids, no faults: what tests use.
    pub fn for_tests() -> Self {
        Environment {
            clock: Clock::virtual_at_epoch(),
            ids: Arc::new(Ids::new(IdMode::Deterministic)),
            faults: Arc::new(Faults::default()),
            epoch: Arc::default(),
            replayed: Arc::default(),
            replays: true,
        }
    }
}

/// The vendors, as `cargo xtask emulate` names them (the spec file stems).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Vendor {
    /// Lenovo XClarity Administrator.
    Lxca,
    /// IBM Cloud Backup and Recovery.
    IbmBackupRecovery,
    /// ZStack backup storage.
    ZStack,
}

impl Vendor {
    /// By spec file stem.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "lxca" => Some(Vendor::Lxca),
            "ibm-backup-recovery" => Some(Vendor::IbmBackupRecovery),
            "zstack" => Some(Vendor::ZStack),
            _ => None,
        }
    }

    /// Every vendor, in the order reports list them.
    pub const ALL: [Vendor; 3] = [Vendor::Lxca, Vendor::IbmBackupRecovery, Vendor::ZStack];

    /// The path the appliance serves its API under (`/zstack`; empty for LXCA).
    pub fn base_path(self) -> &'static str {
        match self {
            Vendor::Lxca => lxca::BASE_PATH,
            Vendor::IbmBackupRecovery => ibm::BASE_PATH,
            Vendor::ZStack => zstack::BASE_PATH,
        }
    }

    /// The spec file stem.
    pub fn name(self) -> &'static str {
        match self {
            Vendor::Lxca => "lxca",
            Vendor::IbmBackupRecovery => "ibm-backup-recovery",
            Vendor::ZStack => "zstack",
        }
    }
}

/// A YAML document handed to an emulator (xtask reads the files; this crate does no file IO
/// for them).
#[derive(Debug, Clone)]
pub struct Source {
    /// Where it came from, for messages (`state.yaml`).
    pub name: String,
    /// The YAML text.
    pub text: String,
}

/// How to build an emulator to serve: what `cargo xtask emulate` (and later the conformance
/// CLI) passes.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Deterministic or random ids.
    pub id_mode: IdMode,
    /// `--http` / `--tls`; `None`: the vendor's default.
    pub transport: Option<Transport>,
    /// `--seed`; `None`: the built-in seed.
    pub seed: Option<Source>,
    /// `--faults`.
    pub faults: Option<Source>,
    /// `--session` (ZStack).
    pub session: Option<String>,
    /// `--api-key` (IBM): an API key the IAM token endpoint accepts besides the seed's.
    pub api_key: Option<String>,
    /// `--token` (IBM): a bearer token valid from the start that never expires.
    pub token: Option<String>,
    /// `--tenant` (IBM): the id of the seed's first tenant.
    pub tenant: Option<String>,
    /// Whether answers to reads are replayed ([`replay`]); `--no-replay` computes every one.
    pub replay: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            id_mode: IdMode::Random,
            transport: None,
            seed: None,
            faults: None,
            session: None,
            api_key: None,
            token: None,
            tenant: None,
            replay: true,
        }
    }
}

/// An emulator ready to serve.
pub struct App {
    /// The application: serve it at the root.
    pub service: front::Application,
    /// The API's base path (`/zstack`), for the URL to print.
    pub base_path: &'static str,
    /// The transport to serve.
    pub transport: Transport,
    /// The port to use when none is given.
    pub default_port: u16,
    /// Lines for the user: credentials and what the seed holds.
    pub notes: Vec<String>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("base_path", &self.base_path)
            .field("transport", &self.transport)
            .field("notes", &self.notes)
            .finish_non_exhaustive()
    }
}

/// Builds `vendor`'s emulator on the real clock.
pub fn build(vendor: Vendor, settings: Settings) -> anyhow::Result<App> {
    let mut env = Environment::real(settings.id_mode);
    env.replays = settings.replay;
    if let Some(faults) = &settings.faults {
        env.faults = Arc::new(Faults::from_yaml(&faults.text, &faults.name)?);
    }
    if settings.session.is_some() && vendor != Vendor::ZStack {
        anyhow::bail!("--session is for zstack");
    }
    let ibm_flags =
        settings.api_key.is_some() || settings.token.is_some() || settings.tenant.is_some();
    if ibm_flags && vendor != Vendor::IbmBackupRecovery {
        anyhow::bail!("--api-key, --token and --tenant are for ibm-backup-recovery");
    }
    match vendor {
        Vendor::ZStack => zstack::app(env, settings),
        Vendor::Lxca => lxca::app(env, settings),
        Vendor::IbmBackupRecovery => ibm::app(env, settings),
    }
}

/// Typed answers remembered with the JSON they were built from, so that a read of state that has
/// not changed since the last read does not build its typed answer again (turning JSON into a
/// generated type costs more than the rest of a GET). An entry is used only when its JSON is the
/// same as the current one, key order and number representation included ([`same_map`]), so
/// whatever changed the state, by whatever path, the answer is built afresh: no cache to keep in
/// step with the mutations. Keys only spread the entries (an entity's id); a wrong key costs a
/// rebuild, never a wrong answer.
pub(crate) struct Remembered<T> {
    entries: Mutex<HashMap<String, Entry<T>>>,
}

/// The JSON an answer was built from, and the answer.
type Entry<T> = (Map<String, Value>, T);

/// How many entries a [`Remembered`] keeps before it starts afresh (ids of deleted entities
/// would otherwise pile up).
const REMEMBERED_MAX: usize = 4096;

impl<T> Default for Remembered<T> {
    fn default() -> Self {
        Remembered {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<T> std::fmt::Debug for Remembered<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remembered").finish_non_exhaustive()
    }
}

impl<T: Clone> Remembered<T> {
    /// The answer `build` makes from `source`: remembered under `key` when `source` has not
    /// changed since, otherwise built and remembered.
    pub(crate) fn get(
        &self,
        key: &str,
        source: &Map<String, Value>,
        build: impl FnOnce() -> T,
    ) -> T {
        match self.try_get(key, source, || Ok::<T, std::convert::Infallible>(build())) {
            Ok(answer) => answer,
            Err(never) => match never {},
        }
    }

    /// [`Remembered::get`] for a `build` that may fail; a failure is not remembered.
    pub(crate) fn try_get<E>(
        &self,
        key: &str,
        source: &Map<String, Value>,
        build: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((seen, answer)) = entries.get(key) {
            if same_map(seen, source) {
                return Ok(answer.clone());
            }
        }
        let answer = build()?;
        if entries.len() >= REMEMBERED_MAX && !entries.contains_key(key) {
            entries.clear();
        }
        entries.insert(key.to_string(), (source.clone(), answer.clone()));
        Ok(answer)
    }
}

/// Whether two JSON objects are the same to the byte once written: the same keys in the same
/// order, the same values, numbers of the same representation (`1` is not `1.0`, `0.0` is not
/// `-0.0`). Stricter than `==`, which ignores key order and compares floats numerically.
pub(crate) fn same_map(a: &Map<String, Value>, b: &Map<String, Value>) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b.iter())
            .all(|((ka, va), (kb, vb))| ka == kb && same_value(va, vb))
}

fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            _ if x.is_f64() != y.is_f64() || x.is_u64() != y.is_u64() => false,
            (Some(fx), Some(fy)) if x.is_f64() => fx.to_bits() == fy.to_bits(),
            _ => x == y,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_value(x, y))
        }
        (Value::Object(x), Value::Object(y)) => same_map(x, y),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    #[test]
    fn the_same_json_is_the_same_to_the_byte() {
        let a = object(json!({"a": 1, "b": [1.5, {"c": null, "d": true}], "e": "x"}));
        assert!(same_map(&a, &a.clone()));
        for other in [
            json!({"b": [1.5, {"c": null, "d": true}], "a": 1, "e": "x"}), // key order
            json!({"a": 1.0, "b": [1.5, {"c": null, "d": true}], "e": "x"}), // 1 is not 1.0
            json!({"a": 1, "b": [1.5, {"c": null, "d": false}], "e": "x"}),
            json!({"a": 1, "b": [1.5, {"c": null, "d": true}]}),
            json!({"a": 1, "b": [1.5, {"c": null, "d": true}], "e": "y"}),
        ] {
            assert!(!same_map(&a, &object(other.clone())), "{other}");
        }
        assert!(!same_map(
            &object(json!({"z": 0.0})),
            &object(json!({"z": -0.0}))
        ));
        assert!(!same_map(
            &object(json!({"n": -1})),
            &object(json!({"n": u64::MAX}))
        ));
    }

    #[test]
    fn an_answer_is_rebuilt_when_its_json_changed() {
        let remembered = Remembered::<String>::default();
        let builds = std::cell::Cell::new(0);
        let answer = |source: &Map<String, Value>| {
            remembered.get("k", source, || {
                builds.set(builds.get() + 1);
                Value::Object(source.clone()).to_string()
            })
        };
        let first = object(json!({"a": 1}));
        assert_eq!(answer(&first), r#"{"a":1}"#);
        assert_eq!(answer(&first), r#"{"a":1}"#);
        assert_eq!(answer(&object(json!({"a": 2}))), r#"{"a":2}"#);
        assert_eq!(answer(&first), r#"{"a":1}"#);
        assert_eq!(builds.get(), 3);
        // A failed build is not remembered.
        assert_eq!(remembered.try_get("other", &first, || Err("no")), Err("no"));
    }
}
