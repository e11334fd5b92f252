//! Fault injection, per operation: how clients' retries and the conformance suite's error paths
//! get exercised against an emulator.
//!
//! Rules are keyed by operationId, set from a YAML file (`--faults`) or from a test through
//! [`Faults::add`]. A rule fires on every call, on each call with a probability, or on the next
//! `times` calls (a script), and does one thing: answer a status (503 with `Retry-After`, ...),
//! add latency, drop the connection, or make the job the call starts fail at a percentage.
//! [`FaultLayer::intercept`] applies the request-level rules in front of the generated router
//! (`emulators::front`); emulators ask
//! [`Faults::job_fail_at`] when they start a job.
//!
//! ```yaml
//! seed: 7                      # for probabilities: the same run gives the same faults
//! operations:
//!   QueryBackupStorage:
//!     - latencyMs: 1500         # every call waits 1.5 s (on the emulator's clock)
//!     - times: 2                # the next two calls answer 503 with Retry-After: 1
//!       status: 503
//!       retryAfter: 1
//!   ReconnectBackupStorage:
//!     - probability: 0.1
//!       drop: true              # 10% of calls lose their connection, unanswered
//!     - jobFailAt: 50           # the started job fails halfway
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Result};
use axum::body::Body;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use crate::clock::Clock;

/// One rule, as written in the faults file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultRule {
    /// Fire on each call with this probability (0-1); absent: on every call it has left.
    #[serde(default)]
    pub probability: Option<f64>,
    /// Fire on the next `times` calls only (counting the calls it fired on).
    #[serde(default)]
    pub times: Option<u32>,
    /// Answer this status instead of calling the emulator.
    #[serde(default)]
    pub status: Option<u16>,
    /// With `status`: a `Retry-After` header, in seconds.
    #[serde(default)]
    pub retry_after: Option<u64>,
    /// With `status`: the body (a string is sent as text, anything else as JSON); absent: the
    /// emulator's own error body for that status.
    #[serde(default)]
    pub body: Option<Value>,
    /// Wait this long (on the emulator's clock) before handling the call.
    #[serde(default)]
    pub latency_ms: Option<u64>,
    /// Close the connection without answering.
    #[serde(default)]
    pub drop: Option<bool>,
    /// The job this call starts fails when it reaches this percentage.
    #[serde(default)]
    pub job_fail_at: Option<u8>,
}

impl FaultRule {
    fn kind(&self) -> Result<Kind> {
        let mut kinds = Vec::new();
        if self.status.is_some() {
            kinds.push(Kind::Respond);
        }
        if self.latency_ms.is_some() {
            kinds.push(Kind::Latency);
        }
        if self.drop == Some(true) {
            kinds.push(Kind::Drop);
        }
        if self.job_fail_at.is_some() {
            kinds.push(Kind::JobFail);
        }
        if kinds.len() != 1 {
            bail!(
                "a fault rule does exactly one of `status`, `latencyMs`, `drop: true`, `jobFailAt`"
            );
        }
        if (self.retry_after.is_some() || self.body.is_some()) && self.status.is_none() {
            bail!("`retryAfter` and `body` go with `status`");
        }
        if let Some(p) = self.probability {
            if !(0.0..=1.0).contains(&p) {
                bail!("`probability` is between 0 and 1, not {p}");
            }
        }
        if let Some(status) = self.status {
            if StatusCode::from_u16(status).is_err() {
                bail!("`status` {status} is not an HTTP status");
            }
        }
        if self.job_fail_at.is_some_and(|p| p > 100) {
            bail!("`jobFailAt` is a percentage (0-100)");
        }
        Ok(kinds[0])
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Respond,
    Latency,
    Drop,
    JobFail,
}

/// A faults file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultFile {
    /// Seed of the random numbers behind `probability`.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Rules by operationId.
    #[serde(default)]
    pub operations: BTreeMap<String, Vec<FaultRule>>,
}

/// What a request-level fault does to one call.
#[derive(Debug, Clone, PartialEq)]
pub enum Injection {
    /// Answer this instead.
    Respond {
        /// The status.
        status: u16,
        /// `Retry-After`, seconds.
        retry_after: Option<u64>,
        /// The body; `None`: the emulator's error body for the status.
        body: Option<Value>,
    },
    /// Close the connection unanswered.
    Drop,
}

/// The faults decided for one call.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decision {
    /// Wait this long first.
    pub latency: Duration,
    /// Then do this instead of calling the emulator.
    pub injection: Option<Injection>,
}

struct Active {
    rule: FaultRule,
    kind: Kind,
    remaining: Option<u32>,
}

struct FaultState {
    rules: BTreeMap<String, Vec<Active>>,
    rng: u64,
}

/// The fault rules of one emulator; shared by its layer and its job starts.
pub struct Faults {
    state: Mutex<FaultState>,
    /// Whether any rule was ever added (and not cleared): without one, a request needs neither the
    /// operation lookup nor the lock.
    armed: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Faults").finish_non_exhaustive()
    }
}

impl Default for Faults {
    fn default() -> Self {
        Faults::new(0)
    }
}

impl Faults {
    /// No faults; `seed` drives the probabilities of rules added later.
    pub fn new(seed: u64) -> Self {
        Faults {
            state: Mutex::new(FaultState {
                rules: BTreeMap::new(),
                rng: seed ^ 0x9e37_79b9_7f4a_7c15,
            }),
            armed: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The rules of a faults file (checked).
    pub fn from_file(file: FaultFile) -> Result<Self> {
        let faults = Faults::new(file.seed.unwrap_or(0));
        for (operation, rules) in file.operations {
            for (i, rule) in rules.into_iter().enumerate() {
                faults
                    .add(&operation, rule)
                    .map_err(|e| anyhow::anyhow!("operations.{operation}[{i}]: {e}"))?;
            }
        }
        Ok(faults)
    }

    /// Parses a faults file's YAML text.
    pub fn from_yaml(text: &str, what: &str) -> Result<Self> {
        Faults::from_file(crate::yaml::from_str(text, what)?)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FaultState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a rule for `operation_id`, after the ones it has.
    pub fn add(&self, operation_id: &str, rule: FaultRule) -> Result<()> {
        let kind = rule.kind()?;
        let remaining = rule.times;
        let mut state = self.lock();
        state
            .rules
            .entry(operation_id.to_string())
            .or_default()
            .push(Active {
                rule,
                kind,
                remaining,
            });
        self.armed.store(true, std::sync::atomic::Ordering::Release);
        Ok(())
    }

    /// The operationIds that have rules but are not in `table` (typos in a faults file).
    pub fn unknown_operations(&self, table: &OperationTable) -> Vec<String> {
        let known: Vec<&str> = table.entries.iter().map(|(_, _, op)| *op).collect();
        self.lock()
            .rules
            .keys()
            .filter(|op| !known.contains(&op.as_str()))
            .cloned()
            .collect()
    }

    /// Removes every rule.
    pub fn clear(&self) {
        let mut state = self.lock();
        state.rules.clear();
        self.armed
            .store(false, std::sync::atomic::Ordering::Release);
    }

    /// Whether there is any rule at all.
    pub fn is_armed(&self) -> bool {
        self.armed.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Decides, and uses up, the request-level faults of one call of `operation_id`.
    pub fn on_request(&self, operation_id: &str) -> Decision {
        let mut state = self.lock();
        let FaultState { rules, rng } = &mut *state;
        let mut decision = Decision::default();
        let Some(rules) = rules.get_mut(operation_id) else {
            return decision;
        };
        for active in rules.iter_mut() {
            if active.kind == Kind::JobFail {
                continue;
            }
            if active.kind != Kind::Latency && decision.injection.is_some() {
                continue;
            }
            if !fires(active, rng) {
                continue;
            }
            match active.kind {
                Kind::Latency => {
                    decision.latency += Duration::from_millis(active.rule.latency_ms.unwrap_or(0))
                }
                Kind::Respond => {
                    decision.injection = Some(Injection::Respond {
                        status: active.rule.status.unwrap_or(503),
                        retry_after: active.rule.retry_after,
                        body: active.rule.body.clone(),
                    })
                }
                Kind::Drop => decision.injection = Some(Injection::Drop),
                Kind::JobFail => {}
            }
        }
        decision
    }

    /// The percentage at which the job this call of `operation_id` starts must fail, if a rule
    /// says so (and uses the rule up).
    pub fn job_fail_at(&self, operation_id: &str) -> Option<u8> {
        let mut state = self.lock();
        let FaultState { rules, rng } = &mut *state;
        let rules = rules.get_mut(operation_id)?;
        for active in rules.iter_mut() {
            if active.kind == Kind::JobFail && fires(active, rng) {
                return active.rule.job_fail_at;
            }
        }
        None
    }
}

/// Whether a rule fires now; uses up one of its `times` when it does.
fn fires(active: &mut Active, rng: &mut u64) -> bool {
    if active.remaining == Some(0) {
        return false;
    }
    if let Some(p) = active.rule.probability {
        if next_unit(rng) >= p {
            return false;
        }
    }
    if let Some(n) = &mut active.remaining {
        *n -= 1;
    }
    true
}

/// splitmix64, as a number in [0, 1): small, seeded and the same on every platform.
fn next_unit(state: &mut u64) -> f64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// Maps a request (method and path below the base path) to its operationId, by the spec's path
/// templates. Literal segments beat `{parameters}`, as in the router.
#[derive(Debug, Clone)]
pub struct OperationTable {
    entries: Vec<(Method, Vec<String>, &'static str)>,
}

impl OperationTable {
    /// From (method, path template, operationId) triples.
    pub fn new(entries: &[(&str, &str, &'static str)]) -> Self {
        OperationTable {
            entries: entries
                .iter()
                .map(|(method, template, op)| {
                    (
                        Method::from_bytes(method.as_bytes()).unwrap_or(Method::GET),
                        segments(template).map(str::to_string).collect(),
                        *op,
                    )
                })
                .collect(),
        }
    }

    /// The operationId of `method path` (HEAD counts as GET), if any.
    pub fn find(&self, method: &Method, path: &str) -> Option<&'static str> {
        let method = if method == Method::HEAD {
            &Method::GET
        } else {
            method
        };
        let path: Vec<&str> = segments(path).collect();
        self.entries
            .iter()
            .filter(|(m, template, _)| m == method && template.len() == path.len())
            .filter_map(|(_, template, op)| {
                let mut literal = 0;
                for (t, p) in template.iter().zip(&path) {
                    if t.starts_with('{') && t.ends_with('}') {
                        continue;
                    }
                    if t != p {
                        return None;
                    }
                    literal += 1;
                }
                Some((literal, *op))
            })
            .max_by_key(|(literal, _)| *literal)
            .map(|(_, op)| op)
    }

    /// Every (method, template, operationId), for tests that compare it with the spec.
    pub fn entries(&self) -> Vec<(String, String, &'static str)> {
        self.entries
            .iter()
            .map(|(m, t, op)| (m.to_string(), format!("/{}", t.join("/")), *op))
            .collect()
    }
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

/// Marks a response whose connection the server must close unanswered (see
/// [`crate::serve`]); a server that does not know the marker sends it as an empty 500.
#[derive(Debug, Clone, Copy)]
pub struct DropConnection;

/// What [`FaultLayer::intercept`] needs: the rules, the table, the base path to strip, the clock for
/// latency, and the vendor's error body for an injected status.
#[derive(Clone)]
pub struct FaultLayer {
    /// The rules.
    pub faults: Arc<Faults>,
    /// Request to operationId.
    pub table: Arc<OperationTable>,
    /// The base path the emulator is served under (`/zstack`), stripped before lookup.
    pub base_path: &'static str,
    /// For latency.
    pub clock: Clock,
    /// The vendor's answer for an injected status without a body: (content type, body).
    pub error_body: fn(u16) -> (&'static str, Vec<u8>),
}

impl FaultLayer {
    /// The injected answer for a request, if a rule fires (after its latency, if any); `None`
    /// lets the request through, after the latency a rule may add.
    pub async fn intercept(&self, method: &Method, path: &str) -> Option<Response> {
        if !self.faults.is_armed() {
            return None;
        }
        let below = path.strip_prefix(self.base_path).unwrap_or(path);
        let operation = self.table.find(method, below)?;
        let decision = self.faults.on_request(operation);
        if !decision.latency.is_zero() {
            self.clock.sleep(decision.latency).await;
        }
        match decision.injection? {
            Injection::Drop => {
                tracing::info!(operation, "fault: dropping the connection");
                let mut response = StatusCode::INTERNAL_SERVER_ERROR.into_response();
                response.extensions_mut().insert(DropConnection);
                Some(response)
            }
            Injection::Respond {
                status,
                retry_after,
                body,
            } => {
                tracing::info!(operation, status, "fault: injected answer");
                let code = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
                let (content_type, bytes) = match body {
                    None => (self.error_body)(status),
                    Some(Value::String(text)) => ("text/plain", text.into_bytes()),
                    Some(other) => ("application/json", other.to_string().into_bytes()),
                };
                let mut response = Response::new(Body::from(bytes));
                *response.status_mut() = code;
                response
                    .headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
                if let Some(secs) = retry_after {
                    response
                        .headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
                }
                Some(response)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn respond(status: u16) -> FaultRule {
        FaultRule {
            status: Some(status),
            ..Default::default()
        }
    }

    #[test]
    fn scripted_rules_fire_the_next_n_times() {
        let faults = Faults::new(1);
        faults
            .add(
                "Op",
                FaultRule {
                    times: Some(2),
                    retry_after: Some(3),
                    ..respond(503)
                },
            )
            .unwrap();
        let expected = Some(Injection::Respond {
            status: 503,
            retry_after: Some(3),
            body: None,
        });
        assert_eq!(faults.on_request("Op").injection, expected);
        assert_eq!(faults.on_request("Op").injection, expected);
        assert_eq!(faults.on_request("Op"), Decision::default());
        assert_eq!(faults.on_request("Other"), Decision::default());
    }

    #[test]
    fn latency_adds_up_and_jobs_fail_separately() {
        let faults = Faults::from_yaml(
            "operations:\n  Op:\n    - latencyMs: 100\n    - latencyMs: 50\n    - drop: true\n      times: 1\n    - jobFailAt: 30\n      times: 1\n",
            "faults.yaml",
        )
        .unwrap();
        let first = faults.on_request("Op");
        assert_eq!(first.latency, Duration::from_millis(150));
        assert_eq!(first.injection, Some(Injection::Drop));
        assert_eq!(faults.on_request("Op").injection, None);
        assert_eq!(faults.job_fail_at("Op"), Some(30));
        assert_eq!(faults.job_fail_at("Op"), None);
    }

    #[test]
    fn probabilities_are_seeded() {
        let run = |seed| {
            let faults = Faults::new(seed);
            faults
                .add(
                    "Op",
                    FaultRule {
                        probability: Some(0.3),
                        ..respond(500)
                    },
                )
                .unwrap();
            (0..1000)
                .map(|_| faults.on_request("Op").injection.is_some())
                .collect::<Vec<_>>()
        };
        let a = run(5);
        assert_eq!(a, run(5));
        let hits = a.iter().filter(|x| **x).count();
        assert!((200..400).contains(&hits), "{hits}");
    }

    #[test]
    fn the_documented_example_parses() {
        let docs: String = include_str!("faults.rs")
            .lines()
            .take_while(|l| l.starts_with("//!"))
            .map(|l| l.trim_start_matches("//!").strip_prefix(' ').unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n");
        let example = docs
            .split("```yaml\n")
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .unwrap();
        let faults = Faults::from_yaml(example, "module docs").unwrap();
        assert_eq!(
            faults.on_request("QueryBackupStorage").latency,
            Duration::from_millis(1500)
        );
        assert_eq!(faults.job_fail_at("ReconnectBackupStorage"), Some(50));
    }

    #[test]
    fn bad_rules_are_refused_with_their_place() {
        for (yaml, message) in [
            ("operations: {Op: [{}]}", "exactly one"),
            (
                "operations: {Op: [{status: 503, drop: true}]}",
                "exactly one",
            ),
            (
                "operations: {Op: [{latencyMs: 5, retryAfter: 1}]}",
                "go with `status`",
            ),
            (
                "operations: {Op: [{status: 503, probability: 2}]}",
                "between 0 and 1",
            ),
            ("operations: {Op: [{status: 99}]}", "not an HTTP status"),
            ("operations: {Op: [{jobFailAt: 101}]}", "percentage"),
            (
                "operations: {Op: [{status: 503, colour: red}]}",
                "unknown field",
            ),
        ] {
            let error = format!("{:#}", Faults::from_yaml(yaml, "f.yaml").unwrap_err());
            assert!(error.contains(message), "{yaml}: {error}");
        }
    }

    #[test]
    fn operations_are_found_by_template() {
        let table = OperationTable::new(&[
            ("GET", "/v1/things", "List"),
            ("GET", "/v1/things/{id}", "Get"),
            ("GET", "/v1/things/special", "Special"),
            ("PUT", "/v1/things/{id}/actions", "Act"),
        ]);
        assert_eq!(table.find(&Method::GET, "/v1/things"), Some("List"));
        assert_eq!(table.find(&Method::HEAD, "/v1/things/7"), Some("Get"));
        assert_eq!(
            table.find(&Method::GET, "/v1/things/special"),
            Some("Special")
        );
        assert_eq!(
            table.find(&Method::PUT, "/v1/things/7/actions"),
            Some("Act")
        );
        assert_eq!(table.find(&Method::DELETE, "/v1/things/7"), None);
        assert_eq!(table.find(&Method::GET, "/v1/things/7/x"), None);
        let faults = Faults::from_yaml(
            "operations: {List: [{drop: true}], Lsit: [{drop: true}]}",
            "f",
        )
        .unwrap();
        assert_eq!(faults.unknown_operations(&table), ["Lsit"]);
    }
}
