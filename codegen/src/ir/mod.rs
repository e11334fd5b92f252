//! The intermediate representation: a type space (every schema, named, in sorted maps) separate
//! from operations (which refer to types by name). Only the `lower_*` modules read `openapiv3`
//! types; emitters read only this.

pub mod lower_operations;
pub mod lower_schemas;
pub mod names;
pub mod operations;
pub mod types;

use crate::load::Spec;
pub use operations::Operation;
pub use types::{Ty, TypeSpace};

/// A construct the generator could not express exactly, and what it did instead.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Warning {
    pub pointer: String,
    pub message: String,
}

/// Everything the emitters need to know about one spec.
#[derive(Debug, Clone)]
pub struct Api {
    pub title: String,
    pub version: String,
    pub types: TypeSpace,
    pub operations: Vec<Operation>,
    pub warnings: Vec<Warning>,
    /// A JSON Schema (draft 7) document with one definition per JSON or form request body, so
    /// generated servers check bodies exactly as the spec says.
    pub body_schemas: serde_json::Value,
}

/// Lowers a loaded spec. Never fails: what cannot be expressed degrades to `serde_json::Value` with
/// a warning naming its JSON pointer.
pub fn lower(spec: &Spec) -> Api {
    let mut schemas = lower_schemas::SchemaLowering::new(&spec.openapi);
    schemas.lower_components();
    let (mut operations, mut warnings) =
        lower_operations::lower_operations(&spec.openapi, &mut schemas, spec.value());
    let mut targets = Vec::new();
    for op in &mut operations {
        let Some(body) = op.body.as_mut() else {
            continue;
        };
        for content in &mut body.contents {
            use operations::BodyKind;
            if !matches!(content.kind, BodyKind::Json | BodyKind::Form) {
                continue;
            }
            if let Some(pointer) = &content.schema_pointer {
                let name = format!("{}:{}", op.name.api, content.media_type);
                targets.push((name.clone(), pointer.clone()));
                content.schema_name = Some(name);
            }
        }
    }
    let body_schemas = crate::schema_check::bundle(spec.value(), &targets);
    let (types, schema_warnings) = schemas.finish();
    warnings.extend(schema_warnings);
    warnings.sort();
    warnings.dedup();
    Api {
        title: spec.openapi.info.title.clone(),
        version: spec.openapi.info.version.clone(),
        types,
        operations,
        warnings,
        body_schemas,
    }
}
