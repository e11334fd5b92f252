//! Values whose names say they are secret are marked, so generated code and reports can redact them.

use serde_json::Value;

use super::Lint;
use crate::source::unescape_token;
use crate::walk::{follow, walk, Kind};

/// Name fragments that mean a value is a credential. Compared case-insensitively with `_` and `-`
/// removed, so `api_key`, `apiKey` and `X-Api-Key` all match.
const SECRET_WORDS: [&str; 8] = [
    "password",
    "passphrase",
    "passwd",
    "token",
    "secret",
    "apikey",
    "sessionid",
    "csrf",
];

pub fn looks_secret(name: &str) -> bool {
    let folded: String = name
        .chars()
        .filter(|c| *c != '_' && *c != '-')
        .collect::<String>()
        .to_lowercase();
    SECRET_WORDS.iter().any(|w| folded.contains(w))
}

/// Marked by `x-secret: true` or `format: password` on the schema, or on the parameter or header.
pub fn is_marked(doc: &Value, node: &Value) -> Option<bool> {
    let explicit = |v: &Value| v.get("x-secret").and_then(Value::as_bool);
    if let Some(flag) = explicit(node) {
        return Some(flag);
    }
    let schema = node
        .get("schema")
        .and_then(|s| follow(doc, s))
        .or(Some(node))?;
    if let Some(flag) = explicit(schema) {
        return Some(flag);
    }
    (schema.get("format").and_then(Value::as_str) == Some("password")).then_some(true)
}

pub(super) fn check(lint: &mut Lint<'_>) {
    let mut found: Vec<(String, String)> = Vec::new();
    walk(lint.doc, &mut |node| {
        if node.reference.is_some() {
            return;
        }
        let name = match node.kind {
            // A property: the last token of `.../properties/<name>`.
            Kind::Schema => {
                let Some((parent, last)) = node.pointer.rsplit_once('/') else {
                    return;
                };
                if !parent.ends_with("/properties") {
                    return;
                }
                // Only leaves hold the secret; an object named `tokenInfo` is a container.
                let t = node.value.get("type").and_then(Value::as_str);
                if matches!(
                    t,
                    Some("object" | "array" | "boolean" | "integer" | "number")
                ) {
                    return;
                }
                unescape_token(last)
            }
            Kind::Parameter => match node.value.get("name").and_then(Value::as_str) {
                Some(n) => n.to_string(),
                None => return,
            },
            Kind::Header => match node.pointer.rsplit_once('/') {
                Some((_, last)) => unescape_token(last),
                None => return,
            },
            _ => return,
        };
        if looks_secret(&name) && is_marked(lint.doc, node.value).is_none() {
            found.push((node.pointer.to_string(), name));
        }
    });
    for (pointer, name) in found {
        lint.error(
            &pointer,
            format!("`{name}` looks like a secret but is not marked: add `x-secret: true` (or `x-secret: false` if it is not one)"),
        );
    }
}
