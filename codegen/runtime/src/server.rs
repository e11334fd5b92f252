//! What generated axum routers share: pulling a request apart into parameters and bodies (with
//! the vendor's validation answer on failure, see [`crate::validation`]), and turning an
//! implementation's reply into a response.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::encoding::{deep_object, split_list_with_explode, Style};
use crate::validation::{query_pairs, Problem, RequestPart};

/// JSON and form bodies larger than this are refused; multipart and binary bodies are streamed to
/// the implementation and have no limit here.
pub const BODY_LIMIT: usize = 64 * 1024 * 1024;

/// An implementation's answer: the documented response, plus any headers to send with it
/// (`Set-Cookie` for a login, `Location`, `Retry-After`).
#[derive(Debug)]
pub struct Reply<R> {
    /// The documented response.
    pub response: R,
    /// Extra response headers.
    pub headers: HeaderMap,
}

impl<R> From<R> for Reply<R> {
    fn from(response: R) -> Self {
        Reply {
            response,
            headers: HeaderMap::new(),
        }
    }
}

impl<R> Reply<R> {
    /// Adds a header; a name or value that is not valid HTTP is dropped (and logged).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(n), Ok(v)) => {
                self.headers.append(n, v);
            }
            _ => tracing::warn!(header = name, "invalid response header dropped"),
        }
        self
    }
}

/// A body the implementation reads itself, as it arrives: multipart uploads and binary data.
#[derive(Debug)]
pub struct RawBody {
    /// The request's `Content-Type`.
    pub content_type: Option<String>,
    /// The body stream.
    pub body: Body,
}

/// A request pulled apart once: path parameters (percent-decoded), query pairs, headers, cookies
/// and the unread body.
pub struct Incoming {
    path: Vec<(String, String)>,
    query: Vec<(String, String)>,
    /// The request headers.
    pub headers: HeaderMap,
    cookies: Vec<(String, String)>,
    body: Option<Body>,
}

impl Incoming {
    /// Splits a request that the router matched against the path `template` (`/jobs/{id}`).
    pub fn new(request: axum::extract::Request, template: &str) -> Self {
        let (parts, body) = request.into_parts();
        let path = path_params(template, parts.uri.path());
        let query = query_pairs(parts.uri.query());
        let cookies = parts
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| {
                let (k, v) = pair.trim().split_once('=')?;
                Some((k.to_string(), v.to_string()))
            })
            .collect();
        Incoming {
            path,
            query,
            headers: parts.headers,
            cookies,
            body: Some(body),
        }
    }

    fn raw(&self, part: RequestPart, name: &str) -> Vec<String> {
        let pairs = |list: &[(String, String)]| -> Vec<String> {
            list.iter()
                .filter(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .collect()
        };
        match part {
            RequestPart::Path => pairs(&self.path),
            RequestPart::Query => pairs(&self.query),
            RequestPart::Cookie => pairs(&self.cookies),
            RequestPart::Header => self
                .headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok().map(str::to_string))
                .collect(),
            RequestPart::Body => Vec::new(),
        }
    }

    /// A scalar, list or object parameter, typed; `None` when absent.
    pub fn param<T: DeserializeOwned>(
        &self,
        part: RequestPart,
        name: &str,
        style: Style,
        explode: bool,
        shape: Shape,
    ) -> Result<Option<T>, Problem> {
        let raw = self.raw(part, name);
        let value = match shape {
            Shape::Scalar => match raw.into_iter().next() {
                None => return Ok(None),
                Some(v) => vec![v],
            },
            Shape::List => {
                if raw.is_empty() {
                    return Ok(None);
                }
                if explode && part == RequestPart::Query {
                    raw
                } else {
                    raw.iter()
                        .flat_map(|r| split_list_with_explode(r, style, explode))
                        .collect()
                }
            }
            Shape::Object => {
                let pairs = if style == Style::DeepObject {
                    deep_object(&self.query, name)
                } else {
                    Vec::new()
                };
                if pairs.is_empty() {
                    return Ok(None);
                }
                let object: serde_json::Map<String, Value> = pairs
                    .into_iter()
                    .map(|(k, v)| (k, Value::String(v)))
                    .collect();
                return typed(part, name, vec![Value::Object(object)], false).map(Some);
            }
        };
        let list = shape == Shape::List;
        let strings: Vec<Value> = value.into_iter().map(Value::String).collect();
        typed(part, name, strings, list).map(Some)
    }

    /// Takes the body as JSON of type `T`; `None` when there is none.
    pub async fn json_body<T: DeserializeOwned>(&mut self) -> Result<Option<T>, Problem> {
        let bytes = self.bytes().await?;
        if bytes.is_empty() {
            return Ok(None);
        }
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Problem::new(RequestPart::Body, format!("the JSON body is invalid: {e}")))
    }

    /// Takes the body as JSON, checks it against the body schema `name`, then reads it as `T`.
    pub async fn checked_json_body<T: DeserializeOwned>(
        &mut self,
        schemas: &crate::validation::BodySchemas,
        name: &str,
    ) -> Result<Option<T>, Problem> {
        let Some(value) = self.json_body::<Value>().await? else {
            return Ok(None);
        };
        schemas.check(name, &value)?;
        serde_json::from_value(value)
            .map(Some)
            .map_err(|e| Problem::new(RequestPart::Body, format!("the JSON body is invalid: {e}")))
    }

    /// Takes an `application/x-www-form-urlencoded` body as `T`; `None` when there is none.
    pub async fn form_body<T: DeserializeOwned>(&mut self) -> Result<Option<T>, Problem> {
        let bytes = self.bytes().await?;
        if bytes.is_empty() {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(&bytes);
        let object: serde_json::Map<String, Value> = query_pairs(Some(&text))
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        typed(
            RequestPart::Body,
            "form",
            vec![Value::Object(object)],
            false,
        )
        .map(Some)
    }

    /// Takes a form body as `T`, then checks what it read against the body schema `name`: form
    /// values arrive as text, so they are typed by `T` first (a number field parses as a number)
    /// and the schema's other rules (enums, patterns, lengths, bounds) are checked on the typed
    /// value.
    pub async fn checked_form_body<T: DeserializeOwned + serde::Serialize>(
        &mut self,
        schemas: &crate::validation::BodySchemas,
        name: &str,
    ) -> Result<Option<T>, Problem> {
        let Some(body) = self.form_body::<T>().await? else {
            return Ok(None);
        };
        let value = serde_json::to_value(&body).map_err(|e| {
            Problem::new(RequestPart::Body, format!("the form body is invalid: {e}"))
        })?;
        schemas.check(name, &value)?;
        Ok(Some(body))
    }

    /// Takes a text body.
    pub async fn text_body(&mut self) -> Result<Option<String>, Problem> {
        let bytes = self.bytes().await?;
        Ok((!bytes.is_empty()).then(|| String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// Hands the body over unread (multipart, binary).
    pub fn raw_body(&mut self) -> RawBody {
        RawBody {
            content_type: self.content_type(),
            body: self.body.take().unwrap_or_else(Body::empty),
        }
    }

    /// The essence of the request's `Content-Type` (`application/json`), lower case.
    pub fn content_type(&self) -> Option<String> {
        let value = self.headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
        Some(
            value
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase(),
        )
    }

    async fn bytes(&mut self) -> Result<bytes::Bytes, Problem> {
        let body = self.body.take().unwrap_or_else(Body::empty);
        axum::body::to_bytes(body, BODY_LIMIT)
            .await
            .map_err(|e| Problem::new(RequestPart::Body, format!("the body cannot be read: {e}")))
    }
}

/// The template variables of `path`, percent-decoded: segment by segment, counted from the end so a
/// router nested under a prefix (`/zstack`) still lines up.
pub fn path_params(template: &str, path: &str) -> Vec<(String, String)> {
    let template: Vec<&str> = template.split('/').filter(|s| !s.is_empty()).collect();
    let path: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let Some(offset) = path.len().checked_sub(template.len()) else {
        return Vec::new();
    };
    template
        .iter()
        .zip(&path[offset..])
        .filter_map(|(t, p)| {
            let name = t.strip_prefix('{')?.strip_suffix('}')?;
            let value = percent_encoding::percent_decode_str(p).decode_utf8_lossy();
            Some((name.to_string(), value.into_owned()))
        })
        .collect()
}

/// What a parameter's schema is, for reading it out of strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One value.
    Scalar,
    /// An array.
    List,
    /// An object (deepObject, or form-exploded).
    Object,
}

/// Strings (as JSON strings) into `T`: tried as they are, then with each string read as JSON
/// (so `7` becomes a number and `true` a boolean) where `T` wants that.
fn typed<T: DeserializeOwned>(
    part: RequestPart,
    name: &str,
    values: Vec<Value>,
    list: bool,
) -> Result<T, Problem> {
    let as_json = |v: &Value| -> Value {
        match v {
            Value::String(s) => serde_json::from_str::<Value>(s)
                .ok()
                .filter(|p| p.is_number() || p.is_boolean())
                .unwrap_or_else(|| v.clone()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), as_json_scalar(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    };
    let wrap = |values: Vec<Value>| {
        if list {
            Value::Array(values)
        } else {
            values.into_iter().next().unwrap_or(Value::Null)
        }
    };
    let plain = wrap(values.clone());
    match serde_json::from_value::<T>(plain) {
        Ok(v) => Ok(v),
        Err(first) => {
            let parsed = wrap(values.iter().map(as_json).collect());
            serde_json::from_value::<T>(parsed)
                .map_err(|_| Problem::new(part, format!("`{name}` is invalid: {first}")))
        }
    }
}

fn as_json_scalar(v: &Value) -> Value {
    match v {
        Value::String(s) => serde_json::from_str::<Value>(s)
            .ok()
            .filter(|p| p.is_number() || p.is_boolean())
            .unwrap_or_else(|| v.clone()),
        other => other.clone(),
    }
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn with_headers(mut response: Response, headers: HeaderMap) -> Response {
    for (name, value) in headers.iter() {
        response.headers_mut().append(name.clone(), value.clone());
    }
    response
}

/// What a JSON answer's buffer starts with: most answers fit, so it is seldom grown (and copied)
/// while the body is written.
const JSON_CAPACITY: usize = 4096;

/// An answer with `Content-Type: content_type`. The spec's media types are literals, taken as
/// they are rather than copied; one that is not a valid header value is refused as before
/// (axum's 500).
fn typed_answer(code: u16, content_type: &'static str, body: impl IntoResponse) -> Response {
    let valid = content_type
        .bytes()
        .all(|b| b == b'\t' || (32..127).contains(&b));
    if valid {
        let value = HeaderValue::from_static(content_type);
        (status(code), [(header::CONTENT_TYPE, value)], body).into_response()
    } else {
        let value = content_type.to_string();
        (status(code), [(header::CONTENT_TYPE, value)], body).into_response()
    }
}

/// A JSON answer.
pub fn json<T: Serialize>(
    code: u16,
    content_type: &'static str,
    value: &T,
    headers: HeaderMap,
) -> Response {
    let mut bytes = Vec::with_capacity(JSON_CAPACITY);
    let response = match serde_json::to_writer(&mut bytes, value) {
        Ok(()) => typed_answer(code, content_type, bytes),
        Err(e) => {
            tracing::error!(error = %e, "a response body does not serialize");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    };
    with_headers(response, headers)
}

/// A text answer.
pub fn text(code: u16, content_type: &'static str, value: String, headers: HeaderMap) -> Response {
    let response = typed_answer(code, content_type, value);
    with_headers(response, headers)
}

/// A streamed or binary answer.
pub fn body(code: u16, content_type: &'static str, value: Body, headers: HeaderMap) -> Response {
    let response = typed_answer(code, content_type, value);
    with_headers(response, headers)
}

/// An answer without a body.
pub fn empty(code: u16, headers: HeaderMap) -> Response {
    with_headers(status(code).into_response(), headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incoming(uri: &str) -> Incoming {
        let request = axum::http::Request::builder()
            .uri(uri)
            .header("x-list", "a,b")
            .header("cookie", "session=s1; other=2")
            .body(Body::empty())
            .unwrap();
        Incoming::new(request, "/x/{id}")
    }

    #[test]
    fn parameters_are_typed_from_strings() {
        assert_eq!(
            path_params("/jobs/{id}/tasks/{t}", "/api/jobs/a%20b/tasks/7"),
            vec![
                ("id".to_string(), "a b".to_string()),
                ("t".to_string(), "7".to_string())
            ]
        );
        let i = incoming("/x/7?n=5&flag=true&tags=a&tags=b&csv=1,2&deep[k]=v&s=007");
        let q = RequestPart::Query;
        assert_eq!(
            i.param::<i64>(q, "n", Style::Form, true, Shape::Scalar),
            Ok(Some(5))
        );
        assert_eq!(
            i.param::<bool>(q, "flag", Style::Form, true, Shape::Scalar),
            Ok(Some(true))
        );
        assert_eq!(
            i.param::<String>(q, "s", Style::Form, true, Shape::Scalar),
            Ok(Some("007".into()))
        );
        assert_eq!(
            i.param::<Vec<String>>(q, "tags", Style::Form, true, Shape::List),
            Ok(Some(vec!["a".into(), "b".into()]))
        );
        assert_eq!(
            i.param::<Vec<i64>>(q, "csv", Style::Form, false, Shape::List),
            Ok(Some(vec![1, 2]))
        );
        assert_eq!(
            i.param::<std::collections::BTreeMap<String, String>>(
                q,
                "deep",
                Style::DeepObject,
                true,
                Shape::Object
            ),
            Ok(Some([("k".to_string(), "v".to_string())].into()))
        );
        assert_eq!(
            i.param::<i64>(RequestPart::Path, "id", Style::Simple, false, Shape::Scalar),
            Ok(Some(7))
        );
        assert_eq!(
            i.param::<Vec<String>>(
                RequestPart::Header,
                "x-list",
                Style::Simple,
                false,
                Shape::List
            ),
            Ok(Some(vec!["a".into(), "b".into()]))
        );
        assert_eq!(
            i.param::<String>(
                RequestPart::Cookie,
                "session",
                Style::Form,
                false,
                Shape::Scalar
            ),
            Ok(Some("s1".into()))
        );
        assert_eq!(
            i.param::<i64>(q, "missing", Style::Form, true, Shape::Scalar),
            Ok(None)
        );
        let bad = i
            .param::<i64>(q, "tags", Style::Form, true, Shape::Scalar)
            .unwrap_err();
        assert_eq!(bad.part, RequestPart::Query);
        assert!(bad.message.contains("`tags` is invalid"), "{}", bad.message);
    }
}
