//! Following an instance down its schema: the sub-schema of a member or an item, through `$ref`,
//! `allOf`, `oneOf` and `anyOf`. Shapes, drift and secret detection all need to know "what does
//! the spec say about this value".

use std::collections::BTreeSet;

use serde_json::Value;

use super::spec::ApiSpec;

/// The schemas a value is checked against: the schema itself and its composition branches,
/// `$ref`s followed.
fn branches<'a>(spec: &'a ApiSpec, schema: &'a Value, out: &mut Vec<&'a Value>, depth: usize) {
    if depth > 16 {
        return;
    }
    let schema = spec.resolve(schema);
    out.push(schema);
    for key in ["allOf", "oneOf", "anyOf"] {
        for branch in schema
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            branches(spec, branch, out, depth + 1);
        }
    }
}

/// The schema of member `key` of an object checked against `schema`.
pub fn member<'a>(spec: &'a ApiSpec, schema: &'a Value, key: &str) -> Option<&'a Value> {
    let mut all = Vec::new();
    branches(spec, schema, &mut all, 0);
    all.iter()
        .find_map(|s| s.get("properties").and_then(|p| p.get(key)))
        .or_else(|| {
            all.iter()
                .find_map(|s| s.get("additionalProperties").filter(|a| a.is_object()))
        })
        .map(|s| spec.resolve(s))
}

/// The schema of the items of an array checked against `schema`.
pub fn items<'a>(spec: &'a ApiSpec, schema: &'a Value) -> Option<&'a Value> {
    let mut all = Vec::new();
    branches(spec, schema, &mut all, 0);
    all.iter()
        .find_map(|s| s.get("items"))
        .map(|s| spec.resolve(s))
}

/// Whether the spec marks the value secret (`x-secret`, `format: password`).
pub fn is_secret(spec: &ApiSpec, schema: &Value) -> bool {
    let mut all = Vec::new();
    branches(spec, schema, &mut all, 0);
    all.iter().any(|s| {
        s.get("x-secret").and_then(Value::as_bool) == Some(true) || s["format"] == "password"
    })
}

/// Whether the value is one of a closed set (`enum`), so its value is part of the shape.
pub fn is_enum(spec: &ApiSpec, schema: &Value) -> bool {
    let mut all = Vec::new();
    branches(spec, schema, &mut all, 0);
    all.iter().any(|s| s.get("enum").is_some())
}

/// The string format (`date-time`, `uuid`, ...).
pub fn format<'a>(spec: &'a ApiSpec, schema: &'a Value) -> Option<&'a str> {
    let mut all = Vec::new();
    branches(spec, schema, &mut all, 0);
    all.iter()
        .find_map(|s| s.get("format").and_then(Value::as_str))
}

/// Whether the object's members are a map (only `additionalProperties`, no `properties`): its
/// keys are data, not field names.
pub fn is_map(spec: &ApiSpec, schema: &Value) -> bool {
    let mut all = Vec::new();
    branches(spec, schema, &mut all, 0);
    !all.iter().any(|s| s.get("properties").is_some())
        && all.iter().any(|s| {
            s.get("additionalProperties")
                .is_some_and(|a| a.is_object() || a == true)
        })
}

/// The members an object may have, when the spec lists them all; `None` when it accepts any
/// (`additionalProperties` given, or no object schema at all).
pub fn declared_members(spec: &ApiSpec, schema: &Value) -> Option<BTreeSet<String>> {
    let mut all = Vec::new();
    branches(spec, schema, &mut all, 0);
    if all.iter().any(|s| {
        s.get("additionalProperties")
            .is_some_and(|a| a.is_object() || a == true)
    }) {
        return None;
    }
    let members: BTreeSet<String> = all
        .iter()
        .filter_map(|s| s.get("properties").and_then(Value::as_object))
        .flat_map(|p| p.keys().cloned())
        .collect();
    if members.is_empty() {
        None
    } else {
        Some(members)
    }
}
