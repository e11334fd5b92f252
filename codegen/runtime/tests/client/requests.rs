//! URLs, headers, bodies, responses and logging.

use codegen_runtime::encoding::Style;
use codegen_runtime::http::Method;
use codegen_runtime::{ApiBody, ApiRequest, Auth, ClientBuilder, Error, RetryPolicy};
use futures_util::StreamExt;

use crate::support::{json, mock, reply, Captured};

#[tokio::test]
async fn urls_keep_the_base_path_and_encode_the_query() {
    let server = mock(|_, _| reply(200, &[], "ok")).await;
    let client = ClientBuilder::new(format!("{}/zstack/", server.base))
        .build()
        .unwrap();
    assert_eq!(client.base_url().path(), "/zstack");
    let request = ApiRequest::new(Method::GET, "/v1/backup-storage")
        .query("q", "name~=%web 1%")
        .query_param("fields", &["uuid", "name"], Style::Form, false)
        .query_param("replyWithCount", &true, Style::Form, true);
    let response = client.send(request).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(&response.bytes().await.unwrap()[..], b"ok");
    let seen = &server.seen()[0];
    assert_eq!(seen.path, "/zstack/v1/backup-storage");
    assert_eq!(
        seen.query.as_deref(),
        Some("q=name%7E%3D%25web%201%25&fields=uuid%2Cname&replyWithCount=true")
    );
}

#[tokio::test]
async fn default_headers_user_agent_and_overrides() {
    let server = mock(|_, _| reply(204, &[], "")).await;
    let client = ClientBuilder::new(&server.base)
        .default_header("X-IBM-Tenant-Id", "tenant-a/")
        .user_agent("lxca-client/1.0")
        .build()
        .unwrap();
    client
        .send(ApiRequest::new(Method::GET, "/a"))
        .await
        .unwrap();
    let own = ApiRequest::new(Method::GET, "/b")
        .header("x-ibm-tenant-id", "tenant-b/")
        .unwrap();
    client.send(own).await.unwrap();
    let seen = server.seen();
    assert_eq!(seen[0].header("x-ibm-tenant-id"), Some("tenant-a/"));
    assert_eq!(seen[0].header("user-agent"), Some("lxca-client/1.0"));
    assert_eq!(seen[1].headers.get_all("x-ibm-tenant-id").iter().count(), 1);
    assert_eq!(seen[1].header("x-ibm-tenant-id"), Some("tenant-b/"));
}

#[tokio::test]
async fn static_credentials() {
    let server = mock(|_, _| reply(200, &[], "")).await;
    let basic = ClientBuilder::new(&server.base)
        .auth(Auth::basic("USERID", "Passw0rd"))
        .build()
        .unwrap();
    basic
        .send(ApiRequest::new(Method::GET, "/aicc"))
        .await
        .unwrap();
    let bearer = ClientBuilder::new(&server.base)
        .auth(Auth::bearer("t0ken"))
        .build()
        .unwrap();
    bearer
        .send(ApiRequest::new(Method::GET, "/aicc"))
        .await
        .unwrap();
    // A request that brings its own Authorization keeps it.
    let own = ApiRequest::new(Method::GET, "/aicc")
        .header("Authorization", "Custom x")
        .unwrap();
    bearer.send(own).await.unwrap();
    let seen = server.seen();
    assert_eq!(
        seen[0].header("authorization"),
        Some("Basic VVNFUklEOlBhc3N3MHJk")
    );
    assert_eq!(seen[1].header("authorization"), Some("Bearer t0ken"));
    assert_eq!(seen[2].header("authorization"), Some("Custom x"));
}

#[tokio::test]
async fn bodies_and_content_types() {
    let server = mock(|_, _| reply(200, &[], "")).await;
    let client = ClientBuilder::new(&server.base).build().unwrap();
    let requests = [
        ApiRequest::new(Method::POST, "/json")
            .json(&serde_json::json!({"Action": "Init"}))
            .unwrap(),
        ApiRequest::new(Method::POST, "/form")
            .body(ApiBody::Form(vec![("a b".into(), "c&d".into())])),
        ApiRequest::new(Method::PUT, "/bytes").body(ApiBody::Bytes {
            content_type: "application/octet-stream".into(),
            data: bytes::Bytes::from_static(b"\x00\x01"),
        }),
        ApiRequest::new(Method::POST, "/json-own-type")
            .header("Content-Type", "application/merge-patch+json")
            .unwrap()
            .json(&serde_json::json!({}))
            .unwrap(),
    ];
    for r in requests {
        client.send(r).await.unwrap();
    }
    let seen = server.seen();
    assert_eq!(seen[0].header("content-type"), Some("application/json"));
    assert_eq!(seen[0].json(), serde_json::json!({"Action": "Init"}));
    assert_eq!(
        seen[1].header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(&seen[1].body[..], b"a%20b=c%26d");
    assert_eq!(
        seen[2].header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(&seen[2].body[..], b"\x00\x01");
    assert_eq!(
        seen[3].header("content-type"),
        Some("application/merge-patch+json")
    );
}

#[tokio::test]
async fn responses_decode_stream_and_keep_bad_bytes() {
    let big: Vec<u8> = (0..1_000_000u32).map(|i| (i % 256) as u8).collect();
    let big_clone = big.clone();
    let server = mock(move |seen, _| match seen.path.as_str() {
        "/json" => json(200, serde_json::json!({"jobId": "12"})),
        "/broken" => reply(200, &[("content-type", "application/json")], "{\"jobId\":"),
        "/big" => reply(
            200,
            &[("content-type", "application/octet-stream")],
            big_clone.clone(),
        ),
        _ => reply(404, &[("x-trace", "t1")], "no such thing"),
    })
    .await;
    let client = ClientBuilder::new(&server.base).build().unwrap();

    let job: serde_json::Value = client
        .send(ApiRequest::new(Method::GET, "/json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(job["jobId"], "12");

    let err = client
        .send(ApiRequest::new(Method::GET, "/broken"))
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap_err();
    assert_eq!((err.status, &err.body[..]), (200, &b"{\"jobId\":"[..]));
    assert!(err.source.is_eof());

    let mut stream = client
        .send(ApiRequest::new(Method::GET, "/big"))
        .await
        .unwrap()
        .into_stream();
    let mut received = Vec::new();
    while let Some(chunk) = stream.next().await {
        received.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(received, big);

    let response = client
        .send(ApiRequest::new(Method::GET, "/missing"))
        .await
        .unwrap();
    let err: Error<()> = codegen_runtime::unexpected(response).await;
    assert_eq!(err.status(), Some(404));
    match &err {
        Error::UnexpectedStatus { headers, body, .. } => {
            assert_eq!(headers["x-trace"], "t1");
            assert_eq!(&body[..], b"no such thing");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.to_string(), "unexpected HTTP status 404: no such thing");
}

#[tokio::test]
async fn redirects_are_returned_not_followed() {
    let server = mock(|seen, _| match seen.path.as_str() {
        "/old" => reply(302, &[("location", "/new")], ""),
        _ => reply(200, &[], "new"),
    })
    .await;
    let client = ClientBuilder::new(&server.base)
        .auth(Auth::bearer("tok"))
        .build()
        .unwrap();
    let response = client
        .send(ApiRequest::new(Method::GET, "/old"))
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(response.headers()["location"], "/new");
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn one_debug_line_per_attempt_without_secrets() {
    let captured = Captured::start();
    let server = mock(|_, earlier| {
        if earlier.is_empty() {
            reply(503, &[], "busy")
        } else {
            reply(200, &[], "")
        }
    })
    .await;
    let client = ClientBuilder::new(&server.base)
        .auth(Auth::bearer("bearer-s3cret"))
        .default_header("X-IBM-Tenant-Id", "tenant-s3cret")
        .retry(RetryPolicy {
            initial_backoff: std::time::Duration::ZERO,
            jitter: false,
            ..RetryPolicy::default()
        })
        .build()
        .unwrap();
    let request = ApiRequest::new(Method::GET, "/managementServer/data")
        .query("passphrase", "query-s3cret")
        .header("Cookie", "JSESSIONID=cookie-s3cret")
        .unwrap();
    assert_eq!(client.send(request).await.unwrap().status(), 200);
    let lines = captured.lines();
    let attempts: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("HTTP request"))
        .collect();
    assert_eq!(attempts.len(), 2, "{lines:#?}");
    assert!(
        attempts[0].contains("status=503") && attempts[0].contains("attempt=1"),
        "{}",
        attempts[0]
    );
    assert!(
        attempts[1].contains("status=200") && attempts[1].contains("attempt=2"),
        "{}",
        attempts[1]
    );
    assert!(attempts[0].contains("/managementServer/data") && attempts[0].contains("passphrase"));
    assert!(attempts[0].contains("elapsed_ms="));
    let all = lines.concat();
    assert!(!all.contains("s3cret"), "{all}");
}
