//! Operations: ids present and unique, path templates matched by parameters, a success response,
//! every documented status declared, and every JSON error body using the vendor's error schema.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{is_error, is_json, is_success, status_list, Lint};
use crate::source::push_token;

pub(super) fn check(lint: &mut Lint<'_>) {
    let error_schema = error_schema(lint);
    let required_everywhere = match lint.doc.get("x-error-responses") {
        None => Vec::new(),
        Some(v) => status_list(v).unwrap_or_else(|| {
            lint.error(
                "/x-error-responses",
                "`x-error-responses` must be a list of status codes",
            );
            Vec::new()
        }),
    };

    let mut first_seen: BTreeMap<&str, String> = BTreeMap::new();
    let mut problems: Vec<(String, String)> = Vec::new();
    for op in &lint.operations {
        match op.id {
            None => problems.push((op.pointer.clone(), "operation has no operationId".into())),
            Some(id) => match first_seen.get(id) {
                Some(first) => problems.push((
                    push_token(&op.pointer, "operationId"),
                    format!("duplicate operationId `{id}` (first used at #{first})"),
                )),
                None => {
                    first_seen.insert(id, op.pointer.clone());
                }
            },
        }

        let responses = op.responses(lint.doc);
        if !responses.iter().any(|(status, _, _)| is_success(status)) {
            problems.push((
                push_token(&op.pointer, "responses"),
                format!("{} has no success (2xx) response", op.label()),
            ));
        }

        let mut documented = required_everywhere.clone();
        if let Some(v) = op.value.get("x-documented-statuses") {
            match status_list(v) {
                Some(list) => documented.extend(list),
                None => problems.push((
                    push_token(&op.pointer, "x-documented-statuses"),
                    "`x-documented-statuses` must be a list of status codes".into(),
                )),
            }
        }
        documented.sort();
        documented.dedup();
        for status in documented {
            if !responses.iter().any(|(s, _, _)| *s == status) {
                problems.push((
                    push_token(&op.pointer, "responses"),
                    format!(
                        "{} does not declare the documented response {status}",
                        op.label()
                    ),
                ));
            }
        }

        if let Some(error_schema) = &error_schema {
            for (status, pointer, response) in &responses {
                if !is_error(status) {
                    continue;
                }
                let content = response
                    .and_then(|r| r.get("content"))
                    .and_then(Value::as_object);
                for (content_type, media) in content.into_iter().flatten() {
                    if !is_json(content_type) {
                        continue;
                    }
                    let reference = media
                        .get("schema")
                        .and_then(|s| s.get("$ref"))
                        .and_then(Value::as_str);
                    if reference != Some(error_schema.as_str()) {
                        problems.push((
                            pointer.clone(),
                            format!("error response {status} ({content_type}) does not use the error schema `{error_schema}`"),
                        ));
                    }
                }
            }
        }

        check_path_parameters(lint, op, &mut problems);
    }
    for (pointer, message) in problems {
        lint.error(&pointer, message);
    }
}

/// `x-error-schema`, when declared and resolvable.
fn error_schema(lint: &mut Lint<'_>) -> Option<String> {
    let value = lint.doc.get("x-error-schema")?;
    let Some(reference) = value.as_str() else {
        lint.error(
            "/x-error-schema",
            "`x-error-schema` must be a `$ref` string such as '#/components/schemas/Error'",
        );
        return None;
    };
    let resolves = reference
        .strip_prefix('#')
        .and_then(|p| lint.doc.pointer(p))
        .is_some();
    if !resolves {
        lint.error(
            "/x-error-schema",
            format!("`x-error-schema` `{reference}` does not resolve"),
        );
        return None;
    }
    Some(reference.to_string())
}

/// Each `{name}` of the path template has a path parameter, and each path parameter a `{name}`.
fn check_path_parameters(
    lint: &Lint<'_>,
    op: &super::Operation<'_>,
    problems: &mut Vec<(String, String)>,
) {
    let template: Vec<&str> = op
        .path
        .split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
        .collect();
    let declared: Vec<&str> = op
        .parameters(lint.doc)
        .into_iter()
        .filter(|p| p.get("in").and_then(Value::as_str) == Some("path"))
        .filter_map(|p| p.get("name").and_then(Value::as_str))
        .collect();
    for name in &template {
        if !declared.contains(name) {
            problems.push((
                op.pointer.clone(),
                format!(
                    "path template variable `{{{name}}}` has no path parameter in {}",
                    op.label()
                ),
            ));
        }
    }
    for name in declared {
        if !template.contains(&name) {
            problems.push((
                op.pointer.clone(),
                format!(
                    "path parameter `{name}` does not appear in the path template `{}`",
                    op.path
                ),
            ));
        }
    }
}
