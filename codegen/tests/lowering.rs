//! Properties of lowering and emission as a whole: output is deterministic, operations without an
//! `operationId` get names from method and path, and what Rust cannot express degrades to
//! `serde_json::Value` with a warning naming its JSON pointer.

use std::path::{Path, PathBuf};

use codegen::ir::types::{Ty, TypeKind};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Every vendor spec and every generator fixture spec, as (path shown to people, text).
fn all_specs() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for dir in ["specs", "codegen/tests/specs"] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                let shown = path.strip_prefix(root()).unwrap().display().to_string();
                out.push((shown, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    out.sort();
    assert!(out.len() >= 6, "expected the vendor and fixture specs");
    out
}

fn load(name: &str, text: &str) -> codegen::Spec {
    codegen::load(name, text).unwrap_or_else(|d| panic!("{name} does not load: {d:?}"))
}

/// Loads, lowers and emits one spec: every generated file, in order.
fn generate(name: &str, text: &str) -> Vec<codegen::emit::File> {
    let api = codegen::ir::lower(&load(name, text));
    codegen::emit::files(&api, name).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Generating the same spec twice gives the same bytes. The second run is on another thread, so
/// hash maps get other seeds there: iteration order that leaks into output shows up as a diff.
#[test]
fn generation_is_deterministic() {
    for (name, text) in all_specs() {
        let first = generate(&name, &text);
        let second = {
            let (name, text) = (name.clone(), text.clone());
            std::thread::spawn(move || generate(&name, &text))
                .join()
                .unwrap()
        };
        assert_eq!(
            first.iter().map(|f| &f.name).collect::<Vec<_>>(),
            second.iter().map(|f| &f.name).collect::<Vec<_>>(),
            "{name}: different files"
        );
        for (a, b) in first.iter().zip(&second) {
            assert!(
                a.contents == b.contents,
                "{name}: {} differs between two runs",
                a.name
            );
        }
    }
}

#[test]
fn operations_without_ids_are_named_from_method_and_path() {
    let spec = r#"
openapi: 3.0.3
info: {title: No ids, version: "1"}
paths:
  /repos/{owner}/{repo}:
    get:
      responses: {"200": {description: ok}}
    delete:
      responses: {"204": {description: gone}}
  /repos/{owner}/{repo}/issues:
    post:
      responses: {"201": {description: made}}
  /1st-thing:
    put:
      responses: {"204": {description: ok}}
  /a-b:
    get:
      responses: {"200": {description: ok}}
  /a_b:
    get:
      responses: {"200": {description: ok}}
  /named:
    get:
      operationId: listNamed
      responses: {"200": {description: ok}}
"#;
    let api = codegen::ir::lower(&load("no-ids.yaml", spec));
    let mut names: Vec<(String, String, String)> = api
        .operations
        .iter()
        .map(|o| (o.method.clone(), o.path.clone(), o.name.rust.clone()))
        .collect();
    names.sort();
    let expected = [
        (
            "delete",
            "/repos/{owner}/{repo}",
            "delete_repos_by_owner_by_repo",
        ),
        ("get", "/a-b", "get_a_b"),
        // Same Rust name from another path: numbered, never a duplicate method.
        ("get", "/a_b", "get_a_b2"),
        ("get", "/named", "list_named"),
        ("get", "/repos/{owner}/{repo}", "get_repos_by_owner_by_repo"),
        (
            "post",
            "/repos/{owner}/{repo}/issues",
            "post_repos_by_owner_by_repo_issues",
        ),
        ("put", "/1st-thing", "put_1st_thing"),
    ];
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(m, p, n)| (m.to_string(), p.to_string(), n.to_string()))
        .collect();
    assert_eq!(names, expected);
    // And the emitted code parses with them.
    codegen::emit::files(&api, "no-ids.yaml").unwrap();
}

#[test]
fn inexpressible_constructs_degrade_to_json_with_warnings() {
    let name = "codegen/tests/specs/degraded.yaml";
    let text = std::fs::read_to_string(root().join(name)).unwrap();
    let api = codegen::ir::lower(&load(name, &text));
    let warnings: Vec<(&str, &str)> = api
        .warnings
        .iter()
        .map(|w| (w.pointer.as_str(), w.message.as_str()))
        .collect();
    let looped = "a type alias that contains itself (through `$ref`s, arrays or maps) cannot be expressed in Rust; using serde_json::Value";
    let not = "`not` cannot be expressed in Rust; using serde_json::Value";
    assert_eq!(
        warnings,
        [
            ("/components/schemas/Elsewhere", "$ref `other.yaml#/components/schemas/Thing` is not a component schema; using serde_json::Value"),
            ("/components/schemas/Holder/properties/inlineNot", not),
            ("/components/schemas/LoopA", looped),
            ("/components/schemas/LoopB", looped),
            ("/components/schemas/Nested", looped),
            ("/components/schemas/NoBranches", "a oneOf/anyOf without branches cannot be expressed in Rust; using serde_json::Value"),
            ("/components/schemas/NotAString", not),
            ("/components/schemas/PropertiesAndUnion", "properties next to a oneOf/anyOf of other objects are not part of the generated type (only the branches are)"),
            ("/components/schemas/StringAndObject", "allOf of schemas that are not all objects cannot be merged; using serde_json::Value"),
            ("/components/schemas/UnknownTag", "a discriminated union with a variant whose tag value is unknown is read untagged"),
        ]
    );
    for degraded in [
        "Elsewhere",
        "LoopA",
        "LoopB",
        "Nested",
        "NoBranches",
        "NotAString",
        "StringAndObject",
    ] {
        assert_eq!(
            api.types.types[degraded].kind,
            TypeKind::Alias(Ty::Json),
            "{degraded}"
        );
    }
    assert!(matches!(
        &api.types.types["UnknownTag"].kind,
        TypeKind::Union { tag: None, variants } if variants.iter().all(|v| v.tags.is_empty())
    ));
}

/// Lowering and emitting never panic, whatever the spec: every vendor and fixture spec cut short
/// at many points still either fails to load or generates.
#[test]
fn lowering_never_panics_on_truncated_specs() {
    for (name, text) in all_specs() {
        let cuts = 8.min(text.len());
        for i in 1..=cuts {
            let mut at = text.len() * i / (cuts + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            if let Ok(spec) = codegen::load(&name, &text[..at]) {
                let api = codegen::ir::lower(&spec);
                codegen::emit::files(&api, &name)
                    .unwrap_or_else(|e| panic!("{name} cut at {at}: {e}"));
            }
        }
    }
}
