//! Every example in the three specs, and every IBM fixture body, deserializes into the generated type
//! of its schema and serializes back to equal JSON (compared as values).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use codegen::walk::{walk, Kind};
use serde_json::Value;

type RoundTrip = fn(&str, Value) -> Option<Result<Value, serde_json::Error>>;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// What a schema position became in Rust.
enum Target {
    Named(String),
    ArrayOf(Box<Target>),
    Primitive,
}

struct Checker {
    doc: Value,
    types_by_pointer: BTreeMap<String, String>,
    round_trip: RoundTrip,
    checked: usize,
    failures: Vec<String>,
}

impl Checker {
    fn new(stem: &str, round_trip: RoundTrip) -> Checker {
        let file = format!("specs/{stem}.yaml");
        let text = std::fs::read_to_string(root().join(&file)).unwrap();
        let spec = codegen::load(&file, &text).unwrap();
        let api = codegen::ir::lower(&spec);
        let types_by_pointer = api
            .types
            .types
            .values()
            .map(|d| (d.pointer.clone(), d.name.rust.clone()))
            .collect();
        Checker {
            doc: spec.value().clone(),
            types_by_pointer,
            round_trip,
            checked: 0,
            failures: Vec::new(),
        }
    }

    fn target(&self, pointer: &str, depth: usize) -> Target {
        let Some(node) = self.doc.pointer(pointer) else {
            return Target::Primitive;
        };
        if let Some(r) = node.get("$ref").and_then(Value::as_str) {
            if depth < 16 {
                return self.target(&r[1..], depth + 1);
            }
        }
        if let Some(name) = self.types_by_pointer.get(pointer) {
            return Target::Named(name.clone());
        }
        if node.get("type").and_then(Value::as_str) == Some("array") && node.get("items").is_some()
        {
            return Target::ArrayOf(Box::new(
                self.target(&format!("{pointer}/items"), depth + 1),
            ));
        }
        Target::Primitive
    }

    fn check(&mut self, at: &str, schema: &str, value: &Value) {
        let target = self.target(schema, 0);
        self.check_target(at, &target, value);
    }

    fn check_target(&mut self, at: &str, target: &Target, value: &Value) {
        match (target, value) {
            (Target::Named(name), _) => {
                self.checked += 1;
                match (self.round_trip)(name, value.clone()) {
                    None => self
                        .failures
                        .push(format!("{at}: no generated type `{name}`")),
                    Some(Err(e)) => self
                        .failures
                        .push(format!("{at}: does not deserialize as `{name}`: {e}")),
                    Some(Ok(back)) if !json_eq(&back, value) => self.failures.push(format!(
                        "{at}: `{name}` does not round-trip:\n  in:  {value}\n  out: {back}"
                    )),
                    Some(Ok(_)) => {}
                }
            }
            (Target::ArrayOf(item), Value::Array(items)) => {
                for (i, v) in items.iter().enumerate() {
                    self.check_target(&format!("{at}/{i}"), item, v);
                }
            }
            (_, Value::Object(_)) => self
                .failures
                .push(format!("{at}: an object example has no generated type")),
            _ => {}
        }
    }

    fn examples(&mut self) {
        let mut cases: Vec<(String, String, Value)> = Vec::new();
        let doc = self.doc.clone();
        walk(&doc, &mut |node| {
            if node.reference.is_some() {
                return;
            }
            match node.kind {
                Kind::Schema => {
                    if let Some(v) = node.value.get("example") {
                        cases.push((
                            format!("{}/example", node.pointer),
                            node.pointer.to_string(),
                            v.clone(),
                        ));
                    }
                }
                Kind::Parameter | Kind::Header | Kind::MediaType
                    if node.value.get("schema").is_some() =>
                {
                    let schema = format!("{}/schema", node.pointer);
                    if let Some(v) = node.value.get("example") {
                        cases.push((
                            format!("{}/example", node.pointer),
                            schema.clone(),
                            v.clone(),
                        ));
                    }
                    for (name, example) in node
                        .value
                        .get("examples")
                        .and_then(Value::as_object)
                        .into_iter()
                        .flatten()
                    {
                        let example = codegen::walk::follow(&doc, example).unwrap_or(example);
                        if let Some(v) = example.get("value") {
                            cases.push((
                                format!("{}/examples/{name}", node.pointer),
                                schema.clone(),
                                v.clone(),
                            ));
                        }
                    }
                }
                _ => {}
            }
        });
        for (at, schema, value) in cases {
            self.check(&at, &schema, &value);
        }
    }

    fn finish(self, minimum: usize) {
        assert!(
            self.failures.is_empty(),
            "{} failures:\n{}",
            self.failures.len(),
            self.failures.join("\n")
        );
        assert!(
            self.checked >= minimum,
            "only {} values checked",
            self.checked
        );
    }
}

/// JSON equality where `1` and `1.0` are the same number.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

#[test]
fn lxca_examples_round_trip() {
    let mut c = Checker::new("lxca", lxca::registry::round_trip_as);
    c.examples();
    c.finish(20);
}

#[test]
fn zstack_examples_round_trip() {
    let mut c = Checker::new("zstack", zstack::registry::round_trip_as);
    c.examples();
    c.finish(10);
}

#[test]
fn ibm_examples_and_fixtures_round_trip() {
    let mut c = Checker::new(
        "ibm-backup-recovery",
        ibm_backup_recovery::registry::round_trip_as,
    );
    c.examples();
    let dir = root().join("specs/fixtures/ibm-backup-recovery/responses");
    let mut fixtures = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let operation_id = path.file_stem().unwrap().to_str().unwrap().to_string();
        let body: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let schema = success_schema(&c.doc, &operation_id)
            .unwrap_or_else(|| panic!("no success schema for {operation_id}"));
        c.check(&format!("fixture {operation_id}"), &schema, &body);
        fixtures += 1;
    }
    assert_eq!(fixtures, 35);
    c.finish(35);
}

/// The schema pointer of an operation's lowest 2xx JSON response.
fn success_schema(doc: &Value, operation_id: &str) -> Option<String> {
    for (path, item) in doc["paths"].as_object()? {
        for (method, op) in item.as_object()? {
            if op.get("operationId").and_then(Value::as_str) != Some(operation_id) {
                continue;
            }
            let mut statuses: Vec<&String> = op["responses"]
                .as_object()?
                .keys()
                .filter(|s| s.starts_with('2'))
                .collect();
            statuses.sort();
            for status in statuses {
                let mut response = &op["responses"][status];
                let mut base = format!(
                    "/paths/{}/{method}/responses/{status}",
                    path.replace('~', "~0").replace('/', "~1")
                );
                if let Some(r) = response.get("$ref").and_then(Value::as_str) {
                    base = r[1..].to_string();
                    response = doc.pointer(&base)?;
                }
                if response
                    .pointer("/content/application~1json/schema")
                    .is_some()
                {
                    return Some(format!("{base}/content/application~1json/schema"));
                }
            }
        }
    }
    None
}
