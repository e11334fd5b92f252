//! Validating JSON values (examples, fixtures, error templates) against a spec's schemas.
//!
//! OpenAPI 3.0 schemas are close to JSON Schema draft 7 but not equal: `nullable`, boolean
//! `exclusiveMinimum`. The whole document is converted once, then each value is checked against the
//! schema at a JSON pointer, with `$ref`s resolved inside the converted document.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::{json, Map, Value};

use crate::walk::{walk, Kind};

pub struct SchemaChecker {
    /// Every schema position of the document, by JSON pointer, as an index into `definitions`.
    targets: HashMap<String, usize>,
    /// The compiled schemas: built once, on first use, for all targets together, because
    /// compiling indexes every component and a spec has hundreds of examples.
    compiled: OnceLock<Result<jsonschema::ValidatorMap, String>>,
    root: Value,
}

impl SchemaChecker {
    pub fn new(doc: &Value) -> SchemaChecker {
        let mut to_convert = Vec::new();
        let mut targets = Vec::new();
        walk(doc, &mut |node| {
            if node.kind == Kind::Schema {
                targets.push(node.pointer.to_string());
                if node.reference.is_none() && node.value.is_object() {
                    to_convert.push(node.pointer.to_string());
                }
            }
        });
        let converted = convert_positions(doc, to_convert);
        // The root holds the components (what `$ref`s point at) and one definition per schema
        // position: a `$ref` for a component, a copy for a schema written inline elsewhere.
        let mut definitions = Map::new();
        for (i, pointer) in targets.iter().enumerate() {
            let definition = if pointer.starts_with("/components/") {
                json!({ "$ref": format!("#{}", uri_fragment(pointer)) })
            } else {
                converted
                    .pointer(pointer)
                    .cloned()
                    .unwrap_or(Value::Bool(true))
            };
            definitions.insert(format!("s{i}"), definition);
        }
        let mut root = Map::new();
        if let Some(components) = converted.get("components") {
            root.insert("components".into(), components.clone());
        }
        root.insert("definitions".into(), Value::Object(definitions));
        SchemaChecker {
            targets: targets
                .into_iter()
                .enumerate()
                .map(|(i, p)| (p, i))
                .collect(),
            compiled: OnceLock::new(),
            root: Value::Object(root),
        }
    }

    /// Checks `instance` against the schema at `schema_pointer`. Errors are one line each, naming the
    /// place in the instance.
    pub fn check(&self, schema_pointer: &str, instance: &Value) -> Result<(), Vec<String>> {
        let compiled = self.compiled.get_or_init(|| {
            jsonschema::options()
                .with_draft(jsonschema::Draft::Draft7)
                .should_validate_formats(true)
                .build_map(&self.root)
                .map_err(|e| format!("the schemas cannot be compiled: {e}"))
        });
        let compiled = compiled.as_ref().map_err(|e| vec![e.clone()])?;
        let Some(index) = self.targets.get(schema_pointer) else {
            return Err(vec![format!("no schema at #{schema_pointer}")]);
        };
        let Some(validator) = compiled.get(&format!("#/definitions/s{index}")) else {
            return Err(vec![format!(
                "the schema at #{schema_pointer} was not compiled"
            )]);
        };
        let mut errors: Vec<String> = validator
            .iter_errors(instance)
            .map(|e| {
                let at = e.instance_path().to_string();
                let at = if at.is_empty() { "/".to_string() } else { at };
                format!("at {at}: {e}")
            })
            .collect();
        if errors.is_empty() {
            return Ok(());
        }
        errors.sort();
        errors.dedup();
        Err(errors)
    }
}

/// The document with the schemas at `positions` rewritten into JSON Schema draft 7.
fn convert_positions(doc: &Value, mut positions: Vec<String>) -> Value {
    // Deepest first: wrapping a nullable composite moves its children, which are done by then.
    positions.sort_by_key(|p| std::cmp::Reverse(p.matches('/').count()));
    let mut converted = doc.clone();
    for pointer in positions {
        if let Some(Value::Object(schema)) = converted.pointer_mut(&pointer) {
            convert_keywords(schema);
        }
    }
    converted
}

/// A self-contained JSON Schema (draft 7) document for some schema positions of a spec: one
/// definition per `(name, pointer)` and the converted component schemas they reach. Generated
/// servers embed it to check request bodies exactly as the spec says (enums, patterns, lengths,
/// required members), which serde alone does not.
pub fn bundle(doc: &Value, targets: &[(String, String)]) -> Value {
    // The components the targets reach, transitively (conversion leaves `$ref`s as they are).
    let mut reached = std::collections::BTreeSet::new();
    let mut queue: Vec<String> = Vec::new();
    for (_, pointer) in targets {
        if let Some(schema) = doc.pointer(pointer) {
            collect_refs(schema, &mut queue);
        }
    }
    while let Some(reference) = queue.pop() {
        let Some(name) = reference.strip_prefix("#/components/schemas/") else {
            continue;
        };
        let name = crate::source::unescape_token(name.split('/').next().unwrap_or(""));
        if !reached.insert(name.clone()) {
            continue;
        }
        if let Some(schema) = doc.pointer(&crate::source::push_token("/components/schemas", &name))
        {
            collect_refs(schema, &mut queue);
        }
    }
    // Only what is bundled is converted: a copy of the document pruned to those schemas, each at
    // its own pointer, so the walker still knows schema positions by where they are.
    let component = |name: &str| crate::source::push_token("/components/schemas", name);
    let mut pruned = Value::Object(Map::new());
    for pointer in targets
        .iter()
        .map(|(_, p)| p.clone())
        .chain(reached.iter().map(|n| component(n)))
    {
        copy_at(doc, &mut pruned, &pointer);
    }
    let mut positions = Vec::new();
    walk(&pruned, &mut |node| {
        if node.kind == Kind::Schema && node.reference.is_none() && node.value.is_object() {
            positions.push(node.pointer.to_string());
        }
    });
    let converted = convert_positions(&pruned, positions);
    let definitions: Map<String, Value> = targets
        .iter()
        .map(|(name, pointer)| {
            let schema = converted.pointer(pointer).cloned();
            (name.clone(), schema.unwrap_or(Value::Bool(true)))
        })
        .collect();
    let schemas: Map<String, Value> = reached
        .into_iter()
        .filter_map(|name| {
            let schema = converted.pointer(&component(&name))?.clone();
            Some((name, schema))
        })
        .collect();
    json!({ "components": { "schemas": schemas }, "definitions": definitions })
}

/// Copies the node at `pointer` of `from` into `to` at the same pointer, creating the objects on
/// the way (an array on the way is copied whole).
fn copy_at(from: &Value, to: &mut Value, pointer: &str) {
    let Some(value) = from.pointer(pointer) else {
        return;
    };
    let mut source = from;
    let mut target = to;
    let mut rest = pointer.strip_prefix('/').unwrap_or("");
    loop {
        let (token, tail) = match rest.split_once('/') {
            Some((token, tail)) => (token, Some(tail)),
            None => (rest, None),
        };
        let key = crate::source::unescape_token(token);
        let (Value::Object(source_map), Value::Object(target_map)) = (source, &mut *target) else {
            return;
        };
        let Some(next_source) = source_map.get(&key) else {
            return;
        };
        match tail {
            None => {
                target_map.insert(key, value.clone());
                return;
            }
            Some(tail) if next_source.is_array() => {
                let _ = tail;
                target_map.insert(key, next_source.clone());
                return;
            }
            Some(tail) => {
                target = target_map
                    .entry(key)
                    .or_insert_with(|| Value::Object(Map::new()));
                source = next_source;
                rest = tail;
            }
        }
    }
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    // Literal values hold no references.
                    ("example" | "default" | "enum", _) => {}
                    _ => collect_refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// Percent-encodes the characters a JSON pointer may hold that are not allowed in a URI fragment.
fn uri_fragment(pointer: &str) -> String {
    let mut out = String::with_capacity(pointer.len());
    for c in pointer.chars() {
        match c {
            'A'..='Z'
            | 'a'..='z'
            | '0'..='9'
            | '/'
            | '~'
            | '-'
            | '.'
            | '_'
            | '!'
            | '$'
            | '&'
            | '\''
            | '('
            | ')'
            | '*'
            | '+'
            | ','
            | ';'
            | '='
            | ':'
            | '@' => out.push(c),
            _ => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
        }
    }
    out
}

/// Rewrites one OpenAPI 3.0 schema object's own keywords into their JSON Schema draft 7 meaning.
fn convert_keywords(schema: &mut Map<String, Value>) {
    for (exclusive, bound) in [
        ("exclusiveMinimum", "minimum"),
        ("exclusiveMaximum", "maximum"),
    ] {
        match schema.get(exclusive) {
            Some(Value::Bool(true)) => {
                if let Some(limit) = schema.remove(bound) {
                    schema.insert(exclusive.into(), limit);
                } else {
                    schema.remove(exclusive);
                }
            }
            Some(Value::Bool(false)) => {
                schema.remove(exclusive);
            }
            _ => {}
        }
    }
    // `example` is data, and draft 7 would read `discriminator`-free schemas fine; drop what could
    // confuse a draft 7 validator.
    schema.remove("discriminator");
    if schema.remove("nullable") != Some(Value::Bool(true)) {
        return;
    }
    if let Some(Value::Array(values)) = schema.get_mut("enum") {
        if !values.contains(&Value::Null) {
            values.push(Value::Null);
        }
    }
    match schema.get("type").cloned() {
        Some(Value::String(t)) => {
            schema.insert("type".into(), json!([t, "null"]));
        }
        _ if schema.contains_key("$ref")
            || schema.contains_key("allOf")
            || schema.contains_key("oneOf")
            || schema.contains_key("anyOf") =>
        {
            let inner = std::mem::take(schema);
            schema.insert(
                "anyOf".into(),
                json!([{ "type": "null" }, Value::Object(inner)]),
            );
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Value {
        json!({
            "openapi": "3.0.3",
            "components": {"schemas": {
                "Job": {"type": "object", "required": ["id"], "properties": {
                    "id": {"type": "string"},
                    "percent": {"type": "integer", "minimum": 0, "exclusiveMinimum": true},
                    "parent": {"allOf": [{"$ref": "#/components/schemas/Job"}], "nullable": true},
                    "state": {"type": "string", "enum": ["a", "b"], "nullable": true}
                }},
                "Odd name/with~chars": {"type": "string", "format": "date-time"}
            }}
        })
    }

    #[test]
    fn nullable_and_exclusive_bounds_follow_openapi() {
        let c = SchemaChecker::new(&doc());
        let job = "/components/schemas/Job";
        assert!(c
            .check(job, &json!({"id": "1", "parent": null, "state": null}))
            .is_ok());
        assert!(c
            .check(job, &json!({"id": "1", "parent": {"id": "2"}}))
            .is_ok());
        let errors = c
            .check(job, &json!({"id": 1, "percent": 0, "state": "c"}))
            .unwrap_err();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors.iter().any(|e| e.starts_with("at /id:")));
        assert!(c.check(job, &json!({})).unwrap_err()[0].contains("\"id\" is a required property"));
    }

    #[test]
    fn names_needing_escapes_resolve_and_formats_are_checked() {
        let c = SchemaChecker::new(&doc());
        let p = "/components/schemas/Odd name~1with~0chars";
        assert!(c.check(p, &json!("2024-01-01T00:00:00Z")).is_ok());
        assert!(c.check(p, &json!("yesterday")).is_err());
    }
}
