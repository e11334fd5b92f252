//! Text to a checked OpenAPI document: parse with lines, then deserialize into `openapiv3` types.
//!
//! Nothing here panics on bad input: every failure becomes a [`Diagnostic`] naming the file, the line
//! and the JSON pointer of the offending node.

use openapiv3::OpenAPI;
use serde::Deserialize;
use serde_json::Value;

use crate::diagnostic::{Diagnostic, Severity};
use crate::source::{push_token, SourceDocument};
use crate::structure;

/// A spec that parsed and has the shape of an OpenAPI 3.0 document.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The name diagnostics use for the file (as the user wrote it, e.g. `specs/lxca.yaml`).
    pub file: String,
    pub source: SourceDocument,
    pub openapi: OpenAPI,
}

impl Spec {
    pub fn value(&self) -> &Value {
        &self.source.value
    }

    /// A diagnostic located at `pointer` in this spec.
    pub fn diagnostic(
        &self,
        severity: Severity,
        pointer: &str,
        message: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic {
            file: self.file.clone(),
            line: self.source.line_of(pointer),
            pointer: pointer.to_string(),
            severity,
            message: message.into(),
        }
    }

    pub fn error(&self, pointer: &str, message: impl Into<String>) -> Diagnostic {
        self.diagnostic(Severity::Error, pointer, message)
    }

    pub fn warning(&self, pointer: &str, message: impl Into<String>) -> Diagnostic {
        self.diagnostic(Severity::Warning, pointer, message)
    }
}

/// Loads one spec. On failure, every problem found (at least one) is returned, sorted.
pub fn load(file: &str, text: &str) -> Result<Spec, Vec<Diagnostic>> {
    let source = SourceDocument::parse(text).map_err(|e| {
        vec![Diagnostic {
            file: file.to_string(),
            line: e.line,
            pointer: e.pointer,
            severity: Severity::Error,
            message: e.message,
        }]
    })?;
    let at = |pointer: &str, message: String| Diagnostic {
        file: file.to_string(),
        line: source.line_of(pointer),
        pointer: pointer.to_string(),
        severity: Severity::Error,
        message,
    };

    let mut problems: Vec<Diagnostic> = structure::check(&source.value)
        .into_iter()
        .map(|(pointer, message)| at(&pointer, message))
        .collect();
    if !problems.is_empty() {
        crate::diagnostic::sort(&mut problems);
        return Err(problems);
    }

    // The plain deserializer first: tracking the path costs a third of the time on a large
    // document, and it is only needed to say where a broken one breaks.
    if let Ok(openapi) = OpenAPI::deserialize(&source.value) {
        return Ok(Spec {
            file: file.to_string(),
            source,
            openapi,
        });
    }
    match serde_path_to_error::deserialize::<_, OpenAPI>(&source.value) {
        Ok(openapi) => Ok(Spec {
            file: file.to_string(),
            source,
            openapi,
        }),
        Err(e) => {
            let pointer = path_to_pointer(e.path());
            let message = format!("not a valid OpenAPI 3.0 document: {}", e.inner());
            Err(vec![at(&pointer, message)])
        }
    }
}

fn path_to_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut pointer = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => pointer = format!("{pointer}/{index}"),
            Segment::Map { key } => pointer = push_token(&pointer, key),
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    pointer
}
