//! A normalized model of one spec's API, built from its JSON value with every `$ref` resolved.
//!
//! Comparing two YAML documents node by node reports how the text moved, not what the API did: a
//! schema moved into `components` and referenced, a parameter reordered, or a description edited
//! would all look like changes. The model keeps only what a client or an appliance can observe, keyed
//! by stable names (operationId, parameter location and name, status, media type, property name), so
//! the comparison in `compare.rs` can walk two models side by side.
//!
//! Schemas are expanded where they are used, because the same component means different things in a
//! request (what clients send) and in a response (what appliances answer). `readOnly` properties are
//! left out of requests and `writeOnly` ones out of responses, as OpenAPI says. A schema that refers to
//! itself is cut where it recurs.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

/// Which way a schema's values travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Sent by clients: parameters and request bodies.
    Request,
    /// Sent by appliances: response bodies and headers.
    Response,
}

impl Side {
    /// The prefix of the rule ids for values on this side.
    pub fn prefix(self) -> &'static str {
        match self {
            Side::Request => "request",
            Side::Response => "response",
        }
    }
}

/// One spec's API.
#[derive(Debug, Clone, Default)]
pub struct ApiModel {
    /// By operationId (or `METHOD /path` for an operation without one).
    pub operations: BTreeMap<String, Operation>,
    /// `components/securitySchemes`, without their prose.
    pub security_schemes: BTreeMap<String, Value>,
    /// `x-error-schema`: the component name and its shape as a response.
    pub error_schema: Option<(String, Shape)>,
    /// `x-error-responses`.
    pub error_responses: BTreeSet<String>,
    /// Document-level `x-validation-error`, without anchors' effect (the resolved value).
    pub validation_error: Option<Value>,
    /// `servers`, without their prose.
    pub servers: Value,
    /// The document without `paths`, `components`, prose and the parts modelled above: what is left
    /// is compared as a whole so that no change goes unreported.
    pub residue: Value,
}

#[derive(Debug, Clone)]
pub struct Operation {
    pub method: String,
    pub path: String,
    pub deprecated: bool,
    /// By (location, name).
    pub parameters: BTreeMap<(String, String), Parameter>,
    pub request_body: Option<RequestBody>,
    /// By status code (`200`, `4XX`, `default`).
    pub responses: BTreeMap<String, Response>,
    /// The effective security: alternatives, each a set of scheme names. The empty set is anonymous
    /// access.
    pub security: BTreeSet<BTreeSet<String>>,
    /// `x-job`, as written.
    pub job: Option<Value>,
    /// The effective `x-validation-error` (the operation's own, else the document's).
    pub validation_error: Option<Value>,
    /// The resolved operation without prose, for the catch-all comparison.
    pub residue: Value,
}

#[derive(Debug, Clone)]
pub struct Parameter {
    pub required: bool,
    /// The effective style and explode, defaults filled in.
    pub style: String,
    pub explode: bool,
    pub shape: Shape,
}

#[derive(Debug, Clone)]
pub struct RequestBody {
    pub required: bool,
    pub content: BTreeMap<String, Shape>,
}

#[derive(Debug, Clone)]
pub struct Response {
    pub content: BTreeMap<String, Shape>,
    /// By lowercase header name: (required, shape).
    pub headers: BTreeMap<String, (bool, Shape)>,
}

/// What a schema admits, reduced to what the comparison looks at.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Shape {
    /// `string`, `integer`, `number`, `boolean`, `array`, `object`, `oneOf`, or `any` (no type).
    pub ty: String,
    pub format: Option<String>,
    pub nullable: bool,
    /// Validation keywords that narrow the values (`maxLength`, `minimum`, `pattern`, ...).
    pub constraints: BTreeMap<String, Value>,
    /// `enum`, each value as JSON text (strings without quotes).
    pub enum_values: Option<BTreeSet<String>>,
    pub default: Option<Value>,
    /// By property name: (required, shape).
    pub properties: BTreeMap<String, (bool, Shape)>,
    /// `additionalProperties` with a schema: the shape of the map's values.
    pub additional: Option<Box<Shape>>,
    pub items: Option<Box<Shape>>,
    /// `oneOf`/`anyOf` alternatives, by component name (or `#index` when inline).
    pub variants: BTreeMap<String, Shape>,
    /// The component this shape came from, when it was a `$ref`.
    pub reference: Option<String>,
    /// The component recurs here; it is not expanded again.
    pub recursive: bool,
}

/// Keys that narrow values, compared one by one.
pub const CONSTRAINTS: &[&str] = &[
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
];

/// Keys that are documentation only; the model drops them and `prose.rs` reports them.
/// `x-documented-statuses` is the vendor document's list of statuses, which lint holds the responses
/// to; the responses themselves are what the comparison looks at.
pub const PROSE: &[&str] = &[
    "description",
    "summary",
    "title",
    "example",
    "examples",
    "externalDocs",
    "tags",
    "info",
    "x-documented-statuses",
];

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

impl ApiModel {
    /// The model of a loaded spec's JSON value. Never fails: a `$ref` that does not resolve (lint
    /// reports those) is an `any` shape.
    pub fn build(doc: &Value) -> ApiModel {
        let resolver = Resolver {
            doc,
            envelope: doc.get("x-error-schema").and_then(Value::as_str),
        };
        let mut model = ApiModel {
            servers: strip_prose(doc.get("servers").unwrap_or(&Value::Null)),
            validation_error: doc
                .get("x-validation-error")
                .map(|v| resolver.resolve_all(v)),
            ..ApiModel::default()
        };
        if let Some(reference) = doc.get("x-error-schema").and_then(Value::as_str) {
            let shape = resolver.shape(
                &Value::Object(Map::from_iter([(
                    "$ref".to_string(),
                    Value::String(reference.to_string()),
                )])),
                Side::Response,
                &mut Vec::new(),
            );
            model.error_schema = Some((ref_name(reference).to_string(), shape));
        }
        model.error_responses = doc
            .get("x-error-responses")
            .and_then(Value::as_array)
            .map(|a| a.iter().map(value_text).collect())
            .unwrap_or_default();
        if let Some(schemes) = doc
            .pointer("/components/securitySchemes")
            .and_then(Value::as_object)
        {
            for (name, scheme) in schemes {
                let scheme = resolver.deref(scheme).0;
                model
                    .security_schemes
                    .insert(name.clone(), strip_prose(scheme));
            }
        }
        let global_security = doc.get("security");
        if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
            for (path, item) in paths {
                let item = resolver.deref(item).0;
                let Some(item) = item.as_object() else {
                    continue;
                };
                for method in METHODS {
                    let Some(op) = item.get(*method) else {
                        continue;
                    };
                    let operation = resolver.operation(
                        method,
                        path,
                        item.get("parameters"),
                        op,
                        global_security,
                        model.validation_error.as_ref(),
                    );
                    let key = op
                        .get("operationId")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                        .unwrap_or_else(|| format!("{} {path}", method.to_uppercase()));
                    model.operations.insert(key, operation);
                }
            }
        }
        let mut residue = doc.clone();
        if let Some(object) = residue.as_object_mut() {
            for key in [
                "paths",
                "components",
                "servers",
                "security",
                "x-error-schema",
                "x-error-responses",
                "x-validation-error",
            ] {
                object.remove(key);
            }
        }
        model.residue = strip_prose(&residue);
        model
    }
}

/// Follows local `$ref`s (`#/components/...`) in one document.
struct Resolver<'a> {
    doc: &'a Value,
    /// `x-error-schema`: left unresolved in residues, because the envelope is compared once for the
    /// document rather than inside every operation.
    envelope: Option<&'a str>,
}

impl<'a> Resolver<'a> {
    /// The value a `$ref` chain ends at, and the name of the last component on the way.
    fn deref(&self, mut value: &'a Value) -> (&'a Value, Option<String>) {
        let mut name = None;
        for _ in 0..32 {
            let Some(reference) = value.get("$ref").and_then(Value::as_str) else {
                break;
            };
            match reference
                .strip_prefix('#')
                .and_then(|p| self.doc.pointer(p))
            {
                Some(target) => {
                    name = Some(ref_name(reference).to_string());
                    value = target;
                }
                None => break,
            }
        }
        (value, name)
    }

    /// `value` with every `$ref` replaced by its target (cycles are left as `$ref`s).
    fn resolve_all(&self, value: &Value) -> Value {
        self.resolve_inner(value, &mut Vec::new())
    }

    fn resolve_inner(&self, value: &Value, stack: &mut Vec<String>) -> Value {
        match value {
            Value::Object(object) => {
                if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
                    if !stack.iter().any(|r| r == reference) && Some(reference) != self.envelope {
                        if let Some(target) = reference
                            .strip_prefix('#')
                            .and_then(|p| self.doc.pointer(p))
                        {
                            stack.push(reference.to_string());
                            let resolved = self.resolve_inner(target, stack);
                            stack.pop();
                            return resolved;
                        }
                    }
                    return value.clone();
                }
                Value::Object(
                    object
                        .iter()
                        .map(|(k, v)| (k.clone(), self.resolve_inner(v, stack)))
                        .collect(),
                )
            }
            Value::Array(items) => {
                Value::Array(items.iter().map(|v| self.resolve_inner(v, stack)).collect())
            }
            other => other.clone(),
        }
    }

    fn operation(
        &self,
        method: &str,
        path: &str,
        shared_parameters: Option<&Value>,
        op: &Value,
        global_security: Option<&Value>,
        document_validation: Option<&Value>,
    ) -> Operation {
        let mut parameters = BTreeMap::new();
        // Operation parameters override path-item ones with the same location and name.
        for list in [shared_parameters, op.get("parameters")]
            .into_iter()
            .flatten()
        {
            for parameter in list.as_array().into_iter().flatten() {
                let parameter = self.deref(parameter).0;
                let location = str_of(parameter, "in").to_string();
                let mut name = str_of(parameter, "name").to_string();
                if location == "header" {
                    // Header names are case-insensitive.
                    name = name.to_ascii_lowercase();
                }
                parameters.insert((location, name), self.parameter(parameter));
            }
        }
        let request_body = op.get("requestBody").map(|body| {
            let body = self.deref(body).0;
            RequestBody {
                required: bool_of(body, "required"),
                content: self.content(body.get("content"), Side::Request),
            }
        });
        let mut responses = BTreeMap::new();
        if let Some(map) = op.get("responses").and_then(Value::as_object) {
            for (status, response) in map {
                let response = self.deref(response).0;
                let mut headers = BTreeMap::new();
                if let Some(map) = response.get("headers").and_then(Value::as_object) {
                    for (name, header) in map {
                        let header = self.deref(header).0;
                        let shape = self.shape(
                            header.get("schema").unwrap_or(&Value::Null),
                            Side::Response,
                            &mut Vec::new(),
                        );
                        headers.insert(
                            name.to_ascii_lowercase(),
                            (bool_of(header, "required"), shape),
                        );
                    }
                }
                responses.insert(
                    status.clone(),
                    Response {
                        content: self.content(response.get("content"), Side::Response),
                        headers,
                    },
                );
            }
        }
        let security = op
            .get("security")
            .or(global_security)
            .map(security_alternatives)
            .unwrap_or_else(|| BTreeSet::from([BTreeSet::new()]));
        let validation_error = op
            .get("x-validation-error")
            .map(|v| self.resolve_all(v))
            .or_else(|| document_validation.cloned());
        let mut residue = self.resolve_all(op);
        if let Some(object) = residue.as_object_mut() {
            // Parameters are keyed by location and name: their order means nothing.
            if let Some(Value::Array(list)) = object.get_mut("parameters") {
                list.sort_by_key(|p| (str_of(p, "in").to_string(), str_of(p, "name").to_string()));
            }
            object.insert(
                "x-path-parameters".into(),
                shared_parameters
                    .map(|p| self.resolve_all(p))
                    .unwrap_or(Value::Null),
            );
        }
        Operation {
            method: method.to_uppercase(),
            path: path.to_string(),
            deprecated: bool_of(op, "deprecated"),
            parameters,
            request_body,
            responses,
            security,
            job: op.get("x-job").map(|v| self.resolve_all(v)),
            validation_error,
            residue: strip_prose(&residue),
        }
    }

    fn parameter(&self, parameter: &Value) -> Parameter {
        let location = str_of(parameter, "in");
        let style = parameter
            .get("style")
            .and_then(Value::as_str)
            .unwrap_or(match location {
                "query" | "cookie" => "form",
                _ => "simple",
            })
            .to_string();
        let explode = parameter
            .get("explode")
            .and_then(Value::as_bool)
            .unwrap_or(style == "form");
        let schema = parameter.get("schema").cloned().or_else(|| {
            // A parameter with `content` instead of `schema`: its one media type's schema.
            parameter
                .get("content")
                .and_then(Value::as_object)
                .and_then(|c| c.values().next())
                .and_then(|m| m.get("schema"))
                .cloned()
        });
        Parameter {
            required: bool_of(parameter, "required") || location == "path",
            style,
            explode,
            shape: self.shape(
                schema.as_ref().unwrap_or(&Value::Null),
                Side::Request,
                &mut Vec::new(),
            ),
        }
    }

    fn content(&self, content: Option<&Value>, side: Side) -> BTreeMap<String, Shape> {
        let mut out = BTreeMap::new();
        for (media, entry) in content.and_then(Value::as_object).into_iter().flatten() {
            let schema = entry.get("schema").unwrap_or(&Value::Null);
            out.insert(
                media.to_ascii_lowercase(),
                self.shape(schema, side, &mut Vec::new()),
            );
        }
        out
    }

    /// The shape of a schema as seen from `side`. `stack` holds the components being expanded.
    pub fn shape(&self, schema: &Value, side: Side, stack: &mut Vec<String>) -> Shape {
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            let name = ref_name(reference).to_string();
            if stack.contains(&name) {
                return Shape {
                    ty: "recursive".into(),
                    reference: Some(name),
                    recursive: true,
                    ..Shape::default()
                };
            }
            let Some(target) = reference
                .strip_prefix('#')
                .and_then(|p| self.doc.pointer(p))
            else {
                return Shape {
                    ty: "any".into(),
                    reference: Some(name),
                    ..Shape::default()
                };
            };
            stack.push(name.clone());
            let mut shape = self.shape(target, side, stack);
            stack.pop();
            shape.reference = Some(name);
            return shape;
        }
        let Some(object) = schema.as_object() else {
            return Shape {
                ty: "any".into(),
                ..Shape::default()
            };
        };
        let mut shape = Shape {
            format: object
                .get("format")
                .and_then(Value::as_str)
                .map(str::to_string),
            nullable: object.get("nullable").and_then(Value::as_bool) == Some(true),
            default: object.get("default").cloned(),
            enum_values: object
                .get("enum")
                .and_then(Value::as_array)
                .map(|values| values.iter().map(value_text).collect()),
            ..Shape::default()
        };
        for key in CONSTRAINTS {
            if let Some(value) = object.get(*key) {
                // `exclusiveMinimum: false` and `uniqueItems: false` say nothing.
                if value != &Value::Bool(false) {
                    shape.constraints.insert(key.to_string(), value.clone());
                }
            }
        }
        let required: BTreeSet<&str> = object
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if let Some(properties) = object.get("properties").and_then(Value::as_object) {
            for (name, property) in properties {
                let (target, _) = self.deref(property);
                let hidden = match side {
                    Side::Request => bool_of(target, "readOnly"),
                    Side::Response => bool_of(target, "writeOnly"),
                };
                if hidden {
                    continue;
                }
                let property_shape = self.shape(property, side, stack);
                shape.properties.insert(
                    name.clone(),
                    (required.contains(name.as_str()), property_shape),
                );
            }
        }
        match object.get("additionalProperties") {
            Some(additional) if additional.is_object() => {
                shape.additional = Some(Box::new(self.shape(additional, side, stack)));
            }
            // A closed object refuses unknown properties: a constraint like any other.
            Some(Value::Bool(false)) => {
                shape
                    .constraints
                    .insert("additionalProperties".to_string(), Value::Bool(false));
            }
            _ => {}
        }
        if let Some(items) = object.get("items") {
            shape.items = Some(Box::new(self.shape(items, side, stack)));
        }
        for key in ["oneOf", "anyOf"] {
            for (i, variant) in object
                .get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let variant_shape = self.shape(variant, side, stack);
                let name = variant_shape
                    .reference
                    .clone()
                    .or_else(|| variant.get("title").and_then(Value::as_str).map(Into::into))
                    .unwrap_or_else(|| format!("#{i}"));
                shape.variants.insert(name, variant_shape);
            }
        }
        // allOf: the members' properties, requirements and type all apply.
        let mut member_type = None;
        for member in object
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let member = self.shape(member, side, stack);
            for (name, (required, property)) in member.properties {
                let entry = shape.properties.entry(name).or_insert((false, property));
                entry.0 |= required;
            }
            for (key, value) in member.constraints {
                shape.constraints.entry(key).or_insert(value);
            }
            shape.nullable |= member.nullable;
            if shape.enum_values.is_none() {
                shape.enum_values = member.enum_values;
            }
            if shape.items.is_none() {
                shape.items = member.items;
            }
            if shape.additional.is_none() {
                shape.additional = member.additional;
            }
            if shape.format.is_none() {
                shape.format = member.format;
            }
            if member.ty != "any" {
                member_type.get_or_insert(member.ty);
            }
        }
        for name in &required {
            // A requirement on a property declared in an allOf member, or nowhere.
            if let Some(entry) = shape.properties.get_mut(*name) {
                entry.0 = true;
            }
        }
        shape.ty = match object.get("type").and_then(Value::as_str) {
            Some(ty) => ty.to_string(),
            None if !shape.variants.is_empty() => "oneOf".to_string(),
            None if object.contains_key("properties") || shape.additional.is_some() => {
                "object".to_string()
            }
            None if shape.items.is_some() => "array".to_string(),
            None => member_type.unwrap_or_else(|| "any".to_string()),
        };
        shape
    }
}

/// The last segment of a `$ref`: the component's name.
pub fn ref_name(reference: &str) -> &str {
    reference.rsplit('/').next().unwrap_or(reference)
}

fn str_of<'v>(value: &'v Value, key: &str) -> &'v str {
    value.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn bool_of(value: &Value, key: &str) -> bool {
    value.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// A literal as text: strings as they are, anything else as JSON.
pub fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `security: []` (and a requirement `{}`) is anonymous access: the one alternative needing nothing.
fn security_alternatives(security: &Value) -> BTreeSet<BTreeSet<String>> {
    if security.as_array().is_some_and(Vec::is_empty) {
        return BTreeSet::from([BTreeSet::new()]);
    }
    security
        .as_array()
        .into_iter()
        .flatten()
        .map(|requirement| {
            requirement
                .as_object()
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default()
        })
        .collect()
}

/// `value` without documentation keys, at any depth. Property names are kept even when they are
/// spelled like a documentation key (a field called `description` is data).
pub fn strip_prose(value: &Value) -> Value {
    strip(value, false)
}

fn strip(value: &Value, names: bool) -> Value {
    match value {
        Value::Object(object) => Value::Object(
            object
                .iter()
                .filter(|(k, _)| names || !PROSE.contains(&k.as_str()))
                .map(|(k, v)| {
                    let literal = !names && (k == "enum" || k == "default" || k.starts_with("x-"));
                    let v = if literal {
                        v.clone()
                    } else {
                        strip(v, !names && is_name_map(k))
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| strip(v, false)).collect()),
        other => other.clone(),
    }
}

/// Keys whose value is a map from names the spec chose (property names, statuses, media types) to
/// nodes, rather than a node with keywords.
pub fn is_name_map(key: &str) -> bool {
    matches!(
        key,
        "properties"
            | "paths"
            | "responses"
            | "content"
            | "schemas"
            | "headers"
            | "securitySchemes"
            | "parameters"
            | "requestBodies"
            | "links"
            | "callbacks"
            | "variables"
            | "encoding"
            | "mapping"
    )
}
