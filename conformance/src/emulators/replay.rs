//! Answers to reads, replayed while nothing they were computed from has changed.
//!
//! A client polling an appliance sends the same GET again and again while the state stands
//! still; building the same typed answer and writing the same JSON each time was most of an
//! emulator's work per GET (`cargo xtask bench emulator`). An answer is a function of the
//! request, the state, the clock and the id source ([`crate::observe`]), so the front
//! ([`super::front`]) keeps the last 200 answer to each request head and replays it while:
//!
//! - the request head is byte for byte the same (method, path, query and every header, so
//!   credentials, tenants and cookies are part of it) and the request has no body;
//! - the emulator's [`Epoch`] has not moved since the answer began to be computed (no state
//!   change, no job change, no request other than a read, which the front counts as a change
//!   whether or not it changed anything);
//! - the clock is before the answer's [`Horizon`] (a session's expiry, the job engine's next
//!   event); an answer that read the time itself or drew an id is never kept.
//!
//! What runs before the answer runs for a replayed answer too: the request log, fault
//! injection and the vendor's gate (IBM's token check, ZStack's REST-layer checks).
//!
//! In debug builds (every test, the CI's emulators) a replay is checked: the answer is computed
//! afresh as well, and if nothing changed meanwhile but the two differ, the emulator panics
//! with what differed. A replay that could be wrong is a bug in what [`crate::observe`] tracks.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::Response;

use crate::clock::Clock;
use crate::observe::{Epoch, Horizon};

/// The largest body kept: answers beyond it are downloads and files, not polled listings.
const BODY_MAX: usize = 256 * 1024;
/// What all kept answers may weigh together (keys and bodies) before the store starts afresh.
const STORE_MAX: usize = 8 * 1024 * 1024;

/// An answer as it was given.
#[derive(Debug, Clone)]
struct Stored {
    epoch: u64,
    horizon: Horizon,
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Stored {
    fn response(self) -> Response {
        let mut response = Response::new(Body::from(self.body));
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers;
        response
    }
}

/// Kept answers by request head. Heads are a few hundred bytes hashed on every GET: foldhash
/// does that in a fraction of SipHash's time, still seeded at random per process.
#[derive(Default)]
struct Entries {
    by_head: HashMap<Box<[u8]>, Stored, foldhash::fast::RandomState>,
    weight: usize,
}

/// Whether answers are replayed, and whether a replay is also checked against a fresh answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Compute afresh too, and panic when the two differ though nothing changed.
    Fresh,
    /// Trust the replay.
    Trust,
    /// Replay nothing: compute every answer (`cargo xtask emulate --no-replay`, and the bench's
    /// measure of what computing costs).
    Off,
}

impl Default for Check {
    /// Checked in debug builds, trusted in release builds.
    fn default() -> Self {
        if cfg!(debug_assertions) {
            Check::Fresh
        } else {
            Check::Trust
        }
    }
}

/// The kept answers of one emulator.
pub struct Replay {
    epoch: Arc<Epoch>,
    clock: Clock,
    check: Check,
    entries: RwLock<Entries>,
    replayed: Arc<AtomicU64>,
}

impl std::fmt::Debug for Replay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replay")
            .field("check", &self.check)
            .field("replayed", &self.replayed())
            .finish_non_exhaustive()
    }
}

/// A request head that may be replayed, and the epoch when its answer began.
pub struct Head {
    key: Box<[u8]>,
    epoch: u64,
}

/// What [`Replay::find`] has for a request.
pub enum Found {
    /// A kept answer that still holds, with the request's head when the replay is to be checked
    /// against a fresh answer ([`Check::Fresh`]).
    Kept(Kept, Option<Head>),
    /// Nothing that holds: the answer is to be computed, then offered to [`Replay::keep`].
    Missing(Head),
    /// Not a request whose answer is kept (not a GET, or one with a body, or replays are off).
    Unkept,
}

/// Writes what makes a request the same request again: the authority, the path and query, and
/// every header, one per line.
fn write_head(request: &Request, key: &mut Vec<u8>) {
    let uri = request.uri();
    if let Some(authority) = uri.authority() {
        key.extend_from_slice(authority.as_str().as_bytes());
    }
    key.extend_from_slice(
        uri.path_and_query()
            .map_or("/", |pq| pq.as_str())
            .as_bytes(),
    );
    for (name, value) in request.headers() {
        key.push(b'\n');
        key.extend_from_slice(name.as_str().as_bytes());
        key.push(b':');
        key.extend_from_slice(value.as_bytes());
    }
}

impl Replay {
    /// Answers kept for an emulator whose state moves `epoch`, on `clock`; each replay counts
    /// one in `replayed`.
    pub fn new(epoch: Arc<Epoch>, clock: Clock, replayed: Arc<AtomicU64>, check: Check) -> Self {
        Replay {
            epoch,
            clock,
            check,
            entries: RwLock::new(Entries::default()),
            replayed,
        }
    }

    /// How many answers were replayed so far.
    pub fn replayed(&self) -> u64 {
        self.replayed.load(Ordering::Relaxed)
    }

    /// The state's epoch.
    pub fn epoch(&self) -> &Epoch {
        &self.epoch
    }

    /// What is kept for `request`. Its head is written into a buffer the thread reuses and
    /// looked up from there, so that a replay allocates no key: the key is copied out only when
    /// the answer is to be computed (and perhaps kept) or checked.
    pub fn find(&self, request: &Request) -> Found {
        thread_local! {
            static KEY: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
        }
        if self.check == Check::Off
            || request.method() != Method::GET
            || !request.body().is_end_stream()
        {
            return Found::Unkept;
        }
        KEY.with(|key| match key.try_borrow_mut() {
            Ok(mut key) => self.find_by(request, &mut key),
            // Only if a lookup ran within a lookup, which none does.
            Err(_) => self.find_by(request, &mut Vec::new()),
        })
    }

    fn find_by(&self, request: &Request, key: &mut Vec<u8>) -> Found {
        key.clear();
        write_head(request, key);
        let epoch = self.epoch.current();
        let head = || Head {
            key: key.as_slice().into(),
            epoch,
        };
        match self.lookup(key, epoch) {
            Some(kept) if self.check == Check::Fresh => Found::Kept(kept, Some(head())),
            Some(kept) => Found::Kept(kept, None),
            None => Found::Missing(head()),
        }
    }

    /// The kept answer to `key`, if it still holds at `epoch`.
    fn lookup(&self, key: &[u8], epoch: u64) -> Option<Kept> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        let stored = entries.by_head.get(key)?;
        if stored.epoch != epoch || !self.holds_now(stored.horizon) {
            return None;
        }
        // Cloned under the lock (the headers, and a reference to the body), then moved into the
        // response: no `Arc` of the stored answer to count up and down on every replay.
        let kept = Kept(stored.clone());
        drop(entries);
        self.replayed.fetch_add(1, Ordering::Relaxed);
        Some(kept)
    }

    fn holds_now(&self, horizon: Horizon) -> bool {
        match horizon {
            Horizon::Always => true,
            other => other.holds_at(self.clock.peek()),
        }
    }

    /// Whether the answer computed for `head` with `horizon` may be kept: a 200 whose body is
    /// small and of known length, that sets no cookie and keeps the connection, computed while
    /// the state stood still.
    fn keepable(&self, head: &Head, horizon: Horizon, response: &Response) -> bool {
        response.status() == StatusCode::OK
            && horizon != Horizon::Never
            && self.epoch.current() == head.epoch
            && response
                .body()
                .size_hint()
                .exact()
                .is_some_and(|n| n <= BODY_MAX as u64)
            && !response.headers().contains_key(header::SET_COOKIE)
            && !response.headers().contains_key(header::CONNECTION)
    }

    /// Keeps `response`, computed for `head` with `horizon`, when it may be replayed; returns it.
    pub async fn keep(&self, head: Head, horizon: Horizon, response: Response) -> Response {
        if !self.keepable(&head, horizon, &response) {
            return response;
        }
        let (parts, body) = response.into_parts();
        let body = match axum::body::to_bytes(body, BODY_MAX).await {
            Ok(body) => body,
            // A body of known length that fails while read: hyper would have cut the
            // connection mid-answer; the client gets a 500 instead.
            Err(e) => {
                tracing::error!(error = %e, "an answer's body failed while it was read");
                let mut response = Response::new(Body::empty());
                *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                return response;
            }
        };
        let stored = Stored {
            epoch: head.epoch,
            horizon,
            status: parts.status,
            headers: parts.headers.clone(),
            body: body.clone(),
        };
        let weight = head.key.len() + body.len();
        {
            let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
            if entries.weight + weight > STORE_MAX {
                *entries = Entries::default();
            }
            if let Some(old) = entries.by_head.insert(head.key.clone(), stored) {
                entries.weight -= head.key.len() + old.body.len();
            }
            entries.weight += weight;
        }
        Response::from_parts(parts, Body::from(body))
    }

    /// With [`Check::Fresh`], compares a replay with the answer computed afresh for the same
    /// head, and panics when they differ though the state did not change meanwhile; returns the
    /// fresh answer.
    pub async fn check(&self, head: &Head, kept: Kept, fresh: Response) -> Response {
        let (parts, body) = fresh.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX)
            .await
            .unwrap_or_else(|e| panic!("a fresh answer's body failed while read: {e}"));
        if self.epoch.current() == head.epoch && self.holds_now(kept.0.horizon) {
            let kept = &kept.0;
            // The path only: a query or a body may carry secrets.
            let line = head.key.split(|b| *b == b'\n').next().unwrap_or_default();
            let path =
                String::from_utf8_lossy(line.split(|b| *b == b'?').next().unwrap_or_default())
                    .into_owned();
            assert_eq!(
                kept.status, parts.status,
                "a replayed answer to GET {path} has another status than the fresh one"
            );
            assert!(
                kept.headers == parts.headers,
                "a replayed answer to GET {path} has other headers than the fresh one"
            );
            let first_difference = kept.body.iter().zip(body.iter()).position(|(a, b)| a != b);
            assert!(
                kept.body == body,
                "a replayed answer to GET {path} has another body than the fresh one: {} and {} bytes, first difference at byte {first_difference:?}",
                kept.body.len(),
                body.len(),
            );
        }
        Response::from_parts(parts, Body::from(body))
    }
}

/// A kept answer that still holds.
pub struct Kept(Stored);

impl Kept {
    /// The answer, to send again.
    pub fn response(self) -> Response {
        self.0.response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulators::front::{wrap, Application, Gate};
    use crate::faults::{FaultLayer, Faults, OperationTable};
    use crate::observe::Shared;
    use axum::routing::get;
    use axum::Router;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;
    use tower::ServiceExt;

    struct Open;

    impl Gate for Open {
        type Pending = ();

        fn admit(&self, request: Request) -> Result<(Request, ()), Response> {
            Ok((request, ()))
        }
    }

    /// An emulator in miniature: a counter as its state, and routes that read it in the ways
    /// real handlers do. `computed` counts the answers its handlers computed.
    struct Mini {
        app: Application,
        clock: Clock,
        state: Arc<Shared<u32>>,
        /// State kept outside the tracked state: a bug a checked replay must catch.
        untracked: Arc<AtomicU64>,
        computed: Arc<AtomicUsize>,
    }

    fn mini(check: Check) -> Mini {
        let clock = Clock::virtual_at_epoch();
        let epoch = Arc::new(Epoch::default());
        let state = Arc::new(Shared::new(0u32, epoch.clone()));
        let untracked = Arc::new(AtomicU64::new(0));
        let computed = Arc::new(AtomicUsize::new(0));
        let until = clock.peek() + Duration::from_secs(10);
        let inner = Router::new()
            .route(
                "/count",
                get({
                    let state = state.clone();
                    move || async move { state.lock().to_string() }
                })
                .post({
                    let state = state.clone();
                    move || async move {
                        *state.lock() += 1;
                    }
                })
                .put(|| async {}),
            )
            .route(
                "/now",
                get({
                    let clock = clock.clone();
                    move || async move { format!("{:?}", clock.now()) }
                }),
            )
            .route(
                "/until",
                get({
                    let clock = clock.clone();
                    move || async move {
                        let valid = clock.peek() < until;
                        if valid {
                            crate::observe::holds_until(until);
                        }
                        valid.to_string()
                    }
                }),
            )
            .route("/missing", get(|| async { StatusCode::NOT_FOUND }))
            .route(
                "/untracked",
                get({
                    let untracked = untracked.clone();
                    move || async move { untracked.load(Ordering::SeqCst).to_string() }
                }),
            )
            // Counts the GETs the routes compute (a replay never reaches them).
            .layer(axum::middleware::from_fn({
                let computed = computed.clone();
                move |request: Request, next: axum::middleware::Next| {
                    if request.method() == Method::GET {
                        computed.fetch_add(1, Ordering::SeqCst);
                    }
                    next.run(request)
                }
            }));
        let faults = FaultLayer {
            faults: Arc::new(Faults::default()),
            table: Arc::new(OperationTable::new(&[])),
            base_path: "",
            clock: clock.clone(),
            error_body: |_| ("text/plain", Vec::new()),
        };
        let replay = Replay::new(epoch, clock.clone(), Arc::default(), check);
        Mini {
            app: wrap(inner, faults, Open, replay),
            clock,
            state,
            untracked,
            computed,
        }
    }

    impl Mini {
        async fn send(&self, method: Method, path: &str, headers: &[(&str, &str)]) -> String {
            let mut request = Request::builder().method(method).uri(path);
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            let response = self
                .app
                .clone()
                .oneshot(request.body(Body::empty()).unwrap())
                .await
                .unwrap();
            let status = response.status();
            let body = axum::body::to_bytes(response.into_body(), 1024)
                .await
                .unwrap();
            format!("{} {}", status.as_u16(), String::from_utf8_lossy(&body))
        }

        async fn get(&self, path: &str) -> String {
            self.send(Method::GET, path, &[]).await
        }

        fn computed(&self) -> usize {
            self.computed.load(Ordering::SeqCst)
        }
    }

    #[tokio::test]
    async fn a_replayed_answer_is_ready_at_once_and_a_computed_one_is_not() {
        use crate::emulators::front::Answer;
        let trusted = mini(Check::Trust);
        let request = || Request::get("/count").body(Body::empty()).unwrap();
        let first = trusted.app.answer(request());
        assert!(matches!(first, Answer::Later(_)), "nothing kept yet");
        assert_eq!(first.await.unwrap().status(), StatusCode::OK);
        let replayed = trusted.app.answer(request());
        assert!(matches!(replayed, Answer::Ready(Some(_))));
        let body = axum::body::to_bytes(replayed.await.unwrap().into_body(), 1024).await;
        assert_eq!(body.unwrap(), "0");
        // A checked replay is computed afresh too, so it cannot be ready at once.
        let checked = mini(Check::Fresh);
        let _ = checked.get("/count").await;
        assert!(matches!(checked.app.answer(request()), Answer::Later(_)));
    }

    #[tokio::test]
    async fn a_repeated_read_is_replayed_until_the_state_changes() {
        let mini = mini(Check::Trust);
        assert_eq!(mini.get("/count").await, "200 0");
        assert_eq!(mini.get("/count").await, "200 0");
        assert_eq!(mini.computed(), 1, "the second read is a replay");
        assert_eq!(mini.send(Method::POST, "/count", &[]).await, "200 ");
        assert_eq!(mini.get("/count").await, "200 1");
        assert_eq!(mini.computed(), 2);
        // A change made outside any request (a test, a job's effect) is seen too.
        *mini.state.lock() += 1;
        assert_eq!(mini.get("/count").await, "200 2");
        assert_eq!(mini.computed(), 3);
        // A request that is not a read counts as a change even when it changes nothing.
        mini.send(Method::PUT, "/count", &[]).await;
        assert_eq!(mini.get("/count").await, "200 2");
        assert_eq!(mini.computed(), 4);
    }

    #[tokio::test]
    async fn the_whole_request_head_is_the_key() {
        let mini = mini(Check::Trust);
        mini.get("/count").await;
        mini.get("/count?x=1").await;
        mini.send(Method::GET, "/count", &[("authorization", "Basic a")])
            .await;
        mini.send(Method::GET, "/count", &[("authorization", "Basic b")])
            .await;
        assert_eq!(mini.computed(), 4, "each head computes its own answer");
        mini.send(Method::GET, "/count", &[("authorization", "Basic b")])
            .await;
        assert_eq!(mini.computed(), 4);
    }

    #[tokio::test]
    async fn answers_that_read_the_time_hold_until_their_horizon_or_not_at_all() {
        let mini = mini(Check::Trust);
        mini.get("/now").await;
        mini.get("/now").await;
        assert_eq!(
            mini.computed(),
            2,
            "an answer that read the clock is not kept"
        );
        assert_eq!(mini.get("/until").await, "200 true");
        assert_eq!(mini.get("/until").await, "200 true");
        assert_eq!(mini.computed(), 3);
        mini.clock.advance(Duration::from_secs(10));
        assert_eq!(mini.get("/until").await, "200 false");
        assert_eq!(mini.computed(), 4);
    }

    #[tokio::test]
    async fn with_replays_off_every_answer_is_computed() {
        let mini = mini(Check::Off);
        assert_eq!(mini.get("/count").await, "200 0");
        assert_eq!(mini.get("/count").await, "200 0");
        assert_eq!(mini.computed(), 2);
    }

    #[tokio::test]
    async fn only_ok_answers_are_kept() {
        let mini = mini(Check::Trust);
        assert_eq!(mini.get("/missing").await, "404 ");
        assert_eq!(mini.get("/missing").await, "404 ");
        assert_eq!(mini.computed(), 2);
    }

    #[tokio::test]
    async fn a_checked_replay_is_computed_afresh_too() {
        let mini = mini(Check::Fresh);
        assert_eq!(mini.get("/count").await, "200 0");
        assert_eq!(mini.get("/count").await, "200 0");
        assert_eq!(mini.computed(), 2);
    }

    #[tokio::test]
    #[should_panic(expected = "a replayed answer to GET /untracked has another body")]
    async fn a_checked_replay_that_differs_from_the_fresh_answer_panics() {
        let mini = mini(Check::Fresh);
        assert_eq!(mini.get("/untracked").await, "200 0");
        // A change the epoch does not see: the replay would be wrong.
        mini.untracked.store(1, Ordering::SeqCst);
        mini.get("/untracked").await;
    }
}
