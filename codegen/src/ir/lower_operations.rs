//! `openapiv3` operations to IR operations. Inline schemas of parameters and bodies become named types
//! through the shared [`SchemaLowering`], named after the operation (`CreateSessionRequest`).

use openapiv3::{
    OpenAPI, Operation as OaOperation, Parameter as OaParameter, ParameterSchemaOrContent,
    ReferenceOr, RequestBody as OaRequestBody, Response as OaResponse, SchemaKind, Type,
};
use serde_json::Value;

use super::lower_schemas::{doc_of, SchemaLowering, SchemaRef};
use super::names::{type_name, value_name, Name, Scope};
use super::operations::{
    BodyKind, Constraints, Content, Location, Operation, Parameter, RequestBody, Response, Style,
};
use super::types::Ty;
use super::Warning;
use crate::extensions::{self, Job, ValidationErrorRule};
use crate::source::push_token;
use crate::walk::METHODS;

pub fn lower_operations<'a>(
    spec: &'a OpenAPI,
    schemas: &mut SchemaLowering<'a>,
    raw: &Value,
) -> (Vec<Operation>, Vec<Warning>) {
    let mut operations = Vec::new();
    let mut warnings = Vec::new();
    let mut methods = Scope::new();
    // Names the generated client and modules already use: an operation called `logout` becomes
    // `logout2` rather than a duplicate definition.
    for taken in [
        "new",
        "from_builder",
        "raw",
        "logout",
        "types",
        "client",
        "server",
        "stub",
        "registry",
        "generated",
    ] {
        methods.reserve(taken);
    }
    let document_rules: Vec<ValidationErrorRule> = raw
        .get("x-validation-error")
        .and_then(|v| extensions::parse(v).ok())
        .unwrap_or_default();
    let document_security: Vec<Vec<String>> = spec
        .security
        .iter()
        .flatten()
        .map(|r| r.keys().cloned().collect())
        .collect();

    for (path, item) in spec.paths.paths.iter() {
        let item_pointer = push_token("/paths", path);
        let ReferenceOr::Item(item) = item else {
            warnings.push(Warning {
                pointer: item_pointer,
                message: "path item $ref is not supported; the path is skipped".into(),
            });
            continue;
        };
        for method in METHODS {
            let Some(op) = operation_of(item, method) else {
                continue;
            };
            let pointer = push_token(&item_pointer, method);
            let api_name = op
                .operation_id
                .clone()
                .unwrap_or_else(|| synthesize_id(method, path));
            let name = methods.claim(value_name(&api_name));
            let context = type_name(&api_name).rust;
            let mut lowering = OperationLowering {
                spec,
                schemas,
                pointer: pointer.clone(),
                context: context.clone(),
                warnings: &mut warnings,
            };
            let parameters = lowering.parameters(&item.parameters, &op.parameters);
            let body = op.request_body.as_ref().and_then(|b| lowering.body(b));
            let responses = lowering.responses(op);
            let raw_op = raw.pointer(&pointer);
            let job: Option<Job> = raw_op
                .and_then(|o| o.get("x-job"))
                .and_then(|v| extensions::parse(v).ok());
            let validation = raw_op
                .and_then(|o| o.get("x-validation-error"))
                .and_then(|v| extensions::parse(v).ok())
                .unwrap_or_else(|| document_rules.clone());
            let security = match &op.security {
                Some(requirements) => requirements
                    .iter()
                    .map(|r| r.keys().cloned().collect())
                    .collect(),
                None => document_security.clone(),
            };
            let doc = [op.summary.as_deref(), op.description.as_deref()]
                .into_iter()
                .flatten()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join("\n\n");
            operations.push(Operation {
                name: Name {
                    api: api_name,
                    rust: name.rust,
                },
                method: method.to_string(),
                path: path.clone(),
                doc: (!doc.is_empty()).then_some(doc),
                parameters,
                body,
                responses,
                job,
                validation,
                security,
                pointer,
            });
        }
    }
    (operations, warnings)
}

fn operation_of<'a>(item: &'a openapiv3::PathItem, method: &str) -> Option<&'a OaOperation> {
    match method {
        "get" => item.get.as_ref(),
        "put" => item.put.as_ref(),
        "post" => item.post.as_ref(),
        "delete" => item.delete.as_ref(),
        "options" => item.options.as_ref(),
        "head" => item.head.as_ref(),
        "patch" => item.patch.as_ref(),
        "trace" => item.trace.as_ref(),
        _ => None,
    }
}

/// `get /repos/{owner}/{repo}` -> `get_repos_by_owner_by_repo`, for specs without operationIds.
pub fn synthesize_id(method: &str, path: &str) -> String {
    let mut out = method.to_string();
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        out.push('_');
        match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(var) => {
                out.push_str("by_");
                out.push_str(var);
            }
            None => out.push_str(segment),
        }
    }
    out
}

struct OperationLowering<'s, 'a, 'w> {
    spec: &'a OpenAPI,
    schemas: &'s mut SchemaLowering<'a>,
    pointer: String,
    context: String,
    warnings: &'w mut Vec<Warning>,
}

impl<'a> OperationLowering<'_, 'a, '_> {
    fn resolve<T>(
        &self,
        item: &'a ReferenceOr<T>,
        section: &str,
        get: impl Fn(&'a openapiv3::Components) -> Option<&'a ReferenceOr<T>>,
    ) -> Option<&'a T> {
        let _ = section;
        match item {
            ReferenceOr::Item(t) => Some(t),
            ReferenceOr::Reference { .. } => match get(self.spec.components.as_ref()?)? {
                ReferenceOr::Item(t) => Some(t),
                ReferenceOr::Reference { .. } => None,
            },
        }
    }

    fn parameters(
        &mut self,
        shared: &'a [ReferenceOr<OaParameter>],
        own: &'a [ReferenceOr<OaParameter>],
    ) -> Vec<Parameter> {
        let mut out: Vec<Parameter> = Vec::new();
        let mut scope = Scope::new();
        // Fields of every server request beside the parameters.
        scope.reserve("body");
        scope.reserve("headers");
        let mut seen: Vec<(String, Location)> = Vec::new();
        // Operation-level parameters override path-level ones with the same name and location.
        let item_pointer = self
            .pointer
            .rsplit_once('/')
            .map(|(item, _)| item.to_string())
            .unwrap_or_default();
        let all: Vec<(String, &'a ReferenceOr<OaParameter>)> = own
            .iter()
            .enumerate()
            .map(|(i, p)| (format!("{}/parameters/{i}", self.pointer), p))
            .chain(
                shared
                    .iter()
                    .enumerate()
                    .map(|(i, p)| (format!("{item_pointer}/parameters/{i}"), p)),
            )
            .collect();
        for (at, p) in all {
            let reference = match p {
                ReferenceOr::Reference { reference } => Some(reference.clone()),
                ReferenceOr::Item(_) => None,
            };
            let Some(p) = self.resolve(p, "parameters", |c| {
                let name = reference
                    .as_deref()?
                    .strip_prefix("#/components/parameters/")?;
                c.parameters.get(&crate::source::unescape_token(name))
            }) else {
                self.warnings.push(Warning {
                    pointer: at,
                    message: "unresolvable parameter $ref; skipped".into(),
                });
                continue;
            };
            let (data, location, style) = match p {
                OaParameter::Query {
                    parameter_data,
                    style,
                    ..
                } => (
                    parameter_data,
                    Location::Query,
                    match style {
                        openapiv3::QueryStyle::Form => Style::Form,
                        openapiv3::QueryStyle::SpaceDelimited => Style::SpaceDelimited,
                        openapiv3::QueryStyle::PipeDelimited => Style::PipeDelimited,
                        openapiv3::QueryStyle::DeepObject => Style::DeepObject,
                    },
                ),
                OaParameter::Header { parameter_data, .. } => {
                    (parameter_data, Location::Header, Style::Simple)
                }
                OaParameter::Path {
                    parameter_data,
                    style,
                } => (
                    parameter_data,
                    Location::Path,
                    match style {
                        openapiv3::PathStyle::Simple => Style::Simple,
                        openapiv3::PathStyle::Label => Style::Label,
                        openapiv3::PathStyle::Matrix => Style::Matrix,
                    },
                ),
                OaParameter::Cookie { parameter_data, .. } => {
                    (parameter_data, Location::Cookie, Style::Form)
                }
            };
            if seen.contains(&(data.name.clone(), location)) {
                continue;
            }
            seen.push((data.name.clone(), location));
            let context = format!("{}{}", self.context, type_name(&data.name).rust);
            let schema_example = match &data.format {
                ParameterSchemaOrContent::Schema(ReferenceOr::Item(s)) => {
                    s.schema_data.example.clone()
                }
                _ => None,
            };
            let example = data.example.clone().or(schema_example);
            let (ty, secret_schema, constraints) = match &data.format {
                ParameterSchemaOrContent::Schema(s) => {
                    let constraints = constraints_of(self.spec, s);
                    let ty = self.schemas.ty(s.into(), &format!("{at}/schema"), &context);
                    (ty, is_secret_schema(s), constraints)
                }
                ParameterSchemaOrContent::Content(_) => {
                    self.warnings.push(Warning {
                        pointer: at.clone(),
                        message: "parameter with `content` is passed as a JSON string".into(),
                    });
                    (Ty::String, false, Constraints::default())
                }
            };
            let secret = secret_schema
                || data
                    .extensions
                    .get("x-secret")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
            let explode = data.explode.unwrap_or(style == Style::Form);
            out.push(Parameter {
                name: Name {
                    api: data.name.clone(),
                    rust: scope.claim(value_name(&data.name)).rust,
                },
                location,
                style,
                explode,
                required: data.required || location == Location::Path,
                ty,
                secret,
                doc: data.description.clone(),
                constraints,
                example,
            });
        }
        // Path parameters first, in template order; then the rest in declaration order.
        out.sort_by_key(|p| match p.location {
            Location::Path => 0,
            _ => 1,
        });
        out
    }

    fn body(&mut self, body: &'a ReferenceOr<OaRequestBody>) -> Option<RequestBody> {
        let reference = match body {
            ReferenceOr::Reference { reference } => Some(reference.clone()),
            ReferenceOr::Item(_) => None,
        };
        let body = self.resolve(body, "requestBodies", |c| {
            let name = reference
                .as_deref()?
                .strip_prefix("#/components/requestBodies/")?;
            c.request_bodies.get(&crate::source::unescape_token(name))
        })?;
        let base = format!("{}/requestBody/content", self.pointer);
        let context = format!("{}Request", self.context);
        let contents = self.contents(&body.content, &base, &context);
        Some(RequestBody {
            required: body.required,
            contents,
        })
    }

    fn responses(&mut self, op: &'a OaOperation) -> Vec<Response> {
        let mut out = Vec::new();
        let mut entries: Vec<(String, &'a ReferenceOr<OaResponse>)> = op
            .responses
            .responses
            .iter()
            .map(|(status, r)| (status.to_string(), r))
            .collect();
        if let Some(default) = &op.responses.default {
            entries.push(("default".to_string(), default));
        }
        let first_success = entries
            .iter()
            .map(|(s, _)| s.clone())
            .filter(|s| s.starts_with('2'))
            .min();
        for (status, response) in entries {
            let reference = match response {
                ReferenceOr::Reference { reference } => Some(reference.clone()),
                ReferenceOr::Item(_) => None,
            };
            let Some(resolved) = self.resolve(response, "responses", |c| {
                let name = reference
                    .as_deref()?
                    .strip_prefix("#/components/responses/")?;
                c.responses.get(&crate::source::unescape_token(name))
            }) else {
                continue;
            };
            let context = if Some(&status) == first_success.as_ref() {
                format!("{}Response", self.context)
            } else {
                format!(
                    "{}Response{}",
                    self.context,
                    type_name(&status).rust.trim_start_matches('V')
                )
            };
            let base = match &reference {
                Some(r) => format!("{}/content", r.trim_start_matches('#')),
                None => format!("{}/responses/{status}/content", self.pointer),
            };
            let contents = self.contents(&resolved.content, &base, &context);
            let mut headers: Vec<Name> = resolved.headers.keys().map(|h| value_name(h)).collect();
            headers.sort();
            out.push(Response {
                status,
                doc: Some(resolved.description.clone()).filter(|d| !d.trim().is_empty()),
                contents,
                headers,
            });
        }
        out
    }

    fn contents(
        &mut self,
        content: &'a indexmap::IndexMap<String, openapiv3::MediaType>,
        base: &str,
        context: &str,
    ) -> Vec<Content> {
        let mut out = Vec::new();
        let several = content.len() > 1;
        let mut variants = Scope::new();
        for (media_type, media) in content {
            let kind = BodyKind::of(media_type);
            let variant = if variants.reserve(kind.variant_name()) {
                kind.variant_name().to_string()
            } else {
                variants.claim(type_name(media_type)).rust
            };
            let at = push_token(&push_token(base, media_type), "schema");
            let context = if several && out.iter().any(|c: &Content| c.ty.is_some()) {
                format!("{context}{}", type_name(media_type).rust)
            } else {
                context.to_string()
            };
            let ty = match (&media.schema, kind) {
                (Some(s), BodyKind::Json | BodyKind::Form | BodyKind::Multipart) => {
                    Some(self.schemas.ty(SchemaRef::from(s), &at, &context))
                }
                (Some(s), BodyKind::Text) if !is_binary(s) => Some(Ty::String),
                _ => None,
            };
            let example = media
                .example
                .clone()
                .or_else(|| {
                    media
                        .examples
                        .values()
                        .find_map(|e| e.as_item().and_then(|e| e.value.clone()))
                })
                .or_else(|| match &media.schema {
                    Some(ReferenceOr::Item(s)) => s.schema_data.example.clone(),
                    _ => None,
                });
            let schema_pointer = media.schema.as_ref().map(|_| at.clone());
            out.push(Content {
                media_type: media_type.clone(),
                kind,
                variant,
                ty,
                example,
                schema_name: None,
                schema_pointer,
            });
        }
        out
    }
}

fn is_binary(schema: &ReferenceOr<openapiv3::Schema>) -> bool {
    matches!(schema, ReferenceOr::Item(s) if matches!(&s.schema_kind,
        SchemaKind::Type(Type::String(t)) if matches!(t.format, openapiv3::VariantOrUnknownOrEmpty::Item(openapiv3::StringFormat::Binary))))
}

fn is_secret_schema(schema: &ReferenceOr<openapiv3::Schema>) -> bool {
    match schema {
        ReferenceOr::Item(s) => {
            s.schema_data
                .extensions
                .get("x-secret")
                .and_then(Value::as_bool)
                .unwrap_or(false)
                || matches!(&s.schema_kind, SchemaKind::Type(Type::String(t))
                    if matches!(t.format, openapiv3::VariantOrUnknownOrEmpty::Item(openapiv3::StringFormat::Password)))
        }
        ReferenceOr::Reference { .. } => false,
    }
}

/// The checks a server makes on a parameter value, read from its (inline or referenced) schema.
fn constraints_of(spec: &OpenAPI, schema: &ReferenceOr<openapiv3::Schema>) -> Constraints {
    let schema = match schema {
        ReferenceOr::Item(s) => Some(s),
        ReferenceOr::Reference { reference } => reference
            .strip_prefix("#/components/schemas/")
            .and_then(|n| spec.components.as_ref()?.schemas.get(n))
            .and_then(|s| s.as_item()),
    };
    let mut c = Constraints::default();
    let Some(schema) = schema else { return c };
    match &schema.schema_kind {
        SchemaKind::Type(Type::String(s)) => {
            c.pattern = s.pattern.clone();
            c.min_length = s.min_length;
            c.max_length = s.max_length;
            c.allowed = s.enumeration.iter().flatten().cloned().collect();
        }
        SchemaKind::Type(Type::Integer(i)) => {
            c.minimum = i
                .minimum
                .map(|m| m as f64 + if i.exclusive_minimum { 1.0 } else { 0.0 });
            c.maximum = i
                .maximum
                .map(|m| m as f64 - if i.exclusive_maximum { 1.0 } else { 0.0 });
        }
        SchemaKind::Type(Type::Number(n)) => {
            c.minimum = n.minimum;
            c.maximum = n.maximum;
        }
        SchemaKind::Type(Type::Array(a)) => {
            if let Some(items) = &a.items {
                let items = items.clone().unbox();
                c.items = Some(Box::new(constraints_of(spec, &items)));
            }
        }
        _ => {}
    }
    let _ = doc_of;
    c
}
