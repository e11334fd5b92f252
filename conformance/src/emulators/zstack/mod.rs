//! The ZStack emulator: login and `OAuth` sessions, backup storage (ImageStore and Ceph) with
//! the full query language, and the asynchronous job convention (202 + `location`, then
//! `GET /v1/api-jobs/{uuid}`), on the generated `zstack::server::Api`.
//!
//! Behaviour follows `specs/zstack.yaml` (its descriptions and `Assumption:` notes) and the
//! vendor notes. Where neither says, the emulator decides, and says so here:
//! - An invalid or expired session answers 503 `ID.1001` at once, also for asynchronous APIs (the
//!   vendor notes), so clients can log in again and retry; an unknown backup storage in an
//!   asynchronous API answers 202, and its job fails with `SYS.1003` (the spec's AsyncApiError).
//! - `X-Job-UUID` naming an existing job of the same API and resource answers that job's location
//!   again without starting another (a retried request is idempotent); naming another job fails
//!   with `SYS.1007`.
//! - A preset session (`--session`) never expires; login sessions expire after
//!   `sessionTimeoutSecs`, counted from login.
//! - `fields` always keeps `type`, which tells ImageStore and Ceph inventories apart.
//! - Bodies over 1 MiB answer 413 (ZStack's bodies are small JSON).
//! - The REST layer's checks of `X-Job-UUID`, `limit` and `start` run in front of the generated
//!   router, so their 400s carry ZStack's wording (the spec's examples), not the router's.
//! - `DELETE /v1/accounts/sessions/{uuid}` (logout, which the runtime's session auth calls) is not
//!   in the spec, so it answers the REST layer's 404 like any unmapped path.

// Errors here are the vendor's error envelope, made once per request or job and sent as is;
// boxing them would only add noise.
#![allow(clippy::result_large_err)]

mod api;
pub mod query;
mod seed;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::Request;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Map, Value};
use zstack::types::{ApiJobResult, ErrorEnvelope};

use crate::clock::{civil, days_from_civil, Clock};
use crate::emulators::Environment;
use crate::faults::OperationTable;
use crate::jobs::JobEngine;
use crate::observe::{Shared, Tracked};
use crate::serve::Transport;

pub use seed::{Seed, DEFAULT_SEED};

/// The base path the API is served under.
pub const BASE_PATH: &str = "/zstack";
/// The built-in seed's account.
pub const ACCOUNT_NAME: &str = "admin";
/// The built-in seed's password (clients send its SHA-512).
pub const PASSWORD: &str = "password";
/// The largest request body accepted.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// Every operation of `specs/zstack.yaml`: method, path template, operationId (a test checks
/// this table against the spec).
pub const OPERATIONS: &[(&str, &str, &str)] = &[
    ("PUT", "/v1/accounts/login", "LogInByAccount"),
    ("GET", "/v1/backup-storage", "QueryBackupStorage"),
    ("GET", "/v1/backup-storage/{uuid}", "GetBackupStorage"),
    ("DELETE", "/v1/backup-storage/{uuid}", "DeleteBackupStorage"),
    (
        "PUT",
        "/v1/backup-storage/{uuid}/actions",
        "ReconnectBackupStorage",
    ),
    ("GET", "/v1/api-jobs/{uuid}", "GetApiJob"),
];

/// How the emulator is set up.
#[derive(Debug, Clone)]
pub struct Options {
    /// The initial state.
    pub seed: Seed,
    /// A session to create at start (32 hex digits), for scripts that skip the login.
    pub session: Option<String>,
    /// Plain HTTP (the appliance's default) or HTTPS: the scheme of job locations.
    pub transport: Transport,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            seed: Seed::builtin(),
            session: None,
            transport: Transport::Http,
        }
    }
}

/// The emulated management node.
pub struct ZStack {
    env: Environment,
    scheme: &'static str,
    timing: seed::JobTimes,
    session_timeout: Duration,
    state: Arc<Shared<State>>,
    jobs: JobEngine<ApiJobResult, ErrorEnvelope>,
    /// The inventories last answered, with the JSON they came from (see `api.rs`, `answer`).
    storage_answers: super::Remembered<zstack::types::BackupStorageInventory>,
}

impl std::fmt::Debug for ZStack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZStack").finish_non_exhaustive()
    }
}

/// The appliance's data.
#[derive(Debug)]
struct State {
    accounts: Vec<seed::AccountSeed>,
    sessions: HashMap<String, Session>,
    zones: Vec<Map<String, Value>>,
    images: Vec<Map<String, Value>>,
    storages: Vec<Storage>,
}

#[derive(Debug, Clone)]
struct Session {
    account_uuid: String,
    expires: Option<SystemTime>,
}

#[derive(Debug, Clone)]
struct Storage {
    inventory: Map<String, Value>,
    reachable: bool,
}

impl Storage {
    fn uuid(&self) -> &str {
        self.inventory
            .get("uuid")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// Sets `status` (and the Ceph monitors' status) and `lastOpDate`.
    fn set_status(&mut self, status: &str, now: SystemTime) {
        let date = format_date(now);
        self.inventory.insert("status".into(), json!(status));
        self.inventory.insert("lastOpDate".into(), json!(date));
        if let Some(Value::Array(mons)) = self.inventory.get_mut("mons") {
            for mon in mons.iter_mut().filter_map(Value::as_object_mut) {
                mon.insert("status".into(), json!(status));
                mon.insert("lastOpDate".into(), json!(date));
            }
        }
    }
}

impl ZStack {
    /// An emulator in `env` with `options`.
    pub fn new(env: Environment, options: Options) -> anyhow::Result<Arc<Self>> {
        let epoch = env.epoch.clone();
        let checked = options.seed.check()?;
        let timing = options.seed.jobs.clone();
        let jobs = JobEngine::new(env.clock.clone(), timing.retention(), env.epoch.clone());
        let mut sessions = HashMap::new();
        if let Some(preset) = &options.session {
            if !crate::ids::is_hex32(preset) {
                anyhow::bail!("--session must be 32 hexadecimal characters");
            }
            let account = checked
                .accounts
                .first()
                .ok_or_else(|| anyhow::anyhow!("the seed has no account for --session"))?;
            sessions.insert(
                preset.to_ascii_lowercase(),
                Session {
                    account_uuid: account.uuid.clone(),
                    expires: None,
                },
            );
        }
        let state = State {
            accounts: checked.accounts,
            sessions,
            zones: checked.zones,
            images: checked.images,
            storages: checked
                .storages
                .into_iter()
                .map(|(inventory, reachable)| Storage {
                    inventory,
                    reachable,
                })
                .collect(),
        };
        Ok(Arc::new(ZStack {
            scheme: options.transport.scheme(),
            session_timeout: Duration::from_secs(options.seed.session_timeout_secs),
            timing,
            env,
            state: Arc::new(Shared::new(state, epoch)),
            jobs,
            storage_answers: super::Remembered::default(),
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

    /// The full application: the generated router under [`BASE_PATH`], with the REST layer's
    /// answers for unknown paths and for methods other than GET on jobs, fault injection, a body
    /// limit and the request log.
    pub fn service(self: &Arc<Self>) -> super::front::Application {
        let faults = self.env.fault_layer(OPERATIONS, BASE_PATH, fault_body);
        let inner = Router::new()
            .nest(BASE_PATH, zstack::server::router(self.clone()))
            .fallback(no_api_mapping)
            .layer(tower_http::limit::RequestBodyLimitLayer::new(BODY_LIMIT));
        super::front::wrap(inner, faults, RestLayer, self.env.replay())
    }

    fn lock(&self) -> Tracked<'_, State> {
        lock(&self.state)
    }

    /// The backup storage as JSON inventories, in stored order (for tests and tools).
    pub fn backup_storages(&self) -> Vec<Value> {
        self.jobs.settle();
        self.lock()
            .storages
            .iter()
            .map(|s| Value::Object(s.inventory.clone()))
            .collect()
    }
}

/// The emulator as `cargo xtask emulate zstack` serves it.
pub(super) fn app(env: Environment, settings: super::Settings) -> anyhow::Result<super::App> {
    let seed: Seed = crate::seed::load(settings.seed.as_ref(), DEFAULT_SEED)?;
    let unknown = env
        .faults
        .unknown_operations(&OperationTable::new(OPERATIONS));
    if !unknown.is_empty() {
        let known: Vec<&str> = OPERATIONS.iter().map(|(_, _, op)| *op).collect();
        anyhow::bail!(
            "the faults name operations zstack does not have: {} (it has {})",
            unknown.join(", "),
            known.join(", ")
        );
    }
    let transport = settings.transport.unwrap_or(Transport::Http);
    let mut notes: Vec<String> = seed
        .accounts
        .iter()
        .map(|a| {
            format!(
                "account: {} / {} (LogInByAccount takes the SHA-512 hex of the password)",
                a.name, a.password
            )
        })
        .collect();
    if notes.is_empty() {
        notes.push("the seed has no account: nobody can log in".into());
    }
    if let Some(session) = &settings.session {
        notes.push(format!(
            "session: Authorization: OAuth {session} (never expires)"
        ));
    }
    notes.push(format!(
        "{} backup storage, {} zones, {} images; jobs: reconnect {}s, delete {}s, kept {}s",
        seed.backup_storages.len(),
        seed.zones.len(),
        seed.images.len(),
        seed.jobs.reconnect_secs,
        seed.jobs.delete_secs,
        seed.jobs.retention_secs
    ));
    let emulator = ZStack::new(
        env,
        Options {
            seed,
            session: settings.session,
            transport,
        },
    )?;
    Ok(super::App {
        service: emulator.service(),
        base_path: BASE_PATH,
        transport,
        default_port: 8080,
        notes,
    })
}

fn lock(state: &Shared<State>) -> Tracked<'_, State> {
    state.lock()
}

/// The REST layer's answer for a path that maps to no API.
async fn no_api_mapping(request: Request) -> Response {
    let path = request.uri().path();
    let below = path.strip_prefix(BASE_PATH).unwrap_or(path);
    text(StatusCode::NOT_FOUND, format!("no api mapping to {below}"))
}

/// The REST layer answers job queries with any method but GET with 405.
/// ZStack's REST layer, in front of every API: what it refuses before an API sees the request.
struct RestLayer;

impl super::front::Gate for RestLayer {
    type Pending = ();

    fn admit(&self, request: Request) -> Result<(Request, ()), Response> {
        only_get_for_jobs(&request)
            .or_else(|| rest_layer_checks(&request))
            .map_or(Ok((request, ())), Err)
    }
}

fn only_get_for_jobs(request: &Request) -> Option<Response> {
    let is_job = request
        .uri()
        .path()
        .strip_prefix(BASE_PATH)
        .is_some_and(|p| p.starts_with("/v1/api-jobs/"));
    (is_job && request.method() != Method::GET).then(|| {
        let mut answer = text(
            StatusCode::METHOD_NOT_ALLOWED,
            "only GET method is allowed for querying job status".into(),
        );
        // RFC 9110 wants the methods that are allowed on a 405.
        answer
            .headers_mut()
            .insert(header::ALLOW, axum::http::HeaderValue::from_static("GET"));
        answer
    })
}

/// The checks ZStack's REST layer makes before any API, with its wording (the generated router
/// would refuse the same requests, but with its own messages): `X-Job-UUID` must be a dashless
/// UUID, a query's `limit` and `start` must be integers, and each `q` condition needs an
/// operator.
fn rest_layer_checks(request: &Request) -> Option<Response> {
    // A name made once: looking a header up by a string parses the name on every request.
    const X_JOB_UUID: header::HeaderName = header::HeaderName::from_static("x-job-uuid");
    if let Some(job) = request.headers().get(X_JOB_UUID) {
        if !job.to_str().is_ok_and(crate::ids::is_hex32) {
            return Some(text(
                StatusCode::BAD_REQUEST,
                "Invalid header[X-Job-UUID], it must be a UUID with '-' stripped".into(),
            ));
        }
    }
    let is_query = request.method() == Method::GET
        && request.uri().path().strip_prefix(BASE_PATH) == Some("/v1/backup-storage");
    if is_query {
        for (name, value) in codegen_runtime::validation::query_pairs(request.uri().query()) {
            if (name == "limit" || name == "start") && value.trim().parse::<i64>().is_err() {
                return Some(text(
                    StatusCode::BAD_REQUEST,
                    format!("Invalid query parameter. '{name}' must be an integer"),
                ));
            }
            if name == "q" {
                if let Err(query::QueryError::RestLayer(message)) = query::parse_condition(&value) {
                    return Some(text(StatusCode::BAD_REQUEST, message));
                }
            }
        }
    }
    None
}

fn text(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain")], body).into_response()
}

/// The body of an injected status without one: ZStack's error envelope for 5xx, the REST
/// layer's plain text otherwise.
fn fault_body(status: u16) -> (&'static str, Vec<u8>) {
    if status >= 500 {
        let body = error(
            "SYS.1000",
            "An internal error happened",
            "an injected fault".into(),
        );
        (
            "application/json",
            serde_json::to_vec(&body).unwrap_or_default(),
        )
    } else {
        ("text/plain", b"an injected fault".to_vec())
    }
}

/// An error envelope.
pub fn error(code: &str, description: &str, details: String) -> ErrorEnvelope {
    serde_json::from_value(json!({
        "error": {"code": code, "description": description, "details": details}
    }))
    .expect("an error envelope")
}

fn with_cause(mut outer: ErrorEnvelope, cause: ErrorEnvelope) -> ErrorEnvelope {
    outer.error.cause = Some(Some(Box::new(cause.error)));
    outer
}

fn invalid_argument(details: String) -> ErrorEnvelope {
    error("SYS.1007", "One or more API argument is invalid", details)
}

fn not_found(uuid: &str) -> ErrorEnvelope {
    error(
        "SYS.1003",
        "A resource can not be found",
        format!("cannot find the backup storage[uuid:{uuid}]"),
    )
}

fn operation_failed(details: String) -> ErrorEnvelope {
    error("SYS.1006", "An operation failed", details)
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A date as ZStack's Java locale writes it: `Apr 11, 2018 2:50:54 PM` (UTC).
pub fn format_date(time: SystemTime) -> String {
    let (y, m, d, h, min, s) = civil(time);
    let (h12, half) = match h {
        0 => (12, "AM"),
        1..=11 => (h, "AM"),
        12 => (12, "PM"),
        _ => (h - 12, "PM"),
    };
    format!(
        "{} {d}, {y} {h12}:{min:02}:{s:02} {half}",
        MONTHS[(m - 1) as usize]
    )
}

/// Milliseconds since the epoch of a date written as ZStack writes it, as
/// `YYYY-MM-DD[ HH:MM:SS]`, or as epoch milliseconds.
pub fn parse_date(text: &str) -> Option<i64> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok();
    }
    let secs = |y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32| -> Option<i64> {
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 59 {
            return None;
        }
        Some((days_from_civil(y, mo, d) * 86_400 + (h * 3600 + mi * 60 + s) as i64) * 1000)
    };
    // `Apr 11, 2018 2:50:54 PM`
    let parts: Vec<&str> = text.split([' ', ',']).filter(|p| !p.is_empty()).collect();
    if let [month, day, year, time, half] = parts.as_slice() {
        let mo = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(month))? as u32 + 1;
        let hms: Vec<u32> = time
            .split(':')
            .map(|p| p.parse().ok())
            .collect::<Option<_>>()?;
        let [h, mi, s] = hms.as_slice() else {
            return None;
        };
        if !(1..=12).contains(h) {
            return None;
        }
        let h = match (half.to_ascii_uppercase().as_str(), *h) {
            ("AM", 12) => 0,
            ("AM", h) => h,
            ("PM", 12) => 12,
            ("PM", h) => h + 12,
            _ => return None,
        };
        return secs(year.parse().ok()?, mo, day.parse().ok()?, h, *mi, *s);
    }
    // `2018-04-11 14:50:54` or `2018-04-11`
    let (date, time) = text.split_once([' ', 'T']).unwrap_or((text, "00:00:00"));
    let ymd: Vec<&str> = date.split('-').collect();
    let hms: Vec<u32> = time
        .trim_end_matches('Z')
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    match (ymd.as_slice(), hms.as_slice()) {
        ([y, mo, d], [h, mi, s]) => secs(
            y.parse().ok()?,
            mo.parse().ok()?,
            d.parse().ok()?,
            *h,
            *mi,
            *s,
        ),
        _ => None,
    }
}

/// What a request's `Authorization` header says.
#[derive(Debug, Clone, PartialEq)]
enum Denied {
    /// The REST layer's plain-text 400.
    BadRequest(String),
    /// 503 with `ID.1001`.
    InvalidSession(ErrorEnvelope),
}

impl ZStack {
    /// The account uuid of the request's session.
    fn authenticate(&self, headers: &HeaderMap) -> Result<String, Denied> {
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Err(Denied::BadRequest("missing header 'Authorization'".into()));
        };
        let wrong_type = || Denied::BadRequest("Authorization type must be 'OAuth'".into());
        let value = value.to_str().map_err(|_| wrong_type())?;
        let (scheme, session) = value.trim().split_once(' ').ok_or_else(wrong_type)?;
        if scheme != "OAuth" {
            return Err(wrong_type());
        }
        let session = session.trim().to_ascii_lowercase();
        // The answer depends on the time only through the session's expiry.
        let now = self.env.clock.peek();
        let mut state = self.lock();
        match state.sessions.get(&session) {
            Some(s) if s.expires.is_none_or(|at| now < at) => {
                if let Some(at) = s.expires {
                    crate::observe::holds_until(at);
                }
                Ok(s.account_uuid.clone())
            }
            Some(_) => {
                state.sessions.remove(&session);
                Err(Denied::InvalidSession(error(
                    "ID.1001",
                    "The session is invalid, either wrong session id or the session has been expired",
                    format!("Session expired[uuid: {session}]"),
                )))
            }
            None => Err(Denied::InvalidSession(error(
                "ID.1001",
                "The session is invalid, either wrong session id or the session has been expired",
                "no session has this uuid".into(),
            ))),
        }
    }

    /// `<scheme>://<host><base>/v1/api-jobs/<id>`, with the host the client used (when it is a
    /// valid authority; header injection falls back to `localhost:8080`).
    fn location(&self, headers: &HeaderMap, job: &str) -> String {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| h.parse::<axum::http::uri::Authority>().is_ok())
            .unwrap_or("localhost:8080");
        format!("{}://{host}{BASE_PATH}/v1/api-jobs/{job}", self.scheme)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn dates_are_written_and_read_as_zstack_does() {
        let t = UNIX_EPOCH + Duration::from_secs(1_523_458_254); // 2018-04-11 14:50:54 UTC
        assert_eq!(format_date(t), "Apr 11, 2018 2:50:54 PM");
        let ms = 1_523_458_254_000;
        assert_eq!(parse_date("Apr 11, 2018 2:50:54 PM"), Some(ms));
        assert_eq!(parse_date("2018-04-11 14:50:54"), Some(ms));
        assert_eq!(parse_date("1523458254000"), Some(ms));
        assert_eq!(
            format_date(UNIX_EPOCH + Duration::from_secs(1_767_225_600)),
            "Jan 1, 2026 12:00:00 AM"
        );
        assert_eq!(
            parse_date("Jan 1, 2026 12:00:00 AM"),
            Some(1_767_225_600_000)
        );
        assert_eq!(
            parse_date("Jan 1, 2026 12:30:00 PM"),
            Some(1_767_270_600_000)
        );
        for bad in [
            "",
            "yesterday",
            "Foo 1, 2026 1:00:00 PM",
            "2026-13-01",
            "Jan 1, 2026 13:00:00 PM",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }
}
