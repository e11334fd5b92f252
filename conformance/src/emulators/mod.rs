//! One module per vendor, each an implementation of its generated `server::Api`.

pub mod connection;
pub mod ibm;
pub mod lxca;
pub mod zstack;

use std::sync::Arc;

use crate::clock::Clock;
use crate::faults::{FaultLayer, Faults, OperationTable};
use crate::ids::{IdMode, Ids};
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
}

impl Environment {
    /// Real time, random ids (or deterministic ones), no faults: what `cargo xtask emulate` uses
    /// before options.
    pub fn real(id_mode: IdMode) -> Self {
        Environment {
            clock: Clock::real(),
            ids: Arc::new(Ids::new(id_mode)),
            faults: Arc::new(Faults::default()),
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

    /// A virtual clock, deterministic ids, no faults: what tests use.
    pub fn for_tests() -> Self {
        Environment {
            clock: Clock::virtual_at_epoch(),
            ids: Arc::new(Ids::new(IdMode::Deterministic)),
            faults: Arc::new(Faults::default()),
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
        }
    }
}

/// An emulator ready to serve.
pub struct App {
    /// The application: serve it at the root.
    pub router: axum::Router,
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
