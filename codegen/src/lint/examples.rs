//! Examples, defaults and real response bodies validate against their schemas.

use serde_json::Value;

use super::{is_json, is_success, Fixture, Lint};
use crate::diagnostic::{Diagnostic, Severity};
use crate::source::{push_token, SourceDocument};
use crate::walk::{follow, walk, Kind};

pub(super) fn check(lint: &mut Lint<'_>) {
    // (where the example is written, the schema it must satisfy, the example)
    let mut cases: Vec<(String, String, Value)> = Vec::new();
    walk(lint.doc, &mut |node| {
        if node.reference.is_some() {
            return;
        }
        match node.kind {
            Kind::Schema => {
                for key in ["example", "default"] {
                    if let Some(v) = node.value.get(key) {
                        cases.push((
                            push_token(node.pointer, key),
                            node.pointer.to_string(),
                            v.clone(),
                        ));
                    }
                }
            }
            Kind::Parameter | Kind::Header | Kind::MediaType => {
                if node.value.get("schema").is_none() {
                    return;
                }
                let schema = push_token(node.pointer, "schema");
                if let Some(v) = node.value.get("example") {
                    cases.push((
                        push_token(node.pointer, "example"),
                        schema.clone(),
                        v.clone(),
                    ));
                }
                let examples = node.value.get("examples").and_then(Value::as_object);
                for (name, example) in examples.into_iter().flatten() {
                    let at = push_token(&push_token(node.pointer, "examples"), name);
                    if let Some(v) = follow(lint.doc, example).and_then(|e| e.get("value")) {
                        cases.push((push_token(&at, "value"), schema.clone(), v.clone()));
                    }
                }
            }
            _ => {}
        }
    });
    for (at, schema, value) in cases {
        if let Err(errors) = lint.checker.check(&schema, &value) {
            let what = if at.ends_with("/default") {
                "default"
            } else {
                "example"
            };
            for e in errors {
                lint.error(
                    &at,
                    format!("{what} does not validate against its schema: {e}"),
                );
            }
        }
    }
}

/// Each fixture body validates against its operation's lowest 2xx JSON response. Problems are
/// reported in the fixture file, at the line of the offending value.
pub(super) fn check_fixtures(lint: &mut Lint<'_>, fixtures: &[Fixture<'_>]) {
    for fixture in fixtures {
        let at = |line: usize, pointer: &str, message: String| Diagnostic {
            file: fixture.file.to_string(),
            line,
            pointer: pointer.to_string(),
            severity: Severity::Error,
            message,
        };
        let body = match SourceDocument::parse(fixture.text) {
            Ok(body) => body,
            Err(e) => {
                lint.out.push(at(e.line, &e.pointer, e.message));
                continue;
            }
        };
        let Some(op) = lint.operation(fixture.operation_id) else {
            let message = format!("fixture for unknown operation `{}`", fixture.operation_id);
            lint.out.push(at(1, "", message));
            continue;
        };
        let mut target = None;
        let mut statuses: Vec<&str> = op
            .responses(lint.doc)
            .into_iter()
            .map(|(s, _, _)| s)
            .collect();
        statuses.sort();
        for status in statuses.into_iter().filter(|s| is_success(s)) {
            let content = op
                .value
                .get("responses")
                .and_then(|r| r.get(status))
                .and_then(|r| follow(lint.doc, r))
                .and_then(|r| r.get("content"))
                .and_then(Value::as_object);
            if let Some(ct) = content
                .into_iter()
                .flatten()
                .map(|(ct, _)| ct)
                .find(|ct| is_json(ct))
            {
                target = op.response_schema_pointer(lint.doc, status, ct);
                break;
            }
        }
        let Some(schema) = target else {
            let message = format!(
                "operation `{}` has no 2xx JSON response to check the fixture against",
                fixture.operation_id
            );
            lint.out.push(at(1, "", message));
            continue;
        };
        if let Err(errors) = lint.checker.check(&schema, &body.value) {
            for e in errors {
                let instance = e
                    .strip_prefix("at ")
                    .and_then(|rest| rest.split_once(": "))
                    .map(|(p, _)| if p == "/" { "" } else { p })
                    .unwrap_or("");
                let message = format!("does not validate against #{schema}: {e}");
                lint.out.push(at(body.line_of(instance), instance, message));
            }
        }
    }
}
