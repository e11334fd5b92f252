//! IBM IAM tokens: fetched once, refreshed before expiry, re-fetched on 401.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use codegen_runtime::http::Method;
use codegen_runtime::url::Url;
use codegen_runtime::{ApiRequest, Auth, ClientBuilder, LoginError, TransportError};

use crate::support::{json, mock, reply, Mock};

/// IAM at `/identity/token` issuing tok1, tok2, ... living `lifetime` seconds; the API at `/v2`
/// accepts only the newest token, and the first token `revoke_first` after one use.
async fn ibm(lifetime: u64, revoke_first: bool) -> Mock {
    let issued = Arc::new(AtomicUsize::new(0));
    let api_uses = Arc::new(AtomicUsize::new(0));
    mock(move |seen, _| match seen.path.as_str() {
        "/identity/token" => {
            let form = std::str::from_utf8(&seen.body).unwrap();
            if form != "grant_type=urn%3Aibm%3Aparams%3Aoauth%3Agrant-type%3Aapikey&apikey=key-123"
                || seen.header("accept") != Some("application/json")
                || seen.header("content-type") != Some("application/x-www-form-urlencoded")
            {
                return json(
                    400,
                    serde_json::json!({"errorMessage": format!("bad request: {form}")}),
                );
            }
            let n = issued.fetch_add(1, Ordering::SeqCst) + 1;
            json(
                200,
                serde_json::json!({
                    "access_token": format!("tok{n}"),
                    "refresh_token": "not used",
                    "token_type": "Bearer",
                    "expires_in": lifetime,
                    "expiration": 1_700_000_000u64 + lifetime,
                }),
            )
        }
        path if path.starts_with("/v2/") => {
            let n = issued.load(Ordering::SeqCst);
            let used = api_uses.fetch_add(1, Ordering::SeqCst);
            let revoked = revoke_first && n == 1 && used >= 1;
            if seen.header("authorization") == Some(&format!("Bearer tok{n}")) && !revoked {
                json(200, serde_json::json!({"runs": []}))
            } else {
                json(401, serde_json::json!({"errorCode": "KStatusUnauthorized"}))
            }
        }
        _ => reply(404, &[], ""),
    })
    .await
}

fn client(server: &Mock, key: &str) -> codegen_runtime::RawClient {
    let iam = Url::parse(&format!("{}/identity/token", server.base)).unwrap();
    ClientBuilder::new(format!("{}/v2", server.base))
        .auth(Auth::ibm_iam_with_url(key, iam))
        .default_header("X-IBM-Tenant-Id", "tenant/")
        .build()
        .unwrap()
}

fn runs() -> ApiRequest {
    ApiRequest::new(Method::GET, "/data-protect/protection-groups/g1/runs")
}

#[tokio::test]
async fn one_token_serves_many_requests() {
    let server = ibm(3600, false).await;
    let client = client(&server, "key-123");
    for _ in 0..3 {
        assert_eq!(client.send(runs()).await.unwrap().status(), 200);
    }
    assert_eq!(server.count(Method::POST, "/identity/token"), 1);
    let last = server.seen().pop().unwrap();
    assert_eq!(last.header("authorization"), Some("Bearer tok1"));
    assert_eq!(last.header("x-ibm-tenant-id"), Some("tenant/"));
    // The tenant header is for the API, not for IAM.
    assert_eq!(server.seen()[0].header("x-ibm-tenant-id"), None);
}

#[tokio::test]
async fn tokens_inside_the_refresh_margin_are_replaced_before_use() {
    // 30 s of life is inside the 60 s margin: every request gets a fresh token.
    let server = ibm(30, false).await;
    let client = client(&server, "key-123");
    for _ in 0..2 {
        assert_eq!(client.send(runs()).await.unwrap().status(), 200);
    }
    assert_eq!(server.count(Method::POST, "/identity/token"), 2);
    assert_eq!(
        server.seen().pop().unwrap().header("authorization"),
        Some("Bearer tok2")
    );
}

#[tokio::test]
async fn a_rejected_token_is_fetched_again_once() {
    let server = ibm(3600, true).await;
    let client = client(&server, "key-123");
    assert_eq!(client.send(runs()).await.unwrap().status(), 200);
    assert_eq!(client.send(runs()).await.unwrap().status(), 200);
    assert_eq!(server.count(Method::POST, "/identity/token"), 2);
}

#[tokio::test]
async fn a_bad_key_is_a_login_error_without_the_key() {
    let server = ibm(3600, false).await;
    let client = client(&server, "wrong-key-987");
    let err = client.send(runs()).await.unwrap_err();
    assert!(
        matches!(
            err,
            TransportError::Login(LoginError::Rejected { status: 400, .. })
        ),
        "{err:?}"
    );
    let text = format!("{err} {err:?}");
    assert!(!text.contains("wrong-key-987"), "{text}");
    assert!(text.contains("bad request"), "{text}");
}
