//! The checks that hold for every exchange, computed from what crossed the tap: the status is
//! documented, the body matches its schema (the vendor's error envelope for errors), drift,
//! shapes; then per operation: was it exercised, which documented statuses were reached.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

use super::exchange::Exchange;
use super::redact::relative_path;
use super::report::{CheckResult, Outcome, Warning};
use super::shape;
use super::spec::{media_type, ApiSpec};

/// Scenarios whose exchanges are probes, not part of the shapes.
pub const PROBE_SCENARIOS: &[&str] = &["auth", "faults"];

/// Paths outside the spec that the suite calls on purpose (IBM's IAM token endpoint).
const OUTSIDE_SPEC: &[&str] = &[crate::emulators::ibm::TOKEN_PATH];

#[derive(Default)]
struct OpStats {
    calls: usize,
    statuses: BTreeMap<u16, (usize, String)>,
    passes: BTreeMap<&'static str, usize>,
    failures: BTreeMap<&'static str, Vec<String>>,
    request_shapes: BTreeSet<String>,
    response_shapes: BTreeMap<u16, BTreeSet<String>>,
}

impl OpStats {
    fn pass(&mut self, check: &'static str) {
        *self.passes.entry(check).or_default() += 1;
    }
    fn fail(&mut self, check: &'static str, what: String) {
        self.failures.entry(check).or_default().push(what);
    }
}

/// What the exchange-level checks found.
pub struct Analysis {
    pub results: Vec<CheckResult>,
    pub warnings: Vec<Warning>,
    /// `{operationId: {"requests": [shape...], "responses": {"200": [shape...]}}}`.
    pub shapes: Value,
}

/// Checks every exchange. `skipped` maps operations whose scenarios were skipped to why.
pub fn analyze(
    spec: &ApiSpec,
    exchanges: &[Exchange],
    skipped: &BTreeMap<String, String>,
) -> Analysis {
    let vendor = spec.vendor.name().to_string();
    let mut stats: BTreeMap<String, OpStats> = BTreeMap::new();
    let mut results = Vec::new();
    let mut drift: BTreeMap<(String, String), String> = BTreeMap::new();
    for e in exchanges {
        let path = relative_path(spec, &e.request.path);
        let Some((op, _)) = spec.find(&e.request.method, &path) else {
            if OUTSIDE_SPEC.contains(&e.request.path.as_str()) {
                continue;
            }
            results.push(CheckResult {
                vendor: vendor.clone(),
                operation_id: "(none)".into(),
                check: "route".into(),
                outcome: Outcome::Fail,
                detail: format!(
                    "#{} {}: {} {} matches no operation of the spec",
                    e.seq, e.scenario, e.request.method, e.request.path
                ),
            });
            continue;
        };
        let s = stats.entry(op.id.clone()).or_default();
        s.calls += 1;
        let at = format!(
            "#{} {}: {} {}",
            e.seq, e.scenario, e.request.method, e.request.path
        );
        let Some(response) = &e.response else {
            let error = e.error.clone().unwrap_or_default();
            let check = if error.starts_with("blocked") {
                "read-only"
            } else {
                "status"
            };
            s.fail(check, format!("{at}: {error}"));
            continue;
        };
        let status = response.status;
        let entry = s.statuses.entry(status).or_insert((0, e.scenario.clone()));
        entry.0 += 1;
        let probe = PROBE_SCENARIOS.contains(&e.scenario.as_str());
        if !probe {
            let request = shape::request_shape(spec, op, &e.request);
            s.request_shapes.insert(canonical(&request));
            s.response_shapes
                .entry(status)
                .or_default()
                .insert(canonical(&shape::response_shape(spec, op, response)));
        }
        if op.documents(status) {
            s.pass("status");
        } else {
            s.fail(
                "status",
                format!(
                    "{at} → {status}, not documented (documented: {})",
                    op.statuses.join(", ")
                ),
            );
            continue;
        }
        let body_check: &'static str = if status >= 400 {
            "error-body"
        } else {
            "schema"
        };
        if response.body.is_empty() || e.request.method == "HEAD" {
            s.pass(body_check);
            continue;
        }
        let content_type = response.header("content-type").unwrap_or("");
        match spec.response_schema(op, status, content_type) {
            Some(pointer) => {
                if media_type(content_type)
                    .to_ascii_lowercase()
                    .contains("json")
                {
                    match serde_json::from_slice::<Value>(&response.body) {
                        Ok(body) => match spec.validate(&pointer, &body) {
                            Ok(()) => {
                                s.pass(body_check);
                                if let Some(schema) = spec.doc.pointer(&pointer) {
                                    for place in shape::drift(spec, schema, &body) {
                                        drift
                                            .entry((op.id.clone(), shape::generalize(&place)))
                                            .or_insert_with(|| format!("{at} → {status}"));
                                    }
                                }
                            }
                            Err(errors) => s.fail(
                                body_check,
                                format!(
                                    "{at} → {status}: the body does not match #{pointer}:\n  {}",
                                    errors.join("\n  ")
                                ),
                            ),
                        },
                        Err(error) => {
                            s.fail(body_check, format!("{at} → {status}: not JSON ({error})"))
                        }
                    }
                } else {
                    s.pass(body_check);
                }
            }
            None if spec.response_has_content(op, status) => s.fail(
                body_check,
                format!(
                    "{at} → {status}: content type {content_type:?} is not documented for {status}"
                ),
            ),
            None => s.fail(
                body_check,
                format!(
                    "{at} → {status}: {status} documents no body, got {} bytes",
                    response.body.len()
                ),
            ),
        }
    }

    let mut shapes = Map::new();
    for op in &spec.operations {
        let s = stats.remove(&op.id).unwrap_or_default();
        let result = |check: &str, outcome: Outcome, detail: String| CheckResult {
            vendor: vendor.clone(),
            operation_id: op.id.clone(),
            check: check.to_string(),
            outcome,
            detail,
        };
        if s.calls == 0 {
            match skipped.get(&op.id) {
                Some(reason) => results.push(result("exercised", Outcome::Skip, reason.clone())),
                None => results.push(result(
                    "exercised",
                    Outcome::Fail,
                    format!("no scenario calls {} ({})", op.id, op.label()),
                )),
            }
        } else {
            results.push(result(
                "exercised",
                Outcome::Pass,
                format!("{} calls", s.calls),
            ));
        }
        for check in ["status", "schema", "error-body", "read-only"] {
            let passes = s.passes.get(check).copied().unwrap_or(0);
            match s.failures.get(check) {
                Some(failures) => {
                    let mut detail = format!(
                        "{} of {} exchanges failed",
                        failures.len(),
                        failures.len() + passes
                    );
                    for f in failures.iter().take(5) {
                        detail.push('\n');
                        detail.push_str(f);
                    }
                    if failures.len() > 5 {
                        detail.push_str(&format!("\n... and {} more", failures.len() - 5));
                    }
                    results.push(result(check, Outcome::Fail, detail));
                }
                None if passes > 0 => {
                    results.push(result(check, Outcome::Pass, format!("{passes} exchanges")))
                }
                None => {}
            }
        }
        for documented in &op.statuses {
            let Ok(code) = documented.parse::<u16>() else {
                continue;
            };
            let check = format!("status {code}");
            match s.statuses.get(&code) {
                Some((n, first)) => results.push(result(
                    &check,
                    Outcome::Pass,
                    format!("seen {n}×, first in {first}"),
                )),
                None => results.push(result(
                    &check,
                    Outcome::Unreached,
                    match skipped.get(&op.id) {
                        Some(reason) => {
                            format!("no scenario provoked {code}; some were skipped: {reason}")
                        }
                        None => format!("no scenario provokes {code}"),
                    },
                )),
            }
        }
        if s.calls > 0 {
            let parse = |set: &BTreeSet<String>| -> Vec<Value> {
                set.iter()
                    .map(|t| serde_json::from_str(t).unwrap_or(Value::Null))
                    .collect()
            };
            let mut responses = Map::new();
            for (status, set) in &s.response_shapes {
                responses.insert(status.to_string(), Value::Array(parse(set)));
            }
            if !s.request_shapes.is_empty() {
                shapes.insert(
                    op.id.clone(),
                    json!({ "requests": parse(&s.request_shapes), "responses": responses }),
                );
            }
        }
    }
    let warnings = drift
        .into_iter()
        .map(|((op, place), first)| Warning {
            vendor: vendor.clone(),
            operation_id: op,
            kind: "drift".into(),
            detail: format!("undocumented member {place} (first: {first})"),
        })
        .collect();
    Analysis {
        results,
        warnings,
        shapes: Value::Object(shapes),
    }
}

/// Sorted-key compact JSON, so equal shapes compare equal as text.
pub fn canonical(value: &Value) -> String {
    fn sort(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let sorted: BTreeMap<&String, Value> =
                    m.iter().map(|(k, v)| (k, sort(v))).collect();
                Value::Object(sorted.into_iter().map(|(k, v)| (k.clone(), v)).collect())
            }
            Value::Array(a) => Value::Array(a.iter().map(sort).collect()),
            other => other.clone(),
        }
    }
    sort(value).to_string()
}

/// Compares a run's shapes with the reviewed snapshot: each shape seen must be one the snapshot
/// holds (a live appliance may show fewer; it may not show others).
pub fn compare_shapes(
    vendor: &str,
    observed: &Value,
    snapshot: Option<&Value>,
) -> Vec<CheckResult> {
    let mut results = Vec::new();
    let Some(observed) = observed.as_object() else {
        return results;
    };
    for (op, seen) in observed {
        let result = |check: &str, outcome: Outcome, detail: String| CheckResult {
            vendor: vendor.to_string(),
            operation_id: op.clone(),
            check: check.to_string(),
            outcome,
            detail,
        };
        let Some(snapshot) = snapshot else {
            for check in ["request-shape", "response-shape"] {
                results.push(result(
                    check,
                    Outcome::Skip,
                    "no shape snapshot: run `cargo test -p conformance --test suite` and `cargo insta review`".into(),
                ));
            }
            continue;
        };
        let known = &snapshot[op.as_str()];
        let unfit = |seen: &Value, known: &Value| -> Vec<String> {
            let known: Vec<&Value> = known.as_array().into_iter().flatten().collect();
            seen.as_array()
                .into_iter()
                .flatten()
                .filter(|s| !known.iter().any(|k| fits(s, k)))
                .map(canonical)
                .collect()
        };
        let missing = unfit(&seen["requests"], &known["requests"]);
        results.push(if missing.is_empty() {
            result("request-shape", Outcome::Pass, String::new())
        } else {
            result(
                "request-shape",
                Outcome::Fail,
                format!(
                    "request shapes not in the snapshot:\n{}",
                    pretty_all(&missing)
                ),
            )
        });
        let mut missing = Vec::new();
        for (status, shapes) in seen["responses"].as_object().into_iter().flatten() {
            for s in unfit(shapes, &known["responses"][status.as_str()]) {
                missing.push(format!("{status}: {s}"));
            }
        }
        results.push(if missing.is_empty() {
            result("response-shape", Outcome::Pass, String::new())
        } else {
            result(
                "response-shape",
                Outcome::Fail,
                format!(
                    "response shapes not in the snapshot:\n{}",
                    missing.join("\n")
                ),
            )
        });
    }
    results
}

/// Whether a shape seen fits one of the snapshot: the same members with fitting shapes, and
/// arrays whose every item fits an item shape of the snapshot's array. An empty array fits any
/// array, and an array with fewer kinds of items fits one with more: what an appliance holds
/// decides which items it lists, not the API.
pub fn fits(seen: &Value, known: &Value) -> bool {
    match (seen, known) {
        (Value::Object(s), Value::Object(k)) => {
            s.len() == k.len()
                && s.iter()
                    .all(|(key, v)| k.get(key).is_some_and(|kv| fits(v, kv)))
        }
        (Value::Array(s), Value::Array(k)) => {
            s.iter().all(|item| k.iter().any(|known| fits(item, known)))
        }
        (s, k) => s == k,
    }
}

fn pretty_all(shapes: &[String]) -> String {
    shapes
        .iter()
        .map(|s| {
            serde_json::from_str::<Value>(s)
                .ok()
                .and_then(|v| serde_json::to_string_pretty(&v).ok())
                .unwrap_or_else(|| s.clone())
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn shapes_fit_when_an_appliance_lists_fewer_kinds_of_items() {
        let known = json!({"items": [{"id": "<string>"}, {"id": "<string>", "size": "<integer>"}], "state": "Running"});
        assert!(fits(&json!({"items": [], "state": "Running"}), &known));
        assert!(fits(
            &json!({"items": [{"id": "<string>"}], "state": "Running"}),
            &known
        ));
        assert!(!fits(
            &json!({"items": [{"id": "<integer>"}], "state": "Running"}),
            &known
        ));
        assert!(
            !fits(&json!({"items": [], "state": "Done"}), &known),
            "enum values are part of the shape"
        );
        assert!(!fits(
            &json!({"items": [], "state": "Running", "extra": 1}),
            &known
        ));
        assert!(
            !fits(&json!({"items": []}), &known),
            "a missing member is a different shape"
        );
        let seen = json!({"GetX": {"requests": [{"method": "GET"}], "responses": {"200": [{"items": []}]}}});
        let snapshot = json!({"GetX": {"requests": [{"method": "GET"}], "responses": {"200": [{"items": [{"id": "<string>"}]}]}}});
        let results = compare_shapes("v", &seen, Some(&snapshot));
        assert!(
            results.iter().all(|r| r.outcome == Outcome::Pass),
            "{results:?}"
        );
        let other = json!({"GetX": {"requests": [{"method": "POST"}], "responses": {"201": [{}]}}});
        let results = compare_shapes("v", &other, Some(&snapshot));
        assert!(
            results.iter().all(|r| r.outcome == Outcome::Fail),
            "{results:?}"
        );
    }
}
