//! A scriptable loopback server and a tracing capture.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

/// One request as the server received it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

type Responder = dyn Fn(&Seen, &[Seen]) -> Response + Send + Sync;

#[derive(Clone)]
struct Shared {
    log: Arc<Mutex<Vec<Seen>>>,
    respond: Arc<Responder>,
}

/// A running server: its base URL and everything it received.
pub struct Mock {
    pub base: String,
    log: Arc<Mutex<Vec<Seen>>>,
}

impl Mock {
    pub fn seen(&self) -> Vec<Seen> {
        self.log.lock().unwrap().clone()
    }

    pub fn count(&self, method: Method, path: &str) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.method == method && s.path == path)
            .count()
    }
}

/// Starts a server that records each request and answers with `respond(request, earlier requests)`.
pub async fn mock<F>(respond: F) -> Mock
where
    F: Fn(&Seen, &[Seen]) -> Response + Send + Sync + 'static,
{
    let shared = Shared {
        log: Arc::new(Mutex::new(Vec::new())),
        respond: Arc::new(respond),
    };
    let log = shared.log.clone();
    let app = axum::Router::new().fallback(handle).with_state(shared);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Mock { base, log }
}

async fn handle(State(shared): State<Shared>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let seen = Seen {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
        body,
    };
    let earlier = shared.log.lock().unwrap().clone();
    let response = (shared.respond)(&seen, &earlier);
    shared.log.lock().unwrap().push(seen);
    response
}

/// A response with a status, headers and body.
pub fn reply(status: u16, headers: &[(&str, &str)], body: impl Into<Body>) -> Response {
    let mut response = (StatusCode::from_u16(status).unwrap(), body.into()).into_response();
    for (name, value) in headers {
        response.headers_mut().append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    response
}

/// A JSON response.
pub fn json(status: u16, value: serde_json::Value) -> Response {
    reply(
        status,
        &[("content-type", "application/json")],
        value.to_string(),
    )
}

/// Every tracing event of the test binary as text, with the thread it happened on.
///
/// Installed once as the global default: a per-thread `set_default` races with other test threads
/// registering callsites, which can leave a callsite disabled for good.
struct Capture(Mutex<Vec<(std::thread::ThreadId, String)>>);

static CAPTURE: std::sync::OnceLock<&'static Capture> = std::sync::OnceLock::new();

/// The events of the current thread (the current-thread test runtime runs client and server
/// there) from now on.
pub struct Captured {
    from: usize,
}

impl Captured {
    pub fn start() -> Self {
        let capture = *CAPTURE.get_or_init(|| {
            let capture: &'static Capture = Box::leak(Box::new(Capture(Mutex::new(Vec::new()))));
            tracing::subscriber::set_global_default(CaptureRef(capture))
                .expect("only this test sets a subscriber");
            capture
        });
        // A callsite first hit by another thread while the subscriber was being installed may
        // have cached "disabled"; recompute.
        tracing::callsite::rebuild_interest_cache();
        Captured {
            from: capture.0.lock().unwrap().len(),
        }
    }

    pub fn lines(&self) -> Vec<String> {
        let me = std::thread::current().id();
        CAPTURE.get().unwrap().0.lock().unwrap()[self.from..]
            .iter()
            .filter(|(thread, _)| *thread == me)
            .map(|(_, line)| line.clone())
            .collect()
    }
}

struct CaptureRef(&'static Capture);

struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
}

impl tracing::Subscriber for CaptureRef {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut line = String::new();
        event.record(&mut Fields(&mut line));
        self.0
             .0
            .lock()
            .unwrap()
            .push((std::thread::current().id(), line));
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}
