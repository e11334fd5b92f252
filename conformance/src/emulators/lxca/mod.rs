//! The LXCA emulator (Lenovo XClarity Administrator): sessions and HTTP Basic, backups
//! (copy, move, push, cancel), the management-server updates repository, the OS images
//! repository with its two-step import, and jobs seen as jobs and as tasks, on the generated
//! `lxca::server::Api`.
//!
//! Behaviour follows `specs/lxca.yaml` (its descriptions and `Assumption:` notes) and the vendor
//! notes. Where neither says, the emulator decides, and says so here:
//! - Credentials: HTTP Basic is checked first; otherwise the `JSESSIONID` cookie names a session,
//!   which also needs `X-Csrf-Token` equal to its CSRF token (403 without it, 401 for an unknown
//!   or inactive session). A session ends after `sessionInactivityMinutes` without a request.
//!   The message ids of these answers (`FQXHMSE0001J`, ...) are the emulator's choice.
//! - Backups: a copy adds a backup (new uuid) at the destination; a move does the same and removes
//!   the original when its job completes. A push to an address outside `reachableAppliances`
//!   fails its job at `pushFailAtPercent`; one push runs at a time; `action=cancel` cancels it.
//!   Unknown uuids, unknown shares and a copy onto its own location answer 400.
//! - Jobs are numbered (`"1"`, `"2"`...), shown as jobs (`/jobs`) and tasks (`/tasks`), with
//!   children that complete in turn. An import job (POST /osImages, POST
//!   /managementServer/updates?action=import) waits, `Pending`, for its upload; the upload is
//!   processed at once, so the job is `Complete` (or `Stopped_With_Error` after a checksum
//!   mismatch) and the file is listed as soon as the upload is answered. Deleting an unfinished
//!   job is refused (DELETE /tasks: 400, DELETE /jobs: 409); cancelling a finished one is a no-op
//!   for PUT /tasks and 409 for PUT /jobs; unknown ids answer 404 (412 for PUT /tasks).
//! - OS-image uploads: unknown or used job ids, a missing or wrong `os`/`osrelease`/`imageName`
//!   and a file name that does not suit the imageType or escapes the repository answer 412; a
//!   file of the same name and type already in the repository answers 409; a checksum mismatch
//!   answers 500 `FQXHMFC0001M` and fails the job. One upload at a time per job (409 for a second
//!   one; the job shows `Running` while its upload streams). Files are hashed while they stream
//!   and never kept (only their metadata is; update files up to 64 KiB are kept as readmes).
//! - Bodies: JSON over 1 MiB and uploads over `uploadLimitBytes` answer 413 with the error
//!   envelope (a layer in front of the router, see [`limit_bodies`]).
//! - Updates: `key` and `filetype` together answer 400; unknown ids in a fix-id list are left out
//!   of `update[]` and named in a `warning` status (the documents give GET no 404); `filetype`
//!   for an unknown id, or for a package without that file, answers 400.
//! - `GET /osImages`: the generated type keeps only `bootFiles` (the schema allows other members,
//!   the generator drops them), so a layer adds `images`, `driverFiles` and the other lists to
//!   the generated answer ([`os_images_listing`]).
//! - A trailing slash is ignored (`/osImages/?imageType=OS`, as pylxca writes it).

// Errors here are the vendor's error envelope, made once per request and sent as is.
#![allow(clippy::result_large_err)]

mod api;
mod seed;
mod upload;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::body::HttpBody as _;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use lxca::types;
use serde_json::{json, Map, Value};

use crate::clock::{civil, Clock};
use crate::emulators::Environment;
use crate::faults::OperationTable;
use crate::ids::IdFormat;
use crate::jobs::{Effect, JobEngine, JobPlan, JobState, JobView};
use crate::observe::{Shared, Tracked};
use crate::serve::Transport;

pub use seed::{Seed, UserSeed, DEFAULT_SEED};

/// The API is served at the root, as on the appliance.
pub const BASE_PATH: &str = "";
/// The built-in seed's user.
pub const USER: &str = "USERID";
/// The built-in seed's password.
pub const PASSWORD: &str = "PASSW0RD";
/// The built-in seed's second user (to provoke the job-ownership 403).
pub const SECOND_USER: &str = "OPERATOR";
/// The second user's password.
pub const SECOND_PASSWORD: &str = "OPERATOR-PASSW0RD";
/// The port used when none is given (the appliance's 443 needs privileges).
pub const DEFAULT_PORT: u16 = 8443;
/// The largest JSON (or any non-multipart) body.
pub const JSON_LIMIT: u64 = 1024 * 1024;
/// What a multipart body may carry beyond its file: part headers and small fields.
pub const MULTIPART_OVERHEAD: u64 = 64 * 1024;

/// Every operation of `specs/lxca.yaml`: method, path template, operationId (a test checks this
/// table against the spec).
pub const OPERATIONS: &[(&str, &str, &str)] = &[
    ("POST", "/sessions", "CreateSession"),
    ("DELETE", "/sessions", "DeleteSession"),
    ("GET", "/aicc", "GetAicc"),
    ("GET", "/managementServer/data", "GetBackups"),
    ("PUT", "/managementServer/data", "ManageBackup"),
    ("POST", "/files/managementServer/data", "ImportBackup"),
    ("GET", "/managementServer/updates", "GetUpdatesRepository"),
    ("PUT", "/managementServer/updates", "ApplyUpdates"),
    ("POST", "/managementServer/updates", "ManageUpdates"),
    (
        "GET",
        "/managementServer/updates/{fix_id_list}",
        "GetUpdates",
    ),
    (
        "DELETE",
        "/managementServer/updates/{fix_id_list}",
        "DeleteUpdates",
    ),
    (
        "POST",
        "/files/managementServer/updates",
        "ImportUpdateFiles",
    ),
    ("GET", "/osImages", "GetOsImages"),
    ("POST", "/osImages", "CreateOsImageImportJob"),
    ("DELETE", "/osImages/{id_list}", "DeleteOsImages"),
    ("POST", "/files/osImages", "ImportOsImageFile"),
    ("GET", "/tasks", "GetTasks"),
    ("PUT", "/tasks", "CancelTasks"),
    ("GET", "/tasks/{job_list}", "GetTasksByIds"),
    ("DELETE", "/tasks/{job_list}", "DeleteTasks"),
    ("GET", "/jobs", "GetJobs"),
    ("GET", "/jobs/{id}", "GetJob"),
    ("PUT", "/jobs/{id}", "CancelJob"),
    ("DELETE", "/jobs/{id}", "DeleteJob"),
];

/// How the emulator is set up.
#[derive(Debug, Clone)]
pub struct Options {
    /// The initial state.
    pub seed: Seed,
    /// HTTPS (the appliance's only transport) or plain HTTP; cookies are `Secure` on HTTPS.
    pub transport: Transport,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            seed: Seed::builtin(),
            transport: Transport::Https,
        }
    }
}

/// A job's result: nothing (the effect changed the state); its error: the message.
type Jobs = JobEngine<(), String>;

/// The emulated appliance.
pub struct Lxca {
    env: Environment,
    secure_cookies: bool,
    timing: seed::JobTimes,
    inactivity: Duration,
    upload_limit: u64,
    state: Arc<Shared<State>>,
    jobs: Jobs,
    /// The typed backups last answered (GetBackups), with the JSON they came from.
    backup_answers: super::Remembered<lxca::types::Backup>,
}

impl std::fmt::Debug for Lxca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lxca").finish_non_exhaustive()
    }
}

/// The appliance's data.
#[derive(Debug)]
struct State {
    users: Vec<seed::UserSeed>,
    sessions: HashMap<String, Session>,
    appliance: Map<String, Value>,
    remote_shares: Vec<String>,
    reachable: Vec<String>,
    backups: Vec<Map<String, Value>>,
    updates: Updates,
    os_images: Vec<OsImage>,
    /// What the job engine does not know about jobs: names, children, resources.
    job_meta: HashMap<String, JobMeta>,
    /// Import jobs waiting for their upload (not in the engine yet).
    waiting: HashMap<String, Waiting>,
    /// Jobs deleted with DELETE /tasks or /jobs (the engine keeps them until they expire).
    deleted: HashSet<String>,
    /// The push in progress, if any.
    push_job: Option<String>,
}

#[derive(Debug, Clone)]
struct Session {
    user: String,
    csrf: String,
    last_used: SystemTime,
}

#[derive(Debug, Clone)]
struct Updates {
    current_version: String,
    import_dir: String,
    allotment: i64,
    updated_date: String,
    history: Vec<Map<String, Value>>,
    packages: Vec<seed::PackageSeed>,
}

#[derive(Debug, Clone)]
struct OsImage {
    id: String,
    name: String,
    kind: String,
    os: String,
    osrelease: String,
    size: i64,
    description: String,
    image_name: String,
    checksums: Option<(String, String, String)>,
}

#[derive(Debug, Clone)]
struct JobMeta {
    name: String,
    /// The resource the job acts on (`uuid` of GET /jobs).
    resource: String,
    children: Vec<String>,
    category: String,
    created: SystemTime,
    owner: String,
    cancelled_by: Option<String>,
}

/// What an import job waits for.
#[derive(Debug, Clone)]
enum WaitingKind {
    /// An OS-images repository file of this imageType.
    OsImage(String),
    /// Management-server update files.
    Updates,
}

#[derive(Debug, Clone)]
struct Waiting {
    kind: WaitingKind,
    owner: String,
    file_size: Option<u64>,
    /// An upload into it is under way (a second one at the same time answers 409).
    uploading: bool,
}

/// The claim of an upload on a waiting import job; dropping it (the upload failed before it
/// consumed the job) lets the job take another upload.
pub(super) struct Claim<'a> {
    lxca: &'a Lxca,
    id: String,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if let Some(waiting) = self.lxca.lock().waiting.get_mut(&self.id) {
            waiting.uploading = false;
        }
    }
}

impl Lxca {
    /// Claims the waiting job `id` for an upload: `None` when another upload holds it.
    fn claim(&self, id: &str) -> Option<Claim<'_>> {
        let mut state = self.lock();
        let waiting = state.waiting.get_mut(id)?;
        if waiting.uploading {
            return None;
        }
        waiting.uploading = true;
        Some(Claim {
            lxca: self,
            id: id.to_string(),
        })
    }
}

/// Why a request is refused before it is looked at.
#[derive(Debug, Clone)]
enum Denied {
    Unauthorized(types::Error),
    Forbidden(types::Error),
}

/// Who sent a request.
#[derive(Debug, Clone)]
struct Principal {
    user: String,
    session: Option<String>,
}

impl Lxca {
    /// An emulator in `env` with `options`.
    pub fn new(env: Environment, options: Options) -> anyhow::Result<Arc<Self>> {
        let epoch = env.epoch.clone();
        let seed = options.seed;
        seed.check()?;
        let timing = seed.jobs.clone();
        let jobs = JobEngine::new(
            env.clock.clone(),
            seed::secs(timing.retention_secs),
            env.epoch.clone(),
        );
        let updates = Updates {
            current_version: seed.updates.current_version.clone(),
            import_dir: seed.updates.import_dir.clone(),
            allotment: seed.updates.allotment_bytes,
            updated_date: seed.updates.updated_date.clone(),
            history: seed.updates.history.clone(),
            packages: seed.updates.packages.clone(),
        };
        let backups = seed
            .backups
            .iter()
            .map(|b| {
                let mut map = Map::new();
                let mut put = |k: &str, v: Option<Value>| {
                    if let Some(v) = v {
                        map.insert(k.to_string(), v);
                    }
                };
                put("uuid", Some(json!(b.uuid)));
                put("filename", Some(json!(b.filename)));
                put("location", Some(json!(b.location)));
                put("backupDate", b.backup_date.clone().map(Value::from));
                put(
                    "backupRequestedBy",
                    b.backup_requested_by.clone().map(Value::from),
                );
                put("size", b.size.clone().map(Value::from));
                put("checksum", b.checksum.clone().map(Value::from));
                put("chassis", b.chassis.clone().map(Value::from));
                put("dhcp", b.dhcp.map(Value::from));
                put("eth0IPv4", b.eth0_ipv4.clone().map(Value::from));
                put("firmware", b.firmware.clone().map(Value::from));
                map
            })
            .collect();
        let os_images = seed
            .os_images
            .iter()
            .map(|i| OsImage {
                id: i.id.clone(),
                name: i.name.clone(),
                kind: i.kind.clone(),
                os: i.os.clone(),
                osrelease: i.osrelease.clone(),
                size: i.size,
                description: i.description.clone(),
                image_name: String::new(),
                checksums: None,
            })
            .collect();
        let state = State {
            users: seed.users.clone(),
            sessions: HashMap::new(),
            appliance: seed.appliance.clone(),
            remote_shares: seed.remote_shares.clone(),
            reachable: seed.reachable_appliances.clone(),
            backups,
            updates,
            os_images,
            job_meta: HashMap::new(),
            waiting: HashMap::new(),
            deleted: HashSet::new(),
            push_job: None,
        };
        Ok(Arc::new(Lxca {
            secure_cookies: options.transport == Transport::Https,
            inactivity: Duration::from_secs(seed.session_inactivity_minutes.saturating_mul(60)),
            upload_limit: seed.upload_limit_bytes,
            timing,
            env,
            state: Arc::new(Shared::new(state, epoch)),
            jobs,
            backup_answers: super::Remembered::default(),
        }))
    }

    /// The emulator's clock.
    pub fn clock(&self) -> &Clock {
        &self.env.clock
    }

    /// The environment (clock, ids, faults).
    pub fn environment(&self) -> &Environment {
        &self.env
    }

    /// The full application: the generated router at the root, behind the layers for what it
    /// cannot express (trailing slashes, the OS images listing's other members, body limits),
    /// fault injection and the request log.
    pub fn service(self: &Arc<Self>) -> super::front::Application {
        let faults = self.env.fault_layer(OPERATIONS, BASE_PATH, fault_body);
        let inner = lxca::server::router(self.clone()).fallback(not_found);
        super::front::wrap(inner, faults, Gate(self.clone()), self.env.replay())
    }

    fn lock(&self) -> Tracked<'_, State> {
        lock(&self.state)
    }

    /// The backups as JSON (for tests and tools).
    pub fn backups(&self) -> Vec<Value> {
        self.jobs.settle();
        self.lock()
            .backups
            .iter()
            .map(|b| Value::Object(b.clone()))
            .collect()
    }

    /// How many sessions are open.
    pub fn session_count(&self) -> usize {
        self.lock().sessions.len()
    }

    /// The time as LXCA writes it: `2026-01-01T00:00:00Z`.
    fn timestamp(&self, time: SystemTime) -> String {
        iso(time)
    }

    fn now(&self) -> SystemTime {
        self.env.clock.now()
    }
}

/// `2026-01-01T00:00:00Z`.
pub fn iso(time: SystemTime) -> String {
    let (y, m, d, h, min, s) = civil(time);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}Z")
}

/// The emulator as `cargo xtask emulate lxca` serves it.
pub(super) fn app(env: Environment, settings: super::Settings) -> anyhow::Result<super::App> {
    let seed: Seed = crate::seed::load(settings.seed.as_ref(), DEFAULT_SEED)?;
    let unknown = env
        .faults
        .unknown_operations(&OperationTable::new(OPERATIONS));
    if !unknown.is_empty() {
        let known: Vec<&str> = OPERATIONS.iter().map(|(_, _, op)| *op).collect();
        anyhow::bail!(
            "the faults name operations lxca does not have: {} (it has {})",
            unknown.join(", "),
            known.join(", ")
        );
    }
    let transport = settings.transport.unwrap_or(Transport::Https);
    let mut notes: Vec<String> = seed
        .users
        .iter()
        .map(|u| {
            format!(
                "user: {} / {} (HTTP Basic, or POST /sessions then cookies + X-Csrf-Token)",
                u.name, u.password
            )
        })
        .collect();
    if notes.is_empty() {
        notes.push("the seed has no user: nobody can log in".into());
    }
    notes.push(format!(
        "{} backups, {} update packages, {} OS images; sessions end after {} min without a request",
        seed.backups.len(),
        seed.updates.packages.len(),
        seed.os_images.len(),
        seed.session_inactivity_minutes
    ));
    let emulator = Lxca::new(env, Options { seed, transport })?;
    Ok(super::App {
        service: emulator.service(),
        base_path: BASE_PATH,
        transport,
        default_port: DEFAULT_PORT,
        notes,
    })
}

fn lock(state: &Shared<State>) -> Tracked<'_, State> {
    state.lock()
}

/// A message of LXCA's envelope.
fn message(id: &str, text: &str, explanation: &str, recovery: &str) -> Value {
    json!({
        "id": id,
        "text": text,
        "explanation": explanation,
        "recovery": {"text": recovery, "URL": ""}
    })
}

/// LXCA's error envelope (`result: failed`).
pub fn error(id: &str, text: &str, explanation: &str, recovery: &str) -> types::Error {
    serde_json::from_value(json!({
        "result": "failed",
        "messages": [message(id, text, explanation, recovery)]
    }))
    .expect("an error envelope")
}

fn error_json(status: StatusCode, error: &types::Error) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_vec(error).unwrap_or_default(),
    )
        .into_response()
}

/// 400: a request attribute that is not valid.
fn bad_request(text: String) -> types::Error {
    error(
        "FQXHMCP0400J",
        &text,
        "A query parameter or request attribute is missing or not valid, or the operation is not supported.",
        "Correct the request and attempt the operation again.",
    )
}

/// 412: missing or invalid values.
fn precondition(text: String) -> types::Error {
    error(
        "FQXHMCP0412J",
        &text,
        "Specified data is invalid because of missing values.",
        "Correct the request and attempt the operation again.",
    )
}

fn not_found_error(text: String) -> types::Error {
    error(
        "FQXHMCP0404J",
        &text,
        "A specified resource cannot be found.",
        "Check the identifiers with the list operation and attempt the operation again.",
    )
}

fn conflict(text: String) -> types::Error {
    error(
        "FQXHMCP0409J",
        &text,
        "There is a conflict with the current state of the resource.",
        "Wait until the resource is in a suitable state and attempt the operation again.",
    )
}

fn success_messages() -> Value {
    json!([{
        "id": "FQXHMSE0001I",
        "text": "The request completed successfully.",
        "explanation": "",
        "recovery": {"text": "Information only; no action is required.", "URL": ""}
    }])
}

/// The answer for a path the API does not have.
async fn not_found(request: Request) -> Response {
    let path = request.uri().path().to_string();
    error_json(
        StatusCode::NOT_FOUND,
        &not_found_error(format!("No resource is at {path}.")),
    )
}

/// The body of an injected status: the error envelope.
fn fault_body(status: u16) -> (&'static str, Vec<u8>) {
    let body = error(
        "FQXHMCP0500J",
        "An injected fault.",
        "The emulator was told to answer this status.",
        "Attempt the operation again.",
    );
    let _ = status;
    (
        "application/json",
        serde_json::to_vec(&body).unwrap_or_default(),
    )
}

/// `/osImages/` and `/osImages` are the same resource (pylxca writes the former).
fn strip_trailing_slash(request: &mut Request) {
    let path = request.uri().path();
    if path.len() > 1 && path.ends_with('/') {
        let trimmed = path.trim_end_matches('/');
        let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
        let rebuilt = match request.uri().query() {
            Some(q) => format!("{trimmed}?{q}"),
            None => trimmed.to_string(),
        };
        if let Ok(uri) = rebuilt.parse::<Uri>() {
            *request.uri_mut() = uri;
        }
    }
}

/// 413 with the error envelope.
fn too_large(limit: u64) -> Response {
    error_json(
        StatusCode::PAYLOAD_TOO_LARGE,
        &error(
            "FQXHMCP0413J",
            &format!("The request body is larger than {limit} bytes."),
            "The request is larger than the management server accepts.",
            "Send a smaller request or file.",
        ),
    )
}

/// What LXCA's web server does in front of the API, and what the generated router cannot express:
/// trailing slashes are ignored, request bodies are limited, and the OS images listing carries
/// the repository's other lists.
struct Gate(Arc<Lxca>);

/// A streamed body's limit, and the flag set when the body outgrew it.
type BodyLimit = (Arc<AtomicBool>, u64);

/// What [`Gate`] remembers of a request until its answer.
struct Pending {
    /// Set when the body outgrew its limit while streaming.
    exceeded: Option<BodyLimit>,
    /// `Some(ids)` for `GET /osImages` (the `id` filter, if any).
    os_images_listing: Option<Option<Vec<String>>>,
}

impl super::front::Gate for Gate {
    type Pending = Pending;

    fn admit(&self, mut request: Request) -> Result<(Request, Pending), Response> {
        strip_trailing_slash(&mut request);
        let os_images_listing =
            (request.method() == Method::GET && request.uri().path() == "/osImages").then(|| {
                codegen_runtime::validation::query_pairs(request.uri().query())
                    .into_iter()
                    .find(|(k, _)| k == "id")
                    .map(|(_, v)| v.split(',').map(str::to_string).collect())
            });
        let (request, exceeded) = limit_body(request, self.0.upload_limit)?;
        Ok((
            request,
            Pending {
                exceeded,
                os_images_listing,
            },
        ))
    }

    async fn finish(&self, pending: Pending, response: Response) -> Response {
        if let Some((exceeded, limit)) = pending.exceeded {
            if exceeded.load(Ordering::SeqCst) {
                return too_large(limit);
            }
        }
        match pending.os_images_listing {
            Some(ids) => os_images_listing(&self.0, ids.as_deref(), response).await,
            None => response,
        }
    }
}

/// Limits request bodies as they stream: JSON (and any other non-multipart body) to
/// [`JSON_LIMIT`], multipart uploads to the upload limit plus [`MULTIPART_OVERHEAD`]. A declared
/// `Content-Length` above the limit answers 413 at once; a body that grows past it while
/// streaming stops the handler's reading, and the flag returned says so (its answer is then
/// replaced by 413).
#[allow(clippy::result_large_err)] // the 413 is the answer, not an error to propagate
fn limit_body(
    request: Request,
    upload_limit: u64,
) -> Result<(Request, Option<BodyLimit>), Response> {
    if request.body().is_end_stream() {
        return Ok((request, None));
    }
    let multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/")
        });
    let limit = if multipart {
        upload_limit.saturating_add(MULTIPART_OVERHEAD)
    } else {
        JSON_LIMIT
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large(limit));
    }
    let exceeded = Arc::new(AtomicBool::new(false));
    let flag = exceeded.clone();
    let (parts, body) = request.into_parts();
    let mut seen: u64 = 0;
    let stream = futures_util::StreamExt::map(body.into_data_stream(), move |chunk| {
        let chunk = chunk.map_err(std::io::Error::other)?;
        seen = seen.saturating_add(chunk.len() as u64);
        if seen > limit {
            flag.store(true, Ordering::SeqCst);
            return Err(std::io::Error::other("the body is too large"));
        }
        Ok(chunk)
    });
    let request = Request::from_parts(parts, Body::from_stream(stream));
    Ok((request, Some((exceeded, limit))))
}

/// Adds the OS images repository's other lists to the generated GET /osImages answer, whose type
/// keeps only `bootFiles`.
async fn os_images_listing(lxca: &Lxca, ids: Option<&[String]>, response: Response) -> Response {
    if response.status() != StatusCode::OK {
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 16 * 1024 * 1024).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let Ok(Value::Object(mut listing)) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    for (key, value) in lxca.os_image_lists(ids) {
        listing.entry(key).or_insert(value);
    }
    let mut response = Response::from_parts(
        parts,
        Body::from(serde_json::to_vec(&listing).unwrap_or_default()),
    );
    response.headers_mut().remove(header::CONTENT_LENGTH);
    response
}

/// The list of the OS images repository a file of `kind` is shown in.
fn list_of(kind: &str) -> &'static str {
    match kind {
        "OS" => "images",
        "BOOT" => "bootFiles",
        "DUD" => "driverFiles",
        "OSPROFILE" => "osProfiles",
        "BUNDLE" | "BUNDLESIG" => "bundleFiles",
        "CONFIG" | "CUSTOM_CONFIG" => "customConfigFiles",
        "SCRIPT" => "customScriptFiles",
        "SOFTWARE" => "customSoftwareFiles",
        "UNATTEND" => "customUnattendFiles",
        _ => "customFiles",
    }
}

impl Lxca {
    /// Every list of the repository but `bootFiles`, filtered by ids.
    fn os_image_lists(&self, ids: Option<&[String]>) -> Vec<(String, Value)> {
        let state = self.lock();
        let mut lists: Vec<(String, Vec<Value>)> = [
            "images",
            "driverFiles",
            "osProfiles",
            "bundleFiles",
            "customConfigFiles",
            "customScriptFiles",
            "customSoftwareFiles",
            "customUnattendFiles",
        ]
        .iter()
        .map(|k| (k.to_string(), Vec::new()))
        .collect();
        for image in &state.os_images {
            if ids.is_some_and(|ids| !ids.contains(&image.id)) {
                continue;
            }
            let list = list_of(&image.kind);
            if let Some((_, items)) = lists.iter_mut().find(|(k, _)| k == list) {
                items.push(image.json());
            }
        }
        lists
            .into_iter()
            .map(|(k, v)| (k, Value::Array(v)))
            .collect()
    }
}

impl OsImage {
    fn json(&self) -> Value {
        let mut value = json!({
            "id": self.id,
            "name": self.name,
            "type": self.kind,
            "os": self.os,
            "osrelease": self.osrelease,
            "size": self.size,
            "description": self.description,
        });
        if !self.image_name.is_empty() {
            value["imageName"] = json!(self.image_name);
        }
        if let Some((md5, sha1, sha256)) = &self.checksums {
            value["checksums"] = json!({"MD5": md5, "SHA1": sha1, "SHA256": sha256});
        }
        value
    }
}

// ---- authentication -------------------------------------------------------------------------

/// The cookies of a request, as (name, value).
fn cookies(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            Some((k.trim().to_string(), v.trim().trim_matches('"').to_string()))
        })
        .collect()
}

fn unauthenticated(text: &str) -> Denied {
    Denied::Unauthorized(error(
        "FQXHMSE0001J",
        text,
        "The user cannot be authenticated. Authentication has not been provided or has failed.",
        "Log in with a valid user name and password, or send the session cookie with its X-Csrf-Token.",
    ))
}

impl Lxca {
    /// Who sent the request: HTTP Basic, or the session cookie with its CSRF token.
    fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, Denied> {
        if let Some(value) = headers.get(header::AUTHORIZATION) {
            let text = value.to_str().unwrap_or("");
            let (scheme, rest) = text.trim().split_once(' ').unwrap_or((text, ""));
            if !scheme.eq_ignore_ascii_case("basic") {
                return Err(unauthenticated(
                    "The authorization scheme is not supported; use Basic or a session.",
                ));
            }
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(rest.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok());
            let Some((user, password)) = decoded.as_deref().and_then(|d| d.split_once(':')) else {
                return Err(unauthenticated("The Basic credentials are malformed."));
            };
            return match self.check_password(user, password) {
                Some(user) => Ok(Principal {
                    user,
                    session: None,
                }),
                None => Err(unauthenticated("The user name or password is not valid.")),
            };
        }
        let jar = cookies(headers);
        let Some(id) = jar
            .iter()
            .find(|(k, _)| k == "JSESSIONID")
            .map(|(_, v)| v.clone())
        else {
            return Err(unauthenticated(
                "Authentication has not been provided: send HTTP Basic credentials or log in with POST /sessions.",
            ));
        };
        let now = self.now();
        let mut state = self.lock();
        let Some(session) = state.sessions.get(&id).cloned() else {
            return Err(unauthenticated(
                "The session is not valid: it was closed, or it never existed.",
            ));
        };
        if now.duration_since(session.last_used).unwrap_or_default() >= self.inactivity {
            state.sessions.remove(&id);
            return Err(unauthenticated(
                "The session has expired because of inactivity; log in again.",
            ));
        }
        let token = headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .map(str::trim);
        if token != Some(session.csrf.as_str()) {
            return Err(Denied::Forbidden(error(
                "FQXHMSE0002J",
                "The request is missing a valid X-Csrf-Token header.",
                "Requests in a session must carry the CSRF token of the session in the X-Csrf-Token header.",
                "Send the value of the csrf cookie in the X-Csrf-Token header.",
            )));
        }
        if let Some(s) = state.sessions.get_mut(&id) {
            s.last_used = now;
        }
        Ok(Principal {
            user: session.user,
            session: Some(id),
        })
    }

    /// The user's name as seeded, when the password matches.
    fn check_password(&self, user: &str, password: &str) -> Option<String> {
        let state = self.lock();
        state
            .users
            .iter()
            .find(|u| u.name.eq_ignore_ascii_case(user) && u.password == password)
            .map(|u| u.name.clone())
    }

    /// A new session for `user`: its id and CSRF token.
    fn open_session(&self, user: &str) -> (String, String) {
        let id = self
            .env
            .ids
            .next("session", IdFormat::Hex32)
            .to_ascii_uppercase();
        let csrf = self.env.ids.next("csrf", IdFormat::Hex32);
        let now = self.now();
        self.lock().sessions.insert(
            id.clone(),
            Session {
                user: user.to_string(),
                csrf: csrf.clone(),
                last_used: now,
            },
        );
        (id, csrf)
    }

    fn cookie(&self, name: &str, value: &str, http_only: bool) -> String {
        let mut cookie = format!("{name}={value}; Path=/");
        if self.secure_cookies {
            cookie.push_str("; Secure");
        }
        if http_only {
            cookie.push_str("; HttpOnly");
        }
        cookie
    }
}

// ---- jobs -----------------------------------------------------------------------------------

/// A job as the API shows it: engine state (or waiting) plus its metadata.
#[derive(Debug, Clone)]
struct JobInfo {
    id: String,
    state: &'static str,
    percent: u8,
    meta: JobMeta,
    started: Option<SystemTime>,
    finished: Option<SystemTime>,
    error: Option<String>,
    terminal: bool,
}

fn vendor_state(state: &JobState<(), String>) -> &'static str {
    match state {
        JobState::Pending => "Pending",
        JobState::Running | JobState::Paused => "Running",
        JobState::Succeeded(_) => "Complete",
        JobState::Failed(_) => "Stopped_With_Error",
        JobState::Cancelled => "Cancelled",
    }
}

impl Lxca {
    /// Starts a job now; its metadata is recorded first, so no reader sees it without.
    #[allow(clippy::too_many_arguments)]
    fn start_job(
        &self,
        operation: &'static str,
        owner: &str,
        name: &str,
        resource: &str,
        children: &[&str],
        duration: Duration,
        fail_at: Option<(u8, String)>,
        effect: Effect<(), String>,
    ) -> Result<String, String> {
        let id = self.env.ids.next("job", IdFormat::Counter);
        self.register_job(&id, owner, name, resource, children);
        let fail_at = match self.env.faults.job_fail_at(operation) {
            Some(pct) => Some((
                pct,
                format!("{operation} failed at {pct}% (an injected fault)"),
            )),
            None => fail_at,
        };
        let plan = JobPlan {
            pending: Duration::ZERO,
            duration,
            fail_at,
        };
        self.jobs
            .start(id.clone(), operation, Some(owner.to_string()), plan, effect)
            .map(|_| id)
            .map_err(|e| e.to_string())
    }

    fn register_job(&self, id: &str, owner: &str, name: &str, resource: &str, children: &[&str]) {
        let now = self.now();
        self.lock().job_meta.insert(
            id.to_string(),
            JobMeta {
                name: name.to_string(),
                resource: resource.to_string(),
                children: children.iter().map(|c| c.to_string()).collect(),
                category: "MANAGEMENT".into(),
                created: now,
                owner: owner.to_string(),
                cancelled_by: None,
            },
        );
    }

    /// Ends a waiting import job now: succeeded, or failed with `failure`.
    fn finish_waiting(&self, id: &str, failure: Option<String>) {
        let owner = {
            let mut state = self.lock();
            state.waiting.remove(id).map(|w| w.owner)
        };
        let effect: Effect<(), String> = Box::new(move |_| match failure {
            None => Ok(()),
            Some(message) => Err(message),
        });
        let _ = self.jobs.start(
            id.to_string(),
            "import",
            owner,
            JobPlan::running_for(Duration::ZERO),
            effect,
        );
        self.jobs.settle();
    }

    /// Every job, in id order (deleted ones left out).
    fn job_infos(&self) -> Vec<JobInfo> {
        let views = self.jobs.list();
        let state = self.lock();
        let mut infos: Vec<JobInfo> = views
            .into_iter()
            .filter(|v| !state.deleted.contains(&v.id))
            .map(|v| info_of(&v, state.job_meta.get(&v.id)))
            .collect();
        for (id, waiting) in &state.waiting {
            if state.deleted.contains(id) {
                continue;
            }
            let meta = state.job_meta.get(id).cloned().unwrap_or_else(|| JobMeta {
                name: "Import".into(),
                resource: String::new(),
                children: Vec::new(),
                category: "MANAGEMENT".into(),
                created: self.now(),
                owner: waiting.owner.clone(),
                cancelled_by: None,
            });
            infos.push(JobInfo {
                id: id.clone(),
                state: if waiting.uploading {
                    "Running"
                } else {
                    "Pending"
                },
                percent: 0,
                meta,
                started: None,
                finished: None,
                error: None,
                terminal: false,
            });
        }
        infos.sort_by_key(|i| (i.id.parse::<u64>().unwrap_or(u64::MAX), i.id.clone()));
        infos
    }

    fn job_info(&self, id: &str) -> Option<JobInfo> {
        self.job_infos().into_iter().find(|i| i.id == id)
    }

    /// Cancels a job (waiting or running) on behalf of `user`.
    fn cancel_job_as(&self, id: &str, user: &str) -> Result<(), crate::jobs::JobError> {
        let waiting = self.lock().waiting.contains_key(id);
        if waiting {
            let owner = self.lock().waiting.remove(id).map(|w| w.owner);
            let _ = self.jobs.start(
                id.to_string(),
                "import",
                owner,
                JobPlan::running_for(Duration::from_secs(3600)),
                Box::new(|_| Ok(())),
            );
        }
        self.jobs.cancel(id)?;
        if let Some(meta) = self.lock().job_meta.get_mut(id) {
            meta.cancelled_by = Some(user.to_string());
        }
        Ok(())
    }
}

fn info_of(view: &JobView<(), String>, meta: Option<&JobMeta>) -> JobInfo {
    let meta = meta.cloned().unwrap_or_else(|| JobMeta {
        name: view.kind.clone(),
        resource: String::new(),
        children: Vec::new(),
        category: "MANAGEMENT".into(),
        created: view.created_at,
        owner: view.owner.clone().unwrap_or_default(),
        cancelled_by: None,
    });
    JobInfo {
        id: view.id.clone(),
        state: vendor_state(&view.state),
        percent: view.percent,
        started: view.started_at.or(Some(view.created_at)),
        finished: view.finished_at,
        error: match &view.state {
            JobState::Failed(e) => Some(e.clone()),
            _ => None,
        },
        terminal: view.state.is_terminal(),
        meta,
    }
}

impl JobInfo {
    /// The children's (name, state, percentage), derived from the parent's progress: child `i`
    /// of `n` covers `[i*100/n, (i+1)*100/n)`.
    fn children(&self) -> Vec<(String, &'static str, u8)> {
        let n = self.meta.children.len();
        self.meta
            .children
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let start = (i * 100 / n) as u8;
                let end = ((i + 1) * 100 / n) as u8;
                let p = self.percent;
                let span = end.saturating_sub(start).max(1);
                let within = ((p.saturating_sub(start) as u32 * 100) / span as u32).min(100) as u8;
                let (state, pct) = match self.state {
                    "Complete" => ("Complete", 100),
                    "Pending" => ("Pending", 0),
                    "Running" if p >= end => ("Complete", 100),
                    "Running" if p >= start => ("Running", within),
                    "Running" => ("Pending", 0),
                    ending => {
                        if p >= end && end < 100 {
                            ("Complete", 100)
                        } else if p >= start {
                            (ending, within)
                        } else {
                            ("Cancelled", 0)
                        }
                    }
                };
                (name.clone(), state, pct)
            })
            .collect()
    }

    fn messages(&self) -> Vec<Value> {
        match (&self.error, self.state) {
            (Some(e), _) => vec![json!({"id": "FQXHMJM0002M", "text": e})],
            (None, "Complete") => {
                vec![json!({"id": "FQXHMJM0001I", "text": "The job completed successfully."})]
            }
            (None, "Cancelled") => {
                vec![json!({"id": "FQXHMJM0003I", "text": "The job was cancelled."})]
            }
            _ => Vec::new(),
        }
    }

    fn task(&self, compact: bool) -> Value {
        let mut task = json!({
            "jobUID": self.id,
            "name": self.meta.name,
            "status": self.state,
            "percentage": self.percent,
            "complete": self.terminal,
            "createdBy": self.meta.owner,
            "startTime": self.started.map(iso).unwrap_or_default(),
            "endTime": self.finished.map(iso).unwrap_or_default(),
            "messages": self.messages(),
        });
        if !compact {
            task["children"] = self
                .children()
                .into_iter()
                .enumerate()
                .map(|(i, (name, state, pct))| {
                    json!({
                        "jobUID": format!("{}.{}", self.id, i + 1),
                        "name": name,
                        "status": state,
                        "percentage": pct,
                        "complete": matches!(state, "Complete" | "Cancelled" | "Stopped_With_Error"),
                    })
                })
                .collect();
        }
        task
    }

    fn job(&self) -> Value {
        let substatus: Vec<Value> = self
            .children()
            .into_iter()
            .enumerate()
            .map(|(i, (name, state, pct))| {
                json!({
                    "id": format!("{}.{}", self.id, i + 1),
                    "status": {"state": state, "percentage": pct, "substatus": [], "description": []},
                    "messageDisplay": name,
                })
            })
            .collect();
        let description: Vec<Value> = self
            .messages()
            .into_iter()
            .map(|m| json!({"messageID": m["id"], "messageDisplay": m["text"], "messageBundle": "com.lenovo.lxca.emulator"}))
            .collect();
        json!({
            "id": self.id,
            "status": {
                "state": self.state,
                "percentage": self.percent,
                "substatus": substatus,
                "description": description,
            },
            "isCancelable": !self.terminal,
            "cancelledBy": self.meta.cancelled_by.clone().unwrap_or_default(),
            "cancelURI": if self.terminal { String::new() } else { format!("/jobs/{}", self.id) },
            "category": self.meta.category,
            "createdBy": self.meta.owner,
            "startTime": self.started.or(Some(self.meta.created)).map(iso).unwrap_or_default(),
            "endTime": self.finished.map(iso).unwrap_or_default(),
            "messageBundle": "com.lenovo.lxca.emulator",
            "messageDisplay": self.meta.name,
            "messageID": "EMULATOR_JOB",
            "messageParameters": [],
            "typeId": -1,
            "uuid": self.meta.resource,
            "legacy": false,
        })
    }
}

/// `Set-Cookie` values never carry what a client sent: user names come from the seed.
fn header_safe(value: &str) -> bool {
    HeaderValue::from_str(value).is_ok() && !value.contains([';', ',', ' '])
}
