//! Retries: which requests, which failures, how many, how long.

use std::time::Duration;

use codegen_runtime::http::Method;
use codegen_runtime::{reqwest, ApiBody, ApiRequest, Auth, ClientBuilder, RawClient, RetryPolicy};

use crate::support::{json, mock, reply, Captured};

/// Retries without waiting, so tests never sleep.
fn instant_retries(max_retries: u32) -> RetryPolicy {
    RetryPolicy {
        max_retries,
        initial_backoff: Duration::ZERO,
        max_backoff: Duration::ZERO,
        jitter: false,
    }
}

fn client(base: &str, policy: RetryPolicy) -> RawClient {
    ClientBuilder::new(base).retry(policy).build().unwrap()
}

/// 503, then 429, then 200, for every path.
async fn flaky() -> crate::support::Mock {
    mock(
        |seen, earlier| match earlier.iter().filter(|e| e.path == seen.path).count() {
            0 => reply(503, &[("content-type", "text/html")], "<h1>busy</h1>"),
            1 => reply(429, &[], "slow down"),
            _ => reply(200, &[], "done"),
        },
    )
    .await
}

#[tokio::test]
async fn idempotent_methods_retry_503_and_429() {
    let server = flaky().await;
    let client = client(&server.base, instant_retries(3));
    for method in [Method::GET, Method::PUT, Method::DELETE] {
        let path = format!("/{method}");
        let r = client
            .send(ApiRequest::new(method.clone(), &path))
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(server.count(method, &path), 3);
    }
}

#[tokio::test]
async fn post_and_patch_are_never_retried() {
    let server = flaky().await;
    let client = client(&server.base, instant_retries(3));
    for method in [Method::POST, Method::PATCH] {
        let path = format!("/{method}");
        let r = client
            .send(ApiRequest::new(method.clone(), &path))
            .await
            .unwrap();
        assert_eq!(r.status(), 503);
        assert_eq!(server.count(method, &path), 1);
    }
}

#[tokio::test]
async fn the_budget_runs_out() {
    let server = flaky().await;
    let r = client(&server.base, instant_retries(1))
        .send(ApiRequest::new(Method::GET, "/x"))
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(server.seen().len(), 2);
    let r = client(&server.base, RetryPolicy::none())
        .send(ApiRequest::new(Method::GET, "/y"))
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
}

#[tokio::test]
async fn streamed_and_multipart_bodies_are_sent_once() {
    let server = mock(|_, _| reply(503, &[], "busy")).await;
    let client = client(&server.base, instant_retries(3));
    let stream = ApiRequest::new(Method::PUT, "/stream").body(ApiBody::Stream {
        content_type: "application/octet-stream".into(),
        body: reqwest::Body::from("data"),
    });
    assert_eq!(client.send(stream).await.unwrap().status(), 503);
    let form = codegen_runtime::MultipartForm::new().text("a", "b");
    let multipart = ApiRequest::new(Method::PUT, "/multipart").body(ApiBody::Multipart(form));
    assert_eq!(client.send(multipart).await.unwrap().status(), 503);
    assert_eq!(server.seen().len(), 2);
}

#[tokio::test]
async fn connection_errors_retry_idempotent_requests_only() {
    let captured = Captured::start();
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let client = client(&closed, instant_retries(2));
    let err = client
        .send(ApiRequest::new(Method::GET, "/a"))
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    let err = client
        .send(ApiRequest::new(Method::POST, "/b"))
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    let lines = captured.lines();
    let failed = |path: &str| {
        lines
            .iter()
            .filter(|l| l.contains("request failed") && l.contains(path))
            .count()
    };
    assert_eq!((failed("/a"), failed("/b")), (3, 1), "{lines:#?}");
    assert!(
        lines.iter().any(|l| l.contains("error=\"connect\"")),
        "{lines:#?}"
    );
}

#[tokio::test]
async fn retry_after_is_waited_for_on_paused_time() {
    let server = mock(|seen, earlier| {
        let busy_before = earlier.iter().any(|e| e.path == "/busy");
        match seen.path.as_str() {
            "/busy" if !busy_before => reply(503, &[("retry-after", "3")], "later"),
            "/capped" if !earlier.iter().any(|e| e.path == "/capped") => {
                reply(429, &[("retry-after", "3600")], "")
            }
            _ => reply(200, &[], "ok"),
        }
    })
    .await;
    let client = ClientBuilder::new(&server.base).build().unwrap();
    // Connect on the real clock; the retries below reuse the pooled connection.
    client
        .send(ApiRequest::new(Method::GET, "/warm"))
        .await
        .unwrap();
    tokio::time::pause();

    let start = tokio::time::Instant::now();
    let r = client
        .send(ApiRequest::new(Method::GET, "/busy"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_about(
        start.elapsed(),
        Duration::from_secs(3),
        "Retry-After wins over the 200 ms backoff",
    );

    let start = tokio::time::Instant::now();
    let r = client
        .send(ApiRequest::new(Method::GET, "/capped"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_about(
        start.elapsed(),
        Duration::from_secs(10),
        "capped at max_backoff",
    );
}

/// Paused time still rounds timers up to the next millisecond.
fn assert_about(elapsed: Duration, want: Duration, why: &str) {
    assert!(
        elapsed >= want && elapsed < want + Duration::from_millis(50),
        "{why}: waited {elapsed:?}, want {want:?}"
    );
}

#[tokio::test]
async fn a_json_503_with_retry_after_is_retried() {
    let server = mock(|_, earlier| {
        if earlier.is_empty() {
            reply(
                503,
                &[("content-type", "application/json"), ("retry-after", "0")],
                "{}",
            )
        } else {
            json(200, serde_json::json!({}))
        }
    })
    .await;
    let r = client(&server.base, instant_retries(1))
        .send(ApiRequest::new(Method::GET, "/"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_401_on_a_stream_is_returned_and_the_next_request_logs_in() {
    let server = mock(|seen, earlier| match seen.path.as_str() {
        "/sessions" => {
            let n = earlier.iter().filter(|e| e.path == "/sessions").count() + 1;
            let mut r = json(200, serde_json::json!({}));
            r.headers_mut()
                .append("set-cookie", format!("JSESSIONID=s{n}").parse().unwrap());
            r
        }
        _ if seen.header("cookie") == Some("JSESSIONID=s1") => json(401, serde_json::json!({})),
        _ => reply(200, &[], ""),
    })
    .await;
    let client = ClientBuilder::new(&server.base)
        .auth(Auth::lxca_session("u", "p"))
        .build()
        .unwrap();
    let upload = ApiRequest::new(Method::PUT, "/files/x").body(ApiBody::Stream {
        content_type: "application/octet-stream".into(),
        body: reqwest::Body::from("payload"),
    });
    assert_eq!(client.send(upload).await.unwrap().status(), 401);
    assert_eq!(server.count(Method::PUT, "/files/x"), 1);
    assert_eq!(
        client
            .send(ApiRequest::new(Method::GET, "/aicc"))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(server.count(Method::POST, "/sessions"), 2);
}
