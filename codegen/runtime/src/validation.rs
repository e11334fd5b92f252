//! Answering invalid requests the way the vendor does (`x-validation-error`, see
//! `specs/README.md`), instead of with a framework's default 400/422.
//!
//! Generated routers check each request part with the helpers below; the first [`Problem`] found
//! goes to [`render`] with the operation's rules.

use std::collections::HashMap;
use std::fmt;
use std::ops::Bound;
use std::str::FromStr;
use std::sync::{Mutex, OnceLock};

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;

/// The part of a request a problem was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestPart {
    /// A path parameter.
    Path,
    /// A query parameter.
    Query,
    /// A header.
    Header,
    /// A cookie.
    Cookie,
    /// The body.
    Body,
}

impl RequestPart {
    fn noun(self) -> &'static str {
        match self {
            RequestPart::Path => "path parameter",
            RequestPart::Query => "query parameter",
            RequestPart::Header => "header",
            RequestPart::Cookie => "cookie",
            RequestPart::Body => "body",
        }
    }
}

/// What is wrong with a request. The message is sent to the client, so it names the parameter
/// and the rule, but never quotes the value (which may be a password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where.
    pub part: RequestPart,
    /// What, in words for the client.
    pub message: String,
}

impl Problem {
    /// A problem with a free-form message.
    pub fn new(part: RequestPart, message: impl Into<String>) -> Self {
        Problem {
            part,
            message: message.into(),
        }
    }

    fn about(part: RequestPart, name: &str, what: impl fmt::Display) -> Self {
        Problem::new(part, format!("{} `{name}` {what}", part.noun()))
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Problem {}

/// One `x-validation-error` rule, as the generator emits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidationRule {
    /// The request parts it applies to; empty means all.
    pub when: &'static [RequestPart],
    /// The status to answer.
    pub status: u16,
    /// The `Content-Type` to answer with.
    pub content_type: &'static str,
    /// JSON text for JSON content types, plain text otherwise; `{message}` is replaced by the
    /// problem's message.
    pub template: &'static str,
}

const PLACEHOLDER: &str = "{message}";

/// The vendor's answer to an invalid request: the first rule whose `when` is empty or contains
/// the problem's part, its template filled in. With no matching rule: 400, the message as plain
/// text.
///
/// In a JSON template, `{message}` is replaced inside string values (so the message is escaped
/// by the serializer, whatever quotes or line breaks it holds); the template is parsed for that.
pub fn render(rules: &[ValidationRule], problem: &Problem) -> Response {
    let rule = rules
        .iter()
        .find(|r| r.when.is_empty() || r.when.contains(&problem.part));
    let Some(rule) = rule else {
        return plain(
            StatusCode::BAD_REQUEST,
            "text/plain; charset=utf-8",
            problem.message.clone(),
        );
    };
    let status = StatusCode::from_u16(rule.status).unwrap_or(StatusCode::BAD_REQUEST);
    let body = if is_json(rule.content_type) {
        fill_json(rule.template, &problem.message)
    } else {
        rule.template.replace(PLACEHOLDER, &problem.message)
    };
    plain(status, rule.content_type, body)
}

fn plain(status: StatusCode, content_type: &str, body: String) -> Response {
    let content_type =
        HeaderValue::from_str(content_type).unwrap_or(HeaderValue::from_static("text/plain"));
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || essence.ends_with("+json")
}

/// Fills a JSON template. A template that is not JSON (a generator bug that lint should have
/// caught) is filled textually, with the message JSON-escaped, rather than failing the answer.
fn fill_json(template: &str, message: &str) -> String {
    fn walk(value: &mut serde_json::Value, message: &str) {
        match value {
            serde_json::Value::String(s) if s.contains(PLACEHOLDER) => {
                *s = s.replace(PLACEHOLDER, message);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(|v| walk(v, message)),
            serde_json::Value::Object(map) => map.values_mut().for_each(|v| walk(v, message)),
            _ => {}
        }
    }
    match serde_json::from_str::<serde_json::Value>(template) {
        Ok(mut value) => {
            walk(&mut value, message);
            value.to_string()
        }
        Err(error) => {
            tracing::error!(%error, "x-validation-error template is not JSON");
            let quoted = serde_json::Value::String(message.to_owned()).to_string();
            template.replace(PLACEHOLDER, &quoted[1..quoted.len() - 1])
        }
    }
}

/// Parses a scalar parameter (a number, a boolean, a generated enum).
pub fn parse_scalar<T>(part: RequestPart, name: &str, raw: &str) -> Result<T, Problem>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    raw.parse::<T>()
        .map_err(|e| Problem::about(part, name, format_args!("is invalid: {e}")))
}

/// A required parameter that may be missing.
pub fn require<T>(part: RequestPart, name: &str, value: Option<T>) -> Result<T, Problem> {
    value.ok_or_else(|| Problem::about(part, name, "is required"))
}

/// Checks a string against a schema `pattern` (unanchored, as in JSON Schema). Each pattern is
/// compiled once and cached. A pattern the `regex` crate cannot compile (look-around, back
/// references) fails the check: a server stub that cannot validate must not accept.
pub fn check_pattern(
    part: RequestPart,
    name: &str,
    value: &str,
    regex: &str,
) -> Result<(), Problem> {
    static CACHE: OnceLock<Mutex<HashMap<String, Option<regex::Regex>>>> = OnceLock::new();
    let compiled = {
        let mut cache = CACHE
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        cache
            .entry(regex.to_owned())
            .or_insert_with(|| match regex::Regex::new(regex) {
                Ok(r) => Some(r),
                Err(error) => {
                    tracing::error!(%error, pattern = regex, "schema pattern does not compile");
                    None
                }
            })
            .clone()
    };
    match compiled {
        Some(r) if r.is_match(value) => Ok(()),
        Some(_) => Err(Problem::about(
            part,
            name,
            format_args!("does not match the pattern `{regex}`"),
        )),
        None => Err(Problem::about(
            part,
            name,
            format_args!("cannot be checked against the pattern `{regex}`"),
        )),
    }
}

/// Checks a string's length in characters (JSON Schema counts code points, not bytes).
pub fn check_len(
    part: RequestPart,
    name: &str,
    value: &str,
    min: Option<usize>,
    max: Option<usize>,
) -> Result<(), Problem> {
    let len = value.chars().count();
    if let Some(min) = min.filter(|m| len < *m) {
        return Err(Problem::about(
            part,
            name,
            format_args!("must be at least {min} characters long"),
        ));
    }
    if let Some(max) = max.filter(|m| len > *m) {
        return Err(Problem::about(
            part,
            name,
            format_args!("must be at most {max} characters long"),
        ));
    }
    Ok(())
}

/// Checks a number against `minimum`/`maximum`; `Bound::Excluded` expresses OpenAPI 3.0's
/// `exclusiveMinimum`/`exclusiveMaximum: true`.
pub fn check_range<T: PartialOrd + fmt::Display>(
    part: RequestPart,
    name: &str,
    value: T,
    min: Bound<T>,
    max: Bound<T>,
) -> Result<(), Problem> {
    match min {
        Bound::Included(m) if value < m => {
            return Err(Problem::about(
                part,
                name,
                format_args!("must be at least {m}"),
            ))
        }
        Bound::Excluded(m) if value <= m => {
            return Err(Problem::about(
                part,
                name,
                format_args!("must be greater than {m}"),
            ))
        }
        _ => {}
    }
    match max {
        Bound::Included(m) if value > m => Err(Problem::about(
            part,
            name,
            format_args!("must be at most {m}"),
        )),
        Bound::Excluded(m) if value >= m => Err(Problem::about(
            part,
            name,
            format_args!("must be less than {m}"),
        )),
        _ => Ok(()),
    }
}

/// Checks a string against an `enum`.
pub fn check_enum(
    part: RequestPart,
    name: &str,
    value: &str,
    allowed: &[&str],
) -> Result<(), Problem> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(Problem::about(
            part,
            name,
            format_args!("must be one of: {}", allowed.join(", ")),
        ))
    }
}

/// Decodes a raw query string into pairs, in order, repeated keys kept (exploded arrays are
/// repeated keys). `+` is a space, as in any form-encoded query; invalid UTF-8 is replaced.
pub fn query_pairs(uri_query: Option<&str>) -> Vec<(String, String)> {
    let decode = |s: &str| {
        percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    uri_query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(response: Response) -> (u16, String, String) {
        let status = response.status().as_u16();
        let ct = response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_owned();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, ct, String::from_utf8(bytes.to_vec()).unwrap())
    }

    /// The ZStack rules from `specs/zstack.yaml`.
    const ZSTACK: &[ValidationRule] = &[
        ValidationRule {
            when: &[RequestPart::Query, RequestPart::Header],
            status: 400,
            content_type: "text/plain",
            template: "{message}",
        },
        ValidationRule {
            when: &[],
            status: 503,
            content_type: "application/json",
            template: r#"{"error":{"code":"SYS.1007","description":"One or more API argument is invalid","details":"{message}"}}"#,
        },
    ];

    #[tokio::test]
    async fn first_matching_rule_wins() {
        let (status, ct, body) = body_of(render(
            ZSTACK,
            &Problem::new(RequestPart::Query, "limit is bad"),
        ))
        .await;
        assert_eq!(
            (status, ct.as_str(), body.as_str()),
            (400, "text/plain", "limit is bad")
        );

        let message = "name \"x\"\nhas a \\ and {braces}";
        let (status, ct, body) =
            body_of(render(ZSTACK, &Problem::new(RequestPart::Body, message))).await;
        assert_eq!((status, ct.as_str()), (503, "application/json"));
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["error"]["details"], message);
        assert_eq!(v["error"]["code"], "SYS.1007");
    }

    #[tokio::test]
    async fn nested_templates_and_fallbacks() {
        let lxca = [ValidationRule {
            when: &[],
            status: 412,
            content_type: "application/json",
            template: r#"{"result":"failed","messages":[{"id":"FQXHM-VALIDATION","text":"Invalid: {message}","recovery":{"URL":""}}]}"#,
        }];
        let (status, _, body) =
            body_of(render(&lxca, &Problem::new(RequestPart::Path, "id"))).await;
        assert_eq!(status, 412);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["messages"][0]["text"], "Invalid: id");
        assert_eq!(v["result"], "failed");

        let (status, ct, body) =
            body_of(render(&[], &Problem::new(RequestPart::Cookie, "no cookie"))).await;
        assert_eq!(
            (status, ct.as_str(), body.as_str()),
            (400, "text/plain; charset=utf-8", "no cookie")
        );

        let only_query = [ValidationRule {
            when: &[RequestPart::Query],
            ..ZSTACK[0]
        }];
        let (status, _, _) =
            body_of(render(&only_query, &Problem::new(RequestPart::Body, "x"))).await;
        assert_eq!(status, 400);

        // A broken template still produces valid escaping for the message.
        assert_eq!(fill_json(r#"{"m":"{message}""#, "a\"b"), r#"{"m":"a\"b""#);
    }

    #[test]
    fn scalar_parsing() {
        assert_eq!(
            parse_scalar::<u32>(RequestPart::Query, "limit", "10"),
            Ok(10)
        );
        let p = parse_scalar::<u32>(RequestPart::Query, "limit", "ten").unwrap_err();
        assert_eq!(p.part, RequestPart::Query);
        assert!(
            p.message.starts_with("query parameter `limit` is invalid"),
            "{p}"
        );
        assert!(parse_scalar::<bool>(RequestPart::Header, "x", "yes").is_err());
        assert_eq!(require(RequestPart::Path, "id", Some(1)), Ok(1));
        assert_eq!(
            require::<u8>(RequestPart::Path, "id", None)
                .unwrap_err()
                .message,
            "path parameter `id` is required"
        );
    }

    #[test]
    fn pattern_checks() {
        let hex32 = "^[0-9a-f]{32}$";
        assert!(check_pattern(
            RequestPart::Header,
            "X-Job-UUID",
            "37ea58b550103d40b23420e870bd616f",
            hex32
        )
        .is_ok());
        let p =
            check_pattern(RequestPart::Header, "X-Job-UUID", "secret-value", hex32).unwrap_err();
        assert!(!p.message.contains("secret-value"));
        // Unanchored patterns match anywhere, as JSON Schema says.
        assert!(check_pattern(RequestPart::Query, "q", "xx-ab-yy", "ab").is_ok());
        // Cached: the same pattern again gives the same answers.
        assert!(check_pattern(RequestPart::Header, "X-Job-UUID", "ABC", hex32).is_err());
        assert!(check_pattern(RequestPart::Query, "q", "aa", "(?=a)a").is_err());
    }

    #[test]
    fn length_range_and_enum_checks() {
        assert!(check_len(RequestPart::Query, "n", "héé", Some(3), Some(3)).is_ok());
        assert!(check_len(RequestPart::Query, "n", "", Some(1), None).is_err());
        assert!(check_len(RequestPart::Query, "n", "abcd", None, Some(3)).is_err());
        use Bound::*;
        assert!(check_range(RequestPart::Query, "limit", 5, Included(1), Included(5)).is_ok());
        assert!(check_range(RequestPart::Query, "limit", 0, Included(1), Unbounded).is_err());
        assert!(check_range(RequestPart::Query, "limit", 1, Excluded(1), Unbounded).is_err());
        assert!(check_range(RequestPart::Query, "limit", 5, Unbounded, Excluded(5)).is_err());
        assert!(check_range(
            RequestPart::Query,
            "ratio",
            0.5,
            Excluded(0.0),
            Included(1.0)
        )
        .is_ok());
        assert_eq!(
            check_range(RequestPart::Query, "limit", 9, Unbounded, Included(5))
                .unwrap_err()
                .message,
            "query parameter `limit` must be at most 5"
        );
        assert!(check_enum(RequestPart::Query, "imageType", "OS", &["BOOT", "OS"]).is_ok());
        assert_eq!(
            check_enum(RequestPart::Query, "imageType", "os", &["BOOT", "OS"])
                .unwrap_err()
                .message,
            "query parameter `imageType` must be one of: BOOT, OS"
        );
    }

    #[test]
    fn query_decoding() {
        assert_eq!(
            query_pairs(Some("q=name~%3D%25a%25&q=uuid%3F%3Da,b&flag&a+b=c%20d&&e=")),
            vec![
                ("q".to_owned(), "name~=%a%".to_owned()),
                ("q".to_owned(), "uuid?=a,b".to_owned()),
                ("flag".to_owned(), String::new()),
                ("a b".to_owned(), "c d".to_owned()),
                ("e".to_owned(), String::new()),
            ]
        );
        assert!(query_pairs(None).is_empty());
        assert_eq!(
            query_pairs(Some("x=%FF")),
            vec![("x".to_owned(), "\u{FFFD}".to_owned())]
        );
        // What the client encodes, the server decodes back.
        let sent = vec![("k&=".to_owned(), "v +%/é".to_owned())];
        assert_eq!(
            query_pairs(Some(&crate::encoding::build_query(&sent))),
            sent
        );
    }
}

/// The JSON Schemas of an API's request bodies (one document, generated from the spec), compiled on
/// first use. Serde alone accepts values the spec forbids (an unknown enum value, a string that
/// breaks its pattern); this checks bodies exactly as the spec says.
pub struct BodySchemas {
    text: &'static str,
    compiled: OnceLock<Result<jsonschema::ValidatorMap, String>>,
}

impl BodySchemas {
    /// `text` is a JSON Schema draft 7 document whose `definitions` are the bodies, by name.
    pub const fn new(text: &'static str) -> Self {
        BodySchemas {
            text,
            compiled: OnceLock::new(),
        }
    }

    /// Checks `value` against the body schema `name`. A schema that does not compile refuses
    /// every body (and logs why): a server that cannot validate must not accept.
    pub fn check(&self, name: &str, value: &serde_json::Value) -> Result<(), Problem> {
        let compiled = self.compiled.get_or_init(|| {
            let document: serde_json::Value =
                serde_json::from_str(self.text).map_err(|e| e.to_string())?;
            jsonschema::options()
                .with_draft(jsonschema::Draft::Draft7)
                .should_validate_formats(true)
                .build_map(&document)
                .map_err(|e| e.to_string())
        });
        let map = compiled.as_ref().map_err(|e| {
            tracing::error!(error = %e, "request body schemas do not compile");
            Problem::new(RequestPart::Body, "the request body cannot be checked")
        })?;
        let key = format!("#/definitions/{}", escape_pointer_token(name));
        let Some(validator) = map.get(&key) else {
            return Ok(());
        };
        match validator.iter_errors(value).next() {
            None => Ok(()),
            Some(e) => {
                let at = e.instance_path().to_string();
                let at = if at.is_empty() { "/".to_string() } else { at };
                Err(Problem::new(
                    RequestPart::Body,
                    format!("the request body is invalid at {at}: {e}"),
                ))
            }
        }
    }
}

/// RFC 6901 escaping, then the percent-encoding a URI fragment needs for the characters body names
/// contain (`:` and `/` of `Operation:application/json`).
fn escape_pointer_token(token: &str) -> String {
    let escaped = token.replace('~', "~0").replace('/', "~1");
    percent_encoding::utf8_percent_encode(&escaped, FRAGMENT).to_string()
}

const FRAGMENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'#')
    .add(b'%')
    .add(b'{')
    .add(b'}');

#[cfg(test)]
mod body_schema_tests {
    use super::*;

    #[test]
    fn bodies_are_checked_against_their_definition() {
        static SCHEMAS: BodySchemas = BodySchemas::new(
            r##"{"components": {"schemas": {"Mode": {"type": "string", "enum": ["copy", "move"]}}},
                "definitions": {"Start:application/json": {"type": "object", "required": ["mode"],
                  "properties": {"mode": {"$ref": "#/components/schemas/Mode"}}}}}"##,
        );
        let name = "Start:application/json";
        assert!(SCHEMAS
            .check(name, &serde_json::json!({"mode": "copy"}))
            .is_ok());
        let problem = SCHEMAS
            .check(name, &serde_json::json!({"mode": "teleport"}))
            .unwrap_err();
        assert_eq!(problem.part, RequestPart::Body);
        assert!(problem.message.contains("at /mode"), "{}", problem.message);
        assert!(SCHEMAS.check(name, &serde_json::json!({})).is_err());
        // A body without a schema is not checked here.
        assert!(SCHEMAS.check("Other", &serde_json::json!(1)).is_ok());
    }
}
