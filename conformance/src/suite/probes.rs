//! Probes: requests the suite derives from what the scenarios sent.
//!
//! - Auth: for every operation that needs credentials, one request a scenario sent is sent again
//!   without its credentials and with invalid ones; the answer must be the vendor's documented
//!   refusal.
//! - Faults (embedded emulator only): a documented 5xx status that no scenario reached is
//!   injected into the emulator for one call, so the vendor's error body for it is checked too.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine;

use super::exchange::{Exchange, Log, RecordedRequest};
use super::redact::relative_path;
use super::report::{CheckResult, Outcome};
use super::spec::ApiSpec;
use crate::emulators::Vendor;
use crate::faults::{FaultRule, Faults};

/// A refusal: the status, and a text its body must hold (the vendor's error code).
type Refusal = (u16, Option<&'static str>);

/// How a vendor refuses a request without credentials and one with invalid credentials.
fn refusals(vendor: Vendor) -> (Refusal, Refusal) {
    match vendor {
        // The REST layer answers a missing `Authorization` in plain text; the API refuses an
        // unknown session with ID.1001.
        Vendor::ZStack => ((400, None), (503, Some("ID.1001"))),
        Vendor::Lxca => ((401, None), (401, None)),
        Vendor::IbmBackupRecovery => ((401, None), (401, None)),
    }
}

const CREDENTIAL_HEADERS: &[&str] = &["authorization", "cookie", "x-csrf-token"];

fn without_credentials(request: &RecordedRequest) -> RecordedRequest {
    let mut r = request.clone();
    r.headers
        .retain(|(n, _)| !CREDENTIAL_HEADERS.contains(&n.to_ascii_lowercase().as_str()));
    r
}

fn with_invalid_credentials(request: &RecordedRequest) -> RecordedRequest {
    let mut r = request.clone();
    for (name, value) in r.headers.iter_mut() {
        match name.to_ascii_lowercase().as_str() {
            "authorization" => {
                let scheme = value.split(' ').next().unwrap_or("Bearer").to_string();
                *value = if scheme.eq_ignore_ascii_case("basic") {
                    let user = base64::engine::general_purpose::STANDARD
                        .decode(value[scheme.len()..].trim())
                        .ok()
                        .and_then(|d| String::from_utf8(d).ok())
                        .and_then(|d| d.split_once(':').map(|(u, _)| u.to_string()))
                        .unwrap_or_else(|| "USERID".into());
                    format!(
                        "Basic {}",
                        base64::engine::general_purpose::STANDARD
                            .encode(format!("{user}:not-the-password"))
                    )
                } else if scheme.eq_ignore_ascii_case("oauth") {
                    "OAuth 00000000000000000000000000000000".into()
                } else {
                    format!("{scheme} conformance-invalid-credential")
                };
            }
            "cookie" => {
                *value = value
                    .split(';')
                    .map(|pair| match pair.split_once('=') {
                        Some((n, _)) => format!("{}=conformance-invalid", n.trim()),
                        None => pair.trim().to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
            }
            "x-csrf-token" => *value = "conformance-invalid".into(),
            _ => {}
        }
    }
    r
}

fn has_credentials(request: &RecordedRequest) -> bool {
    request
        .headers
        .iter()
        .any(|(n, _)| CREDENTIAL_HEADERS.contains(&n.to_ascii_lowercase().as_str()))
}

/// For each operation, the request to probe with: the first a scenario sent that was answered
/// with a success, else the first answered at all.
fn samples<'a>(spec: &ApiSpec, exchanges: &'a [Exchange]) -> BTreeMap<String, &'a Exchange> {
    let mut chosen: BTreeMap<String, &Exchange> = BTreeMap::new();
    for e in exchanges {
        if super::checks::PROBE_SCENARIOS.contains(&e.scenario.as_str()) {
            continue;
        }
        let Some(response) = &e.response else {
            continue;
        };
        let Some((op, _)) = spec.find(&e.request.method, &relative_path(spec, &e.request.path))
        else {
            continue;
        };
        let better = match chosen.get(&op.id) {
            None => true,
            Some(c) => {
                let status = c.response.as_ref().map_or(0, |r| r.status);
                !(200..300).contains(&status) && (200..300).contains(&response.status)
            }
        };
        if better {
            chosen.insert(op.id.clone(), e);
        }
    }
    chosen
}

/// Sends `request` through the tap at `origin`; the tap records it.
async fn send(http: &reqwest::Client, origin: &str, request: &RecordedRequest) {
    let url = if request.query.is_empty() {
        format!("{origin}{}", request.path)
    } else {
        format!("{origin}{}?{}", request.path, request.query)
    };
    let Ok(method) = reqwest::Method::from_bytes(request.method.as_bytes()) else {
        return;
    };
    let mut builder = http.request(method, url);
    for (name, value) in &request.headers {
        if matches!(
            name.as_str(),
            "content-length" | "host" | "connection" | "transfer-encoding"
        ) {
            continue;
        }
        builder = builder.header(name.as_str(), value.as_str());
    }
    let _ = builder.body(request.body.clone()).send().await;
}

/// Runs the auth probes; `may_send(operation)` says whether the run may send that operation's
/// request (a read-only live run may not re-send a mutation). On a replay, `recorded` holds the
/// recording's exchanges: the probes it recorded are sent again as they were (their credentials
/// are redacted, so they cannot be derived again). Returns the checks' results.
pub async fn auth(
    spec: &ApiSpec,
    log: &Arc<Log>,
    origin: &str,
    may_send: impl Fn(&super::spec::Operation) -> bool,
    recorded: Option<&[Exchange]>,
) -> Vec<CheckResult> {
    let vendor = spec.vendor;
    let (missing_status, invalid_status) = refusals(vendor);
    let exchanges = log.snapshot();
    let chosen = samples(spec, &exchanges);
    let http = reqwest::Client::new();
    log.set_scenario("auth");
    let mut results = Vec::new();
    for op in &spec.operations {
        let result = |check: &str, outcome: Outcome, detail: String| CheckResult {
            vendor: vendor.name().into(),
            operation_id: op.id.clone(),
            check: check.to_string(),
            outcome,
            detail,
        };
        if !op.needs_auth {
            continue;
        }
        let Some(sample) = chosen.get(&op.id) else {
            for check in ["auth-missing", "auth-invalid"] {
                results.push(result(
                    check,
                    Outcome::Skip,
                    "no request of this operation to probe with".into(),
                ));
            }
            continue;
        };
        if !may_send(op) {
            for check in ["auth-missing", "auth-invalid"] {
                results.push(result(
                    check,
                    Outcome::Skip,
                    "read-only run: the probe would re-send a mutation".into(),
                ));
            }
            continue;
        }
        let replayed: Option<Vec<&RecordedRequest>> = recorded.map(|exchanges| {
            exchanges
                .iter()
                .filter(|e| {
                    e.scenario == "auth"
                        && spec
                            .find(&e.request.method, &relative_path(spec, &e.request.path))
                            .is_some_and(|(o, _)| o.id == op.id)
                })
                .map(|e| &e.request)
                .collect()
        });
        if replayed.as_ref().is_some_and(|r| r.len() < 2) {
            for check in ["auth-missing", "auth-invalid"] {
                results.push(result(
                    check,
                    Outcome::Skip,
                    "the recording has no probe of this operation".into(),
                ));
            }
            continue;
        }
        if replayed.is_none() && !has_credentials(&sample.request) {
            for check in ["auth-missing", "auth-invalid"] {
                results.push(result(
                    check,
                    Outcome::Fail,
                    format!(
                        "#{}: the scenario's request carried no credentials, yet was answered {}",
                        sample.seq,
                        sample.response.as_ref().map_or(0, |r| r.status)
                    ),
                ));
            }
            continue;
        }
        let (missing, invalid) = match &replayed {
            Some(r) => (r[0].clone(), r[1].clone()),
            None => (
                without_credentials(&sample.request),
                with_invalid_credentials(&sample.request),
            ),
        };
        for (check, request, expected) in [
            ("auth-missing", missing, missing_status),
            ("auth-invalid", invalid, invalid_status),
        ] {
            let before = log.len();
            send(&http, origin, &request).await;
            let answer = log.since(before).into_iter().next();
            let (expected, code) = expected;
            let response = answer.as_ref().and_then(|e| e.response.as_ref());
            let status = response.map(|r| r.status);
            let documented = status.is_some_and(|s| op.documents(s));
            let has_code = code.is_none_or(|c| {
                response.is_some_and(|r| String::from_utf8_lossy(&r.body).contains(c))
            });
            let ok = status == Some(expected) && documented && has_code;
            let detail = match (status, &answer) {
                (Some(s), Some(e)) => format!(
                    "#{} {} {} → {s} (expected {expected}{}{}{})",
                    e.seq,
                    e.request.method,
                    e.request.path,
                    code.map(|c| format!(" with {c}")).unwrap_or_default(),
                    if documented {
                        ""
                    } else {
                        "; it is not documented"
                    },
                    if has_code {
                        ""
                    } else {
                        "; the body lacks the code"
                    }
                ),
                _ => "no answer".into(),
            };
            results.push(result(
                check,
                if ok { Outcome::Pass } else { Outcome::Fail },
                detail,
            ));
        }
    }
    results
}

/// Injects each documented 5xx status no scenario reached, once per operation, and re-sends a
/// scenario's request so the vendor's error body for it is seen.
pub async fn faults(spec: &ApiSpec, log: &Arc<Log>, origin: &str, faults: &Faults) {
    let exchanges = log.snapshot();
    let chosen = samples(spec, &exchanges);
    let http = reqwest::Client::new();
    log.set_scenario("faults");
    for op in &spec.operations {
        let Some(sample) = chosen.get(&op.id) else {
            continue;
        };
        for documented in &op.statuses {
            let Ok(status) = documented.parse::<u16>() else {
                continue;
            };
            if status < 500 {
                continue;
            }
            let reached = exchanges.iter().any(|e| {
                e.response.as_ref().is_some_and(|r| r.status == status)
                    && spec
                        .find(&e.request.method, &relative_path(spec, &e.request.path))
                        .is_some_and(|(o, _)| o.id == op.id)
            });
            if reached {
                continue;
            }
            let rule = FaultRule {
                times: Some(1),
                status: Some(status),
                retry_after: (status == 503).then_some(1),
                ..Default::default()
            };
            if faults.add(&op.id, rule).is_ok() {
                send(&http, origin, &sample.request).await;
            }
        }
    }
}
