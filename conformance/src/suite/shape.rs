//! Shapes: a body reduced to what must hold whatever the appliance's data (member names, JSON
//! types, enum values), so one snapshot fits an emulator and a real appliance. Ids, times, sizes
//! and free text become typed placeholders; secrets become `<redacted>`.
//!
//! Also drift: members a response has that its schema does not declare.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::exchange::{RecordedRequest, RecordedResponse};
use super::schema_walk;
use super::spec::{media_type, ApiSpec, Operation};

/// The shape of `value`, read against `schema` where the spec has one.
pub fn shape(spec: &ApiSpec, schema: Option<&Value>, value: &Value) -> Value {
    if let Some(s) = schema {
        if schema_walk::is_secret(spec, s) && !value.is_null() {
            return Value::String("<redacted>".into());
        }
    }
    match value {
        Value::Null => Value::Null,
        Value::Bool(_) => placeholder("boolean"),
        Value::Number(n) => {
            if schema.is_some_and(|s| schema_walk::is_enum(spec, s)) {
                value.clone()
            } else if n.is_i64() || n.is_u64() {
                placeholder("integer")
            } else {
                placeholder("number")
            }
        }
        Value::String(_) => match schema {
            Some(s) if schema_walk::is_enum(spec, s) => value.clone(),
            Some(s) => match schema_walk::format(spec, s) {
                Some(f @ ("date-time" | "date" | "uuid" | "byte" | "binary" | "uri")) => {
                    placeholder(f)
                }
                _ => placeholder("string"),
            },
            None => placeholder("string"),
        },
        Value::Array(items) => {
            let item_schema = schema.and_then(|s| schema_walk::items(spec, s));
            let mut shapes: Vec<Value> = Vec::new();
            for item in items {
                let s = shape(spec, item_schema, item);
                if !shapes.contains(&s) {
                    shapes.push(s);
                }
            }
            shapes.sort_by_key(|s| s.to_string());
            Value::Array(shapes)
        }
        Value::Object(members) => {
            if schema.is_some_and(|s| schema_walk::is_map(spec, s)) {
                // A map: its keys are data. One entry per distinct value shape.
                let value_schema = schema.and_then(|s| schema_walk::member(spec, s, ""));
                let mut shapes: Vec<Value> = members
                    .values()
                    .map(|v| shape(spec, value_schema, v))
                    .collect();
                shapes.sort_by_key(|s| s.to_string());
                shapes.dedup();
                let mut out = Map::new();
                for (i, s) in shapes.into_iter().enumerate() {
                    out.insert(format!("<key{}>", i + 1), s);
                }
                return Value::Object(out);
            }
            let sorted: BTreeMap<&String, &Value> = members.iter().collect();
            let mut out = Map::new();
            for (key, v) in sorted {
                let member_schema = schema.and_then(|s| schema_walk::member(spec, s, key));
                out.insert(key.clone(), shape(spec, member_schema, v));
            }
            Value::Object(out)
        }
    }
}

fn placeholder(kind: &str) -> Value {
    Value::String(format!("<{kind}>"))
}

/// Members of `value` that `schema` does not declare, as JSON pointers.
pub fn drift(spec: &ApiSpec, schema: &Value, value: &Value) -> Vec<String> {
    let mut found = Vec::new();
    drift_at(spec, schema, value, String::new(), &mut found);
    found
}

fn drift_at(spec: &ApiSpec, schema: &Value, value: &Value, at: String, found: &mut Vec<String>) {
    match value {
        Value::Object(members) => {
            let declared = schema_walk::declared_members(spec, schema);
            for (key, v) in members {
                let here = format!("{at}/{}", super::spec::escape(key));
                if let Some(declared) = &declared {
                    if !declared.contains(key) {
                        found.push(here);
                        continue;
                    }
                }
                if let Some(s) = schema_walk::member(spec, schema, key) {
                    drift_at(spec, s, v, here, found);
                }
            }
        }
        Value::Array(items) => {
            if let Some(s) = schema_walk::items(spec, schema) {
                // The first item of each distinct shape is enough.
                for (i, item) in items.iter().enumerate().take(50) {
                    drift_at(spec, s, item, format!("{at}/{i}"), found);
                }
            }
        }
        _ => {}
    }
    found.dedup_by(|a, b| generalize(a) == generalize(b));
}

/// `/items/3/name` → `/items/*/name`: drift is reported once per place, not per item.
pub fn generalize(pointer: &str) -> String {
    pointer
        .split('/')
        .map(|t| {
            if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
                "*"
            } else {
                t
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Headers whose presence is part of the request's shape; others (host, length, agent,
/// connection, tracing) vary by client and transport.
const SHAPE_HEADERS: &[&str] = &["accept", "content-type"];
/// Headers that carry credentials: present in the shape, values redacted.
pub const CREDENTIAL_HEADERS: &[&str] = &["authorization", "cookie", "x-csrf-token"];

/// The shape of a request: method, path template, query parameters and header names with
/// placeholder values, body shape.
pub fn request_shape(spec: &ApiSpec, op: &Operation, request: &RecordedRequest) -> Value {
    let mut query = Map::new();
    let mut pairs = request.query_pairs();
    pairs.sort();
    for (name, value) in pairs {
        let schema = spec.parameter_schema(op, "query", &name);
        let s = match schema {
            Some(s) if schema_walk::is_secret(spec, s) => Value::String("<redacted>".into()),
            Some(s) if schema_walk::is_enum(spec, s) => Value::String(value),
            Some(s)
                if schema_walk::items(spec, s).is_some_and(|i| schema_walk::is_enum(spec, i)) =>
            {
                Value::String(value)
            }
            _ => placeholder("string"),
        };
        query.insert(name, s);
    }
    let mut headers = Map::new();
    let mut names: Vec<&(String, String)> = request.headers.iter().collect();
    names.sort();
    for (name, value) in names {
        let name = name.to_ascii_lowercase();
        if CREDENTIAL_HEADERS.contains(&name.as_str()) {
            let scheme = value
                .split_once(' ')
                .map(|(s, _)| s)
                .filter(|_| name == "authorization");
            let v = match scheme {
                Some(scheme) => format!("{scheme} <redacted>"),
                None => "<redacted>".into(),
            };
            headers.insert(name, Value::String(v));
        } else if SHAPE_HEADERS.contains(&name.as_str()) {
            headers.insert(name, Value::String(media_type(value).to_string()));
        } else if spec.parameter_schema(op, "header", &name).is_some() {
            headers.insert(name, placeholder("string"));
        }
    }
    let content_type = request.header("content-type").unwrap_or("");
    let mut out = Map::new();
    out.insert("method".into(), Value::String(request.method.clone()));
    out.insert("path".into(), Value::String(op.template.clone()));
    if !query.is_empty() {
        out.insert("query".into(), Value::Object(query));
    }
    out.insert("headers".into(), Value::Object(headers));
    if !request.body.is_empty() {
        out.insert(
            "body".into(),
            body_shape(
                spec,
                spec.request_schema(op, content_type),
                content_type,
                &request.body,
            ),
        );
    }
    Value::Object(out)
}

/// The shape of a response's body (`null` when it has none).
pub fn response_shape(spec: &ApiSpec, op: &Operation, response: &RecordedResponse) -> Value {
    let content_type = response.header("content-type").unwrap_or("");
    if response.body.is_empty() {
        return Value::Null;
    }
    body_shape(
        spec,
        spec.response_schema(op, response.status, content_type),
        content_type,
        &response.body,
    )
}

fn body_shape(
    spec: &ApiSpec,
    schema_pointer: Option<String>,
    content_type: &str,
    body: &[u8],
) -> Value {
    let media = media_type(content_type).to_ascii_lowercase();
    let schema = schema_pointer.as_deref().and_then(|p| spec.doc.pointer(p));
    if media.contains("json") {
        return match serde_json::from_slice::<Value>(body) {
            Ok(v) => shape(spec, schema, &v),
            Err(_) => Value::String(format!("<invalid json, {media}>")),
        };
    }
    if media == "application/x-www-form-urlencoded" {
        let mut names: Vec<String> = url::form_urlencoded::parse(body)
            .map(|(k, _)| k.into_owned())
            .collect();
        names.sort();
        return serde_json::json!({ "form": names });
    }
    if media.starts_with("multipart/") {
        return serde_json::json!({ "multipart": multipart_parts(content_type, body) });
    }
    Value::String(format!(
        "<{}>",
        if media.is_empty() { "bytes" } else { &media }
    ))
}

/// The part names of a multipart body, in order.
fn multipart_parts(content_type: &str, body: &[u8]) -> Vec<String> {
    let Some(boundary) = content_type
        .split(';')
        .filter_map(|p| p.trim().strip_prefix("boundary="))
        .next()
    else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(body);
    let boundary = boundary.trim_matches('"');
    text.split(&format!("--{boundary}"))
        .filter_map(|part| {
            let head = part.split("\r\n\r\n").next()?;
            let disposition = head
                .lines()
                .find(|l| l.to_ascii_lowercase().starts_with("content-disposition"))?;
            let name = disposition.split("name=\"").nth(1)?.split('"').next()?;
            let file = disposition.contains("filename=");
            Some(if file {
                format!("{name} (file)")
            } else {
                name.to_string()
            })
        })
        .collect()
}
