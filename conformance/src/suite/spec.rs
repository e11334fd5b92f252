//! What the suite knows about a vendor's API, read from its spec: the operations (method, path
//! template, documented statuses, security, `x-job`), where each response's schema is, and the
//! schema checker. The specs are compiled in, so a suite binary checks against the specs it was
//! built with.

use std::collections::BTreeMap;

use codegen::extensions::Job;
use codegen::schema_check::SchemaChecker;
use serde_json::Value;

use crate::emulators::Vendor;

/// The spec text of a vendor.
pub fn spec_text(vendor: Vendor) -> &'static str {
    match vendor {
        Vendor::Lxca => include_str!("../../../specs/lxca.yaml"),
        Vendor::IbmBackupRecovery => include_str!("../../../specs/ibm-backup-recovery.yaml"),
        Vendor::ZStack => include_str!("../../../specs/zstack.yaml"),
    }
}

/// One operation of the spec.
#[derive(Debug, Clone)]
pub struct Operation {
    pub id: String,
    pub method: String,
    /// The path template as the spec writes it (`/v1/backup-storage/{uuid}`).
    pub template: String,
    /// JSON pointer of the operation object (`/paths/~1v1~1.../get`).
    pub pointer: String,
    /// Documented statuses (`"200"`, `"4XX"`, `"default"`), in the spec's order.
    pub statuses: Vec<String>,
    /// Whether calling it needs credentials (an empty `security` list says it does not).
    pub needs_auth: bool,
    /// Its `x-job`, if it starts a job.
    pub job: Option<Job>,
    /// Whether it reads only (GET/HEAD, or declared safe with `x-read-only`).
    pub read_only: bool,
}

impl Operation {
    /// `GET /v1/backup-storage/{uuid}`.
    pub fn label(&self) -> String {
        format!("{} {}", self.method, self.template)
    }

    /// Whether `status` is documented, directly, by a range (`4XX`) or by `default`.
    pub fn documents(&self, status: u16) -> bool {
        let exact = status.to_string();
        let range = format!("{}XX", status / 100);
        self.statuses
            .iter()
            .any(|s| *s == exact || s.eq_ignore_ascii_case(&range) || s == "default")
    }
}

/// A vendor's spec, indexed for the checks.
pub struct ApiSpec {
    pub vendor: Vendor,
    /// The path the API is served under (`/zstack`); a live target's URL may say otherwise.
    pub base_path: String,
    pub doc: Value,
    pub operations: Vec<Operation>,
    checker: SchemaChecker,
}

impl std::fmt::Debug for ApiSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiSpec")
            .field("vendor", &self.vendor)
            .field("operations", &self.operations.len())
            .finish_non_exhaustive()
    }
}

const METHODS: &[&str] = &["get", "put", "post", "delete", "patch", "head", "options"];

impl ApiSpec {
    pub fn load(vendor: Vendor) -> anyhow::Result<ApiSpec> {
        let file = format!("specs/{}.yaml", vendor.name());
        let spec = codegen::load(&file, spec_text(vendor)).map_err(|diagnostics| {
            anyhow::anyhow!(
                "{}",
                diagnostics
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        })?;
        let doc = spec.value().clone();
        let global_security = doc.get("security").cloned();
        let mut operations = Vec::new();
        for (template, item) in doc["paths"].as_object().into_iter().flatten() {
            for method in METHODS {
                let Some(op) = item.get(*method) else {
                    continue;
                };
                let Some(id) = op["operationId"].as_str() else {
                    continue;
                };
                let security = op.get("security").or(global_security.as_ref());
                let needs_auth = match security {
                    Some(Value::Array(list)) => {
                        !list.is_empty()
                            && !list
                                .iter()
                                .any(|r| r.as_object().is_some_and(|o| o.is_empty()))
                    }
                    _ => false,
                };
                let job = match op.get("x-job") {
                    Some(job) => Some(
                        codegen::extensions::parse::<Job>(job)
                            .map_err(|(at, e)| anyhow::anyhow!("{file}: x-job of {id}{at}: {e}"))?,
                    ),
                    None => None,
                };
                operations.push(Operation {
                    id: id.to_string(),
                    method: method.to_uppercase(),
                    template: template.clone(),
                    pointer: format!("/paths/{}/{method}", escape(template)),
                    statuses: op["responses"]
                        .as_object()
                        .map(|r| r.keys().cloned().collect())
                        .unwrap_or_default(),
                    needs_auth,
                    job,
                    read_only: matches!(*method, "get" | "head")
                        || op.get("x-read-only").and_then(Value::as_bool) == Some(true),
                });
            }
        }
        let checker = SchemaChecker::new(&doc);
        Ok(ApiSpec {
            vendor,
            base_path: vendor.base_path().to_string(),
            doc,
            operations,
            checker,
        })
    }

    pub fn operation(&self, id: &str) -> Option<&Operation> {
        self.operations.iter().find(|o| o.id == id)
    }

    /// The operation `method path` calls, `path` being relative to the API's base path, with
    /// its path parameters. A literal segment beats a parameter (`/jobs/count` before
    /// `/jobs/{id}`).
    pub fn find(&self, method: &str, path: &str) -> Option<(&Operation, BTreeMap<String, String>)> {
        let method = if method.eq_ignore_ascii_case("HEAD") {
            "GET"
        } else {
            method
        };
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let mut best: Option<(usize, &Operation, BTreeMap<String, String>)> = None;
        for op in &self.operations {
            if !op.method.eq_ignore_ascii_case(method) {
                continue;
            }
            let template: Vec<&str> = op.template.trim_matches('/').split('/').collect();
            if template.len() != segments.len() {
                continue;
            }
            let mut params = BTreeMap::new();
            let mut literal = 0;
            let matched = template.iter().zip(&segments).all(|(t, s)| {
                if let Some(name) = t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                    params.insert(name.to_string(), percent_decode(s));
                    true
                } else if t == s {
                    literal += 1;
                    true
                } else {
                    false
                }
            });
            if matched && best.as_ref().is_none_or(|(l, _, _)| literal > *l) {
                best = Some((literal, op, params));
            }
        }
        best.map(|(_, op, params)| (op, params))
    }

    /// The JSON pointer of the schema of `op`'s `status` response in `content_type`, following a
    /// `$ref` to a shared response. `None`: the response declares no body of that type.
    pub fn response_schema(
        &self,
        op: &Operation,
        status: u16,
        content_type: &str,
    ) -> Option<String> {
        let responses = format!("{}/responses", op.pointer);
        let key = [
            status.to_string(),
            format!("{}XX", status / 100),
            "default".into(),
        ]
        .into_iter()
        .find(|k| self.doc.pointer(&format!("{responses}/{k}")).is_some())?;
        let mut response = format!("{responses}/{key}");
        if let Some(reference) = self
            .doc
            .pointer(&response)
            .and_then(|r| r.get("$ref"))
            .and_then(Value::as_str)
        {
            response = reference.trim_start_matches('#').to_string();
        }
        let content = self
            .doc
            .pointer(&format!("{response}/content"))?
            .as_object()?;
        let media = media_type(content_type);
        let chosen = content
            .keys()
            .find(|k| k.eq_ignore_ascii_case(media))
            .or_else(|| {
                content.keys().find(|k| {
                    k.ends_with("/*") && media.starts_with(k.trim_end_matches('*'))
                        || k.as_str() == "*/*"
                })
            })?;
        let pointer = format!("{response}/content/{}/schema", escape(chosen));
        self.doc.pointer(&pointer).map(|_| pointer)
    }

    /// Whether `op`'s `status` response declares any body at all.
    pub fn response_has_content(&self, op: &Operation, status: u16) -> bool {
        let responses = format!("{}/responses", op.pointer);
        [
            status.to_string(),
            format!("{}XX", status / 100),
            "default".into(),
        ]
        .into_iter()
        .filter_map(|k| self.doc.pointer(&format!("{responses}/{k}")))
        .next()
        .map(|r| match r.get("$ref").and_then(Value::as_str) {
            Some(reference) => self
                .doc
                .pointer(reference.trim_start_matches('#'))
                .is_some_and(|r| r.get("content").is_some()),
            None => r.get("content").is_some(),
        })
        .unwrap_or(false)
    }

    /// The request body schema of `op` for `content_type`, if the spec declares one.
    pub fn request_schema(&self, op: &Operation, content_type: &str) -> Option<String> {
        let mut body = format!("{}/requestBody", op.pointer);
        if let Some(reference) = self
            .doc
            .pointer(&body)
            .and_then(|b| b.get("$ref"))
            .and_then(Value::as_str)
        {
            body = reference.trim_start_matches('#').to_string();
        }
        let content = self.doc.pointer(&format!("{body}/content"))?.as_object()?;
        let media = media_type(content_type);
        let chosen = content.keys().find(|k| k.eq_ignore_ascii_case(media))?;
        let pointer = format!("{body}/content/{}/schema", escape(chosen));
        self.doc.pointer(&pointer).map(|_| pointer)
    }

    /// The schema at `pointer`, `$ref`s followed.
    pub fn resolve<'a>(&'a self, mut schema: &'a Value) -> &'a Value {
        for _ in 0..32 {
            match schema.get("$ref").and_then(Value::as_str) {
                Some(reference) => match self.doc.pointer(reference.trim_start_matches('#')) {
                    Some(target) => schema = target,
                    None => return schema,
                },
                None => return schema,
            }
        }
        schema
    }

    /// Compiles the schemas now (the first check would otherwise): the runner does it on another
    /// thread while the scenarios run.
    pub fn warm_up(&self) {
        if let Some(op) = self.operations.first() {
            let _ = self
                .checker
                .check(&format!("{}/responses", op.pointer), &Value::Null);
        }
    }

    /// Checks `instance` against the schema at `pointer`: one line per violation.
    pub fn validate(&self, pointer: &str, instance: &Value) -> Result<(), Vec<String>> {
        self.checker.check(pointer, instance)
    }

    /// The parameter schema of `op`'s `name` parameter in `location` (`query`, `path`, `header`).
    pub fn parameter_schema(&self, op: &Operation, location: &str, name: &str) -> Option<&Value> {
        let path_item = op.pointer.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
        [
            format!("{}/parameters", op.pointer),
            format!("{path_item}/parameters"),
        ]
        .iter()
        .filter_map(|p| self.doc.pointer(p).and_then(Value::as_array))
        .flatten()
        .map(|p| self.resolve(p))
        .find(|p| {
            p["in"] == location
                && p["name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
        .and_then(|p| p.get("schema"))
        .map(|s| self.resolve(s))
    }
}

/// `application/json; charset=utf-8` → `application/json`.
pub fn media_type(content_type: &str) -> &str {
    content_type.split(';').next().unwrap_or("").trim()
}

/// A JSON pointer token.
pub fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&segment[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_vendor_spec_loads_and_operations_are_found_by_path() {
        for vendor in [Vendor::ZStack, Vendor::Lxca, Vendor::IbmBackupRecovery] {
            let spec = ApiSpec::load(vendor).unwrap();
            assert!(!spec.operations.is_empty(), "{vendor:?}");
            for op in &spec.operations {
                let concrete = op.template.replace('{', "x").replace('}', "");
                let (found, _) = spec.find(&op.method, &concrete).unwrap();
                // A literal path may shadow a template with the same shape; both are of the spec.
                assert_eq!(found.method, op.method, "{}", op.label());
            }
        }
        let zstack = ApiSpec::load(Vendor::ZStack).unwrap();
        let (op, params) = zstack
            .find("GET", "/v1/backup-storage/1ab3b836a88342e1bbc1b1a17d092f0f")
            .unwrap();
        assert_eq!(op.id, "GetBackupStorage");
        assert_eq!(params["uuid"], "1ab3b836a88342e1bbc1b1a17d092f0f");
        assert!(zstack.find("GET", "/v1/nothing-here").is_none());
        assert!(op.documents(200) && op.documents(503) && !op.documents(418));
    }

    #[test]
    fn response_schemas_follow_shared_responses() {
        let ibm = ApiSpec::load(Vendor::IbmBackupRecovery).unwrap();
        let op = ibm.operation("GetProtectionPolicies").unwrap();
        let pointer = ibm.response_schema(op, 401, "application/json").unwrap();
        assert!(pointer.starts_with("/components/responses/"), "{pointer}");
        let ok = ibm
            .response_schema(op, 200, "application/json; charset=utf-8")
            .unwrap();
        assert!(ok.starts_with(&op.pointer));
        assert!(ibm.response_schema(op, 200, "text/html").is_none());
    }

    #[test]
    fn percent_decoding_keeps_invalid_escapes() {
        assert_eq!(percent_decode("a%20b"), "a b");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
