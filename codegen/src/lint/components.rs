//! Every component is used: reachable from an operation, from `security`, or from a document-level
//! extension that names it.

use std::collections::BTreeSet;

use serde_json::Value;

use super::Lint;
use crate::source::push_token;
use crate::walk::{walk, Kind};

pub(super) fn check(lint: &mut Lint<'_>) {
    // Every reference, keyed by the pointer it is written at.
    let mut refs: Vec<(String, String)> = Vec::new();
    walk(lint.doc, &mut |node| {
        if let Some(r) = node.reference.and_then(|r| r.strip_prefix('#')) {
            refs.push((node.pointer.to_string(), r.to_string()));
        }
        if node.kind == Kind::Schema {
            let mapping = node
                .value
                .get("discriminator")
                .and_then(|d| d.get("mapping"))
                .and_then(Value::as_object);
            for target in mapping
                .into_iter()
                .flatten()
                .filter_map(|(_, t)| t.as_str())
            {
                if let Some(t) = target.strip_prefix('#') {
                    refs.push((node.pointer.to_string(), t.to_string()));
                }
            }
        }
    });

    let mut used: BTreeSet<String> = BTreeSet::new();
    let mut queue: Vec<String> = refs
        .iter()
        .filter(|(at, _)| !at.starts_with("/components/"))
        .map(|(_, target)| target.clone())
        .collect();
    if let Some(r) = lint
        .doc
        .get("x-error-schema")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix('#'))
    {
        queue.push(r.to_string());
    }
    let mut requirements: Vec<&Value> = lint.doc.get("security").into_iter().collect();
    requirements.extend(
        lint.operations
            .iter()
            .filter_map(|op| op.value.get("security")),
    );
    for requirement in requirements
        .into_iter()
        .filter_map(Value::as_array)
        .flatten()
    {
        for name in requirement
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k)
        {
            queue.push(push_token("/components/securitySchemes", name));
        }
    }
    while let Some(target) = queue.pop() {
        let Some(component) = component_of(&target) else {
            continue;
        };
        if !used.insert(component.clone()) {
            continue;
        }
        let inside = format!("{component}/");
        for (at, next) in &refs {
            if at == &component || at.starts_with(&inside) {
                queue.push(next.clone());
            }
        }
    }

    let mut unused = Vec::new();
    for (section, entries) in lint
        .doc
        .get("components")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let base = push_token("/components", section);
        for (name, _) in entries.as_object().into_iter().flatten() {
            let pointer = push_token(&base, name);
            if !used.contains(&pointer) {
                unused.push((pointer, format!("component `{name}` is unused")));
            }
        }
    }
    for (pointer, message) in unused {
        lint.error(&pointer, message);
    }
}

/// `/components/schemas/A/properties/b` belongs to the component `/components/schemas/A`.
fn component_of(pointer: &str) -> Option<String> {
    let mut parts = pointer.strip_prefix("/components/")?.splitn(3, '/');
    let (section, name) = (parts.next()?, parts.next()?);
    Some(format!("/components/{section}/{name}"))
}
