//! Structural checks that run before deserializing into `openapiv3`.
//!
//! `openapiv3` models many fields as untagged enums, so a wrong type deep inside a schema surfaces as
//! "data did not match any variant" at some ancestor. These checks catch the mistakes people make by
//! hand (a wrong `in:`, a string where a boolean belongs, a `type` list from OpenAPI 3.1) and say
//! exactly what is wrong where.

use serde_json::Value;

use crate::source::push_token;
use crate::walk::{walk, Kind, Node};

/// Problems found, as (JSON pointer, message).
pub fn check(doc: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Some(root) = doc.as_object() else {
        out.push((
            String::new(),
            "the document must be a mapping (an OpenAPI object)".into(),
        ));
        return out;
    };
    match root.get("openapi") {
        Some(Value::String(v)) if v.starts_with("3.0.") => {}
        Some(Value::String(v)) => out.push((
            "/openapi".into(),
            format!("unsupported OpenAPI version `{v}`: only 3.0.x is supported"),
        )),
        Some(_) => out.push((
            "/openapi".into(),
            "`openapi` must be a string such as \"3.0.3\"".into(),
        )),
        None if root.contains_key("swagger") => out.push((
            "/swagger".into(),
            "Swagger 2.0 documents are not supported: convert to OpenAPI 3.0 first".into(),
        )),
        None => out.push((String::new(), "missing required field `openapi`".into())),
    }
    match root.get("info") {
        Some(Value::Object(info)) => {
            for field in ["title", "version"] {
                expect_string(&mut out, "/info", info.get(field), field, true);
            }
        }
        Some(_) => out.push(("/info".into(), "`info` must be a mapping".into())),
        None => out.push((String::new(), "missing required field `info`".into())),
    }
    match root.get("paths") {
        Some(Value::Object(_)) => {}
        Some(_) => out.push(("/paths".into(), "`paths` must be a mapping".into())),
        None => out.push((String::new(), "missing required field `paths`".into())),
    }
    walk(doc, &mut |node| check_node(node, &mut out));
    out
}

fn check_node(node: &Node<'_>, out: &mut Vec<(String, String)>) {
    let pointer = node.pointer;
    let Some(obj) = node.value.as_object() else {
        out.push((
            pointer.to_string(),
            format!("{} must be a mapping", describe(node.kind)),
        ));
        return;
    };
    if let Some(r) = obj.get("$ref") {
        if !r.is_string() {
            out.push((
                push_token(pointer, "$ref"),
                "`$ref` must be a string".into(),
            ));
        }
        return;
    }
    match node.kind {
        Kind::Operation => {
            match obj.get("responses") {
                Some(Value::Object(_)) => {}
                Some(_) => out.push((push_token(pointer, "responses"), "`responses` must be a mapping".into())),
                None => out.push((pointer.to_string(), "operation has no `responses`".into())),
            }
            expect_string(out, pointer, obj.get("operationId"), "operationId", false);
            expect_array(out, pointer, obj, "parameters");
            if let Some(tags) = obj.get("tags") {
                if !tags.as_array().is_some_and(|t| t.iter().all(Value::is_string)) {
                    out.push((push_token(pointer, "tags"), "`tags` must be a list of strings".into()));
                }
            }
        }
        Kind::PathItem => expect_array(out, pointer, obj, "parameters"),
        Kind::Responses => {
            for status in obj.keys().filter(|k| !k.starts_with("x-")) {
                if !is_status_key(status) {
                    out.push((
                        push_token(pointer, status),
                        format!("`{status}` is not a response status: expected a code such as 200, a range such as 4XX, or `default`"),
                    ));
                }
            }
        }
        Kind::Response => expect_string(out, pointer, obj.get("description"), "description", true),
        Kind::Parameter => {
            expect_string(out, pointer, obj.get("name"), "name", true);
            match obj.get("in") {
                Some(Value::String(location)) => match location.as_str() {
                    "query" | "header" | "path" | "cookie" => {}
                    other => out.push((
                        push_token(pointer, "in"),
                        format!("unknown parameter location `{other}`: expected one of query, header, path, cookie{}",
                            if other == "body" || other == "formData" { " (OpenAPI 3.0 carries bodies in `requestBody`)" } else { "" }),
                    )),
                },
                Some(_) => out.push((push_token(pointer, "in"), "`in` must be a string".into())),
                None => out.push((pointer.to_string(), "parameter has no `in`".into())),
            }
            for flag in ["required", "deprecated", "allowEmptyValue", "explode", "allowReserved"] {
                expect_bool(out, pointer, obj, flag);
            }
            if obj.get("in").and_then(Value::as_str) == Some("path")
                && obj.get("required") != Some(&Value::Bool(true))
            {
                out.push((pointer.to_string(), "a path parameter must have `required: true`".into()));
            }
            if !obj.contains_key("schema") && !obj.contains_key("content") {
                out.push((pointer.to_string(), "parameter has neither `schema` nor `content`".into()));
            }
        }
        Kind::Header => {
            for flag in ["required", "deprecated", "explode"] {
                expect_bool(out, pointer, obj, flag);
            }
        }
        Kind::RequestBody => {
            expect_bool(out, pointer, obj, "required");
            if !obj.get("content").is_some_and(Value::is_object) {
                out.push((pointer.to_string(), "request body has no `content` mapping".into()));
            }
        }
        Kind::Schema => check_schema(pointer, obj, out),
        Kind::SecurityScheme => match obj.get("type").and_then(Value::as_str) {
            Some("apiKey" | "http" | "oauth2" | "openIdConnect") => {}
            Some(other) => out.push((
                push_token(pointer, "type"),
                format!("unknown security scheme type `{other}`: expected apiKey, http, oauth2 or openIdConnect"),
            )),
            None => out.push((pointer.to_string(), "security scheme has no `type`".into())),
        },
        Kind::MediaType | Kind::Encoding | Kind::Example => {}
    }
}

fn check_schema(
    pointer: &str,
    obj: &serde_json::Map<String, Value>,
    out: &mut Vec<(String, String)>,
) {
    const TYPES: [&str; 6] = ["string", "number", "integer", "boolean", "array", "object"];
    match obj.get("type") {
        None => {}
        Some(Value::String(t)) if TYPES.contains(&t.as_str()) => {}
        Some(Value::String(t)) => out.push((
            push_token(pointer, "type"),
            format!("unknown schema type `{t}`: expected one of {}", TYPES.join(", ")),
        )),
        Some(Value::Array(_)) => out.push((
            push_token(pointer, "type"),
            "`type` must be a single string in OpenAPI 3.0 (a list of types is OpenAPI 3.1; use `nullable: true`)".into(),
        )),
        Some(_) => out.push((push_token(pointer, "type"), "`type` must be a string".into())),
    }
    if obj.get("type").and_then(Value::as_str) == Some("array") && !obj.contains_key("items") {
        out.push((
            pointer.to_string(),
            "an array schema must have `items`".into(),
        ));
    }
    if let Some(required) = obj.get("required") {
        if !required
            .as_array()
            .is_some_and(|r| r.iter().all(Value::is_string))
        {
            out.push((
                push_token(pointer, "required"),
                "`required` must be a list of property names".into(),
            ));
        }
    }
    for key in ["properties"] {
        if obj.get(key).is_some_and(|v| !v.is_object()) {
            out.push((
                push_token(pointer, key),
                format!("`{key}` must be a mapping"),
            ));
        }
    }
    for key in ["allOf", "anyOf", "oneOf", "enum"] {
        if obj.get(key).is_some_and(|v| !v.is_array()) {
            out.push((push_token(pointer, key), format!("`{key}` must be a list")));
        }
    }
    for flag in [
        "nullable",
        "readOnly",
        "writeOnly",
        "deprecated",
        "uniqueItems",
        "exclusiveMinimum",
        "exclusiveMaximum",
    ] {
        expect_bool(out, pointer, obj, flag);
    }
    if obj
        .get("additionalProperties")
        .is_some_and(|v| !v.is_boolean() && !v.is_object())
    {
        out.push((
            push_token(pointer, "additionalProperties"),
            "`additionalProperties` must be a boolean or a schema".into(),
        ));
    }
    for key in ["minimum", "maximum", "multipleOf"] {
        if obj.get(key).is_some_and(|v| !v.is_number()) {
            out.push((
                push_token(pointer, key),
                format!("`{key}` must be a number"),
            ));
        }
    }
    for key in [
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "minProperties",
        "maxProperties",
    ] {
        if obj.get(key).is_some_and(|v| !v.is_u64()) {
            out.push((
                push_token(pointer, key),
                format!("`{key}` must be a non-negative integer"),
            ));
        }
    }
    for key in ["format", "pattern", "title", "description"] {
        if obj.get(key).is_some_and(|v| !v.is_string()) {
            out.push((
                push_token(pointer, key),
                format!("`{key}` must be a string"),
            ));
        }
    }
    if let Some(p) = obj.get("pattern").and_then(Value::as_str) {
        if let Err(e) = jsonschema_regex_check(p) {
            out.push((
                push_token(pointer, "pattern"),
                format!("`pattern` is not a valid regular expression: {e}"),
            ));
        }
    }
}

/// Checks an ECMA-262 pattern by compiling it the way example validation will.
fn jsonschema_regex_check(pattern: &str) -> Result<(), String> {
    let schema = serde_json::json!({ "type": "string", "pattern": pattern });
    jsonschema::options()
        .build(&schema)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn is_status_key(key: &str) -> bool {
    key == "default"
        || (key.len() == 3
            && key.as_bytes()[0].is_ascii_digit()
            && (key.bytes().all(|b| b.is_ascii_digit()) || &key[1..] == "XX"))
}

fn describe(kind: Kind) -> &'static str {
    match kind {
        Kind::PathItem => "a path item",
        Kind::Operation => "an operation",
        Kind::Parameter => "a parameter",
        Kind::RequestBody => "a request body",
        Kind::Responses => "`responses`",
        Kind::Response => "a response",
        Kind::Header => "a header",
        Kind::MediaType => "a media type",
        Kind::Encoding => "an encoding",
        Kind::Example => "an example",
        Kind::Schema => "a schema",
        Kind::SecurityScheme => "a security scheme",
    }
}

fn expect_string(
    out: &mut Vec<(String, String)>,
    pointer: &str,
    value: Option<&Value>,
    field: &str,
    required: bool,
) {
    match value {
        Some(Value::String(_)) => {}
        Some(_) => out.push((
            push_token(pointer, field),
            format!("`{field}` must be a string"),
        )),
        None if required => out.push((
            pointer.to_string(),
            format!("missing required field `{field}`"),
        )),
        None => {}
    }
}

fn expect_bool(
    out: &mut Vec<(String, String)>,
    pointer: &str,
    obj: &serde_json::Map<String, Value>,
    field: &str,
) {
    if let Some(v) = obj.get(field) {
        if !v.is_boolean() {
            out.push((
                push_token(pointer, field),
                format!("`{field}` must be true or false, not {v}"),
            ));
        }
    }
}

fn expect_array(
    out: &mut Vec<(String, String)>,
    pointer: &str,
    obj: &serde_json::Map<String, Value>,
    field: &str,
) {
    if obj.get(field).is_some_and(|v| !v.is_array()) {
        out.push((
            push_token(pointer, field),
            format!("`{field}` must be a list"),
        ));
    }
}
