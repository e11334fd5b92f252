//! ZStack sessions: hashed password, OAuth header, 503 `ID.1001` re-login, logout by id.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use codegen_runtime::http::Method;
use codegen_runtime::{ApiRequest, Auth, ClientBuilder, LoginError, TransportError};

use crate::support::{json, mock, reply, Captured, Mock};

/// SHA-512 of "password", lowercase hex.
const HASH: &str = "b109f3bbbc244eb82441917ed06d618b9008dd09b3befd1b5e07394c706a8bb980b1d7785e5976ec049b46df5f1326af5a2ea6d103fd07c95385ffab0cacbc86";

/// A ZStack under `/zstack` whose sessions are `sess1`, `sess2`, ...; `/v1/backup-storage`
/// accepts only the newest, and `expire_after` uses of the first one expire it.
async fn zstack(expire_after: usize) -> Mock {
    let logins = Arc::new(AtomicUsize::new(0));
    let uses = Arc::new(AtomicUsize::new(0));
    mock(move |seen, _| match (seen.method.as_str(), seen.path.as_str()) {
        ("PUT", "/zstack/v1/accounts/login") => {
            let want = serde_json::json!({"logInByAccount": {"accountName": "admin", "password": HASH}});
            if seen.json() != want {
                return json(503, serde_json::json!({"error": {"code": "ID.1000", "details": seen.json()}}));
            }
            let n = logins.fetch_add(1, Ordering::SeqCst) + 1;
            json(200, serde_json::json!({"inventory": {"uuid": format!("sess{n}"), "accountUuid": "a"}}))
        }
        ("DELETE", path) if path.starts_with("/zstack/v1/accounts/sessions/") => json(200, serde_json::json!({})),
        ("GET", "/zstack/v1/backup-storage") => {
            let n = logins.load(Ordering::SeqCst);
            let used = uses.fetch_add(1, Ordering::SeqCst);
            if seen.header("authorization") != Some(&format!("OAuth sess{n}")) || (n == 1 && used >= expire_after) {
                json(503, serde_json::json!({"error": {"code": "ID.1001", "description": "invalid session"}}))
            } else {
                json(200, serde_json::json!({"inventories": []}))
            }
        }
        ("GET", "/zstack/v1/bad-argument") => {
            json(503, serde_json::json!({"error": {"code": "SYS.1007", "description": "invalid argument"}}))
        }
        _ => reply(404, &[], "not found"),
    })
    .await
}

fn client(server: &Mock, password: &str) -> codegen_runtime::RawClient {
    ClientBuilder::new(format!("{}/zstack", server.base))
        .auth(Auth::zstack_session("admin", password))
        .build()
        .unwrap()
}

#[tokio::test]
async fn logs_in_with_the_hash_and_sends_oauth() {
    let server = zstack(usize::MAX).await;
    let client = client(&server, "password");
    let r = client
        .send(ApiRequest::new(Method::GET, "/v1/backup-storage"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let seen = server.seen();
    assert_eq!(seen[0].path, "/zstack/v1/accounts/login");
    assert_eq!(seen[1].header("authorization"), Some("OAuth sess1"));
}

#[tokio::test]
async fn invalid_session_503_logs_in_again() {
    let server = zstack(1).await;
    let client = client(&server, "password");
    for _ in 0..2 {
        let r = client
            .send(ApiRequest::new(Method::GET, "/v1/backup-storage"))
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    assert_eq!(server.count(Method::PUT, "/zstack/v1/accounts/login"), 2);
    assert_eq!(
        server.seen().pop().unwrap().header("authorization"),
        Some("OAuth sess2")
    );
}

#[tokio::test]
async fn api_errors_in_503_are_answers_not_retries() {
    let server = zstack(usize::MAX).await;
    let client = client(&server, "password");
    let r = client
        .send(ApiRequest::new(Method::GET, "/v1/bad-argument"))
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "SYS.1007");
    assert_eq!(server.count(Method::GET, "/zstack/v1/bad-argument"), 1);
    assert_eq!(server.count(Method::PUT, "/zstack/v1/accounts/login"), 1);
}

#[tokio::test]
async fn logout_deletes_the_session_without_logging_its_id() {
    let captured = Captured::start();
    let server = zstack(usize::MAX).await;
    let client = client(&server, "password");
    client
        .send(ApiRequest::new(Method::GET, "/v1/backup-storage"))
        .await
        .unwrap();
    client.logout().await;
    let logout = server.seen().pop().unwrap();
    assert_eq!(
        (&logout.method, logout.path.as_str()),
        (&Method::DELETE, "/zstack/v1/accounts/sessions/sess1")
    );
    assert_eq!(logout.header("authorization"), Some("OAuth sess1"));
    let lines = captured.lines().concat();
    assert!(
        lines.contains("/zstack/v1/accounts/sessions/[redacted]"),
        "{lines}"
    );
    assert!(!lines.contains("sess1"), "{lines}");
}

#[tokio::test]
async fn failed_login_hides_password_and_hash() {
    let server = zstack(usize::MAX).await;
    let client = client(&server, "not-the-Passw0rd");
    let err = client
        .send(ApiRequest::new(Method::GET, "/v1/backup-storage"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            TransportError::Login(LoginError::Rejected { status: 503, .. })
        ),
        "{err:?}"
    );
    let text = format!("{err} {err:?}");
    // The emulator echoes the login body, hash included.
    assert!(
        text.contains("ID.1000") && text.contains("[redacted]"),
        "{text}"
    );
    assert!(!text.contains("not-the-Passw0rd"), "{text}");
    let hash_of_wrong = {
        use sha2::{Digest, Sha512};
        let digest = Sha512::digest(b"not-the-Passw0rd");
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    assert!(!text.contains(&hash_of_wrong[..32]), "{text}");
}
