//! A structural walk over a raw OpenAPI 3.0 document.
//!
//! Lint and the structure check need to know what each node *is* (a schema, a parameter, a media type)
//! without trusting that the document deserializes. This walk follows the OpenAPI object graph by key,
//! never descends into literal values (`example`, `default`, `enum`, `x-*`), and stops at `$ref`s.

use serde_json::Value;

use crate::source::push_token;

/// What kind of OpenAPI object a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    PathItem,
    Operation,
    Parameter,
    RequestBody,
    Responses,
    Response,
    Header,
    MediaType,
    Encoding,
    Example,
    Schema,
    SecurityScheme,
}

/// A visited node. `reference` is set when the node is a `{"$ref": ...}` object standing in for `kind`.
pub struct Node<'a> {
    pub pointer: &'a str,
    pub kind: Kind,
    pub value: &'a Value,
    pub reference: Option<&'a str>,
}

pub const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Visits every OpenAPI object of `doc` in document order.
pub fn walk(doc: &Value, visit: &mut dyn FnMut(&Node<'_>)) {
    let mut w = Walker { visit };
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        for (path, item) in paths {
            w.node(&push_token("/paths", path), Kind::PathItem, item);
        }
    }
    let Some(components) = doc.get("components").and_then(Value::as_object) else {
        return;
    };
    let sections = [
        ("schemas", Kind::Schema),
        ("responses", Kind::Response),
        ("parameters", Kind::Parameter),
        ("examples", Kind::Example),
        ("requestBodies", Kind::RequestBody),
        ("headers", Kind::Header),
        ("securitySchemes", Kind::SecurityScheme),
    ];
    for (section, kind) in sections {
        if let Some(entries) = components.get(section).and_then(Value::as_object) {
            let base = format!("/components/{section}");
            for (name, value) in entries {
                w.node(&push_token(&base, name), kind, value);
            }
        }
    }
}

struct Walker<'v> {
    visit: &'v mut dyn FnMut(&Node<'_>),
}

impl Walker<'_> {
    fn node(&mut self, pointer: &str, kind: Kind, value: &Value) {
        let reference = value
            .as_object()
            .and_then(|o| o.get("$ref"))
            .and_then(Value::as_str);
        (self.visit)(&Node {
            pointer,
            kind,
            value,
            reference,
        });
        if reference.is_some() || !value.is_object() {
            return;
        }
        match kind {
            Kind::PathItem => {
                self.list(pointer, value, "parameters", Kind::Parameter);
                for method in METHODS {
                    if let Some(op) = value.get(method) {
                        self.node(&push_token(pointer, method), Kind::Operation, op);
                    }
                }
            }
            Kind::Operation => {
                self.list(pointer, value, "parameters", Kind::Parameter);
                self.child(pointer, value, "requestBody", Kind::RequestBody);
                self.child(pointer, value, "responses", Kind::Responses);
            }
            Kind::Responses => {
                if let Some(map) = value.as_object() {
                    for (status, response) in map {
                        if !status.starts_with("x-") {
                            self.node(&push_token(pointer, status), Kind::Response, response);
                        }
                    }
                }
            }
            Kind::Response => {
                self.map(pointer, value, "headers", Kind::Header);
                self.map(pointer, value, "content", Kind::MediaType);
            }
            Kind::RequestBody => self.map(pointer, value, "content", Kind::MediaType),
            Kind::Parameter | Kind::Header => {
                self.child(pointer, value, "schema", Kind::Schema);
                self.map(pointer, value, "content", Kind::MediaType);
                self.map(pointer, value, "examples", Kind::Example);
            }
            Kind::MediaType => {
                self.child(pointer, value, "schema", Kind::Schema);
                self.map(pointer, value, "examples", Kind::Example);
                self.map(pointer, value, "encoding", Kind::Encoding);
            }
            Kind::Encoding => self.map(pointer, value, "headers", Kind::Header),
            Kind::Schema => {
                self.map(pointer, value, "properties", Kind::Schema);
                self.child(pointer, value, "items", Kind::Schema);
                self.child(pointer, value, "not", Kind::Schema);
                if value
                    .get("additionalProperties")
                    .is_some_and(Value::is_object)
                {
                    self.child(pointer, value, "additionalProperties", Kind::Schema);
                }
                for key in ["allOf", "anyOf", "oneOf"] {
                    self.list(pointer, value, key, Kind::Schema);
                }
            }
            Kind::Example | Kind::SecurityScheme => {}
        }
    }

    fn child(&mut self, pointer: &str, value: &Value, key: &str, kind: Kind) {
        if let Some(child) = value.get(key) {
            self.node(&push_token(pointer, key), kind, child);
        }
    }

    fn list(&mut self, pointer: &str, value: &Value, key: &str, kind: Kind) {
        if let Some(items) = value.get(key).and_then(Value::as_array) {
            let base = push_token(pointer, key);
            for (i, item) in items.iter().enumerate() {
                self.node(&format!("{base}/{i}"), kind, item);
            }
        }
    }

    fn map(&mut self, pointer: &str, value: &Value, key: &str, kind: Kind) {
        if let Some(entries) = value.get(key).and_then(Value::as_object) {
            let base = push_token(pointer, key);
            for (name, item) in entries {
                self.node(&push_token(&base, name), kind, item);
            }
        }
    }
}

/// Resolves a local `$ref` (`#/components/...`) against the document.
pub fn resolve<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    doc.pointer(pointer)
}

/// Follows `$ref`s from `value` until a non-reference object, giving up after a bounded number of
/// hops so a cyclic chain cannot loop forever (lint reports cycles separately).
pub fn follow<'a>(doc: &'a Value, mut value: &'a Value) -> Option<&'a Value> {
    for _ in 0..64 {
        match value.get("$ref").and_then(Value::as_str) {
            Some(r) => value = resolve(doc, r)?,
            None => return Some(value),
        }
    }
    None
}
