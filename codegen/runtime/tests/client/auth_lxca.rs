//! LXCA sessions against a loopback appliance that issues numbered sessions.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use codegen_runtime::http::Method;
use codegen_runtime::{ApiRequest, Auth, ClientBuilder, LoginError, TransportError};

use crate::support::{json, mock, reply, Mock, Seen};

/// An LXCA that logs in `USERID`/`Passw0rd`, names sessions s1, s2, ... (csrf c1, c2, ...), and
/// accepts only the newest session on `/aicc` — unless `expire_first` says the first session has
/// already expired after one use.
async fn lxca(expire_first: bool) -> Mock {
    let logins = Arc::new(AtomicUsize::new(0));
    mock(
        move |seen: &Seen, earlier: &[Seen]| match (seen.method.as_str(), seen.path.as_str()) {
            ("POST", "/sessions") => {
                let body = seen.json();
                if body != serde_json::json!({"UserId": "USERID", "password": "Passw0rd"}) {
                    return json(401, serde_json::json!({"result": "failed", "echo": body}));
                }
                let n = logins.fetch_add(1, Ordering::SeqCst) + 1;
                let mut r = json(200, serde_json::json!({"result": "success"}));
                for cookie in [
                    format!("JSESSIONID=s{n}; Path=/; Secure; HttpOnly"),
                    format!("csrf=c{n}; Path=/"),
                    "inactivityTimeout=1800; Path=/".to_owned(),
                ] {
                    r.headers_mut()
                        .append("set-cookie", cookie.parse().unwrap());
                }
                r
            }
            ("DELETE", "/sessions") => json(200, serde_json::json!({"result": "success"})),
            (_, "/aicc") => {
                let n = logins.load(Ordering::SeqCst);
                let cookie = seen.header("cookie").unwrap_or_default();
                let good = cookie.contains(&format!("JSESSIONID=s{n}"))
                    && seen.header("x-csrf-token") == Some(&format!("c{n}"));
                let uses_of_s1 = earlier.iter().filter(|e| e.path == "/aicc").count();
                if good && !(expire_first && n == 1 && uses_of_s1 >= 1) {
                    json(200, serde_json::json!({"appliance": {"version": "4.2"}}))
                } else {
                    json(401, serde_json::json!({"result": "failed"}))
                }
            }
            _ => reply(404, &[], ""),
        },
    )
    .await
}

#[tokio::test]
async fn logs_in_once_sends_cookies_and_csrf() {
    let server = lxca(false).await;
    let client = ClientBuilder::new(&server.base)
        .auth(Auth::lxca_session("USERID", "Passw0rd"))
        .build()
        .unwrap();
    assert!(
        server.seen().is_empty(),
        "building the client sends nothing"
    );
    for _ in 0..3 {
        let r = client
            .clone()
            .send(ApiRequest::new(Method::GET, "/aicc"))
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    assert_eq!(server.count(Method::POST, "/sessions"), 1);
    let last = server.seen().pop().unwrap();
    assert_eq!(
        last.header("cookie"),
        Some("JSESSIONID=s1; csrf=c1; inactivityTimeout=1800")
    );
    assert_eq!(last.header("x-csrf-token"), Some("c1"));

    client.logout().await;
    let logout = server.seen().pop().unwrap();
    assert_eq!(
        (&logout.method, logout.path.as_str()),
        (&Method::DELETE, "/sessions")
    );
    assert_eq!(logout.header("x-csrf-token"), Some("c1"));
    // The next request logs in again.
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

#[tokio::test]
async fn concurrent_first_requests_share_one_login() {
    let server = lxca(false).await;
    let client = ClientBuilder::new(&server.base)
        .auth(Auth::lxca_session("USERID", "Passw0rd"))
        .build()
        .unwrap();
    let requests = (0..8).map(|_| {
        let c = client.clone();
        async move {
            c.send(ApiRequest::new(Method::GET, "/aicc"))
                .await
                .unwrap()
                .status()
        }
    });
    let statuses = futures_util::future::join_all(requests).await;
    assert_eq!(statuses, vec![200; 8]);
    assert_eq!(server.count(Method::POST, "/sessions"), 1);
}

#[tokio::test]
async fn expired_session_logs_in_again_once() {
    let server = lxca(true).await;
    let client = ClientBuilder::new(&server.base)
        .auth(Auth::lxca_session("USERID", "Passw0rd"))
        .build()
        .unwrap();
    assert_eq!(
        client
            .send(ApiRequest::new(Method::GET, "/aicc"))
            .await
            .unwrap()
            .status(),
        200
    );
    // s1 has now expired: 401, re-login (s2), same request again.
    assert_eq!(
        client
            .send(ApiRequest::new(Method::GET, "/aicc"))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(server.count(Method::POST, "/sessions"), 2);
    assert_eq!(
        server.seen().pop().unwrap().header("x-csrf-token"),
        Some("c2")
    );
}

#[tokio::test]
async fn a_session_that_keeps_failing_is_not_retried_forever() {
    let server = mock(|seen, _| match seen.path.as_str() {
        "/sessions" => {
            let mut r = json(200, serde_json::json!({}));
            r.headers_mut()
                .append("set-cookie", "JSESSIONID=x".parse().unwrap());
            r
        }
        _ => json(401, serde_json::json!({"result": "failed"})),
    })
    .await;
    let client = ClientBuilder::new(&server.base)
        .auth(Auth::lxca_session("u", "p"))
        .build()
        .unwrap();
    let r = client
        .send(ApiRequest::new(Method::GET, "/aicc"))
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(server.count(Method::POST, "/sessions"), 2);
    assert_eq!(server.count(Method::GET, "/aicc"), 2);
}

#[tokio::test]
async fn csrf_from_the_body_when_no_cookie_carries_it() {
    let server = mock(|seen, _| match seen.path.as_str() {
        "/sessions" => {
            let mut r = json(200, serde_json::json!({"csrf": "body-csrf"}));
            r.headers_mut()
                .append("set-cookie", "JSESSIONID=j1; Path=/".parse().unwrap());
            r
        }
        _ => reply(200, &[], ""),
    })
    .await;
    let client = ClientBuilder::new(&server.base)
        .auth(Auth::lxca_session("u", "p"))
        .build()
        .unwrap();
    client
        .send(ApiRequest::new(Method::GET, "/aicc"))
        .await
        .unwrap();
    let seen = server.seen().pop().unwrap();
    assert_eq!(seen.header("cookie"), Some("JSESSIONID=j1"));
    assert_eq!(seen.header("x-csrf-token"), Some("body-csrf"));
}

#[tokio::test]
async fn rejected_login_is_typed_and_never_shows_the_password() {
    let server = lxca(false).await;
    let client = ClientBuilder::new(&server.base)
        .auth(Auth::lxca_session("USERID", "wrong-Pa55word"))
        .build()
        .unwrap();
    let err = client
        .send(ApiRequest::new(Method::GET, "/aicc"))
        .await
        .unwrap_err();
    match &err {
        TransportError::Login(LoginError::Rejected { status, detail, .. }) => {
            assert_eq!(*status, 401);
            // The appliance echoed the request; the echo is kept, the password is not.
            assert!(
                detail.contains("USERID") && detail.contains("[redacted]"),
                "{detail}"
            );
        }
        other => panic!("{other:?}"),
    }
    let text = format!("{err} {err:?}");
    assert!(!text.contains("wrong-Pa55word"), "{text}");
    assert_eq!(server.count(Method::GET, "/aicc"), 0);

    let no_cookie = mock(|_, _| json(200, serde_json::json!({}))).await;
    let client = ClientBuilder::new(&no_cookie.base)
        .auth(Auth::lxca_session("u", "p"))
        .build()
        .unwrap();
    assert!(matches!(
        client.send(ApiRequest::new(Method::GET, "/aicc")).await,
        Err(TransportError::Login(LoginError::Malformed { .. }))
    ));
}
