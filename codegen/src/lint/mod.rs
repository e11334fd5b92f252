//! `cargo xtask lint`: the checks a spec must pass beyond being valid OpenAPI.
//!
//! Each submodule checks one concern and pushes diagnostics into a shared [`Lint`] context. The
//! result is sorted, so the output of a run is stable and CI diffs stay readable.

mod components;
mod examples;
mod jobs;
mod operations;
mod refs;
mod secrets;
mod validation_errors;

use serde_json::Value;

use crate::diagnostic::{self, Diagnostic, Severity};
use crate::load::Spec;
use crate::schema_check::SchemaChecker;
use crate::source::push_token;
use crate::walk::{follow, METHODS};

/// A real response body for one operation, checked against the spec (`specs/fixtures/...`).
pub struct Fixture<'a> {
    /// How diagnostics name the fixture file.
    pub file: &'a str,
    pub operation_id: &'a str,
    pub text: &'a str,
}

/// Runs every check on a loaded spec. Errors fail the lint; warnings are printed only.
pub fn lint(spec: &Spec, fixtures: &[Fixture<'_>]) -> Vec<Diagnostic> {
    let mut lint = Lint {
        spec,
        doc: spec.value(),
        operations: operations(spec.value()),
        checker: SchemaChecker::new(spec.value()),
        out: Vec::new(),
    };
    refs::check(&mut lint);
    operations::check(&mut lint);
    examples::check(&mut lint);
    examples::check_fixtures(&mut lint, fixtures);
    jobs::check(&mut lint);
    validation_errors::check(&mut lint);
    secrets::check(&mut lint);
    components::check(&mut lint);
    let mut out = lint.out;
    diagnostic::sort(&mut out);
    out
}

struct Lint<'a> {
    spec: &'a Spec,
    doc: &'a Value,
    operations: Vec<Operation<'a>>,
    checker: SchemaChecker,
    out: Vec<Diagnostic>,
}

impl Lint<'_> {
    fn error(&mut self, pointer: &str, message: impl Into<String>) {
        let d = self.spec.diagnostic(Severity::Error, pointer, message);
        self.out.push(d);
    }

    fn operation(&self, id: &str) -> Option<&Operation<'_>> {
        self.operations.iter().find(|op| op.id == Some(id))
    }
}

/// An operation of the raw document, with what lint needs to find its parts.
struct Operation<'a> {
    pointer: String,
    path: &'a str,
    path_item: &'a Value,
    value: &'a Value,
    id: Option<&'a str>,
}

impl<'a> Operation<'a> {
    /// Declared responses as (status, pointer, response with `$ref` followed).
    fn responses(&self, doc: &'a Value) -> Vec<(&'a str, String, Option<&'a Value>)> {
        let base = push_token(&self.pointer, "responses");
        self.value
            .get("responses")
            .and_then(Value::as_object)
            .map(|map| {
                map.iter()
                    .filter(|(status, _)| !status.starts_with("x-"))
                    .map(|(status, r)| (status.as_str(), push_token(&base, status), follow(doc, r)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The schema pointer of a response's content for `content_type`, following a response `$ref`.
    fn response_schema_pointer(
        &self,
        doc: &'a Value,
        status: &str,
        content_type: &str,
    ) -> Option<String> {
        let response = self.value.get("responses")?.get(status)?;
        let mut pointer = push_token(&push_token(&self.pointer, "responses"), status);
        if let Some(r) = response.get("$ref").and_then(Value::as_str) {
            pointer = r.strip_prefix('#')?.to_string();
        }
        let resolved = follow(doc, response)?;
        let schema_pointer = push_token(
            &push_token(&push_token(&pointer, "content"), content_type),
            "schema",
        );
        resolved.get("content")?.get(content_type)?.get("schema")?;
        Some(schema_pointer)
    }

    /// Parameters that apply (operation-level ones override path-level ones of the same name and
    /// location), with `$ref`s followed.
    fn parameters(&self, doc: &'a Value) -> Vec<&'a Value> {
        let mut out: Vec<&'a Value> = Vec::new();
        for source in [self.value, self.path_item] {
            for p in source
                .get("parameters")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some(p) = follow(doc, p) else { continue };
                let key = (p.get("name"), p.get("in"));
                if !out.iter().any(|q| (q.get("name"), q.get("in")) == key) {
                    out.push(p);
                }
            }
        }
        out
    }

    fn label(&self) -> String {
        match self.id {
            Some(id) => format!("operation `{id}`"),
            None => format!("operation at `{}`", self.path),
        }
    }
}

fn operations(doc: &Value) -> Vec<Operation<'_>> {
    let mut out = Vec::new();
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
        return out;
    };
    for (path, item) in paths {
        let item_pointer = push_token("/paths", path);
        for method in METHODS {
            if let Some(op) = item.get(method) {
                out.push(Operation {
                    pointer: push_token(&item_pointer, method),
                    path,
                    path_item: item,
                    value: op,
                    id: op.get("operationId").and_then(Value::as_str),
                });
            }
        }
    }
    out
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    essence == "application/json" || essence.ends_with("+json")
}

fn is_success(status: &str) -> bool {
    status.starts_with('2')
}

fn is_error(status: &str) -> bool {
    status.starts_with('4') || status.starts_with('5')
}

/// Status codes written as strings in a list extension (`x-error-responses: [400, "401"]`).
fn status_list(value: &Value) -> Option<Vec<String>> {
    value
        .as_array()?
        .iter()
        .map(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests;
