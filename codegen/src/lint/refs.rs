//! Every `$ref` resolves, points at the right kind of object, and no chain of `$ref`s loops.

use serde_json::Value;

use super::Lint;
use crate::source::push_token;
use crate::walk::{walk, Kind};

pub(super) fn check(lint: &mut Lint<'_>) {
    let mut refs: Vec<(String, Kind, String)> = Vec::new();
    walk(lint.doc, &mut |node| {
        if let Some(r) = node.reference {
            refs.push((node.pointer.to_string(), node.kind, r.to_string()));
        }
        if node.kind == Kind::Schema {
            let mapping = node
                .value
                .get("discriminator")
                .and_then(|d| d.get("mapping"));
            for (name, target) in mapping.and_then(Value::as_object).into_iter().flatten() {
                if let Some(t) = target.as_str().filter(|t| t.starts_with('#')) {
                    let at = push_token(
                        &push_token(&push_token(node.pointer, "discriminator"), "mapping"),
                        name,
                    );
                    refs.push((at, Kind::Schema, t.to_string()));
                }
            }
        }
    });
    for (pointer, kind, reference) in &refs {
        check_one(lint, pointer, *kind, reference);
    }
    check_security(lint);
}

fn check_one(lint: &mut Lint<'_>, pointer: &str, kind: Kind, reference: &str) {
    let Some(target) = reference.strip_prefix('#') else {
        lint.error(pointer, format!("external $ref `{reference}` is not supported: only `#/...` references within the file"));
        return;
    };
    if lint.doc.pointer(target).is_none() {
        lint.error(pointer, format!("$ref `{reference}` does not resolve"));
        return;
    }
    if let Some(section) = target
        .strip_prefix("/components/")
        .and_then(|t| t.split('/').next())
    {
        let expected = match kind {
            Kind::Schema => Some("schemas"),
            Kind::Parameter => Some("parameters"),
            Kind::Response => Some("responses"),
            Kind::RequestBody => Some("requestBodies"),
            Kind::Header => Some("headers"),
            Kind::Example => Some("examples"),
            Kind::SecurityScheme => Some("securitySchemes"),
            _ => None,
        };
        if let Some(expected) = expected.filter(|e| *e != section) {
            lint.error(
                pointer,
                format!("$ref `{reference}` points into components/{section} where a component of components/{expected} is expected"),
            );
            return;
        }
    }
    // A chain of references that comes back to where it started never reaches a definition. Only
    // members of the cycle report it, so each cycle is reported where it is written.
    let mut chain = vec![pointer.to_string()];
    let mut current = target.to_string();
    while let Some(next) = lint
        .doc
        .pointer(&current)
        .and_then(|v| v.get("$ref"))
        .and_then(Value::as_str)
    {
        if let Some(start) = chain.iter().position(|p| *p == current) {
            if start == 0 {
                let mut shown: Vec<String> = chain.iter().map(|p| format!("#{p}")).collect();
                shown.push(format!("#{pointer}"));
                lint.error(
                    pointer,
                    format!("cyclic $ref chain: {}", shown.join(" -> ")),
                );
            }
            return;
        }
        chain.push(current.clone());
        match next.strip_prefix('#') {
            Some(n) => current = n.to_string(),
            None => return,
        }
    }
}

/// Security requirements name schemes that exist.
fn check_security(lint: &mut Lint<'_>) {
    let schemes = lint
        .doc
        .pointer("/components/securitySchemes")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut places: Vec<(String, Value)> = Vec::new();
    if let Some(s) = lint.doc.get("security") {
        places.push(("/security".into(), s.clone()));
    }
    for op in &lint.operations {
        if let Some(s) = op.value.get("security") {
            places.push((push_token(&op.pointer, "security"), s.clone()));
        }
    }
    for (pointer, requirements) in places {
        for (i, requirement) in requirements.as_array().into_iter().flatten().enumerate() {
            for name in requirement
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, _)| k)
            {
                if !schemes.contains_key(name) {
                    lint.error(
                        &push_token(&format!("{pointer}/{i}"), name),
                        format!("security requirement names unknown scheme `{name}`"),
                    );
                }
            }
        }
    }
}
