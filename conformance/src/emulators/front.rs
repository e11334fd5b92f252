//! What every emulator does in front of its generated router, as one layer: the request log,
//! `Connection: close` after an unread body ([`super::connection`]), fault injection
//! ([`crate::faults`]), then the vendor's own [`Gate`] (what the appliance checks before any API,
//! which the generated router cannot express).
//!
//! These were six `axum::middleware::from_fn` layers, each cloning the service behind it, boxing
//! its future and moving the request into it: together they cost more CPU per GET than hyper's
//! own work (about 10 µs of 25 µs in user space on the LXCA bench; `cargo xtask bench
//! emulator`). One layer does the same steps in the same order with one future, and none at all
//! for an answer it has at once (a replay, a gate's refusal): [`Answer::Ready`] is handed to
//! hyper without cloning the application or boxing a future.
//!
//! The front wraps the whole inner router rather than being added with `Router::layer`, which
//! would put it behind routing: a gate may rewrite the path (LXCA's trailing slashes) before the
//! router looks at it, and unknown paths pass through the same steps as known ones. It is a plain
//! service, not a layer of an outer `Router`: an outer router with only a fallback still cost
//! a route lookup per request.
//!
//! Behind the gate, answers to reads are replayed while nothing they depend on changed
//! ([`super::replay`]).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::Request;
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower::ServiceExt;

use super::replay::{Found, Replay};
use crate::faults::{DropConnection, FaultLayer};
use crate::observe::observe;

/// An emulator as served: the front and everything behind it, cheaply cloned. `serve` calls
/// [`Application::answer`]; tests and the conformance suite's tap call it as a `tower` service.
#[derive(Clone)]
pub struct Application(Arc<dyn Answering>);

/// [`Front`] over any gate, as [`Application`] calls it.
trait Answering: Send + Sync + 'static {
    fn answer(&self, request: Request) -> Answer;
}

impl Application {
    /// The answer to `request`. A replayed answer (and a gate's refusal) is ready at once: it
    /// costs no clone of the application and no allocation for its future.
    pub fn answer(&self, request: Request) -> Answer {
        self.0.answer(request)
    }
}

impl tower::Service<Request> for Application {
    type Response = Response;
    type Error = Infallible;
    type Future = Answer;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Answer {
        self.answer(request)
    }
}

/// The future of an [`Application`]'s answer.
pub enum Answer {
    /// Answered already (taken when polled).
    Ready(Option<Response>),
    /// Being computed.
    Later(Pin<Box<dyn Future<Output = Response> + Send>>),
}

impl Future for Answer {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Answer::Ready(response) => Poll::Ready(Ok(response
                .take()
                .expect("an answer polled after it was given"))),
            Answer::Later(computing) => computing.as_mut().poll(cx).map(Ok),
        }
    }
}

/// A vendor's checks in front of its generated router.
pub trait Gate: Send + Sync + 'static {
    /// What [`Gate::admit`] hands to [`Gate::finish`] for one request.
    type Pending: Send + 'static;

    /// Checks, and may rewrite, a request before the router sees it; `Err` is the answer.
    #[allow(clippy::result_large_err)] // the answer is the common case's alternative, not an error
    fn admit(&self, request: Request) -> Result<(Request, Self::Pending), Response>;

    /// Rewrites the router's answer (LXCA: the body outgrew its limit, the OS images listing);
    /// by default the answer stands.
    fn finish(
        &self,
        pending: Self::Pending,
        response: Response,
    ) -> impl Future<Output = Response> + Send {
        let _ = pending;
        std::future::ready(response)
    }
}

struct Front<G> {
    inner: Router,
    faults: FaultLayer,
    gate: G,
    replay: Replay,
    /// This front, for the futures of answers being computed, which must own what they use.
    /// Upgraded only while an `Application` holds the front, so always.
    this: Weak<Front<G>>,
}

/// What the front knows of a request once it has handed the request on: what its log line and
/// its `Connection` header need.
struct Seen {
    started: Instant,
    // Cheap: a URI shares its bytes.
    method: Method,
    uri: axum::http::Uri,
    unread: super::connection::BodyRead,
}

impl Seen {
    /// The answer as sent: with `Connection: close` when the body was left unread, and logged.
    fn finish(self, response: Response) -> Response {
        let response = super::connection::close_if_unread(response, self.unread);
        log(&self.method, self.uri.path(), self.started, &response);
        response
    }
}

/// `inner` behind the front: the application `serve` and the tests call.
pub fn wrap<G: Gate>(inner: Router, faults: FaultLayer, gate: G, replay: Replay) -> Application {
    Application(Arc::new_cyclic(|this| Front {
        inner,
        faults,
        gate,
        replay,
        this: this.clone(),
    }))
}

impl<G: Gate> Answering for Front<G> {
    fn answer(&self, request: Request) -> Answer {
        let (method, uri) = (request.method().clone(), request.uri().clone());
        let (request, unread) = super::connection::track_body(request);
        let seen = Seen {
            started: Instant::now(),
            method,
            uri,
            unread,
        };
        if !self.faults.faults.is_armed() {
            return self.route(request, seen);
        }
        self.later(seen, |front, seen| async move {
            let injected = front.faults.intercept(&seen.method, seen.uri.path()).await;
            match injected {
                Some(injected) => seen.finish(injected),
                None => match front.route(request, seen).await {
                    Ok(response) => response,
                },
            }
        })
    }
}

impl<G: Gate> Front<G> {
    /// The answer to a request that passed fault injection: the gate's refusal, a replay, or
    /// an answer being computed (and kept when it may be).
    fn route(&self, request: Request, seen: Seen) -> Answer {
        let (request, pending) = match self.gate.admit(request) {
            Ok(admitted) => admitted,
            Err(refusal) => return Answer::Ready(Some(seen.finish(refusal))),
        };
        let read = request.method() == Method::GET || request.method() == Method::HEAD;
        if !read {
            // Anything but a read counts as a change, before and after it: a read computed
            // meanwhile is then not replayed, whatever the request changed and however.
            return self.later(seen, |front, seen| async move {
                let epoch = front.replay.epoch();
                epoch.advance();
                let response = front.compute(request, pending).await;
                epoch.advance();
                seen.finish(response)
            });
        }
        match self.replay.find(&request) {
            Found::Kept(kept, None) => Answer::Ready(Some(seen.finish(kept.response()))),
            Found::Kept(kept, Some(head)) => self.later(seen, |front, seen| async move {
                let fresh = front.compute(request, pending).await;
                seen.finish(front.replay.check(&head, kept, fresh).await)
            }),
            Found::Missing(head) => self.later(seen, |front, seen| async move {
                let (response, horizon) = observe(front.compute(request, pending)).await;
                seen.finish(front.replay.keep(head, horizon, response).await)
            }),
            Found::Unkept => self.later(seen, |front, seen| async move {
                seen.finish(front.compute(request, pending).await)
            }),
        }
    }

    /// An answer that takes `work`, which owns the front while it runs.
    fn later<F>(&self, seen: Seen, work: impl FnOnce(Arc<Self>, Seen) -> F) -> Answer
    where
        F: Future<Output = Response> + Send + 'static,
    {
        match self.this.upgrade() {
            Some(front) => Answer::Later(Box::pin(work(front, seen))),
            // Only while the last `Application` is being dropped, if ever.
            None => Answer::Ready(Some(
                seen.finish(
                    (
                        axum::http::StatusCode::SERVICE_UNAVAILABLE,
                        "the emulator is stopping",
                    )
                        .into_response(),
                ),
            )),
        }
    }

    async fn compute(&self, request: Request, pending: G::Pending) -> Response {
        let Ok(response) = self.inner.clone().oneshot(request).await;
        self.gate.finish(pending, response).await
    }
}

/// One line per request: method, path, status, duration. Query strings are left out: they may
/// carry secrets.
fn log(method: &Method, path: &str, started: Instant, response: &Response) {
    if !tracing::enabled!(target: "emulator", tracing::Level::INFO) {
        return;
    }
    thread_local! {
        static LINE: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    }
    // Put together here and handed over as one string: formatting five arguments through
    // `tracing`'s message machinery cost a sixth of a replayed GET's CPU. The string is the
    // thread's, reused from one request to the next.
    let write = |line: &mut String| {
        let tenths = (started.elapsed().as_micros() + 50) / 100;
        line.clear();
        line.push_str(method.as_str());
        line.push(' ');
        line.push_str(path);
        line.push(' ');
        if response.extensions().get::<DropConnection>().is_some() {
            line.push_str("dropped");
        } else {
            push_decimal(line, u128::from(response.status().as_u16()));
        }
        line.push(' ');
        push_decimal(line, tenths / 10);
        line.push('.');
        push_decimal(line, tenths % 10);
        line.push_str("ms");
        tracing::info!(target: "emulator", message = line.as_str());
    };
    LINE.with(|line| match line.try_borrow_mut() {
        Ok(mut line) => write(&mut line),
        // Only if logging a line logged a request, which nothing does.
        Err(_) => write(&mut String::new()),
    });
}

/// Appends `n` in decimal.
fn push_decimal(out: &mut String, mut n: u128) {
    let mut digits = [0u8; 39];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&digits[at..]).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulators::replay::Check;
    use crate::faults::{FaultRule, Faults, OperationTable};
    use axum::body::Body;
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    use axum::routing::get;
    use tower::ServiceExt;

    /// Refuses `/refused`, rewrites `/old` to `/hello`, and stamps every answer it lets through.
    struct Stamp;

    impl Gate for Stamp {
        type Pending = &'static str;

        fn admit(&self, mut request: Request) -> Result<(Request, &'static str), Response> {
            match request.uri().path() {
                "/refused" => Err((StatusCode::FORBIDDEN, "refused by the gate").into_response()),
                "/old" => {
                    *request.uri_mut() = "/hello".parse().unwrap();
                    Ok((request, "rewritten"))
                }
                _ => Ok((request, "admitted")),
            }
        }

        async fn finish(&self, pending: &'static str, mut response: Response) -> Response {
            response
                .headers_mut()
                .insert("x-gate", pending.parse().unwrap());
            response
        }
    }

    fn app(faults: Arc<Faults>) -> Application {
        let inner = Router::new()
            .route("/hello", get(|| async { "hi" }))
            .fallback(|| async { (StatusCode::NOT_FOUND, "no such path") });
        let layer = FaultLayer {
            faults,
            table: Arc::new(OperationTable::new(&[("GET", "/hello", "Hello")])),
            base_path: "",
            clock: crate::clock::Clock::virtual_at_epoch(),
            error_body: |_| ("text/plain", b"injected".to_vec()),
        };
        let replay = Replay::new(
            Arc::default(),
            layer.clock.clone(),
            Arc::default(),
            Check::Trust,
        );
        wrap(inner, layer, Stamp, replay)
    }

    async fn call(app: Application, path: &str) -> (StatusCode, Option<String>, String) {
        let response = app
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let stamp = response
            .headers()
            .get("x-gate")
            .map(|v| v.to_str().unwrap().to_string());
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        (status, stamp, String::from_utf8_lossy(&body).into_owned())
    }

    #[test]
    fn decimals_are_written_whole() {
        for n in [0u128, 7, 10, 200, 503, 1_234_567, u128::MAX] {
            let mut out = String::from("x");
            push_decimal(&mut out, n);
            assert_eq!(out, format!("x{n}"));
        }
    }

    #[tokio::test]
    async fn the_gate_runs_before_routing_and_sees_every_answer_it_admitted() {
        let faults = Arc::new(Faults::default());
        assert_eq!(
            call(app(faults.clone()), "/hello").await,
            (StatusCode::OK, Some("admitted".into()), "hi".into())
        );
        // The rewritten path is what the router routes.
        assert_eq!(
            call(app(faults.clone()), "/old").await,
            (StatusCode::OK, Some("rewritten".into()), "hi".into())
        );
        assert_eq!(
            call(app(faults.clone()), "/refused").await,
            (StatusCode::FORBIDDEN, None, "refused by the gate".into())
        );
        // Unknown paths go through the gate to the inner fallback.
        assert_eq!(
            call(app(faults), "/nowhere").await,
            (
                StatusCode::NOT_FOUND,
                Some("admitted".into()),
                "no such path".into()
            )
        );
    }

    #[tokio::test]
    async fn an_injected_fault_answers_before_the_gate() {
        let faults = Arc::new(Faults::default());
        faults
            .add(
                "Hello",
                FaultRule {
                    status: Some(503),
                    times: Some(1),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(
            call(app(faults.clone()), "/hello").await,
            (StatusCode::SERVICE_UNAVAILABLE, None, "injected".into())
        );
        // Used up: the next call is answered.
        assert_eq!(call(app(faults), "/hello").await.0, StatusCode::OK);
    }
}
