//! The HTTP client generated clients wrap: base URL, default headers, TLS, credentials, retries.
//!
//! Generated operations build an [`ApiRequest`] and call [`RawClient::send`]; everything about
//! *how* the request travels lives here, once, instead of in every operation.
//!
//! What a generated operation does, in short:
//!
//! ```no_run
//! use codegen_runtime::http::Method;
//! use codegen_runtime::{ApiRequest, Auth, ClientBuilder, Error};
//!
//! # async fn demo() -> Result<(), Error<()>> {
//! let client = ClientBuilder::new("https://lxca.example")
//!     .auth(Auth::lxca_session("USERID", "Passw0rd"))
//!     .build()?;
//! let response = client.send(ApiRequest::new(Method::GET, "/aicc")).await?;
//! match response.status() {
//!     200 => {
//!         let aicc: codegen_runtime::serde_json::Value = response.json().await?;
//!         println!("{}", aicc["appliance"]["version"]);
//!     }
//!     _ => return Err(codegen_runtime::unexpected(response).await),
//! }
//! # Ok(())
//! # }
//! ```

mod builder;
mod multipart;
mod request;
mod response;

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use http::{HeaderMap, HeaderName, HeaderValue};
use url::Url;

pub use builder::{ClientBuilder, USER_AGENT};
pub use multipart::MultipartForm;
pub use request::{ApiBody, ApiRequest};
pub use response::{api_error, read_all, unexpected, ApiResponse, ByteStream};

use crate::auth::{Authenticator, LoginCtx, Relogin};
use crate::encoding::build_query;
use crate::error::{Error, TransportError};
use crate::retry::{is_idempotent, is_retryable_status, parse_retry_after, RetryPolicy};

/// The most of an unwanted body (before a retry) read to keep its connection alive.
const DISCARD_LIMIT: usize = 64 * 1024;

/// `base` with `path` appended to its path and `query` encoded.
pub(crate) fn endpoint(base: &Url, path: &str, query: &[(String, String)]) -> Url {
    let mut url = base.clone();
    let prefix = base.path().trim_end_matches('/');
    let slash = if path.starts_with('/') { "" } else { "/" };
    url.set_path(&format!("{prefix}{slash}{path}"));
    if !query.is_empty() {
        url.set_query(Some(&build_query(query)));
    }
    url
}

/// A configured client. Clones share everything, the login session included.
#[derive(Clone)]
pub struct RawClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base: Url,
    default_headers: HeaderMap,
    auth: Authenticator,
    retry: RetryPolicy,
}

impl std::fmt::Debug for RawClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawClient")
            .field("base_url", &self.inner.base.as_str())
            .field("retry", &self.inner.retry)
            .finish_non_exhaustive()
    }
}

impl RawClient {
    fn new(
        http: reqwest::Client,
        base: Url,
        default_headers: HeaderMap,
        auth: Authenticator,
        retry: RetryPolicy,
    ) -> Self {
        RawClient {
            inner: Arc::new(Inner {
                http,
                base,
                default_headers,
                auth,
                retry,
            }),
        }
    }

    /// The base URL (without a trailing `/`).
    pub fn base_url(&self) -> &Url {
        &self.inner.base
    }

    fn login_ctx(&self) -> LoginCtx<'_> {
        LoginCtx {
            http: &self.inner.http,
            base: &self.inner.base,
        }
    }

    /// Ends the login session, if there is one (LXCA `DELETE /sessions`, ZStack
    /// `DELETE /v1/accounts/sessions/{uuid}`). A later request logs in again.
    pub async fn logout(&self) {
        self.inner.auth.logout(&self.login_ctx()).await;
    }

    /// Sends the request of one generated operation and decodes the answer: the one async step of
    /// every generated method, so that each method is a plain function returning this future (an
    /// `async fn` per operation would cost the compiler a state machine each).
    ///
    /// The body is read before `decode` runs, except for the statuses `unread` picks (downloads),
    /// which `decode` hands over unread as an [`ApiResponse`] to stream.
    pub async fn call<S, E>(
        &self,
        request: Result<ApiRequest, Error<E>>,
        unread: fn(u16) -> bool,
        decode: fn(ApiResponse) -> Result<S, Error<E>>,
    ) -> Result<S, Error<E>> {
        let response = self.send(request?).await?;
        let response = if unread(response.status()) {
            response
        } else {
            response.buffered().await?
        };
        decode(response)
    }

    /// Sends a request and returns the answer, whatever its status.
    ///
    /// - Logs in first if the credentials need a session, and once more if the answer says the
    ///   session is gone (401; ZStack's 503 `ID.1001`), then sends the request again (a stream or
    ///   multipart body cannot be sent again: the answer is returned, and the next request logs in).
    /// - Retries idempotent methods (by method: GET, HEAD, PUT, DELETE, OPTIONS, TRACE) after
    ///   connection errors, timeouts, 429 and 503, as the [`RetryPolicy`] says, waiting what a
    ///   `Retry-After` asks (capped). Streams and multipart bodies are never retried. A 503 with a
    ///   JSON body and no `Retry-After` is not retried: that is an API answering with its error
    ///   envelope (ZStack reports every API error, and every failed job, that way), not an
    ///   overloaded server.
    /// - Logs one `debug` line per attempt: method, path, query parameter names (never values,
    ///   which may be secrets), status, elapsed time. Never headers or bodies.
    pub async fn send(&self, request: ApiRequest) -> Result<ApiResponse, TransportError> {
        let ApiRequest {
            method,
            path,
            query,
            headers,
            body,
        } = request;
        let url = endpoint(&self.inner.base, &path, &query);
        let query_names: Vec<&str> = query.iter().map(|(n, _)| n.as_str()).collect();
        let replayable = body.is_replayable();
        let retryable = replayable && is_idempotent(&method);
        let policy = self.inner.retry;
        let mut body = Some(body);
        let mut retries = 0u32;
        let mut relogged = false;
        loop {
            let credentials = self.inner.auth.credentials(&self.login_ctx()).await?;
            let attempt_body = if replayable {
                body.as_ref().and_then(ApiBody::try_clone)
            } else {
                body.take()
            }
            .unwrap_or_default();
            let outgoing = self
                .build(
                    &method,
                    url.clone(),
                    &headers,
                    &credentials.headers,
                    attempt_body,
                )
                .map_err(|e| TransportError::http(&method, &path, e))?;
            let started = Instant::now();
            let result = self.inner.http.execute(outgoing).await;
            let elapsed_ms = started.elapsed().as_millis() as u64;
            let attempt = retries + 1;
            let response = match result {
                Err(error) => {
                    let kind = error_kind(&error);
                    tracing::debug!(%method, %path, query = ?query_names, attempt, elapsed_ms, error = kind, "HTTP request failed");
                    if retryable
                        && retries < policy.max_retries
                        && (error.is_connect() || error.is_timeout())
                    {
                        tokio::time::sleep(policy.backoff(retries, None)).await;
                        retries += 1;
                        continue;
                    }
                    return Err(TransportError::http(&method, &path, error));
                }
                Ok(response) => response,
            };
            let status = response.status().as_u16();
            tracing::debug!(%method, %path, query = ?query_names, attempt, elapsed_ms, status, "HTTP request");
            let mut response = ApiResponse::pending(response, method.clone(), path.clone());

            let relogin = match self.inner.auth.relogin_on(status) {
                Relogin::No => false,
                _ if relogged => false,
                Relogin::Yes => true,
                Relogin::IfBodySays => {
                    response = response.buffered().await?;
                    self.inner
                        .auth
                        .body_says_relogin(response.read_body().map(|b| &b[..]).unwrap_or_default())
                }
            };
            if relogin {
                self.inner.auth.invalidate(credentials.generation).await;
                relogged = true;
                if replayable {
                    response.discard(DISCARD_LIMIT).await;
                    continue;
                }
                return Ok(response);
            }

            if retryable && retries < policy.max_retries && should_retry(status, response.headers())
            {
                let retry_after = response
                    .headers()
                    .get(http::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, SystemTime::now()));
                response.discard(DISCARD_LIMIT).await;
                tokio::time::sleep(policy.backoff(retries, retry_after)).await;
                retries += 1;
                continue;
            }
            return Ok(response);
        }
    }

    /// Assembles one attempt: body, then request headers, credentials and default headers, each
    /// only where an earlier one did not set the same name.
    fn build(
        &self,
        method: &http::Method,
        url: Url,
        headers: &HeaderMap,
        credentials: &[(HeaderName, HeaderValue)],
        body: ApiBody,
    ) -> Result<reqwest::Request, reqwest::Error> {
        use http::header::CONTENT_TYPE;
        let builder = self.inner.http.request(method.clone(), url);
        let (builder, content_type) = match body {
            ApiBody::Empty => (builder, None),
            ApiBody::Json(data) => (builder.body(data), Some("application/json".to_owned())),
            ApiBody::Form(pairs) => (
                builder.body(build_query(&pairs)),
                Some("application/x-www-form-urlencoded".to_owned()),
            ),
            ApiBody::Bytes { content_type, data } => (builder.body(data), Some(content_type)),
            ApiBody::Stream { content_type, body } => (builder.body(body), Some(content_type)),
            // Sets its own Content-Type (with the boundary) and Content-Length.
            ApiBody::Multipart(form) => (builder.multipart(form.into_reqwest()?), None),
        };
        let mut request = builder.build()?;
        let out = request.headers_mut();
        for name in headers.keys() {
            // The multipart boundary in Content-Type must match the body.
            if name == CONTENT_TYPE && out.contains_key(CONTENT_TYPE) {
                continue;
            }
            out.remove(name);
            for value in headers.get_all(name) {
                out.append(name.clone(), value.clone());
            }
        }
        for (name, value) in credentials {
            if !headers.contains_key(name) {
                out.insert(name.clone(), value.clone());
            }
        }
        for (name, value) in &self.inner.default_headers {
            if !out.contains_key(name) {
                out.insert(name.clone(), value.clone());
            }
        }
        if let Some(content_type) = content_type {
            if !out.contains_key(CONTENT_TYPE) {
                let value = HeaderValue::from_str(&content_type)
                    .unwrap_or(HeaderValue::from_static("application/octet-stream"));
                out.insert(CONTENT_TYPE, value);
            }
        }
        Ok(request)
    }
}

/// Whether a 429/503 answer is worth retrying. A 503 whose body is JSON and that gives no
/// `Retry-After` is an API reporting an error in its own envelope (ZStack answers every API error,
/// and every failed job poll, so): retrying would only repeat it.
fn should_retry(status: u16, headers: &HeaderMap) -> bool {
    if !is_retryable_status(status) {
        return false;
    }
    if status == 503 && !headers.contains_key(http::header::RETRY_AFTER) {
        let json = headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| {
                let ct = ct
                    .split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase();
                ct == "application/json" || ct.ends_with("+json")
            });
        return !json;
    }
    true
}

/// A word for the log: what kind of failure, without the message (which may quote the URL).
fn error_kind(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connect"
    } else if error.is_body() {
        "body"
    } else if error.is_request() {
        "request"
    } else {
        "other"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_statuses_are_retried() {
        let mut h = HeaderMap::new();
        assert!(should_retry(429, &h));
        assert!(should_retry(503, &h));
        assert!(!should_retry(500, &h));
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json;charset=UTF-8"),
        );
        assert!(!should_retry(503, &h), "a JSON error envelope is an answer");
        assert!(should_retry(429, &h));
        h.insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
        assert!(should_retry(503, &h), "Retry-After says it is transient");
    }
}
