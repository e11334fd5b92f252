//! `Connection: close` on an answer given before the request's body was read.
//!
//! A handler, a validation rule or a body limit may answer before the client has sent its body
//! (HTTP clients such as Python's `http.client` write the head and the body separately). hyper then
//! cannot reuse the connection and closes it after the response, but without saying so: a client
//! that puts the connection back in its pool sends its next request into a closing socket (over
//! TLS: "EOF occurred in violation of protocol"), which Schemathesis reported as network errors.
//! This layer tracks whether the body reached its end and, when it did not, says
//! `Connection: close` so that the client opens a new connection, as real appliances' servers do.
//!
//! The close itself is a lingering one (`serve.rs`, `Linger`): the server shuts its side down and
//! keeps reading what the client still sends of the body. Closing at once reset a client still
//! writing a large body before it could read the answer; Python's `ssl` reports that failed write
//! as the same "EOF occurred in violation of protocol".

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// The middleware (`axum::middleware::from_fn(connection::close_after_unread_body)`), outside
/// every layer that may answer early. The emulators do the same two steps in their front
/// (`front.rs`): [`track_body`], then [`close_if_unread`].
pub async fn close_after_unread_body(request: Request, next: Next) -> Response {
    let (request, unread) = track_body(request);
    close_if_unread(next.run(request).await, unread)
}

/// Whether the request's body was read to its end, as [`track_body`] follows it.
pub struct BodyRead(Option<Arc<AtomicBool>>);

/// Follows whether the request's body gets read to its end (a request without a body needs no
/// following).
pub fn track_body(request: Request) -> (Request, BodyRead) {
    if request.body().is_end_stream() {
        return (request, BodyRead(None));
    }
    let (parts, body) = request.into_parts();
    let read = Arc::new(AtomicBool::new(false));
    let body = Body::new(Tracked {
        inner: body,
        read: read.clone(),
    });
    (Request::from_parts(parts, body), BodyRead(Some(read)))
}

/// `Connection: close` on `response` when the body [`track_body`] followed was not read to its
/// end.
pub fn close_if_unread(mut response: Response, body: BodyRead) -> Response {
    if body.0.is_some_and(|read| !read.load(Ordering::Acquire)) {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// A body that records when it has been read to its end.
struct Tracked {
    inner: Body,
    read: Arc<AtomicBool>,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => self.read.store(true, Ordering::Release),
            Poll::Ready(Some(Ok(_))) if self.inner.is_end_stream() => {
                self.read.store(true, Ordering::Release)
            }
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::post;
    use axum::Router;
    use tower::ServiceExt;

    fn app() -> Router {
        Router::new()
            .route("/early", post(|| async { "answered before the body" }))
            .route(
                "/read",
                post(|body: Bytes| async move { body.len().to_string() }),
            )
            .layer(axum::middleware::from_fn(close_after_unread_body))
    }

    async fn connection(path: &str, body: &'static str) -> Option<HeaderValue> {
        let request = Request::post(path).body(Body::from(body)).unwrap();
        let response = app().oneshot(request).await.unwrap();
        response.headers().get(header::CONNECTION).cloned()
    }

    #[tokio::test]
    async fn an_unread_body_closes_the_connection() {
        assert_eq!(
            connection("/early", "{}").await,
            Some(HeaderValue::from_static("close"))
        );
        assert_eq!(connection("/read", "{}").await, None);
        assert_eq!(connection("/early", "").await, None);
    }
}
