//! Generated servers answer invalid requests the way the vendor does (`x-validation-error`), never
//! with a framework default page. Raw HTTP requests, so nothing on the client side can hide a
//! problem.

use std::sync::Arc;

use serde_json::Value;

async fn serve(router: codegen_runtime::axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        codegen_runtime::axum::serve(listener, router)
            .await
            .unwrap();
    });
    format!("http://{addr}")
}

async fn send(request: codegen_runtime::reqwest::RequestBuilder) -> (u16, String, String) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

#[tokio::test]
async fn zstack_invalid_argument_is_503_sys_1007_and_bad_header_is_plain_400() {
    let base = serve(zstack::server::router(Arc::new(zstack::stub::Stub))).await;
    let http = codegen_runtime::reqwest::Client::new();

    let (status, content_type, body) =
        send(http.delete(format!("{base}/v1/backup-storage/abc?deleteMode=Sometimes"))).await;
    assert_eq!(status, 503, "{body}");
    assert!(content_type.starts_with("application/json"));
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"]["code"], "SYS.1007");
    assert!(
        body["error"]["details"]
            .as_str()
            .unwrap()
            .contains("deleteMode"),
        "{body}"
    );

    let (status, content_type, body) = send(
        http.delete(format!("{base}/v1/backup-storage/abc"))
            .header("X-Job-UUID", "not-32-hex"),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    assert!(body.contains("X-Job-UUID"), "{body}");

    // A valid request reaches the implementation.
    let (status, _, _) =
        send(http.delete(format!("{base}/v1/backup-storage/abc?deleteMode=Enforcing"))).await;
    assert_eq!(status, 202);
}

#[tokio::test]
async fn ibm_pattern_and_missing_tenant_are_400_kvalidationerror() {
    let base = serve(ibm_backup_recovery::server::router(Arc::new(
        ibm_backup_recovery::stub::Stub,
    )))
    .await;
    let http = codegen_runtime::reqwest::Client::new();
    for request in [
        // The recovery id has the wrong shape.
        http.get(format!("{base}/data-protect/recoveries/not-an-id"))
            .header("X-IBM-Tenant-Id", "t/"),
        // The tenant header is missing.
        http.get(format!("{base}/data-protect/recoveries/1:2:3")),
    ] {
        let (status, _, body) = send(request).await;
        assert_eq!(status, 400, "{body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["errorCode"], "KValidationError", "{body}");
    }
    let (status, _, body) = send(
        http.get(format!("{base}/data-protect/recoveries/1:2:3"))
            .header("X-IBM-Tenant-Id", "t/"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn lxca_upload_without_job_id_is_412_with_messages() {
    let base = serve(lxca::server::router(Arc::new(lxca::stub::Stub))).await;
    let http = codegen_runtime::reqwest::Client::new();
    let (status, _, body) = send(
        http.post(format!("{base}/files/osImages"))
            .header("content-type", "multipart/form-data; boundary=x")
            .body("--x--\r\n"),
    )
    .await;
    assert_eq!(status, 412, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["result"], "failed");
    assert!(
        body["messages"][0]["text"]
            .as_str()
            .unwrap()
            .contains("jobId"),
        "{body}"
    );

    // A JSON body where the spec wants JSON of another shape: 400 with LXCA's messages.
    let (status, _, body) = send(
        http.put(format!("{base}/managementServer/data"))
            .header("content-type", "application/json")
            .body(r#"{"action": "start"}"#),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["result"], "failed");

    // Well-formed, but `operation` is not one the spec allows: refused by the body's schema, which
    // serde's open enums alone would accept.
    let (status, _, body) = send(
        http.put(format!("{base}/managementServer/data"))
            .header("content-type", "application/json")
            .body(r#"{"action": "start", "operation": "teleport", "destination": "internal", "uuid": "u1"}"#),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert!(
        body["messages"][0]["text"]
            .as_str()
            .unwrap()
            .contains("request body is invalid"),
        "{body}"
    );

    let (status, _, body) = send(
        http.put(format!("{base}/managementServer/data"))
            .header("content-type", "application/json")
            .body(r#"{"action": "start", "operation": "copy", "destination": "internal", "uuid": "u1"}"#),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

/// Credentials are not parameters in OpenAPI, so the implementation sees them in the request's
/// headers (an emulator checks `Authorization` there).
#[tokio::test]
async fn implementation_sees_the_request_headers() {
    struct Echo;
    impl zstack::server::Api for Echo {
        async fn log_in_by_account(
            &self,
            _: zstack::server::log_in_by_account::Request,
        ) -> codegen_runtime::server::Reply<zstack::server::log_in_by_account::Response> {
            unreachable!()
        }
        async fn query_backup_storage(
            &self,
            _: zstack::server::query_backup_storage::Request,
        ) -> codegen_runtime::server::Reply<zstack::server::query_backup_storage::Response>
        {
            unreachable!()
        }
        async fn get_backup_storage(
            &self,
            request: zstack::server::get_backup_storage::Request,
        ) -> codegen_runtime::server::Reply<zstack::server::get_backup_storage::Response> {
            let auth = request
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("none")
                .to_string();
            zstack::server::get_backup_storage::Response::BadRequest(auth).into()
        }
        async fn delete_backup_storage(
            &self,
            _: zstack::server::delete_backup_storage::Request,
        ) -> codegen_runtime::server::Reply<zstack::server::delete_backup_storage::Response>
        {
            unreachable!()
        }
        async fn reconnect_backup_storage(
            &self,
            _: zstack::server::reconnect_backup_storage::Request,
        ) -> codegen_runtime::server::Reply<zstack::server::reconnect_backup_storage::Response>
        {
            unreachable!()
        }
        async fn get_api_job(
            &self,
            _: zstack::server::get_api_job::Request,
        ) -> codegen_runtime::server::Reply<zstack::server::get_api_job::Response> {
            unreachable!()
        }
    }
    let base = serve(zstack::server::router(Arc::new(Echo))).await;
    let http = codegen_runtime::reqwest::Client::new();
    let (status, _, body) = send(
        http.get(format!("{base}/v1/backup-storage/abc"))
            .header("Authorization", "OAuth 0123456789abcdef0123456789abcdef"),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body, "OAuth 0123456789abcdef0123456789abcdef");
}

/// Form values arrive as text: the server types them first, then checks the typed value against
/// the body schema (enum, pattern, bounds), as it does for JSON bodies.
#[tokio::test]
async fn form_bodies_are_checked_against_their_schema() {
    let base = serve(fixture_schema_constructs::server::router(Arc::new(
        fixture_schema_constructs::stub::Stub,
    )))
    .await;
    let http = codegen_runtime::reqwest::Client::new();
    let post = |body: &'static str| {
        http.post(format!("{base}/tokens"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    };
    for (body, mentions) in [
        ("grant_type=password&apikey=abcdefgh12", "password"),
        ("grant_type=apikey&apikey=short", "short"),
        ("grant_type=apikey&apikey=abcdefgh12&ttl=5", "5"),
        ("grant_type=apikey&apikey=abcdefgh12&ttl=soon", "ttl"),
        ("grant_type=apikey", "apikey"),
    ] {
        let (status, _, text) = send(post(body)).await;
        assert_eq!(status, 400, "{body}: {text}");
        assert!(text.contains(mentions), "{body}: {text}");
    }
    let (status, _, text) = send(post("grant_type=refresh_token&apikey=abcdefgh12&ttl=600")).await;
    assert_eq!(status, 200, "{text}");
}

/// The items of an array query parameter are checked one by one (IBM's `types` enum).
#[tokio::test]
async fn array_parameter_items_are_checked() {
    let base = serve(ibm_backup_recovery::server::router(Arc::new(
        ibm_backup_recovery::stub::Stub,
    )))
    .await;
    let http = codegen_runtime::reqwest::Client::new();
    let get = |query: &str| {
        http.get(format!("{base}/data-protect/policies?{query}"))
            .header("X-IBM-Tenant-Id", "tenant-a/")
    };
    let (status, _, body) = send(get("types=Regular,Nope")).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("types"), "{body}");
    let (status, _, body) = send(get("types=Regular,Internal")).await;
    assert_eq!(status, 200, "{body}");
}
