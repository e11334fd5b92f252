//! The tap: a plain-HTTP listener on 127.0.0.1 between the generated clients and the target. It
//! records every exchange byte for byte and forwards the request to the target, which is the
//! embedded emulator (in-process, no second socket), a live appliance (over HTTP or HTTPS), or a
//! recording being replayed. Everything the checks look at is what crossed the tap, so the same
//! checks hold for every kind of target.
//!
//! On a live appliance the tap is also the safety net: in a read-only run it refuses, without
//! forwarding, any request that is not a read or an allowed login, and it spaces requests to
//! respect the rate limit.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use tokio::sync::oneshot;
use tower::ServiceExt;

use super::exchange::{Log, RecordedRequest, RecordedResponse};

/// The largest body the tap buffers (IBM downloads are at most 8 MiB; uploads in scenarios are
/// small).
const BODY_LIMIT: usize = 64 * 1024 * 1024;

/// Where requests go.
#[derive(Clone)]
pub enum Upstream {
    /// The embedded emulator's application, called in-process.
    Emulator(crate::emulators::front::Application),
    /// A live appliance at `origin` (`https://host:port`). Requests for a path in `elsewhere`
    /// go to the URL given there instead (IBM's IAM token endpoint lives on another host), so
    /// that they are recorded and replayed like the rest.
    Remote {
        origin: String,
        client: reqwest::Client,
        elsewhere: Vec<(String, String)>,
    },
    /// A recording.
    Replay(Arc<Replay>),
}

/// Decides whether a request may go to the target: `Err(reason)` blocks it.
pub type Guard = Arc<dyn Fn(&RecordedRequest) -> Result<(), String> + Send + Sync>;

struct TapState {
    upstream: Upstream,
    log: Arc<Log>,
    guard: Option<Guard>,
    min_interval: Option<Duration>,
    last_sent: Mutex<Option<Instant>>,
}

/// A running tap.
pub struct Tap {
    /// `http://127.0.0.1:PORT`.
    pub origin: String,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Drop for Tap {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// How the tap treats requests.
#[derive(Clone, Default)]
pub struct TapOptions {
    pub guard: Option<Guard>,
    /// At most one request per this interval reaches the target.
    pub min_interval: Option<Duration>,
}

impl Tap {
    pub async fn start(
        upstream: Upstream,
        log: Arc<Log>,
        options: TapOptions,
    ) -> anyhow::Result<Tap> {
        let state = Arc::new(TapState {
            upstream,
            log,
            guard: options.guard,
            min_interval: options.min_interval,
            last_sent: Mutex::new(None),
        });
        let app = axum::Router::new().fallback(forward).with_state(state);
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let origin = format!("http://{}", listener.local_addr()?);
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(Tap {
            origin,
            shutdown: Some(tx),
        })
    }
}

async fn forward(State(state): State<Arc<TapState>>, request: Request) -> Response {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(b) => b,
        Err(e) => return plain(StatusCode::PAYLOAD_TOO_LARGE, &format!("tap: {e}")),
    };
    let recorded = RecordedRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or("").to_string(),
        headers: parts
            .headers
            .iter()
            .filter(|(n, _)| n.as_str() != "host")
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body,
    };
    if let Some(guard) = &state.guard {
        if let Err(reason) = guard(&recorded) {
            state.log.push(
                recorded,
                Err(format!("blocked by the suite: {reason}")),
                started.elapsed(),
            );
            return plain(
                StatusCode::FORBIDDEN,
                &format!("blocked by the conformance suite: {reason}"),
            );
        }
    }
    if let Some(interval) = state.min_interval {
        let wait = {
            let mut last = state.last_sent.lock().unwrap();
            let now = Instant::now();
            let next = last.map(|l| l + interval).filter(|n| *n > now);
            *last = Some(next.unwrap_or(now));
            next.map(|n| n - now)
        };
        if let Some(wait) = wait {
            tokio::time::sleep(wait).await;
        }
    }
    let answer = send(&state.upstream, &recorded, &state.log.scenario()).await;
    let elapsed = started.elapsed();
    match answer {
        Ok(response) => {
            state.log.push(recorded, Ok(response.clone()), elapsed);
            let mut builder = Response::builder().status(response.status);
            for (name, value) in &response.headers {
                if matches!(
                    name.as_str(),
                    "transfer-encoding" | "content-length" | "connection" | "keep-alive"
                ) {
                    continue;
                }
                if let (Ok(n), Ok(v)) = (
                    HeaderName::try_from(name.as_str()),
                    HeaderValue::from_str(value),
                ) {
                    builder = builder.header(n, v);
                }
            }
            builder
                .body(Body::from(response.body))
                .unwrap_or_else(|_| plain(StatusCode::BAD_GATEWAY, "tap: bad answer"))
        }
        Err(e) => {
            state.log.push(recorded, Err(e.clone()), elapsed);
            plain(
                StatusCode::BAD_GATEWAY,
                &format!("tap: the target did not answer: {e}"),
            )
        }
    }
}

fn plain(status: StatusCode, text: &str) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "text/plain")
        .header("x-conformance-tap", "1")
        .body(Body::from(text.to_string()))
        .unwrap()
}

/// Sends `request`, which `scenario` made, to the target, returning its whole answer.
pub async fn send(
    upstream: &Upstream,
    request: &RecordedRequest,
    scenario: &str,
) -> Result<RecordedResponse, String> {
    match upstream {
        Upstream::Emulator(service) => {
            let uri = if request.query.is_empty() {
                request.path.clone()
            } else {
                format!("{}?{}", request.path, request.query)
            };
            let mut builder = axum::http::Request::builder()
                .method(request.method.as_str())
                .uri(uri);
            for (name, value) in &request.headers {
                builder = builder.header(name.as_str(), value.as_str());
            }
            let req = builder
                .body(Body::from(request.body.clone()))
                .map_err(|e| format!("request: {e}"))?;
            let response = service
                .clone()
                .oneshot(req)
                .await
                .map_err(|e| e.to_string())?;
            let (parts, body) = response.into_parts();
            let body = axum::body::to_bytes(body, BODY_LIMIT)
                .await
                .map_err(|e| format!("reading the answer: {e}"))?;
            Ok(RecordedResponse {
                status: parts.status.as_u16(),
                headers: header_pairs(&parts.headers),
                body,
            })
        }
        Upstream::Remote {
            origin,
            client,
            elsewhere,
        } => {
            let base = match elsewhere.iter().find(|(path, _)| *path == request.path) {
                Some((_, url)) => url.clone(),
                None => format!("{origin}{}", request.path),
            };
            let url = if request.query.is_empty() {
                base
            } else {
                format!("{base}?{}", request.query)
            };
            let method = reqwest::Method::from_bytes(request.method.as_bytes())
                .map_err(|e| e.to_string())?;
            let mut builder = client.request(method, url);
            for (name, value) in &request.headers {
                if matches!(
                    name.as_str(),
                    "content-length" | "connection" | "transfer-encoding"
                ) {
                    continue;
                }
                builder = builder.header(name.as_str(), value.as_str());
            }
            let response = builder
                .body(request.body.clone())
                .send()
                .await
                .map_err(|e| error_chain(&e))?;
            let status = response.status().as_u16();
            let headers = header_pairs(response.headers());
            let body = response.bytes().await.map_err(|e| error_chain(&e))?;
            Ok(RecordedResponse {
                status,
                headers,
                body,
            })
        }
        Upstream::Replay(replay) => Ok(replay.answer(scenario, request)),
    }
}

fn header_pairs(headers: &axum::http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// A recording served as a target: the n-th request a scenario sends for a method, path and query
/// gets the n-th answer recorded for that scenario and request (the last one again once they run
/// out). Keying by scenario keeps the auth probes' refusals apart from the scenarios' successes:
/// credentials are redacted in recordings, so requests cannot be told apart by them.
#[derive(Debug, Default)]
pub struct Replay {
    answers: Mutex<HashMap<String, (Vec<RecordedResponse>, usize)>>,
}

impl Replay {
    pub fn new(
        exchanges: impl IntoIterator<Item = (String, RecordedRequest, RecordedResponse)>,
    ) -> Replay {
        let mut answers: HashMap<String, (Vec<RecordedResponse>, usize)> = HashMap::new();
        for (scenario, request, response) in exchanges {
            answers
                .entry(key(&scenario, &request))
                .or_default()
                .0
                .push(response);
        }
        Replay {
            answers: Mutex::new(answers),
        }
    }

    fn answer(&self, scenario: &str, request: &RecordedRequest) -> RecordedResponse {
        let mut answers = self.answers.lock().unwrap();
        match answers.get_mut(&key(scenario, request)) {
            Some((list, next)) if !list.is_empty() => {
                let i = (*next).min(list.len() - 1);
                *next += 1;
                list[i].clone()
            }
            _ => RecordedResponse {
                status: 404,
                headers: vec![
                    ("content-type".into(), "text/plain".into()),
                    ("x-conformance-tap".into(), "1".into()),
                ],
                body: Bytes::from(format!(
                    "not in the recording: {} {}?{}",
                    request.method, request.path, request.query
                )),
            },
        }
    }
}

fn key(scenario: &str, request: &RecordedRequest) -> String {
    format!(
        "{scenario} {} {}?{}",
        request.method, request.path, request.query
    )
}
