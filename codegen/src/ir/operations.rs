//! Operations: what each method of a client, and each handler of a server, sends and receives.
//! Parameters and bodies refer to the type space by [`Ty`].

use super::names::Name;
use super::types::Ty;
use crate::extensions::{Job, ValidationErrorRule};

#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    /// From `operationId`, or made from method and path when the spec has none.
    pub name: Name,
    pub method: String,
    /// The path template as written (`/jobs/{id}`).
    pub path: String,
    pub doc: Option<String>,
    pub parameters: Vec<Parameter>,
    pub body: Option<RequestBody>,
    pub responses: Vec<Response>,
    pub job: Option<Job>,
    pub validation: Vec<ValidationErrorRule>,
    /// Security requirements (alternatives of scheme names); empty means none needed.
    pub security: Vec<Vec<String>>,
    pub pointer: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Location {
    Path,
    Query,
    Header,
    Cookie,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Form,
    Simple,
    Label,
    Matrix,
    SpaceDelimited,
    PipeDelimited,
    DeepObject,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    pub name: Name,
    pub location: Location,
    pub style: Style,
    pub explode: bool,
    pub required: bool,
    pub ty: Ty,
    pub secret: bool,
    pub doc: Option<String>,
    pub constraints: Constraints,
    /// The spec's example value, if it gives one.
    pub example: Option<serde_json::Value>,
}

/// What the server checks about a parameter beyond its type.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Constraints {
    pub pattern: Option<String>,
    pub min_length: Option<usize>,
    pub max_length: Option<usize>,
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
    pub allowed: Vec<String>,
    /// For an array parameter: the constraints of each item.
    pub items: Option<Box<Constraints>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RequestBody {
    pub required: bool,
    pub contents: Vec<Content>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Content {
    pub media_type: String,
    pub kind: BodyKind,
    /// Its variant in a request body enum (`Json`, `Text`, ...): the kind's name, or one made from
    /// the media type when another media type of the same kind took it (`text/plain` is `Text`,
    /// `text/x-markdown` then `TextXMarkdown`).
    pub variant: String,
    /// The body type for JSON and form bodies; `None` for binary ones.
    pub ty: Option<Ty>,
    /// The spec's example body, if it gives one.
    pub example: Option<serde_json::Value>,
    /// For request bodies with a JSON schema: its definition in [`super::Api::body_schemas`].
    pub schema_name: Option<String>,
    /// Where its schema is in the spec.
    pub schema_pointer: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    Json,
    Form,
    Multipart,
    Binary,
    Text,
}

impl BodyKind {
    /// The name of its variant in a request body enum, when no other media type of the same kind
    /// took it first.
    pub fn variant_name(self) -> &'static str {
        match self {
            BodyKind::Json => "Json",
            BodyKind::Form => "Form",
            BodyKind::Multipart => "Multipart",
            BodyKind::Binary => "Binary",
            BodyKind::Text => "Text",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// `200`, `4XX` or `default`.
    pub status: String,
    pub doc: Option<String>,
    pub contents: Vec<Content>,
    pub headers: Vec<Name>,
}

impl Response {
    pub fn is_success(&self) -> bool {
        self.status.starts_with('2')
    }
}

impl BodyKind {
    pub fn of(media_type: &str) -> BodyKind {
        let essence = media_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if essence == "application/json" || essence.ends_with("+json") {
            BodyKind::Json
        } else if essence == "application/x-www-form-urlencoded" {
            BodyKind::Form
        } else if essence.starts_with("multipart/") {
            BodyKind::Multipart
        } else if essence.starts_with("text/") {
            BodyKind::Text
        } else {
            BodyKind::Binary
        }
    }
}
