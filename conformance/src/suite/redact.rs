//! Keeping secrets out of everything the suite writes: snapshots, recordings, logs, reports.
//!
//! Two layers. Exchanges are redacted structurally (credential headers, members the spec marks
//! secret, members with secret names), and every secret value seen anywhere in the run (the
//! configured credentials, what went out in `Authorization`, cookies, CSRF tokens, tokens handed
//! out in answers) is learned, so that a final pass replaces its every occurrence in any text the
//! suite writes, wherever it turned up.

use std::collections::BTreeSet;
use std::sync::RwLock;

use base64::Engine;
use bytes::Bytes;
use serde_json::Value;

use super::exchange::{Exchange, RecordedRequest, RecordedResponse};
use super::schema_walk;
use super::spec::{media_type, ApiSpec};

/// What replaces a secret the run did not learn; a learned one becomes `[redacted:N]`, the same
/// `N` wherever it appears, so a reader (or a replay) can still tell two tokens apart and see one
/// session used twice, without seeing any of them.
pub const REDACTED: &str = "[redacted]";

/// Headers whose values are credentials.
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-csrf-token",
    "x-auth-token",
    "x-api-key",
];

/// Member names that hold secrets whatever the spec says (compared lower-case, without `_`/`-`).
const SECRET_NAMES: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "accesstoken",
    "refreshtoken",
    "apikey",
    "csrf",
    "sessionid",
    "jsessionid",
    "authorization",
    "registrationtoken",
    "encryptionkey",
];

fn secret_name(name: &str) -> bool {
    let folded: String = name
        .chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    SECRET_NAMES.contains(&folded.as_str())
}

#[derive(Default)]
pub struct Redactor {
    secrets: RwLock<BTreeSet<String>>,
    /// Words the specs use as member names and enum values: a "secret" equal to one (a seed's
    /// ssh password `password`) would otherwise blank out every member of that name.
    words: RwLock<BTreeSet<String>>,
}

impl Redactor {
    /// Remembers `value` as a secret (short values and the specs' own words are ignored: they
    /// would match everywhere).
    pub fn learn(&self, value: &str) {
        let value = value.trim();
        if value.len() < 6 || self.words.read().unwrap().contains(value) {
            return;
        }
        let mut secrets = self.secrets.write().unwrap();
        secrets.insert(value.to_string());
        let encoded: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
        if encoded != value {
            secrets.insert(encoded);
        }
    }

    /// Notes the member names and enum values of a spec as words, never secrets.
    pub fn ignore_words(&self, doc: &Value) {
        fn walk(v: &Value, words: &mut BTreeSet<String>) {
            match v {
                Value::Object(members) => {
                    for (k, v) in members {
                        if k == "properties" {
                            if let Value::Object(p) = v {
                                words.extend(p.keys().cloned());
                            }
                        }
                        if k == "enum" {
                            if let Value::Array(values) = v {
                                words.extend(
                                    values.iter().filter_map(|e| e.as_str().map(str::to_string)),
                                );
                            }
                        }
                        walk(v, words);
                    }
                }
                Value::Array(items) => items.iter().for_each(|i| walk(i, words)),
                _ => {}
            }
        }
        let mut words = self.words.write().unwrap();
        walk(doc, &mut words);
        let mut secrets = self.secrets.write().unwrap();
        secrets.retain(|s| !words.contains(s));
    }

    /// Learns the secrets of one exchange: credentials in its headers, and values the spec or
    /// their names mark secret in its bodies.
    pub fn learn_exchange(&self, spec: &ApiSpec, exchange: &Exchange) {
        for (name, value) in &exchange.request.headers {
            self.learn_header(name, value);
        }
        let op = spec
            .find(
                &exchange.request.method,
                &relative_path(spec, &exchange.request.path),
            )
            .map(|(op, _)| op);
        self.learn_body(
            spec,
            op.and_then(|op| {
                spec.request_schema(op, exchange.request.header("content-type").unwrap_or(""))
            }),
            exchange.request.header("content-type").unwrap_or(""),
            &exchange.request.body,
        );
        for (name, value) in &exchange.request.query_pairs() {
            let marked = op
                .and_then(|op| spec.parameter_schema(op, "query", name))
                .is_some_and(|s| schema_walk::is_secret(spec, s));
            if marked || secret_name(name) {
                self.learn(value);
            }
        }
        if let Some(response) = &exchange.response {
            for (name, value) in &response.headers {
                self.learn_header(name, value);
            }
            let content_type = response.header("content-type").unwrap_or("");
            self.learn_body(
                spec,
                op.and_then(|op| spec.response_schema(op, response.status, content_type)),
                content_type,
                &response.body,
            );
        }
    }

    fn learn_header(&self, name: &str, value: &str) {
        let name = name.to_ascii_lowercase();
        if !SECRET_HEADERS.contains(&name.as_str()) {
            return;
        }
        match name.as_str() {
            "authorization" | "proxy-authorization" => {
                let (scheme, credential) = value.split_once(' ').unwrap_or(("", value));
                self.learn(credential);
                if scheme.eq_ignore_ascii_case("basic") {
                    if let Ok(decoded) =
                        base64::engine::general_purpose::STANDARD.decode(credential.trim())
                    {
                        let decoded = String::from_utf8_lossy(&decoded).into_owned();
                        if let Some((_, password)) = decoded.split_once(':') {
                            self.learn(password);
                        }
                    }
                }
            }
            "cookie" => {
                for pair in value.split(';') {
                    if let Some((_, v)) = pair.split_once('=') {
                        self.learn(v);
                    }
                }
            }
            "set-cookie" => {
                if let Some((_, v)) = value.split(';').next().unwrap_or("").split_once('=') {
                    self.learn(v);
                }
            }
            _ => self.learn(value),
        }
    }

    fn learn_body(&self, spec: &ApiSpec, schema: Option<String>, content_type: &str, body: &[u8]) {
        let media = media_type(content_type).to_ascii_lowercase();
        if media.contains("json") {
            if let Ok(value) = serde_json::from_slice::<Value>(body) {
                let schema = schema.as_deref().and_then(|p| spec.doc.pointer(p));
                self.learn_value(spec, schema, &value);
            }
        } else if media == "application/x-www-form-urlencoded" {
            for (k, v) in url::form_urlencoded::parse(body) {
                if secret_name(&k) {
                    self.learn(&v);
                }
            }
        }
    }

    fn learn_value(&self, spec: &ApiSpec, schema: Option<&Value>, value: &Value) {
        match value {
            Value::String(s) if schema.is_some_and(|sc| schema_walk::is_secret(spec, sc)) => {
                self.learn(s);
            }
            Value::Array(items) => {
                let item = schema.and_then(|s| schema_walk::items(spec, s));
                for v in items {
                    self.learn_value(spec, item, v);
                }
            }
            Value::Object(members) => {
                for (k, v) in members {
                    if secret_name(k) {
                        if let Value::String(s) = v {
                            self.learn(s);
                        }
                    }
                    let member = schema.and_then(|s| schema_walk::member(spec, s, k));
                    self.learn_value(spec, member, v);
                }
            }
            _ => {}
        }
    }

    /// `text` with every learned secret replaced by its placeholder.
    pub fn scrub(&self, text: &str) -> String {
        let secrets = self.secrets.read().unwrap();
        let mut out = text.to_string();
        // Longest first, so that a secret containing another is replaced whole.
        let mut ordered: Vec<(usize, &String)> = secrets.iter().enumerate().collect();
        ordered.sort_by_key(|(_, s)| std::cmp::Reverse(s.len()));
        for (i, secret) in ordered {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), &format!("[redacted:{}]", i + 1));
            }
        }
        out
    }

    /// The placeholder for a value in a secret place: its own when the run learned it.
    fn mask(&self, value: &str) -> String {
        let secrets = self.secrets.read().unwrap();
        match secrets.iter().position(|s| s == value.trim()) {
            Some(i) => format!("[redacted:{}]", i + 1),
            None => REDACTED.to_string(),
        }
    }

    /// An exchange fit to be written: credential headers and secret members replaced, then every
    /// learned secret scrubbed from what remains.
    pub fn redact_exchange(&self, spec: &ApiSpec, exchange: &Exchange) -> Exchange {
        let mut out = exchange.clone();
        out.request = self.redact_request(spec, &exchange.request);
        if let Some(response) = &exchange.response {
            out.response = Some(self.redact_response(response));
        }
        out.error = out.error.map(|e| self.scrub(&e));
        out
    }

    fn redact_request(&self, _spec: &ApiSpec, request: &RecordedRequest) -> RecordedRequest {
        RecordedRequest {
            method: request.method.clone(),
            path: self.scrub(&request.path),
            query: self.scrub(&request.query),
            headers: self.redact_headers(&request.headers),
            body: self.redact_body(request.header("content-type").unwrap_or(""), &request.body),
        }
    }

    fn redact_response(&self, response: &RecordedResponse) -> RecordedResponse {
        RecordedResponse {
            status: response.status,
            headers: self.redact_headers(&response.headers),
            body: self.redact_body(
                response.header("content-type").unwrap_or(""),
                &response.body,
            ),
        }
    }

    fn redact_headers(&self, headers: &[(String, String)]) -> Vec<(String, String)> {
        headers
            .iter()
            .map(|(name, value)| {
                let lower = name.to_ascii_lowercase();
                let value = if lower == "authorization" || lower == "proxy-authorization" {
                    match value.split_once(' ') {
                        Some((scheme, credential)) => format!("{scheme} {}", self.mask(credential)),
                        None => self.mask(value),
                    }
                } else if lower == "set-cookie" || lower == "cookie" {
                    self.redact_cookies(value)
                } else if SECRET_HEADERS.contains(&lower.as_str()) {
                    self.mask(value)
                } else {
                    self.scrub(value)
                };
                (name.clone(), value)
            })
            .collect()
    }

    fn redact_body(&self, content_type: &str, body: &Bytes) -> Bytes {
        let media = media_type(content_type).to_ascii_lowercase();
        if media.contains("json") {
            if let Ok(mut value) = serde_json::from_slice::<Value>(body) {
                self.redact_named(&mut value);
                let text = serde_json::to_string(&value).unwrap_or_default();
                return Bytes::from(self.scrub(&text));
            }
        }
        match std::str::from_utf8(body) {
            Ok(text) => Bytes::from(self.scrub(text)),
            // Binary bodies (downloads, uploaded images) are kept whole: secrets are text.
            Err(_) => body.clone(),
        }
    }
}

impl Redactor {
    /// `JSESSIONID=abc; Path=/; Secure` → `JSESSIONID=[redacted:N]; Path=/; Secure`.
    fn redact_cookies(&self, value: &str) -> String {
        value
            .split(';')
            .enumerate()
            .map(|(i, part)| {
                let trimmed = part.trim();
                let is_attribute = i > 0 && {
                    let name = trimmed.split('=').next().unwrap_or("").to_ascii_lowercase();
                    matches!(
                        name.as_str(),
                        "path"
                            | "domain"
                            | "expires"
                            | "max-age"
                            | "secure"
                            | "httponly"
                            | "samesite"
                    )
                };
                match trimmed.split_once('=') {
                    Some((name, v)) if !is_attribute => format!("{name}={}", self.mask(v)),
                    _ => trimmed.to_string(),
                }
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Members with secret names, replaced wherever they are.
    fn redact_named(&self, value: &mut Value) {
        match value {
            Value::Object(members) => {
                for (k, v) in members.iter_mut() {
                    match v {
                        Value::String(text) if secret_name(k) => {
                            *v = Value::String(self.mask(text))
                        }
                        _ => self.redact_named(v),
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.redact_named(v)),
            _ => {}
        }
    }
}

/// The request path without the API's base path, as the spec's templates are written.
pub fn relative_path(spec: &ApiSpec, path: &str) -> String {
    path.strip_prefix(spec.base_path.as_str())
        .unwrap_or(path)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learned_secrets_are_scrubbed_and_cookies_keep_their_attributes() {
        let r = Redactor::default();
        r.learn_header("Authorization", "Basic VVNFUklEOlBBU1NXMFJE");
        r.learn_header("Set-Cookie", "JSESSIONID=0123456789abcdef; Path=/; Secure");
        // Sorted: "0123456789abcdef" (1), "PASSW0RD" (2), "VVNFUklEOlBBU1NXMFJE" (3).
        assert_eq!(
            r.scrub("pw PASSW0RD sid 0123456789abcdef, again 0123456789abcdef"),
            "pw [redacted:2] sid [redacted:1], again [redacted:1]"
        );
        assert_eq!(
            r.redact_cookies("JSESSIONID=0123456789abcdef; Path=/; Secure"),
            "JSESSIONID=[redacted:1]; Path=/; Secure"
        );
        assert_eq!(r.redact_cookies("csrf=unknown-value"), "csrf=[redacted]");
        let mut v = serde_json::json!({"a": {"access_token": "xyz", "name": "n"}});
        r.redact_named(&mut v);
        assert_eq!(v["a"]["access_token"], REDACTED);
        assert_eq!(v["a"]["name"], "n");
    }
}
