//! `x-job`: every operation, parameter, field and state it names exists, and its transitions are sane.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{is_json, is_success, Lint, Operation};
use crate::extensions::{
    self, HandleLocation, Job, OperationParameter, StateLocation, StateMeaning,
};
use crate::source::{push_token, unescape_token};
use crate::walk::follow;

pub(super) fn check(lint: &mut Lint<'_>) {
    let mut problems: Vec<(String, String)> = Vec::new();
    for op in &lint.operations {
        let Some(raw) = op.value.get("x-job") else {
            continue;
        };
        let base = push_token(&op.pointer, "x-job");
        let job: Job = match extensions::parse(raw) {
            Ok(job) => job,
            Err((pointer, message)) => {
                problems.push((
                    format!("{base}{pointer}"),
                    format!("malformed x-job: {message}"),
                ));
                continue;
            }
        };
        check_job(lint, op, &base, &job, &mut problems);
    }
    for (pointer, message) in problems {
        lint.error(&pointer, message);
    }
}

fn check_job(
    lint: &Lint<'_>,
    op: &Operation<'_>,
    base: &str,
    job: &Job,
    problems: &mut Vec<(String, String)>,
) {
    let mut say = |at: &str, message: String| problems.push((format!("{base}{at}"), message));

    // Where the handle comes from.
    let handle = &job.handle;
    let response = op
        .value
        .get("responses")
        .and_then(|r| r.get(&handle.status));
    match (response, handle.location) {
        (None, _) => say(
            "/handle/status",
            format!(
                "the job handle's response {} is not declared",
                handle.status
            ),
        ),
        (Some(_), HandleLocation::Body) => match &handle.pointer {
            None => say("/handle", "a handle `in: body` needs a `pointer`".into()),
            Some(pointer) => match json_schema_of(lint, op, &handle.status) {
                None => say(
                    "/handle/status",
                    format!(
                        "response {} has no JSON body to read the handle from",
                        handle.status
                    ),
                ),
                Some(schema) => {
                    if field(lint.doc, schema, pointer).is_empty() {
                        say(
                            "/handle/pointer",
                            format!("`{pointer}` is not a field of response {}", handle.status),
                        );
                    }
                }
            },
        },
        (Some(response), HandleLocation::Header) => match &handle.header {
            None => say(
                "/handle",
                "a handle `in: header` needs a `header` name".into(),
            ),
            Some(name) => {
                let declared = follow(lint.doc, response)
                    .and_then(|r| r.get("headers"))
                    .and_then(Value::as_object)
                    .is_some_and(|h| h.keys().any(|k| k.eq_ignore_ascii_case(name)));
                if !declared {
                    say(
                        "/handle/header",
                        format!(
                            "response {} does not declare header `{name}`",
                            handle.status
                        ),
                    );
                }
            }
        },
    }

    // The poll operation and its parameter.
    let poll = check_operation_parameter(lint, op, &job.poll, "/poll", &mut say);

    // The states, where they are read, and that they exist there.
    let states = job.states.all();
    let mut seen = BTreeSet::new();
    for (state, _) in &states {
        if !seen.insert(*state) {
            say(
                "/states",
                format!("state `{state}` is listed more than once"),
            );
        }
    }
    if job.states.succeeded.is_empty() {
        say(
            "/states/succeeded",
            "a job needs at least one succeeded state".into(),
        );
    }
    if let Some(poll) = poll {
        match job.state.location {
            StateLocation::Status => {
                let declared: Vec<&str> = poll
                    .responses(lint.doc)
                    .into_iter()
                    .map(|(s, _, _)| s)
                    .collect();
                for (state, _) in &states {
                    if !declared.contains(state) {
                        say(
                            "/states",
                            format!(
                                "state `{state}` is not a declared status of `{}`",
                                job.poll.operation_id
                            ),
                        );
                    }
                }
            }
            StateLocation::Body => {
                match &job.state.pointer {
                    None => say("/state", "a state `in: body` needs a `pointer`".into()),
                    Some(pointer) => {
                        let schema = success_json_status(lint, poll)
                            .and_then(|s| json_schema_of(lint, poll, s));
                        match schema {
                            None => say(
                                "/state",
                                format!(
                                    "`{}` has no JSON success response to read the state from",
                                    job.poll.operation_id
                                ),
                            ),
                            Some(schema) => {
                                let leaves = field(lint.doc, schema, pointer);
                                let allowed: BTreeSet<String> = leaves
                                    .iter()
                                    .filter_map(|l| l.get("enum").and_then(Value::as_array))
                                    .flatten()
                                    .filter_map(|v| v.as_str().map(str::to_string))
                                    .collect();
                                if leaves.is_empty() {
                                    say(
                                        "/state/pointer",
                                        format!(
                                            "`{pointer}` is not a field of `{}`'s response",
                                            job.poll.operation_id
                                        ),
                                    );
                                } else if allowed.is_empty() {
                                    say("/state/pointer", format!("`{pointer}` has no enum, so the states cannot be checked"));
                                } else {
                                    for (state, _) in &states {
                                        if !allowed.contains(*state) {
                                            say(
                                                "/states",
                                                format!(
                                                    "state `{state}` is not a value of `{pointer}`"
                                                ),
                                            );
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    // Transitions move between listed states; terminal states move only to expiry.
    for (from, targets) in &job.transitions {
        let at = format!("/transitions/{}", crate::source::escape_token(from));
        let Some(from_meaning) = job.states.meaning(from) else {
            say(&at, format!("transition from unknown state `{from}`"));
            continue;
        };
        for to in targets {
            match job.states.meaning(to) {
                None => say(&at, format!("transition to unknown state `{to}`")),
                Some(to_meaning) => {
                    let terminal = matches!(
                        from_meaning,
                        StateMeaning::Succeeded | StateMeaning::Failed | StateMeaning::Cancelled
                    );
                    let leaves_terminal = to != from && to_meaning != StateMeaning::Expired;
                    if (terminal && leaves_terminal)
                        || (from_meaning == StateMeaning::Expired && to != from)
                    {
                        say(&at, format!("`{from}` is terminal: it may only move to an expired state, not to `{to}`"));
                    }
                }
            }
        }
    }

    if let Some(cancel) = &job.cancel {
        check_operation_parameter(lint, op, cancel, "/cancel", &mut say);
    }
}

fn check_operation_parameter<'l>(
    lint: &'l Lint<'_>,
    start: &Operation<'_>,
    target: &OperationParameter,
    at: &str,
    say: &mut dyn FnMut(&str, String),
) -> Option<&'l Operation<'l>> {
    let Some(op) = lint.operation(&target.operation_id) else {
        say(
            &format!("{at}/operationId"),
            format!("no operation has operationId `{}`", target.operation_id),
        );
        return None;
    };
    let has = op
        .parameters(lint.doc)
        .iter()
        .any(|p| p.get("name").and_then(Value::as_str) == Some(target.parameter.as_str()));
    if !has {
        say(
            &format!("{at}/parameter"),
            format!(
                "`{}` has no parameter `{}`",
                target.operation_id, target.parameter
            ),
        );
    }
    let names = |op: &Operation<'_>| -> Vec<String> {
        op.parameters(lint.doc)
            .iter()
            .filter_map(|p| p.get("name").and_then(Value::as_str).map(str::to_string))
            .collect()
    };
    let (theirs, ours) = (names(op), names(start));
    for (their, our) in &target.from_request {
        let key = crate::source::escape_token(their);
        if !theirs.contains(their) {
            say(
                &format!("{at}/fromRequest/{key}"),
                format!("`{}` has no parameter `{their}`", target.operation_id),
            );
        }
        if !ours.contains(our) {
            say(
                &format!("{at}/fromRequest/{key}"),
                format!("the starting operation has no parameter `{our}`"),
            );
        }
    }
    Some(op)
}

/// The lowest 2xx status with a JSON body.
fn success_json_status<'a>(lint: &Lint<'a>, op: &Operation<'a>) -> Option<&'a str> {
    let mut statuses: Vec<&str> = op
        .responses(lint.doc)
        .into_iter()
        .map(|(s, _, _)| s)
        .collect();
    statuses.sort();
    statuses
        .into_iter()
        .filter(|s| is_success(s))
        .find(|s| json_schema_of(lint, op, s).is_some())
}

fn json_schema_of<'a>(lint: &Lint<'a>, op: &Operation<'a>, status: &str) -> Option<&'a Value> {
    let response = follow(lint.doc, op.value.get("responses")?.get(status)?)?;
    let content = response.get("content")?.as_object()?;
    let (_, media) = content.iter().find(|(ct, _)| is_json(ct))?;
    media.get("schema")
}

/// The schemas a JSON pointer into a value of `schema` can land on, through `$ref`, composition,
/// `properties`, `additionalProperties` and (for numeric tokens) `items`. Empty when it names nothing.
pub(crate) fn field<'a>(doc: &'a Value, schema: &'a Value, pointer: &str) -> Vec<&'a Value> {
    let mut current = expand(doc, schema, 0);
    for token in pointer.split('/').skip(1).map(unescape_token) {
        let index = token == "-" || token.parse::<usize>().is_ok();
        let mut next = Vec::new();
        for s in current {
            let child = if index {
                s.get("items")
            } else {
                s.get("properties")
                    .and_then(|p| p.get(&token))
                    .or_else(|| s.get("additionalProperties").filter(|a| a.is_object()))
            };
            if let Some(child) = child {
                next.extend(expand(doc, child, 0));
            }
        }
        current = next;
    }
    current
}

fn expand<'a>(doc: &'a Value, schema: &'a Value, depth: usize) -> Vec<&'a Value> {
    if depth > 16 {
        return Vec::new();
    }
    let Some(schema) = follow(doc, schema) else {
        return Vec::new();
    };
    let mut out = vec![schema];
    for key in ["allOf", "oneOf", "anyOf"] {
        for branch in schema
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            out.extend(expand(doc, branch, depth + 1));
        }
    }
    out
}
