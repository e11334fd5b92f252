//! Documentation-only edits: descriptions, summaries, titles, examples, tags.
//!
//! They are reported so a reviewer sees them, one JSON pointer each, and are never breaking. The walk
//! goes over the two raw documents side by side (before `$ref` resolution, so an edit is reported once,
//! where it was made) and only looks at documentation keys; structural changes are `compare.rs`'s job.

use serde_json::Value;

use super::compare::Change;
use super::model::{is_name_map, PROSE};
use super::rules::rule;

/// One change per documentation key that differs, located by JSON pointer.
pub fn changes(base: &Value, head: &Value) -> Vec<Change> {
    let mut out = Vec::new();
    walk(base, head, "", false, &mut out);
    out
}

fn walk(a: &Value, b: &Value, pointer: &str, names: bool, out: &mut Vec<Change>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: Vec<&String> = x
                .keys()
                .chain(y.keys().filter(|k| !x.contains_key(*k)))
                .collect();
            for key in keys {
                let here = codegen::source::push_token(pointer, key);
                let prose = !names && PROSE.contains(&key.as_str());
                match (x.get(key), y.get(key)) {
                    (Some(u), Some(v)) if prose && u != v => push(out, here, "edited"),
                    (Some(_), Some(_)) if prose => {}
                    (Some(_), None) if prose => push(out, here, "removed"),
                    (None, Some(_)) if prose => push(out, here, "added"),
                    (Some(u), Some(v)) => {
                        // Literal values (enums, defaults, extensions) hold no documentation keys.
                        let literal =
                            !names && (key == "enum" || key == "default" || key.starts_with("x-"));
                        if !literal {
                            walk(u, v, &here, !names && is_name_map(key), out);
                        }
                    }
                    // A node added or removed is a structural change, reported by `compare.rs`.
                    _ => {}
                }
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            // Parameter lists are matched by location and name, so reordering does not misalign them.
            let key = |v: &Value| {
                let name = v.get("name").and_then(Value::as_str)?;
                let location = v.get("in").and_then(Value::as_str)?;
                Some(format!("{location}:{name}"))
            };
            for (i, u) in x.iter().enumerate() {
                let v = match key(u) {
                    Some(k) => y.iter().find(|v| key(v).as_deref() == Some(k.as_str())),
                    None => y.get(i),
                };
                if let Some(v) = v {
                    walk(u, v, &format!("{pointer}/{i}"), false, out);
                }
            }
        }
        _ => {}
    }
}

fn push(out: &mut Vec<Change>, pointer: String, what: &str) {
    out.push(Change {
        rule: rule("prose-changed"),
        operation: None,
        place: "document".to_string(),
        subject: format!("#{pointer}"),
        detail: what.to_string(),
    });
}
