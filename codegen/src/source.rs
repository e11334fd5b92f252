//! YAML or JSON text to a JSON value, remembering the line of every node.
//!
//! Diagnostics name a file, a line and a JSON pointer. `openapiv3` and `serde_json` know nothing of
//! lines, so the document is parsed here, event by event, into a `serde_json::Value`; the map from
//! JSON pointer to the 1-based line where each node (or its mapping key) starts is made by a second
//! parse, the first time a diagnostic asks for a line. A pointer per node is millions of strings on a
//! large document (GitHub's), and a clean document never needs one.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use serde_json::{Map, Number, Value};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};
use yaml_rust2::Yaml;

/// A parsed document and where each of its nodes came from.
#[derive(Debug, Clone)]
pub struct SourceDocument {
    pub value: Value,
    text: Arc<str>,
    lines: OnceLock<BTreeMap<String, usize>>,
}

/// Why text could not become a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub pointer: String,
    pub message: String,
}

impl SourceDocument {
    /// Parses YAML 1.2 (JSON included). Anchors and aliases are expanded; plain scalars are typed as
    /// the YAML core schema says (`200:` as a key stays the string `"200"`).
    pub fn parse(text: &str) -> Result<SourceDocument, SyntaxError> {
        // JSON is YAML, but serde_json reads it several times faster than the YAML scanner. A JSON
        // text that it refuses (a syntax error, a duplicate key) goes the YAML way, which says where.
        if text.trim_start().starts_with('{') {
            if let Ok(StrictJson(value)) = serde_json::from_str::<StrictJson>(text) {
                return Ok(SourceDocument {
                    value,
                    text: text.into(),
                    lines: OnceLock::new(),
                });
            }
        }
        let builder = Self::build(text, false)?;
        let value = builder.root.ok_or_else(|| SyntaxError {
            line: 1,
            pointer: String::new(),
            message: "the document is empty".to_string(),
        })?;
        Ok(SourceDocument {
            value,
            text: text.into(),
            lines: OnceLock::new(),
        })
    }

    fn build(text: &str, record_lines: bool) -> Result<Builder, SyntaxError> {
        let mut builder = Builder {
            record_lines,
            ..Builder::default()
        };
        let mut parser = Parser::new_from_str(text);
        if let Err(e) = parser.load(&mut builder, false) {
            return Err(SyntaxError {
                line: e.marker().line().max(1),
                pointer: builder.current_pointer(),
                message: format!("YAML syntax error: {}", e.info()),
            });
        }
        match builder.error.take() {
            Some(error) => Err(error),
            None => Ok(builder),
        }
    }

    fn lines(&self) -> &BTreeMap<String, usize> {
        self.lines.get_or_init(|| {
            Self::build(&self.text, true)
                .map(|b| b.lines)
                .unwrap_or_default()
        })
    }

    /// The line of the node at `pointer`, or of its nearest ancestor that exists.
    pub fn line_of(&self, pointer: &str) -> usize {
        let mut p = pointer;
        loop {
            if let Some(line) = self.lines().get(p) {
                return *line;
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return 1,
            }
        }
    }
}

/// Escapes one JSON-pointer reference token (RFC 6901).
pub fn escape_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Undoes [`escape_token`].
pub fn unescape_token(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// Appends one token to a pointer.
pub fn push_token(pointer: &str, token: &str) -> String {
    format!("{pointer}/{}", escape_token(token))
}

enum Frame {
    Mapping {
        map: Map<String, Value>,
        anchor: usize,
        key: Option<String>,
    },
    Sequence {
        items: Vec<Value>,
        anchor: usize,
    },
}

#[derive(Default)]
struct Builder {
    /// Whether `lines` is filled (the second parse, for diagnostics).
    record_lines: bool,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Value>,
    lines: BTreeMap<String, usize>,
    root: Option<Value>,
    error: Option<SyntaxError>,
}

impl Builder {
    /// The pointer of the node being read: each open frame's current key or index.
    fn current_pointer(&self) -> String {
        let mut pointer = String::new();
        for frame in &self.stack {
            match frame {
                Frame::Mapping { key: Some(k), .. } => {
                    pointer.push('/');
                    pointer.push_str(&escape_token(k));
                }
                Frame::Mapping { key: None, .. } => break,
                Frame::Sequence { items, .. } => {
                    pointer.push('/');
                    pointer.push_str(&items.len().to_string());
                }
            }
        }
        pointer
    }

    fn record_line(&mut self, pointer: String, line: usize) {
        self.lines.entry(pointer).or_insert(line);
    }

    fn fail(&mut self, line: usize, message: String) {
        if self.error.is_none() {
            self.error = Some(SyntaxError {
                line,
                pointer: self.current_pointer(),
                message,
            });
        }
    }

    /// Whether a collection may start here (not as a mapping key); records its line.
    fn opens_a_value(&mut self, line: usize) -> bool {
        if matches!(self.stack.last(), Some(Frame::Mapping { key: None, .. })) {
            self.fail(line, "mapping keys must be scalars".to_string());
            return false;
        }
        if self.record_lines {
            let pointer = self.current_pointer();
            self.record_line(pointer, line);
        }
        true
    }

    /// The pointer a new node gets, or `None` when the node is a mapping key.
    fn child_pointer(&self) -> Option<String> {
        match self.stack.last() {
            Some(Frame::Mapping { key: None, .. }) => None,
            _ => Some(self.current_pointer()),
        }
    }

    fn finish(&mut self, value: Value, anchor: usize, line: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, value.clone());
        }
        match self.stack.last_mut() {
            None => self.root = Some(value),
            Some(Frame::Sequence { items, .. }) => items.push(value),
            Some(Frame::Mapping { map, key, .. }) => match key.take() {
                Some(k) => {
                    map.insert(k, value);
                }
                None => {
                    let key = match value {
                        Value::String(s) => s,
                        Value::Number(n) => n.to_string(),
                        Value::Bool(b) => b.to_string(),
                        Value::Null => "null".to_string(),
                        _ => {
                            self.fail(line, "mapping keys must be scalars".to_string());
                            return;
                        }
                    };
                    let duplicate = map.contains_key(&key).then(|| key.clone());
                    *key_slot(self.stack.last_mut()) = Some(key);
                    if let Some(key) = duplicate {
                        self.fail(line, format!("duplicate mapping key `{key}`"));
                    }
                    if self.record_lines {
                        let pointer = self.current_pointer();
                        self.record_line(pointer, line);
                    }
                }
            },
        }
    }
}

fn key_slot(frame: Option<&mut Frame>) -> &mut Option<String> {
    match frame {
        Some(Frame::Mapping { key, .. }) => key,
        _ => unreachable!("key_slot is only called on a mapping frame"),
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let line = mark.line().max(1);
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                if self.record_lines {
                    if let Some(p) = self.child_pointer() {
                        self.record_line(p, line);
                    }
                }
                let value = scalar_value(&text, style, tag.as_ref().map(|t| t.suffix.as_str()));
                self.finish(value, anchor, line);
            }
            Event::Alias(id) => match self.anchors.get(&id).cloned() {
                Some(v) => self.finish(v, 0, line),
                None => self.fail(line, format!("unknown alias (anchor {id})")),
            },
            Event::SequenceStart(anchor, _) => {
                if !self.opens_a_value(line) {
                    return;
                }
                self.stack.push(Frame::Sequence {
                    items: Vec::new(),
                    anchor,
                });
            }
            Event::MappingStart(anchor, _) => {
                if !self.opens_a_value(line) {
                    return;
                }
                self.stack.push(Frame::Mapping {
                    map: Map::new(),
                    anchor,
                    key: None,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Sequence { items, anchor, .. }) => {
                    self.finish(Value::Array(items), anchor, line)
                }
                Some(Frame::Mapping { map, anchor, .. }) => {
                    self.finish(Value::Object(map), anchor, line)
                }
                None => self.fail(line, "unbalanced YAML events".to_string()),
            },
            Event::DocumentStart => {
                if self.root.is_some() {
                    self.fail(line, "more than one YAML document in the file".to_string());
                }
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
        }
    }
}

/// A JSON value read by serde_json that refuses duplicate keys, as the YAML loader does.
struct StrictJson(Value);

impl<'de> serde::Deserialize<'de> for StrictJson {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(StrictJson)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictJson(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let StrictJson(value) = map.next_value()?;
            if members.insert(key, value).is_some() {
                return Err(serde::de::Error::custom("duplicate key"));
            }
        }
        Ok(Value::Object(members))
    }
}

fn scalar_value(text: &str, style: TScalarStyle, tag: Option<&str>) -> Value {
    match tag {
        Some("str") => return Value::String(text.to_string()),
        Some("null") => return Value::Null,
        _ => {}
    }
    if style != TScalarStyle::Plain {
        return Value::String(text.to_string());
    }
    match Yaml::from_str(text) {
        Yaml::Null => Value::Null,
        Yaml::Boolean(b) => Value::Bool(b),
        Yaml::Integer(i) => Value::Number(i.into()),
        Yaml::Real(r) => match r.parse::<f64>().ok().and_then(Number::from_f64) {
            // A float keeps its digits when it is a whole number written as such (`1.0` stays 1.0).
            Some(n) => Value::Number(n),
            None => Value::String(text.to_string()),
        },
        _ => Value::String(text.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_reads_fast_and_still_knows_its_lines() {
        let text = "{\n  \"a\": {\n    \"b\": [1,\n      2.5, \"x\"]\n  },\n  \"c\": null\n}\n";
        let doc = SourceDocument::parse(text).unwrap();
        assert_eq!(doc.value, json!({"a": {"b": [1, 2.5, "x"]}, "c": null}));
        assert_eq!(doc.line_of("/a"), 2);
        assert_eq!(doc.line_of("/a/b/1"), 4);
        assert_eq!(doc.line_of("/c"), 6);
    }

    #[test]
    fn a_duplicate_key_in_json_is_reported_with_its_line() {
        let error = SourceDocument::parse("{\n\"a\": 1,\n\"a\": 2\n}").unwrap_err();
        assert_eq!(error.line, 3);
        assert!(
            error.message.contains("duplicate mapping key `a`"),
            "{error:?}"
        );
    }

    #[test]
    fn keeps_lines_of_keys_and_items() {
        let doc = SourceDocument::parse("a:\n  b: 1\n  c:\n    - x\n    - y: 2\n'200':\n  d: ~\n")
            .unwrap();
        assert_eq!(
            doc.value,
            json!({"a": {"b": 1, "c": ["x", {"y": 2}]}, "200": {"d": null}})
        );
        assert_eq!(doc.line_of("/a/b"), 2);
        assert_eq!(doc.line_of("/a/c/1/y"), 5);
        assert_eq!(doc.line_of("/200/d"), 7);
        assert_eq!(doc.line_of("/a/c/1/missing/deeper"), 5);
    }

    #[test]
    fn typing_follows_the_core_schema_and_quotes() {
        let doc =
            SourceDocument::parse("a: '1'\nb: 1\nc: true\nd: \"true\"\ne: 1.5\nf: hello\n200: x\n")
                .unwrap();
        assert_eq!(
            doc.value,
            json!({"a": "1", "b": 1, "c": true, "d": "true", "e": 1.5, "f": "hello", "200": "x"})
        );
    }

    #[test]
    fn aliases_expand() {
        let doc = SourceDocument::parse("a: &x {k: v}\nb: *x\n").unwrap();
        assert_eq!(doc.value, json!({"a": {"k": "v"}, "b": {"k": "v"}}));
    }

    #[test]
    fn duplicate_keys_are_refused_with_their_line() {
        let err = SourceDocument::parse("a: 1\nb:\n  c: 1\n  c: 2\n").unwrap_err();
        assert_eq!(err.line, 4);
        assert_eq!(err.pointer, "/b/c");
        assert!(err.message.contains("duplicate mapping key `c`"));
    }

    #[test]
    fn syntax_errors_name_a_line() {
        let err = SourceDocument::parse("a:\n  b: [1, 2\nc: 3\n").unwrap_err();
        assert!(err.line >= 2, "{err:?}");
        assert!(err.message.starts_with("YAML syntax error"));
    }

    #[test]
    fn json_is_yaml() {
        let doc = SourceDocument::parse("{\"a\": [1, {\"b\": null}]}").unwrap();
        assert_eq!(doc.value, json!({"a": [1, {"b": null}]}));
    }

    #[test]
    fn pointer_tokens_escape() {
        assert_eq!(push_token("/paths", "/tasks/{id}"), "/paths/~1tasks~1{id}");
        assert_eq!(unescape_token("~1a~0b"), "/a~b");
    }
}
