//! What [`RawClient::send`](super::RawClient::send) returns, and the helpers generated code uses to
//! turn it into a typed result.

use std::fmt;
use std::pin::Pin;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http::{HeaderMap, Method};
use serde::de::DeserializeOwned;

use crate::error::{DecodeError, Error, TransportError};
use crate::secret::RedactedHeaders;

/// A response body as a stream of chunks, for downloads too large to hold in memory.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, TransportError>> + Send>>;

/// An HTTP answer, body not yet read.
pub struct ApiResponse {
    status: u16,
    headers: HeaderMap,
    body: Body,
    method: Method,
    path: String,
}

enum Body {
    Pending(reqwest::Response),
    Read(Bytes),
}

impl ApiResponse {
    pub(crate) fn pending(mut response: reqwest::Response, method: Method, path: String) -> Self {
        ApiResponse {
            status: response.status().as_u16(),
            headers: std::mem::take(response.headers_mut()),
            body: Body::Pending(response),
            method,
            path,
        }
    }

    /// A response from parts, for tests of generated code.
    pub fn from_parts(status: u16, headers: HeaderMap, body: Bytes) -> Self {
        ApiResponse {
            status,
            headers,
            body: Body::Read(body),
            method: Method::GET,
            path: String::new(),
        }
    }

    /// Reads the body now (the client must look inside some error bodies), keeping the response.
    pub(crate) async fn buffered(self) -> Result<Self, TransportError> {
        let (method, path) = (self.method.clone(), self.path.clone());
        let (status, headers) = (self.status, self.headers.clone());
        let body = self.bytes().await?;
        Ok(ApiResponse {
            status,
            headers,
            body: Body::Read(body),
            method,
            path,
        })
    }

    /// Reads and drops a small body before the request is sent again, so the connection goes back
    /// to the pool instead of being closed. A body larger than `limit` is abandoned (closing the
    /// connection is cheaper than downloading it).
    pub(crate) async fn discard(self, limit: usize) {
        if let Body::Pending(mut r) = self.body {
            let mut read = 0;
            while let Ok(Some(chunk)) = r.chunk().await {
                read += chunk.len();
                if read > limit {
                    break;
                }
            }
        }
    }

    /// The body, if already read.
    pub(crate) fn read_body(&self) -> Option<&Bytes> {
        match &self.body {
            Body::Read(b) => Some(b),
            Body::Pending(_) => None,
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// Reads the whole body.
    pub async fn bytes(self) -> Result<Bytes, TransportError> {
        match self.body {
            Body::Read(b) => Ok(b),
            Body::Pending(r) => r
                .bytes()
                .await
                .map_err(|e| TransportError::http(&self.method, &self.path, e)),
        }
    }

    /// The body as a stream of chunks, read as the consumer pulls them.
    pub fn into_stream(self) -> ByteStream {
        match self.body {
            Body::Read(b) => Box::pin(futures_util::stream::once(async move { Ok(b) })),
            Body::Pending(r) => {
                let (method, path) = (self.method, self.path);
                Box::pin(
                    r.bytes_stream().map(move |chunk| {
                        chunk.map_err(|e| TransportError::http(&method, &path, e))
                    }),
                )
            }
        }
    }

    /// Reads the body and decodes it as JSON.
    ///
    /// A failure to read the body is reported as a [`DecodeError`] too (with an empty `body` and
    /// an `Io`-category serde_json error whose source chain holds the [`TransportError`]), so the
    /// one signature covers both; check `source.classify()` to tell them apart.
    pub async fn json<T: DeserializeOwned>(self) -> Result<T, DecodeError> {
        let status = self.status;
        let body = match self.bytes().await {
            Ok(body) => body,
            Err(e) => {
                return Err(DecodeError {
                    status,
                    body: Bytes::new(),
                    source: io_json_error(e),
                })
            }
        };
        serde_json::from_slice(&body).map_err(|source| DecodeError {
            status,
            body,
            source,
        })
    }
}

/// The helpers a generated `decode_<operation>` function is made of: synchronous, because
/// [`RawClient::call`](super::RawClient::call) has read the body already (except for the statuses
/// it was told to leave unread, which go to the caller as an [`ApiResponse`]).
// `Error<E>` is as large as the operation's error bodies; it is what every generated method returns.
#[allow(clippy::result_large_err)]
impl ApiResponse {
    /// A documented success with a JSON body, as the variant `variant` makes of it.
    pub fn ok_json<T: DeserializeOwned, S, E>(
        self,
        variant: impl FnOnce(T) -> S,
    ) -> Result<S, Error<E>> {
        self.decode_json().map(variant).map_err(Error::Decode)
    }

    /// A documented success with a text body.
    pub fn ok_text<S, E>(self, variant: impl FnOnce(String) -> S) -> Result<S, Error<E>> {
        Ok(variant(self.read_text()))
    }

    /// A documented error status with a JSON body: [`Error::Api`], or [`Error::Decode`] (with the
    /// raw bytes) when the body does not match the error schema.
    pub fn err_json<T: DeserializeOwned, S, E>(
        self,
        variant: impl FnOnce(T) -> E,
    ) -> Result<S, Error<E>> {
        let body = self.decode_json().map_err(Error::Decode)?;
        Err(Error::Api {
            status: self.status,
            headers: self.headers,
            body: variant(body),
        })
    }

    /// A documented error status with a text body.
    pub fn err_text<S, E>(self, variant: impl FnOnce(String) -> E) -> Result<S, Error<E>> {
        let body = variant(self.read_text());
        Err(Error::Api {
            status: self.status,
            headers: self.headers,
            body,
        })
    }

    /// A documented error status whose body the caller reads (or that has none).
    pub fn err_with<S, E>(self, variant: impl FnOnce(ApiResponse) -> E) -> Result<S, Error<E>> {
        let (status, headers) = (self.status, self.headers.clone());
        Err(Error::Api {
            status,
            headers,
            body: variant(self),
        })
    }

    /// A status the operation does not document: [`Error::UnexpectedStatus`] with the raw body.
    pub fn unexpected_status<S, E>(self) -> Result<S, Error<E>> {
        Err(Error::UnexpectedStatus {
            status: self.status,
            headers: self.headers,
            body: match self.body {
                Body::Read(b) => b,
                Body::Pending(_) => Bytes::new(),
            },
        })
    }

    fn read_text(&self) -> String {
        self.read_body()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default()
    }

    fn decode_json<T: DeserializeOwned>(&self) -> Result<T, DecodeError> {
        let body = self.read_body().cloned().unwrap_or_default();
        serde_json::from_slice(&body).map_err(|source| DecodeError {
            status: self.status,
            body,
            source,
        })
    }
}

/// For [`RawClient::call`](super::RawClient::call): every status has its body read first.
pub fn read_all(_status: u16) -> bool {
    false
}

/// An `Io`-category serde_json error carrying `cause`: serde_json has no public constructor for
/// one, but reports any error of the reader it is given as exactly that.
fn io_json_error(cause: TransportError) -> serde_json::Error {
    struct Failing(Option<std::io::Error>);
    impl std::io::Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(self
                .0
                .take()
                .unwrap_or_else(|| std::io::Error::other("body unreadable")))
        }
    }
    serde_json::from_reader::<_, serde::de::IgnoredAny>(Failing(Some(std::io::Error::other(cause))))
        .expect_err("a failing reader fails")
}

impl fmt::Debug for ApiResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiResponse")
            .field("status", &self.status)
            .field("headers", &RedactedHeaders(&self.headers))
            .field("body", &self.read_body().map(|b| b.len()))
            .finish()
    }
}

/// Reads the body of a response whose status the operation does not document into
/// [`Error::UnexpectedStatus`].
pub async fn unexpected<E>(resp: ApiResponse) -> Error<E> {
    let (status, headers) = (resp.status, resp.headers.clone());
    match resp.bytes().await {
        Ok(body) => Error::UnexpectedStatus {
            status,
            headers,
            body,
        },
        Err(e) => Error::Transport(e),
    }
}

/// Decodes the body of a documented error status into [`Error::Api`]; a body that does not match
/// the error schema becomes [`Error::Decode`] (with the raw bytes).
pub async fn api_error<E: DeserializeOwned>(resp: ApiResponse) -> Error<E> {
    let (status, headers) = (resp.status, resp.headers.clone());
    match resp.json::<E>().await {
        Ok(body) => Error::Api {
            status,
            headers,
            body,
        },
        Err(e) => Error::Decode(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn buffered_responses() {
        let r = ApiResponse::from_parts(200, HeaderMap::new(), Bytes::from_static(br#"{"a":1}"#));
        assert_eq!(r.status(), 200);
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["a"], 1);

        let r = ApiResponse::from_parts(200, HeaderMap::new(), Bytes::from_static(b"nope"));
        let e = r.json::<serde_json::Value>().await.unwrap_err();
        assert_eq!((e.status, &e.body[..]), (200, &b"nope"[..]));
        assert!(e.source.is_syntax());

        let r = ApiResponse::from_parts(200, HeaderMap::new(), Bytes::from_static(b"abc"));
        let chunks: Vec<_> = r.into_stream().collect().await;
        assert_eq!(chunks.len(), 1);
        assert_eq!(&chunks[0].as_ref().unwrap()[..], b"abc");
    }

    #[tokio::test]
    async fn error_helpers() {
        let r = ApiResponse::from_parts(418, HeaderMap::new(), Bytes::from_static(b"teapot"));
        match unexpected::<()>(r).await {
            Error::UnexpectedStatus { status, body, .. } => {
                assert_eq!((status, &body[..]), (418, &b"teapot"[..]))
            }
            other => panic!("{other:?}"),
        }
        #[derive(Debug, serde::Deserialize)]
        struct Envelope {
            result: String,
        }
        let r = ApiResponse::from_parts(
            400,
            HeaderMap::new(),
            Bytes::from_static(br#"{"result":"failed"}"#),
        );
        match api_error::<Envelope>(r).await {
            Error::Api { status, body, .. } => {
                assert_eq!((status, body.result.as_str()), (400, "failed"))
            }
            other => panic!("{other:?}"),
        }
        let r = ApiResponse::from_parts(400, HeaderMap::new(), Bytes::from_static(b"<html>"));
        assert!(matches!(api_error::<Envelope>(r).await, Error::Decode(e) if e.status == 400));
    }

    #[test]
    fn io_errors_keep_their_cause() {
        let e = io_json_error(TransportError::Io(std::io::Error::other("reset")));
        assert!(e.is_io());
        let mut chain = String::new();
        let mut cur: Option<&dyn std::error::Error> = Some(&e);
        while let Some(err) = cur {
            chain.push_str(&err.to_string());
            chain.push('|');
            cur = err.source();
        }
        assert!(chain.contains("reset"), "{chain}");
    }
}
