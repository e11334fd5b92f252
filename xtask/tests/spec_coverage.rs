//! The specs cover what the vendors document: every operation the project promises is present, and
//! IBM's spec agrees with IBM's own SDK on names, methods, paths and success statuses.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn load(stem: &str) -> codegen::Spec {
    let file = format!("specs/{stem}.yaml");
    let text = std::fs::read_to_string(root().join(&file)).unwrap();
    codegen::load(&file, &text).unwrap_or_else(|d| panic!("{stem} does not load: {d:?}"))
}

/// (METHOD path) of every operation in a spec.
fn operations(spec: &codegen::Spec) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (path, item) in spec.value()["paths"].as_object().unwrap() {
        for method in ["get", "put", "post", "delete", "patch"] {
            if item.get(method).is_some() {
                out.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    out
}

fn assert_covers(stem: &str, expected: &[&str]) {
    let found = operations(&load(stem));
    let missing: Vec<&&str> = expected.iter().filter(|e| !found.contains(**e)).collect();
    assert!(
        missing.is_empty(),
        "{stem} lacks {missing:?}; it has {found:#?}"
    );
}

#[test]
fn lxca_has_every_promised_operation() {
    assert_covers(
        "lxca",
        &[
            "POST /sessions",
            "DELETE /sessions",
            "GET /aicc",
            "GET /managementServer/data",
            "PUT /managementServer/data",
            "POST /files/managementServer/data",
            "GET /managementServer/updates",
            "PUT /managementServer/updates",
            "POST /managementServer/updates",
            "GET /managementServer/updates/{fix_id_list}",
            "DELETE /managementServer/updates/{fix_id_list}",
            "POST /files/managementServer/updates",
            "GET /osImages",
            "POST /osImages",
            "DELETE /osImages/{id_list}",
            "POST /files/osImages",
            "GET /tasks",
            "PUT /tasks",
            "GET /tasks/{job_list}",
            "DELETE /tasks/{job_list}",
            "GET /jobs",
            "GET /jobs/{id}",
            "PUT /jobs/{id}",
            "DELETE /jobs/{id}",
        ],
    );
}

#[test]
fn zstack_has_every_promised_operation() {
    assert_covers(
        "zstack",
        &[
            "PUT /v1/accounts/login",
            "GET /v1/backup-storage",
            "GET /v1/backup-storage/{uuid}",
            "DELETE /v1/backup-storage/{uuid}",
            "PUT /v1/backup-storage/{uuid}/actions",
            "GET /v1/api-jobs/{uuid}",
        ],
    );
}

#[test]
fn ibm_matches_the_operations_of_ibms_sdk() {
    let spec = load("ibm-backup-recovery");
    let sdk_file = root().join("specs/fixtures/ibm-backup-recovery/operations.json");
    let sdk: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(sdk_file).unwrap()).unwrap();
    assert_eq!(sdk.len(), 44);
    let mut problems = Vec::new();
    for op in &sdk {
        let id = op["operationId"].as_str().unwrap();
        let path = op["path"].as_str().unwrap();
        let method = op["method"].as_str().unwrap().to_lowercase();
        let Some(found) = spec.value()["paths"].get(path).and_then(|p| p.get(&method)) else {
            problems.push(format!("{id}: no {method} {path}"));
            continue;
        };
        if found["operationId"] != op["operationId"] {
            problems.push(format!("{id}: operationId is {}", found["operationId"]));
        }
        let status = op["successStatus"].to_string();
        if found["responses"].get(&status).is_none() {
            problems.push(format!("{id}: no {status} response"));
        }
        let params = found["parameters"].as_array().cloned().unwrap_or_default();
        // Some(required) when the spec declares the parameter.
        let declared = |name: &str| {
            params.iter().find_map(|p| {
                let p = match p.get("$ref").and_then(Value::as_str) {
                    Some(r) => spec.value().pointer(&r[1..]).unwrap().clone(),
                    None => p.clone(),
                };
                (p["name"] == name).then(|| p["required"] == Value::Bool(true))
            })
        };
        for list in ["pathParams", "queryParams", "headers"] {
            for p in op[list].as_array().unwrap() {
                // Path parameters are listed as bare names, the others as {name, required}.
                let name = p.as_str().or_else(|| p["name"].as_str()).unwrap();
                let sdk_required = p.is_string() || p["required"] == Value::Bool(true);
                match declared(name) {
                    None => problems.push(format!("{id}: parameter {name} missing")),
                    Some(required) if required != sdk_required => problems.push(format!(
                        "{id}: parameter {name} is required={required}, IBM's SDK says {sdk_required}"
                    )),
                    Some(_) => {}
                }
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
