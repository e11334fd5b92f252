//! Errors of generated operations.
//!
//! One `Error<E>` per call, where `E` is the operation's documented error body type, so a caller
//! can `match` on a vendor's error envelope without parsing strings, and still get the raw bytes
//! of anything the spec did not document.

use std::fmt;

use bytes::Bytes;

use crate::secret::RedactedHeaders;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The error of a generated operation. `E` is the type of the documented error bodies.
pub enum Error<E> {
    /// The server answered a status the spec documents as an error, with a body of that type.
    Api {
        /// The HTTP status.
        status: u16,
        /// The response headers (credential headers are redacted in `Debug`).
        headers: http::HeaderMap,
        /// The decoded error body.
        body: E,
    },
    /// The server answered a status the spec does not document for this operation.
    UnexpectedStatus {
        /// The HTTP status.
        status: u16,
        /// The response headers.
        headers: http::HeaderMap,
        /// The raw body, whatever it was.
        body: Bytes,
    },
    /// A documented response whose body did not decode as its schema says.
    Decode(DecodeError),
    /// No usable answer: connection, TLS, timeout, reading the body, or logging in.
    Transport(TransportError),
    /// The request could not be built from the arguments (an invalid header value, a body that
    /// does not serialize). Nothing was sent.
    InvalidRequest(String),
    /// The client could not be built (invalid base URL, header or certificate).
    Build(BuildError),
}

impl<E> Error<E> {
    /// The HTTP status of the answer, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } | Error::UnexpectedStatus { status, .. } => Some(*status),
            Error::Decode(e) => Some(e.status),
            Error::Transport(_) | Error::InvalidRequest(_) | Error::Build(_) => None,
        }
    }

    /// The response headers, when there was an answer with a status.
    pub fn headers(&self) -> Option<&http::HeaderMap> {
        match self {
            Error::Api { headers, .. } | Error::UnexpectedStatus { headers, .. } => Some(headers),
            _ => None,
        }
    }

    /// Converts the documented error body, keeping everything else.
    pub fn map_body<F, T>(self, f: F) -> Error<T>
    where
        F: FnOnce(E) -> T,
    {
        match self {
            Error::Api {
                status,
                headers,
                body,
            } => Error::Api {
                status,
                headers,
                body: f(body),
            },
            Error::UnexpectedStatus {
                status,
                headers,
                body,
            } => Error::UnexpectedStatus {
                status,
                headers,
                body,
            },
            Error::Decode(e) => Error::Decode(e),
            Error::Transport(e) => Error::Transport(e),
            Error::InvalidRequest(m) => Error::InvalidRequest(m),
            Error::Build(e) => Error::Build(e),
        }
    }
}

/// The first bytes of a body, for messages: enough to recognise an error page, never megabytes.
pub(crate) fn snippet(body: &[u8]) -> String {
    const MAX: usize = 200;
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX)]);
    let text = text.trim();
    if body.len() > MAX {
        format!("{text}…")
    } else {
        text.to_owned()
    }
}

impl<E: fmt::Debug> fmt::Debug for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Api {
                status,
                headers,
                body,
            } => f
                .debug_struct("Api")
                .field("status", status)
                .field("headers", &RedactedHeaders(headers))
                .field("body", body)
                .finish(),
            Error::UnexpectedStatus {
                status,
                headers,
                body,
            } => f
                .debug_struct("UnexpectedStatus")
                .field("status", status)
                .field("headers", &RedactedHeaders(headers))
                .field("body", body)
                .finish(),
            Error::Decode(e) => f.debug_tuple("Decode").field(e).finish(),
            Error::Transport(e) => f.debug_tuple("Transport").field(e).finish(),
            Error::InvalidRequest(m) => f.debug_tuple("InvalidRequest").field(m).finish(),
            Error::Build(e) => f.debug_tuple("Build").field(e).finish(),
        }
    }
}

impl<E: fmt::Debug> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Api { status, body, .. } => {
                write!(f, "the server answered HTTP {status}: {body:?}")
            }
            Error::UnexpectedStatus { status, body, .. } => {
                write!(f, "unexpected HTTP status {status}")?;
                let text = snippet(body);
                if !text.is_empty() {
                    write!(f, ": {text}")?;
                }
                Ok(())
            }
            Error::Decode(e) => e.fmt(f),
            Error::Transport(e) => e.fmt(f),
            Error::InvalidRequest(m) => write!(f, "invalid request: {m}"),
            Error::Build(e) => e.fmt(f),
        }
    }
}

impl<E: fmt::Debug> std::error::Error for Error<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Decode(e) => Some(e),
            Error::Transport(e) => Some(e),
            Error::Build(e) => Some(e),
            _ => None,
        }
    }
}

impl<E> From<TransportError> for Error<E> {
    fn from(e: TransportError) -> Self {
        Error::Transport(e)
    }
}

impl<E> From<DecodeError> for Error<E> {
    fn from(e: DecodeError) -> Self {
        Error::Decode(e)
    }
}

impl<E> From<BuildError> for Error<E> {
    fn from(e: BuildError) -> Self {
        Error::Build(e)
    }
}

impl<E> From<InvalidInput> for Error<E> {
    fn from(e: InvalidInput) -> Self {
        Error::InvalidRequest(e.0)
    }
}

/// A response body that is not what the spec says. Keeps the bytes, because "expected a string at
/// line 1 column 40" means little without them.
#[derive(Debug, thiserror::Error)]
#[error("the HTTP {status} response body does not match its schema: {source}")]
pub struct DecodeError {
    /// The HTTP status of the response.
    pub status: u16,
    /// The raw body.
    pub body: Bytes,
    /// What serde_json found. An `Io`-category error (see `serde_json::Error::classify`) means the
    /// body could not be read at all; its source is the [`TransportError`].
    #[source]
    pub source: serde_json::Error,
}

/// No usable answer arrived. Never contains credentials: URLs are stripped of their query (which
/// may carry secret values) and login failures are scrubbed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The HTTP exchange failed: connect, TLS, timeout, or reading the body.
    #[cfg(feature = "client")]
    #[error("{method} {path}: {source}")]
    Http {
        /// The request's method.
        method: http::Method,
        /// The request's path (without the query).
        path: String,
        /// What reqwest reported (its URL removed).
        #[source]
        source: reqwest::Error,
    },
    /// Logging in (or refreshing a token) failed.
    #[error(transparent)]
    Login(#[from] LoginError),
    /// Reading a local file for an upload failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl TransportError {
    /// Wraps a reqwest error, dropping its URL (the query may hold secret values).
    #[cfg(feature = "client")]
    pub(crate) fn http(method: &http::Method, path: &str, source: reqwest::Error) -> Self {
        TransportError::Http {
            method: method.clone(),
            path: path.to_owned(),
            source: source.without_url(),
        }
    }

    /// The request or a read timed out.
    pub fn is_timeout(&self) -> bool {
        match self {
            #[cfg(feature = "client")]
            TransportError::Http { source, .. } => source.is_timeout(),
            _ => false,
        }
    }

    /// No connection could be made (refused, DNS, TLS handshake).
    pub fn is_connect(&self) -> bool {
        match self {
            #[cfg(feature = "client")]
            TransportError::Http { source, .. } => source.is_connect(),
            _ => false,
        }
    }
}

/// Logging in failed. Its `Display` and `Debug` never contain the password, API key or token: the
/// server's answer is quoted only after every occurrence of them has been replaced.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoginError {
    /// The login endpoint answered something other than success.
    #[error("{scheme} login was rejected with HTTP {status}{}", detail_suffix(.detail))]
    Rejected {
        /// Which flow (`LXCA session`, `ZStack session`, `IBM IAM`).
        scheme: &'static str,
        /// The HTTP status of the login answer.
        status: u16,
        /// The start of the answer's body, scrubbed of the credentials.
        detail: String,
    },
    /// The login endpoint answered success, but without the session or token.
    #[error("{scheme} login answer has no {missing}")]
    Malformed {
        /// Which flow.
        scheme: &'static str,
        /// What was missing.
        missing: &'static str,
    },
    /// The login request itself failed (connection, TLS, timeout).
    #[error("{scheme} login request failed: {source}")]
    Transport {
        /// Which flow.
        scheme: &'static str,
        /// The underlying error.
        #[source]
        source: BoxError,
    },
}

fn detail_suffix(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(": {detail}")
    }
}

/// Quotes a login answer with every secret in it replaced: a server that echoes the request (or a
/// proxy error page quoting it) must not put the password into our error messages.
#[cfg_attr(not(feature = "client"), allow(dead_code))]
pub(crate) fn scrubbed_snippet(body: &[u8], secrets: &[&str]) -> String {
    let mut text = String::from_utf8_lossy(body).into_owned();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        text = text.replace(secret, "[redacted]");
    }
    snippet(text.as_bytes())
}

/// The client could not be built. Holds the name of a bad header, never its value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The base URL does not parse, or is not http(s).
    #[error("invalid base URL {url:?}: {reason}")]
    BaseUrl {
        /// The URL given.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// A default header name or value is not valid HTTP.
    #[error("invalid default header {name:?}")]
    Header {
        /// The header name given.
        name: String,
    },
    /// A root certificate is not valid PEM.
    #[error("invalid root certificate: {source}")]
    Certificate {
        /// The parse error.
        #[source]
        source: BoxError,
    },
    /// The HTTP client could not be created (TLS setup).
    #[error("cannot create the HTTP client: {source}")]
    Client {
        /// The underlying error.
        #[source]
        source: BoxError,
    },
}

/// An argument that cannot go into a request (a header value with a line break, a body that does
/// not serialize). Converts into [`Error::InvalidRequest`], so generated code can use `?`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidInput(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_of_each_variant() {
        let headers = http::HeaderMap::new();
        let api: Error<String> = Error::Api {
            status: 404,
            headers: headers.clone(),
            body: "gone".into(),
        };
        assert_eq!(api.status(), Some(404));
        let unexpected: Error<String> = Error::UnexpectedStatus {
            status: 418,
            headers,
            body: Bytes::from_static(b"teapot"),
        };
        assert_eq!(unexpected.status(), Some(418));
        assert_eq!(unexpected.to_string(), "unexpected HTTP status 418: teapot");
        let source = serde_json::from_slice::<u32>(b"x").unwrap_err();
        let decode: Error<String> = DecodeError {
            status: 200,
            body: Bytes::from_static(b"x"),
            source,
        }
        .into();
        assert_eq!(decode.status(), Some(200));
        assert!(std::error::Error::source(&decode).is_some());
        let invalid: Error<String> = InvalidInput("bad header".into()).into();
        assert_eq!(invalid.status(), None);
        assert_eq!(invalid.to_string(), "invalid request: bad header");
        let io: Error<String> = TransportError::from(std::io::Error::other("disk")).into();
        assert_eq!(io.status(), None);
        assert_eq!(api.map_body(|b| b.len()).status(), Some(404));
    }

    #[test]
    fn debug_redacts_credential_headers() {
        let mut headers = http::HeaderMap::new();
        headers.insert("set-cookie", "JSESSIONID=s3ss10n".parse().unwrap());
        let e: Error<()> = Error::UnexpectedStatus {
            status: 500,
            headers,
            body: Bytes::new(),
        };
        let text = format!("{e:?}");
        assert!(!text.contains("s3ss10n"), "{text}");
        assert!(text.contains("set-cookie"), "{text}");
    }

    #[test]
    fn long_bodies_are_cut_in_messages() {
        let body = vec![b'a'; 5000];
        let e: Error<()> = Error::UnexpectedStatus {
            status: 502,
            headers: http::HeaderMap::new(),
            body: body.into(),
        };
        assert!(e.to_string().chars().count() < 260);
    }

    #[test]
    fn login_errors_are_scrubbed() {
        let detail = scrubbed_snippet(
            br#"{"password":"hunter2","user":"admin"}"#,
            &["hunter2", ""],
        );
        let e = LoginError::Rejected {
            scheme: "LXCA session",
            status: 401,
            detail,
        };
        let text = format!("{e} {e:?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("admin") && text.contains("401"), "{text}");
        let e = LoginError::Rejected {
            scheme: "IBM IAM",
            status: 400,
            detail: String::new(),
        };
        assert_eq!(e.to_string(), "IBM IAM login was rejected with HTTP 400");
    }
}
