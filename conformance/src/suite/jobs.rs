//! Job semantics, from each operation's `x-job`: every job a scenario started is found in the
//! exchanges, its polls are read in order, and its states must move only along the declared
//! transitions; at least one job per operation must be seen to reach a terminal state.

use codegen::extensions::{HandleFormat, HandleLocation, StateLocation, StateMeaning};
use serde_json::Value;

use super::exchange::Exchange;
use super::redact::relative_path;
use super::report::{CheckResult, Outcome};
use super::spec::ApiSpec;

pub fn check(
    spec: &ApiSpec,
    exchanges: &[Exchange],
    skipped: &std::collections::BTreeMap<String, String>,
) -> Vec<CheckResult> {
    let vendor = spec.vendor.name();
    let ops_of: Vec<Option<(String, std::collections::BTreeMap<String, String>)>> = exchanges
        .iter()
        .map(|e| {
            spec.find(&e.request.method, &relative_path(spec, &e.request.path))
                .map(|(op, params)| (op.id.clone(), params))
        })
        .collect();
    let mut results = Vec::new();
    for op in spec.operations.iter().filter(|o| o.job.is_some()) {
        let job = op.job.as_ref().unwrap();
        let mut started = 0;
        let mut terminal = 0;
        let mut problems = Vec::new();
        let mut seen_states = Vec::new();
        for (i, e) in exchanges.iter().enumerate() {
            if ops_of[i].as_ref().map(|(id, _)| id) != Some(&op.id) {
                continue;
            }
            let Some(response) = &e.response else {
                continue;
            };
            if response.status.to_string() != job.handle.status {
                continue;
            }
            let raw = match job.handle.location {
                HandleLocation::Body => response.json().and_then(|b| {
                    b.pointer(job.handle.pointer.as_deref().unwrap_or(""))
                        .cloned()
                }),
                HandleLocation::Header => job
                    .handle
                    .header
                    .as_deref()
                    .and_then(|h| response.header(h))
                    .map(|v| Value::String(v.to_string())),
            };
            // An answer without a handle started no job (LXCA's cancel of a push answers 200
            // without `jobId`); a handle the schema requires is the schema check's business.
            let Some(raw) = raw.filter(|v| !v.is_null() && v != "") else {
                continue;
            };
            let handle = match &raw {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let handle = match job.handle.format {
                HandleFormat::Id => handle,
                HandleFormat::Url => handle.rsplit('/').next().unwrap_or("").to_string(),
            };
            started += 1;
            // The polls of this job, in order.
            let mut states: Vec<String> = Vec::new();
            for (j, p) in exchanges.iter().enumerate().skip(i + 1) {
                let Some((id, params)) = &ops_of[j] else {
                    continue;
                };
                if *id != job.poll.operation_id {
                    continue;
                }
                let matches = params
                    .get(&job.poll.parameter)
                    .is_some_and(|v| v == &handle || v.split(',').any(|part| part == handle))
                    || p.request
                        .query_pairs()
                        .iter()
                        .any(|(k, v)| *k == job.poll.parameter && *v == handle);
                if !matches {
                    continue;
                }
                let Some(answer) = &p.response else { continue };
                let state = match job.state.location {
                    StateLocation::Status => Some(answer.status.to_string()),
                    StateLocation::Body => answer.json().and_then(|b| {
                        let pointer = job.state.pointer.as_deref().unwrap_or("");
                        b.pointer(pointer)
                            .or_else(|| b.pointer(&format!("/0{pointer}")))
                            .and_then(Value::as_str)
                            .map(str::to_string)
                    }),
                };
                if let Some(state) = state {
                    if states.last() != Some(&state) {
                        states.push(state);
                    }
                }
            }
            for state in &states {
                if job.states.meaning(state).is_none() {
                    problems.push(format!(
                        "job {handle}: state {state:?} is not declared in x-job.states"
                    ));
                }
            }
            for pair in states.windows(2) {
                let (from, to) = (&pair[0], &pair[1]);
                // Polls sample the job: a state between two polls may go unseen, so `to` must be
                // reachable from `from` along the declared transitions, not necessarily adjacent.
                let allowed = job.transitions.is_empty()
                    || reachable(&job.transitions, from, to)
                    // A terminal state may be followed by expiry.
                    || job.states.meaning(to) == Some(StateMeaning::Expired);
                if !allowed {
                    problems.push(format!(
                        "job {handle}: {from} → {to} is not an allowed transition"
                    ));
                }
            }
            if states
                .last()
                .and_then(|s| job.states.meaning(s))
                .is_some_and(|m| m != StateMeaning::Running)
            {
                terminal += 1;
            }
            seen_states.push(format!("{handle}: {}", states.join(" → ")));
        }
        let result = |outcome: Outcome, detail: String| CheckResult {
            vendor: vendor.to_string(),
            operation_id: op.id.clone(),
            check: "job".into(),
            outcome,
            detail,
        };
        let traces = seen_states
            .iter()
            .take(8)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n");
        if !problems.is_empty() {
            results.push(result(
                Outcome::Fail,
                format!("{}\n{traces}", problems.join("\n")),
            ));
        } else if started == 0 {
            results.push(match skipped.get(&op.id) {
                Some(reason) => result(Outcome::Skip, reason.clone()),
                None => result(Outcome::Fail, "no scenario started a job".into()),
            });
        } else if terminal == 0 {
            results.push(result(
                Outcome::Fail,
                format!("{started} jobs started, none seen in a terminal state\n{traces}"),
            ));
        } else {
            results.push(result(
                Outcome::Pass,
                format!("{started} jobs, {terminal} followed to a terminal state\n{traces}"),
            ));
        }
    }
    results
}

/// Whether `to` can follow `from` through one or more declared transitions.
fn reachable(
    transitions: &std::collections::BTreeMap<String, Vec<String>>,
    from: &str,
    to: &str,
) -> bool {
    let mut seen = std::collections::BTreeSet::new();
    let mut queue = vec![from.to_string()];
    while let Some(state) = queue.pop() {
        for next in transitions.get(&state).into_iter().flatten() {
            if next == to {
                return true;
            }
            if seen.insert(next.clone()) {
                queue.push(next.clone());
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unseen_intermediate_states_are_allowed_but_backward_moves_are_not() {
        let transitions: std::collections::BTreeMap<String, Vec<String>> = [
            ("Accepted", vec!["Running", "Canceled"]),
            ("Running", vec!["Succeeded", "Failed", "Canceled"]),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.into_iter().map(String::from).collect()))
        .collect();
        assert!(reachable(&transitions, "Accepted", "Running"));
        assert!(reachable(&transitions, "Accepted", "Succeeded"));
        assert!(!reachable(&transitions, "Succeeded", "Running"));
        assert!(!reachable(&transitions, "Running", "Accepted"));
        assert!(!reachable(&transitions, "Running", "Running"));
    }
}
