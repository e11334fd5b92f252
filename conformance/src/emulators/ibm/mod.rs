//! The IBM Cloud Backup and Recovery emulator: an IAM token endpoint, bearer tokens with expiry,
//! `X-IBM-Tenant-Id` with tenant isolation, and the data-protect API (policies, protection groups
//! and their runs, recoveries and downloads, snapshots, restore points and search, source
//! registrations, data-source connections and connectors, agents) on the generated
//! `ibm_backup_recovery::server::Api`.
//!
//! Behaviour follows `specs/ibm-backup-recovery.yaml` (its descriptions and `Assumption:` notes)
//! and the vendor notes. Where neither says, the emulator decides, and says so here:
//! - The API is served under `/v2` (the spec's server URL path); IAM's token endpoint is
//!   `POST /identity/token` at the root, as on `iam.cloud.ibm.com`, so
//!   `Auth::ibm_iam_with_url(key, "<scheme>://<host>/identity/token")` points the client at it.
//!   It takes the `apikey` grant (and the `refresh_token` grant) as a form body and answers IAM's
//!   `{access_token, refresh_token, token_type, expires_in, expiration}`; a wrong key answers
//!   IAM's 400 `BXNIM0415E`.
//! - Authentication is checked before the router (a layer): a missing, unknown or expired bearer
//!   token answers 401 `KStatusUnauthorized` whatever the path. A tenant the emulator does not
//!   know answers 403 `KAccessDenied`. Tenant ids are compared without their trailing `/` (IBM's
//!   samples end them with one).
//! - Tenant isolation: every entity belongs to the tenant that created it (or the seed's); another
//!   tenant gets 404 `KEntityNotExistsError` for it and never sees it in lists or searches.
//! - Duplicate names (policies, protection groups, source registrations by name or endpoint,
//!   data-source connections, connectors) answer 409 `KDuplicateError`, within one tenant.
//! - Deleting a policy that protection groups use, a source they protect, or a data-source
//!   connection that sources use answers 400 `KValidationError`; deleting a group cancels its
//!   unfinished runs (and, with `deleteSnapshots=true`, removes its snapshots).
//! - A registered source is also the object it protects (for physical sources, the host): the
//!   registration id, its `sourceId` and the object id are one number. The seed lists the files
//!   each source holds; successful runs index them, and indexed-file search and downloads use them.
//! - Entity ids are `<cluster id>:<incarnation>:<n>` (policies, groups, recoveries), runs
//!   `<group n>:<start usecs>`, from one counter (`--deterministic` or not: they are sequence
//!   numbers on the appliance too); tokens are random unless `--deterministic`.
//! - A run is `Accepted` for `runs.acceptedSecs`, then `Running` for `runs.durationSecs`, then
//!   `Succeeded` (each protected object gets a snapshot) or `Failed` (fault `jobFailAt` on
//!   CreateProtectionGroupRun). Pause applies to Running runs, Resume to Paused ones, Cancel to
//!   unfinished ones (the spec's transitions); any other move answers 400 `KValidationError` and
//!   changes no run (all runs of one request are checked first).
//! - A second run of a group while one is unfinished answers 409 `KDuplicateError`.
//! - `PUT .../runs` (207) applies legal hold, retention (`daysToKeep`) and snapshot deletion per
//!   run; unknown or unfinished runs are listed in `failedRuns`.
//! - Recoveries run like jobs (`Accepted` → `Running` → `Succeeded`); their snapshots must exist
//!   for the tenant (404 otherwise). Downloads answer the requested chunk of a deterministic
//!   content (`startOffset`, `length` ≤ 8 MiB; the router answers 400 above); a download before the
//!   recovery succeeded answers 400.
//! - Search pages are ordered by a stable key; `paginationCookie` is the last key of the previous
//!   page (opaque hex), so pages do not shift when entities are added. A cookie that is not one of
//!   ours answers 400.
//! - Run, recovery and snapshot time filters apply only when given (no default one-hour window).
//! - Request bodies above 16 MiB answer 413.

// Errors are IBM's error envelope, made once per request.
#![allow(clippy::result_large_err)]

mod agents;
mod api;
mod connections;
mod groups;
mod iam;
mod policies;
mod recoveries;
mod search;
mod seed;
mod sources;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Router;
use ibm_backup_recovery::types::Error as IbmError;
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};

use crate::clock::{unix_millis, Clock};
use crate::emulators::Environment;
use crate::faults::OperationTable;
use crate::ids::IdFormat;
use crate::jobs::{JobEngine, JobState, JobView};
use crate::observe::{Shared, Tracked};
use crate::serve::Transport;

pub use seed::{Seed, DEFAULT_SEED};

/// The base path the API is served under (the spec's server URL path).
pub const BASE_PATH: &str = "/v2";
/// The IAM token endpoint's path (at the root, as on `iam.cloud.ibm.com`).
pub const TOKEN_PATH: &str = "/identity/token";
/// The built-in seed's API key.
pub const API_KEY: &str = "emulator-api-key";
/// The built-in seed's first tenant.
pub const TENANT: &str = "tenant-a/";
/// The built-in seed's second tenant (for isolation checks).
pub const OTHER_TENANT: &str = "tenant-b/";
/// The largest request body accepted.
pub const BODY_LIMIT: usize = 16 * 1024 * 1024;
/// The largest download chunk.
pub const MAX_CHUNK: i64 = 8 * 1024 * 1024;
/// The emulated cluster's id and incarnation, the first parts of entity ids.
pub const CLUSTER_ID: i64 = 8_580_145_735_298_462;
/// See [`CLUSTER_ID`].
pub const CLUSTER_INCARNATION: i64 = 1_767_225_600_000;

/// Every operation of `specs/ibm-backup-recovery.yaml`: method, path template, operationId (a
/// test checks this table against the spec).
pub const OPERATIONS: &[(&str, &str, &str)] = &[
    ("POST", "/data-protect/agents/download", "DownloadAgent"),
    (
        "GET",
        "/data-protect/agents/upgrade-tasks",
        "GetUpgradeTasks",
    ),
    (
        "POST",
        "/data-protect/agents/upgrade-tasks",
        "CreateUpgradeTask",
    ),
    (
        "GET",
        "/data-protect/objects/{id}/snapshots",
        "GetObjectSnapshots",
    ),
    ("GET", "/data-protect/policies", "GetProtectionPolicies"),
    ("POST", "/data-protect/policies", "CreateProtectionPolicy"),
    (
        "GET",
        "/data-protect/policies/{id}",
        "GetProtectionPolicyByID",
    ),
    (
        "PUT",
        "/data-protect/policies/{id}",
        "UpdateProtectionPolicy",
    ),
    (
        "DELETE",
        "/data-protect/policies/{id}",
        "DeleteProtectionPolicy",
    ),
    (
        "GET",
        "/data-protect/protection-groups",
        "GetProtectionGroups",
    ),
    (
        "POST",
        "/data-protect/protection-groups",
        "CreateProtectionGroup",
    ),
    (
        "GET",
        "/data-protect/protection-groups/{id}",
        "GetProtectionGroupByID",
    ),
    (
        "PUT",
        "/data-protect/protection-groups/{id}",
        "UpdateProtectionGroup",
    ),
    (
        "DELETE",
        "/data-protect/protection-groups/{id}",
        "DeleteProtectionGroup",
    ),
    (
        "GET",
        "/data-protect/protection-groups/{id}/runs",
        "GetProtectionGroupRuns",
    ),
    (
        "PUT",
        "/data-protect/protection-groups/{id}/runs",
        "UpdateProtectionGroupRun",
    ),
    (
        "POST",
        "/data-protect/protection-groups/{id}/runs",
        "CreateProtectionGroupRun",
    ),
    (
        "POST",
        "/data-protect/protection-groups/{id}/runs/actions",
        "PerformActionOnProtectionGroupRun",
    ),
    ("GET", "/data-protect/recoveries", "GetRecoveries"),
    ("POST", "/data-protect/recoveries", "CreateRecovery"),
    (
        "POST",
        "/data-protect/recoveries/download-files-folders",
        "CreateDownloadFilesAndFoldersRecovery",
    ),
    ("GET", "/data-protect/recoveries/{id}", "GetRecoveryByID"),
    (
        "GET",
        "/data-protect/recoveries/{id}/download-files",
        "DownloadFilesFromRecovery",
    ),
    (
        "POST",
        "/data-protect/snapshots/restore-points",
        "GetRestorePointsInTimeRange",
    ),
    (
        "GET",
        "/data-protect/snapshots/{snapshotsId}/download-file",
        "DownloadIndexedFile",
    ),
    (
        "POST",
        "/data-protect/search/indexed-objects",
        "SearchIndexedObjects",
    ),
    ("GET", "/data-protect/search/objects", "SearchObjects"),
    (
        "GET",
        "/data-protect/search/protected-objects",
        "SearchProtectedObjects",
    ),
    (
        "GET",
        "/data-protect/sources/registrations",
        "GetSourceRegistrations",
    ),
    (
        "POST",
        "/data-protect/sources/registrations",
        "RegisterProtectionSource",
    ),
    (
        "GET",
        "/data-protect/sources/registrations/{id}",
        "GetProtectionSourceRegistration",
    ),
    (
        "PUT",
        "/data-protect/sources/registrations/{id}",
        "UpdateProtectionSourceRegistration",
    ),
    (
        "DELETE",
        "/data-protect/sources/registrations/{id}",
        "DeleteProtectionSourceRegistration",
    ),
    (
        "PATCH",
        "/data-protect/sources/registrations/{id}",
        "PatchProtectionSourceRegistration",
    ),
    (
        "POST",
        "/data-protect/sources/{id}/refresh",
        "RefreshProtectionSourceByID",
    ),
    (
        "GET",
        "/data-source-connections",
        "GetDataSourceConnections",
    ),
    (
        "POST",
        "/data-source-connections",
        "CreateDataSourceConnection",
    ),
    (
        "DELETE",
        "/data-source-connections/{connectionId}",
        "DeleteDataSourceConnection",
    ),
    (
        "PATCH",
        "/data-source-connections/{connectionId}",
        "PatchDataSourceConnection",
    ),
    (
        "POST",
        "/data-source-connections/{connectionId}/registrationToken",
        "GenerateDataSourceConnectionRegistrationToken",
    ),
    ("GET", "/data-source-connectors", "GetDataSourceConnectors"),
    (
        "GET",
        "/data-source-connectors/metadata",
        "GetConnectorMetadata",
    ),
    (
        "DELETE",
        "/data-source-connectors/{connectorId}",
        "DeleteDataSourceConnector",
    ),
    (
        "PATCH",
        "/data-source-connectors/{connectorId}",
        "PatchDataSourceConnector",
    ),
];

/// How the emulator is set up.
#[derive(Debug, Clone)]
pub struct Options {
    /// The initial state.
    pub seed: Seed,
    /// An API key accepted besides the seed's (`--api-key`).
    pub api_key: Option<String>,
    /// A bearer token valid from the start that never expires (`--token`).
    pub token: Option<String>,
    /// Renames the seed's first tenant (`--tenant`).
    pub tenant: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            seed: Seed::builtin(),
            api_key: None,
            token: None,
            tenant: None,
        }
    }
}

/// The emulated Backup and Recovery instance (and its IAM).
pub struct Ibm {
    env: Environment,
    timing: seed::Timing,
    state: Arc<Shared<State>>,
    jobs: JobEngine<(), String>,
    /// Held while a run starts, so that two concurrent starts of one group cannot both pass the
    /// "no unfinished run" check.
    run_starts: Mutex<()>,
    /// The typed protection groups last answered (without their last run), with the JSON they
    /// came from.
    group_answers: super::Remembered<ibm_backup_recovery::types::ProtectionGroupResponse>,
}

impl std::fmt::Debug for Ibm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ibm").finish_non_exhaustive()
    }
}

/// An entity some tenant owns, as JSON.
#[derive(Debug, Clone)]
struct Owned {
    tenant: String,
    value: Map<String, Value>,
}

impl Owned {
    fn str(&self, key: &str) -> &str {
        self.value.get(key).and_then(Value::as_str).unwrap_or("")
    }
}

/// An object a registered source holds (for physical sources, the host itself).
#[derive(Debug, Clone)]
struct Object {
    tenant: String,
    id: i64,
    name: String,
    source_id: i64,
    environment: String,
    size: i64,
    /// Paths of the files indexed in its snapshots.
    files: Vec<String>,
}

/// A run of a protection group; its status comes from its job (`run:<id>`).
#[derive(Debug, Clone)]
struct Run {
    id: String,
    tenant: String,
    group_id: String,
    instance_id: i64,
    run_type: String,
    start_usecs: i64,
    objects: Vec<i64>,
    on_legal_hold: bool,
    snapshots_deleted: bool,
    expiry_usecs: i64,
    data_lock: Option<String>,
}

/// A snapshot of one object, made by a successful run.
#[derive(Debug, Clone)]
struct Snapshot {
    id: String,
    tenant: String,
    object_id: i64,
    group_id: String,
    run_id: String,
    instance_id: i64,
    run_type: String,
    timestamp_usecs: i64,
    expiry_usecs: i64,
}

/// A recovery; its status comes from its job (`recovery:<id>`).
#[derive(Debug, Clone)]
struct Recovery {
    tenant: String,
    value: Map<String, Value>,
    /// Files of a download recovery.
    files: Vec<String>,
}

/// An agent upgrade task; its status comes from its job (`upgrade:<id>`).
#[derive(Debug, Clone)]
struct UpgradeTask {
    tenant: String,
    value: Map<String, Value>,
}

#[derive(Debug, Clone)]
struct Token {
    expires: Option<SystemTime>,
}

/// The instance's data.
#[derive(Debug, Default)]
struct State {
    api_keys: Vec<String>,
    /// Looked up on every request (the gate): foldhash, not SipHash, seeded per process.
    tenants: HashSet<String, foldhash::fast::RandomState>,
    tokens: HashMap<String, Token, foldhash::fast::RandomState>,
    refresh_tokens: HashSet<String>,
    policies: BTreeMap<String, Owned>,
    groups: BTreeMap<String, Owned>,
    runs: Vec<Run>,
    snapshots: Vec<Snapshot>,
    recoveries: BTreeMap<String, Recovery>,
    sources: BTreeMap<i64, Owned>,
    objects: BTreeMap<i64, Object>,
    connections: BTreeMap<String, Owned>,
    connectors: BTreeMap<String, Owned>,
    upgrade_tasks: BTreeMap<i64, UpgradeTask>,
    agents: Vec<i64>,
}

/// A tenant id as compared: without the trailing `/` of IBM's samples.
pub fn tenant_key(tenant: &str) -> String {
    tenant_id(tenant).to_string()
}

/// [`tenant_key`] without the copy.
pub(crate) fn tenant_id(tenant: &str) -> &str {
    tenant.trim().trim_end_matches('/')
}

/// An error answer: status and IBM's envelope.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    status: u16,
    code: &'static str,
    message: String,
}

impl Failure {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Failure {
            status,
            code,
            message: message.into(),
        }
    }

    fn invalid(message: impl Into<String>) -> Self {
        Failure::new(400, "KValidationError", message)
    }

    fn not_found(what: &str, id: impl std::fmt::Display) -> Self {
        Failure::new(
            404,
            "KEntityNotExistsError",
            format!("{what} {id} does not exist"),
        )
    }

    fn duplicate(what: &str, name: &str) -> Self {
        Failure::new(
            409,
            "KDuplicateError",
            format!("{what} with name '{name}' already exists"),
        )
    }

    fn internal(message: impl Into<String>) -> Self {
        Failure::new(500, "KInternalError", message)
    }

    fn envelope(&self) -> IbmError {
        error_envelope(self.code, &self.message)
    }
}

/// IBM's error envelope.
pub fn error_envelope(code: &str, message: &str) -> IbmError {
    IbmError {
        error_code: Some(code.to_string()),
        message: Some(message.to_string()),
        task_log_id: Some(format!("task-log-{:08x}", fnv(message) as u32)),
    }
}

/// FNV-1a: stable hashes for content and cookies.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

/// A JSON value as a typed response (500 if the emulator built something the spec does not
/// allow, which a test would catch).
fn typed<T: DeserializeOwned>(value: Value) -> Result<T, Failure> {
    serde_json::from_value(value)
        .map_err(|e| Failure::internal(format!("the emulator built an invalid answer: {e}")))
}

/// A typed request body as JSON.
fn to_map<T: serde::Serialize>(value: &T) -> Map<String, Value> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

fn usecs(time: SystemTime) -> i64 {
    (unix_millis(time) as i64) * 1000
}

fn lock(state: &Shared<State>) -> Tracked<'_, State> {
    state.lock()
}

/// IBM's names for a job's state (runs and recoveries).
fn run_status(state: &JobState<(), String>) -> &'static str {
    match state {
        JobState::Pending => "Accepted",
        JobState::Running => "Running",
        JobState::Paused => "Paused",
        JobState::Succeeded(()) => "Succeeded",
        JobState::Failed(_) => "Failed",
        JobState::Cancelled => "Canceled",
    }
}

impl Ibm {
    /// An emulator in `env` with `options`.
    pub fn new(env: Environment, options: Options) -> anyhow::Result<Arc<Self>> {
        let timing = options.seed.timing.clone();
        let jobs = JobEngine::new(
            env.clock.clone(),
            Duration::from_secs(10 * 365 * 86_400),
            env.epoch.clone(),
        );
        let ibm = Ibm {
            timing,
            state: Arc::new(Shared::new(State::default(), env.epoch.clone())),
            jobs,
            run_starts: Mutex::new(()),
            group_answers: super::Remembered::default(),
            env,
        };
        ibm.load(options)?;
        Ok(Arc::new(ibm))
    }

    /// The emulator's clock.
    pub fn clock(&self) -> &Clock {
        &self.env.clock
    }

    /// The environment (clock, ids, faults).
    pub fn environment(&self) -> &Environment {
        &self.env
    }

    fn lock(&self) -> Tracked<'_, State> {
        lock(&self.state)
    }

    /// The next entity number (one sequence for every kind, so ids never collide).
    fn next_number(&self) -> i64 {
        self.env
            .ids
            .next("ibm-entity", IdFormat::Counter)
            .parse()
            .unwrap_or(0)
    }

    /// A `cluster:incarnation:n` id (policies, groups, recoveries).
    fn next_entity_id(&self) -> String {
        format!("{CLUSTER_ID}:{CLUSTER_INCARNATION}:{}", self.next_number())
    }

    fn now_usecs(&self) -> i64 {
        usecs(self.env.clock.now())
    }

    /// Every job as it is now, by id (read before locking the state: settling runs effects that
    /// lock it).
    fn job_views(&self) -> HashMap<String, JobView<(), String>> {
        self.jobs
            .list()
            .into_iter()
            .map(|v| (v.id.clone(), v))
            .collect()
    }

    /// The full application: the IAM token endpoint, and the generated router under
    /// [`BASE_PATH`] behind authentication, fault injection, a body limit and the request log.
    pub fn service(self: &Arc<Self>) -> super::front::Application {
        let faults = self.env.fault_layer(OPERATIONS, BASE_PATH, fault_body);
        let inner = Router::new()
            .route(TOKEN_PATH, axum::routing::post(iam::token))
            .with_state(self.clone())
            .nest(BASE_PATH, ibm_backup_recovery::server::router(self.clone()))
            .fallback(not_found)
            .layer(tower_http::limit::RequestBodyLimitLayer::new(BODY_LIMIT));
        super::front::wrap(
            inner,
            faults,
            Authenticated(self.clone()),
            self.env.replay(),
        )
    }
}

/// Every API call under [`BASE_PATH`] needs a live IAM token and a tenant the caller may use
/// (the token endpoint itself is outside it).
struct Authenticated(Arc<Ibm>);

impl super::front::Gate for Authenticated {
    type Pending = ();

    fn admit(&self, request: Request) -> Result<(Request, ()), Response> {
        iam::authenticate(&self.0, &request).map_or(Ok((request, ())), Err)
    }
}

/// The emulator as `cargo xtask emulate ibm-backup-recovery` serves it.
pub(super) fn app(env: Environment, settings: super::Settings) -> anyhow::Result<super::App> {
    let seed: Seed = crate::seed::load(settings.seed.as_ref(), DEFAULT_SEED)?;
    let unknown = env
        .faults
        .unknown_operations(&OperationTable::new(OPERATIONS));
    if !unknown.is_empty() {
        anyhow::bail!(
            "the faults name operations ibm-backup-recovery does not have: {}",
            unknown.join(", ")
        );
    }
    let transport = settings.transport.unwrap_or(Transport::Https);
    let mut notes = Vec::new();
    let keys: Vec<&str> = seed
        .api_keys
        .iter()
        .map(String::as_str)
        .chain(settings.api_key.as_deref())
        .collect();
    notes.push(format!(
        "IAM: POST {TOKEN_PATH} (grant_type=urn:ibm:params:oauth:grant-type:apikey) with API key {}; tokens live {}s",
        keys.join(" or "),
        seed.timing.token_lifetime_secs
    ));
    if let Some(token) = &settings.token {
        notes.push(format!(
            "token: Authorization: Bearer {token} (never expires)"
        ));
    }
    let mut tenants: Vec<String> = seed.tenants.iter().map(|t| t.id.clone()).collect();
    if let (Some(first), Some(tenant)) = (tenants.first_mut(), &settings.tenant) {
        *first = tenant.clone();
    }
    notes.push(format!("tenants (X-IBM-Tenant-Id): {}", tenants.join(", ")));
    let emulator = Ibm::new(
        env,
        Options {
            seed,
            api_key: settings.api_key,
            token: settings.token,
            tenant: settings.tenant,
        },
    )?;
    Ok(super::App {
        service: emulator.service(),
        base_path: BASE_PATH,
        transport,
        default_port: 8443,
        notes,
    })
}

fn json_response(status: StatusCode, body: &impl serde::Serialize) -> Response {
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        serde_json::to_vec(body).unwrap_or_default(),
    )
        .into_response()
}

/// Paths that map to nothing: IBM's 404 envelope.
async fn not_found(request: axum::extract::Request) -> Response {
    json_response(
        StatusCode::NOT_FOUND,
        &error_envelope(
            "KEntityNotExistsError",
            &format!("no API at {}", request.uri().path()),
        ),
    )
}

/// The body of an injected status without one: IBM's envelope.
fn fault_body(status: u16) -> (&'static str, Vec<u8>) {
    let code = match status {
        400 => "KValidationError",
        401 => "KStatusUnauthorized",
        403 => "KAccessDenied",
        404 => "KEntityNotExistsError",
        409 => "KDuplicateError",
        _ => "KInternalError",
    };
    (
        "application/json",
        serde_json::to_vec(&error_envelope(code, "an injected fault")).unwrap_or_default(),
    )
}

/// Pages of `items` sorted by a stable key: the items after the cookie's key, at most `count`.
/// Answers the page and the next cookie (when more remain).
fn paginate<T>(
    mut items: Vec<(String, T)>,
    cookie: Option<&str>,
    count: Option<i64>,
    default_count: usize,
) -> Result<(Vec<T>, Option<String>), Failure> {
    items.sort_by(|a, b| a.0.cmp(&b.0));
    let after = match cookie.filter(|c| !c.is_empty()) {
        None => None,
        Some(cookie) => Some(
            hex::decode(cookie)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .and_then(|text| text.strip_prefix("after:").map(str::to_string))
                .ok_or_else(|| Failure::invalid("paginationCookie is not valid"))?,
        ),
    };
    let count = match count {
        None => default_count,
        Some(n) if n >= 1 => n.min(10_000) as usize,
        Some(n) => return Err(Failure::invalid(format!("count must be positive, not {n}"))),
    };
    let mut rest: Vec<(String, T)> = items
        .into_iter()
        .filter(|(key, _)| after.as_ref().is_none_or(|a| key > a))
        .collect();
    let more = rest.len() > count;
    rest.truncate(count);
    let next = if more {
        rest.last()
            .map(|(key, _)| hex::encode(format!("after:{key}")))
    } else {
        None
    };
    Ok((rest.into_iter().map(|(_, t)| t).collect(), next))
}

/// A map's entries in creation order: ids share a prefix and end in a counter, so `c:i:9` comes
/// before `c:i:10`.
fn ordered<V>(map: &BTreeMap<String, V>) -> Vec<(&String, &V)> {
    let mut entries: Vec<(&String, &V)> = map.iter().collect();
    entries.sort_by(|a, b| (a.0.len(), a.0).cmp(&(b.0.len(), b.0)));
    entries
}

/// A sortable key for a number (zero-padded).
fn num_key(n: i64) -> String {
    format!("{n:020}")
}

/// Deterministic content: `len` bytes from `offset` of the stream named `name`.
fn content(name: &str, offset: u64, len: u64) -> Vec<u8> {
    let seed = fnv(name);
    let mut out = Vec::with_capacity(len as usize);
    let mut i = offset;
    while i < offset + len {
        let block = i / 8;
        let mut z = seed.wrapping_add(block.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        let bytes = z.to_le_bytes();
        out.push(bytes[(i % 8) as usize]);
        i += 1;
    }
    out
}

/// The chunk `[offset, offset + length)` of content of `size` bytes (`length` defaults to the
/// rest, at most [`MAX_CHUNK`]).
fn chunk(
    name: &str,
    size: u64,
    offset: Option<i64>,
    length: Option<i64>,
) -> Result<Vec<u8>, Failure> {
    let offset = offset.unwrap_or(0);
    if offset < 0 {
        return Err(Failure::invalid("startOffset must not be negative"));
    }
    let length = match length {
        None => MAX_CHUNK,
        Some(n) if (0..=MAX_CHUNK).contains(&n) => n,
        Some(n) => {
            return Err(Failure::invalid(format!(
                "length must be between 0 and {MAX_CHUNK}, not {n}"
            )))
        }
    };
    let start = (offset as u64).min(size);
    let end = start.saturating_add(length as u64).min(size);
    Ok(content(name, start, end - start))
}

/// The deterministic content named `name` (a download recovery's id), `len` bytes from `offset`:
/// what downloads answer, for tests and tools.
pub fn download_content(name: &str, offset: u64, len: u64) -> Vec<u8> {
    content(name, offset, len)
}

fn object_summary(object: &Object, source_name: &str) -> Value {
    json!({
        "id": object.id,
        "name": object.name,
        "sourceId": object.source_id,
        "sourceName": source_name,
        "environment": object.environment,
        "objectHash": format!("{:016x}", fnv(&object.name)),
        "objectType": "kHost",
        "logicalSizeBytes": object.size,
        "uuid": format!("{:032x}", fnv(&object.name) as u128 * 31 + object.id as u128),
        "globalId": format!("{CLUSTER_ID}:{CLUSTER_INCARNATION}:{}", object.id),
        "protectionType": "kAgent",
        "osType": "kLinux",
    })
}

impl State {
    fn source_name(&self, source_id: i64) -> String {
        self.sources
            .get(&source_id)
            .map(|s| s.str("name").to_string())
            .unwrap_or_default()
    }

    fn summary(&self, object: &Object) -> Value {
        object_summary(object, &self.source_name(object.source_id))
    }

    /// The object ids a group protects.
    fn group_objects(group: &Map<String, Value>) -> Vec<i64> {
        let params = group.get("physicalParams");
        let mut ids = Vec::new();
        for key in ["volumeProtectionTypeParams", "fileProtectionTypeParams"] {
            if let Some(Value::Array(objects)) = params
                .and_then(|p| p.get(key))
                .and_then(|p| p.get("objects"))
            {
                ids.extend(
                    objects
                        .iter()
                        .filter_map(|o| o.get("id").and_then(Value::as_i64)),
                );
            }
        }
        ids
    }
}

/// `Value::pointer` for a map.
fn pointer<'a>(map: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let path = path.strip_prefix('/')?;
    let (first, rest) = path.split_once('/').unwrap_or((path, ""));
    let value = map.get(first)?;
    if rest.is_empty() {
        Some(value)
    } else {
        value.pointer(&format!("/{rest}"))
    }
}

/// A JSON map from `json!`.
fn map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}
