//! What a generated operation hands to [`RawClient::send`](super::RawClient::send).

use std::fmt;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde::Serialize;

use super::multipart::MultipartForm;
use crate::encoding::{query_pairs, Style, ToParam};
use crate::error::InvalidInput;
use crate::secret::{RedactedHeaders, Secret};

/// One HTTP request, before the client adds its base URL, default headers and credentials.
pub struct ApiRequest {
    /// The method.
    pub method: Method,
    /// The path below the base URL, already percent-encoded, starting with `/`.
    pub path: String,
    /// Query pairs, not yet encoded; the client encodes them (see [`crate::encoding::build_query`]).
    pub query: Vec<(String, String)>,
    /// Headers of this request; they override the client's default headers of the same name, and
    /// its credentials (an operation that must send its own `Authorization` can).
    pub headers: HeaderMap,
    /// The body.
    pub body: ApiBody,
}

impl ApiRequest {
    /// A request without query, headers or body.
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        ApiRequest {
            method,
            path: path.into(),
            query: Vec::new(),
            headers: HeaderMap::new(),
            body: ApiBody::Empty,
        }
    }

    /// Adds one query pair.
    pub fn query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }

    /// Adds a query parameter serialized with its OpenAPI style.
    pub fn query_param(
        mut self,
        name: &str,
        value: &(impl ToParam + ?Sized),
        style: Style,
        explode: bool,
    ) -> Self {
        self.query
            .extend(query_pairs(name, &value.to_param(), style, explode));
        self
    }

    /// Sets a header, replacing one of the same name. Fails for names or values that are not
    /// valid HTTP (a line break in a user-supplied value, say), without echoing the value.
    pub fn header(mut self, name: &str, value: &str) -> Result<Self, InvalidInput> {
        let header_name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| InvalidInput(format!("invalid header name {name:?}")))?;
        let header_value = HeaderValue::from_str(value)
            .map_err(|_| InvalidInput(format!("invalid value for header {name:?}")))?;
        self.headers.insert(header_name, header_value);
        Ok(self)
    }

    /// [`ApiRequest::header`] for a credential: the value is marked sensitive, so it stays out of
    /// `Debug` output and HTTP/2 header compression tables.
    pub fn secret_header(self, name: &str, value: &Secret) -> Result<Self, InvalidInput> {
        let mut request = self.header(name, value.expose())?;
        if let Some(v) = request.headers.get_mut(name) {
            v.set_sensitive(true);
        }
        Ok(request)
    }

    /// Sets a JSON body (`Content-Type: application/json` unless a header says otherwise).
    pub fn json(mut self, body: &impl Serialize) -> Result<Self, InvalidInput> {
        let bytes = serde_json::to_vec(body)
            .map_err(|e| InvalidInput(format!("the JSON body does not serialize: {e}")))?;
        self.body = ApiBody::Json(bytes.into());
        Ok(self)
    }

    /// Sets any body.
    pub fn body(mut self, body: ApiBody) -> Self {
        self.body = body;
        self
    }
}

impl fmt::Debug for ApiRequest {
    /// Query values and credential headers may be secrets: only query names are shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.query.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("ApiRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query_names", &names)
            .field("headers", &RedactedHeaders(&self.headers))
            .field("body", &self.body)
            .finish()
    }
}

/// A request body.
#[derive(Default)]
pub enum ApiBody {
    /// No body.
    #[default]
    Empty,
    /// Serialized JSON.
    Json(Bytes),
    /// `application/x-www-form-urlencoded` pairs, not yet encoded.
    Form(Vec<(String, String)>),
    /// Raw bytes with their media type.
    Bytes {
        /// The `Content-Type`.
        content_type: String,
        /// The bytes.
        data: Bytes,
    },
    /// A streamed body (a download piped into an upload, a generated file). Sent once: never
    /// retried or replayed after a re-login.
    Stream {
        /// The `Content-Type`.
        content_type: String,
        /// The stream.
        body: reqwest::Body,
    },
    /// `multipart/form-data`. Sent once: never retried or replayed, since file parts are
    /// streamed from disk as they are sent.
    Multipart(MultipartForm),
}

impl ApiBody {
    /// Whether the body can be sent again (for a retry or after a re-login): everything but
    /// streams and multipart forms.
    pub fn is_replayable(&self) -> bool {
        !matches!(self, ApiBody::Stream { .. } | ApiBody::Multipart(_))
    }

    /// A copy for another attempt; `None` for bodies that can be sent only once.
    pub(crate) fn try_clone(&self) -> Option<ApiBody> {
        Some(match self {
            ApiBody::Empty => ApiBody::Empty,
            ApiBody::Json(b) => ApiBody::Json(b.clone()),
            ApiBody::Form(pairs) => ApiBody::Form(pairs.clone()),
            ApiBody::Bytes { content_type, data } => ApiBody::Bytes {
                content_type: content_type.clone(),
                data: data.clone(),
            },
            ApiBody::Stream { .. } | ApiBody::Multipart(_) => return None,
        })
    }
}

impl fmt::Debug for ApiBody {
    /// Shape and size only: bodies carry passwords (login, backup passphrases).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiBody::Empty => f.write_str("Empty"),
            ApiBody::Json(b) => write!(f, "Json({} bytes)", b.len()),
            ApiBody::Form(pairs) => write!(f, "Form({} fields)", pairs.len()),
            ApiBody::Bytes { content_type, data } => {
                write!(f, "Bytes({content_type}, {} bytes)", data.len())
            }
            ApiBody::Stream { content_type, .. } => write!(f, "Stream({content_type})"),
            ApiBody::Multipart(form) => write!(f, "Multipart({form:?})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders() {
        let r = ApiRequest::new(Method::GET, "/osImages")
            .query("imageType", "OS")
            .query_param("ids", &["a", "b"], Style::Form, false)
            .header("X-IBM-Tenant-Id", "tenant/")
            .unwrap()
            .json(&serde_json::json!({"Action": "Init"}))
            .unwrap();
        assert_eq!(
            r.query,
            vec![
                ("imageType".to_owned(), "OS".to_owned()),
                ("ids".to_owned(), "a,b".to_owned())
            ]
        );
        assert_eq!(r.headers["x-ibm-tenant-id"], "tenant/");
        match &r.body {
            ApiBody::Json(b) => assert_eq!(&b[..], br#"{"Action":"Init"}"#),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn invalid_headers_are_errors_without_the_value() {
        let err = ApiRequest::new(Method::GET, "/")
            .header("X-Token", "a\nb")
            .unwrap_err();
        assert!(!err.0.contains("a\nb"), "{err}");
        assert!(ApiRequest::new(Method::GET, "/")
            .header("bad name", "v")
            .is_err());
    }

    #[test]
    fn debug_hides_secrets() {
        let r = ApiRequest::new(Method::POST, "/sessions")
            .query("passphrase", "q-secret")
            .secret_header("X-Auth", &Secret::new("h-secret"))
            .unwrap()
            .json(&serde_json::json!({"password": "b-secret"}))
            .unwrap();
        assert!(r.headers["x-auth"].is_sensitive());
        let text = format!("{r:?}");
        for s in ["q-secret", "h-secret", "b-secret"] {
            assert!(!text.contains(s), "{text}");
        }
        assert!(text.contains("passphrase"), "{text}");
    }

    #[test]
    fn replayability() {
        assert!(ApiBody::Empty.is_replayable());
        assert!(ApiBody::Form(vec![]).try_clone().is_some());
        let stream = ApiBody::Stream {
            content_type: "application/octet-stream".into(),
            body: reqwest::Body::from("x"),
        };
        assert!(!stream.is_replayable());
        assert!(stream.try_clone().is_none());
        assert!(!ApiBody::Multipart(MultipartForm::new()).is_replayable());
    }
}
