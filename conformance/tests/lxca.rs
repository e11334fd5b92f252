//! The LXCA emulator over real HTTPS on 127.0.0.1, driven by the generated client and by raw
//! reqwest where the wire matters. Time is virtual: no test sleeps.

use std::sync::Arc;
use std::time::Duration;

use codegen_runtime::{Auth, ClientBuilder, MultipartForm, RetryPolicy};
use conformance::emulators::lxca::{self, Lxca, Options, Seed};
use conformance::emulators::Environment;
use conformance::faults::FaultRule;
use conformance::serve::{serve, Server, Transport};
use reqwest::Method;
use serde_json::{json, Value};

const BACKUP: &str = "4edf27ff-08d1-49b5-b7f3-7e8edc4fd278";
const REMOTE_BACKUP: &str = "0c5e8a1b-6f2d-4b3e-9a7c-1d2e3f4a5b6c";
const SHARE: &str = "/mnt/my_remote_share";
const REACHABLE: &str = "10.243.16.45";
const README_FIX: &str = "lnvgy_sw_lxca_222-1.2.0_anyos_noarch";
const NOT_DOWNLOADED_FIX: &str = "lnvgy_sw_lxca_cmmswitchrepo1-1.1.0_anyos_noarch";
/// The upload limit of the test emulators.
const UPLOAD_LIMIT: u64 = 1024 * 1024;

struct Emulator {
    lxca: Arc<Lxca>,
    server: Server,
    base: String,
    http: reqwest::Client,
}

impl Emulator {
    async fn start() -> Self {
        Emulator::with(Transport::Https).await
    }

    async fn with(transport: Transport) -> Self {
        let mut seed = Seed::builtin();
        seed.upload_limit_bytes = UPLOAD_LIMIT;
        let lxca = Lxca::new(Environment::for_tests(), Options { seed, transport }).unwrap();
        let server = serve(lxca.service(), "127.0.0.1:0".parse().unwrap(), transport)
            .await
            .unwrap();
        let base = server.url(lxca::BASE_PATH);
        let http = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .build()
            .unwrap();
        Emulator {
            lxca,
            server,
            base,
            http,
        }
    }

    fn advance(&self, secs: f64) {
        self.lxca.clock().advance(Duration::from_secs_f64(secs));
    }

    fn client_with(&self, auth: Auth) -> ::lxca::Client {
        ::lxca::Client::from_builder(
            ClientBuilder::new(&self.base)
                .danger_accept_invalid_certs(true)
                .retry(RetryPolicy::none())
                .auth(auth),
        )
        .unwrap()
    }

    /// A session client (login, cookies, X-Csrf-Token), as pylxca works.
    fn client(&self) -> ::lxca::Client {
        self.client_with(Auth::lxca_session(lxca::USER, lxca::PASSWORD))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request with HTTP Basic as `USERID`.
    fn authed(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.as_user(lxca::USER, lxca::PASSWORD, method, path)
    }

    fn as_user(
        &self,
        user: &str,
        password: &str,
        method: Method,
        path: &str,
    ) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .basic_auth(user, Some(password))
    }

    async fn get(&self, path: &str) -> Value {
        let (status, body) = answer(self.authed(Method::GET, path)).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    async fn job(&self, id: &str) -> Value {
        self.get(&format!("/jobs/{id}")).await
    }

    async fn state(&self, id: &str) -> String {
        self.job(id).await["status"]["state"]
            .as_str()
            .unwrap()
            .to_string()
    }

    async fn task(&self, id: &str) -> Value {
        self.get(&format!("/tasks/{id}")).await[0].clone()
    }

    async fn backups(&self) -> Vec<Value> {
        self.get("/managementServer/data").await["backups"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// PUT /managementServer/data: (status, body).
    async fn manage(&self, body: Value) -> (u16, Value) {
        json_answer(
            self.authed(Method::PUT, "/managementServer/data")
                .json(&body),
        )
        .await
    }

    /// Starts a backup operation and returns its job id.
    async fn start_backup(&self, body: Value) -> String {
        let (status, reply) = self.manage(body).await;
        assert_eq!(status, 200, "{reply}");
        assert_eq!(reply["result"], "success");
        reply["jobId"].as_str().unwrap().to_string()
    }

    /// POST /osImages as `user`: the job id.
    async fn import_job(&self, user: (&str, &str), image_type: &str) -> String {
        let (status, reply) = json_answer(
            self.as_user(
                user.0,
                user.1,
                Method::POST,
                &format!("/osImages/?imageType={image_type}"),
            )
            .json(&json!({"Action": "Init", "fileSize": 5})),
        )
        .await;
        assert_eq!(status, 200, "{reply}");
        reply["jobId"].as_str().unwrap().to_string()
    }

    /// POST /files/osImages as `user` with `query` and a multipart body.
    async fn upload(
        &self,
        user: (&str, &str),
        query: &str,
        file_name: &str,
        content: &[u8],
        checksum: Option<(&str, &str)>,
    ) -> (u16, Value) {
        let mut form = reqwest::multipart::Form::new().text("name", "uploadedfile");
        if let Some((kind, value)) = checksum {
            form = form
                .text("checksumType", kind.to_string())
                .text("checksumValue", value.to_string());
        }
        let part = reqwest::multipart::Part::bytes(content.to_vec())
            .file_name(file_name.to_string())
            .mime_str("application/octet-stream")
            .unwrap();
        form = form.part("uploadedfile", part);
        json_answer(
            self.as_user(
                user.0,
                user.1,
                Method::POST,
                &format!("/files/osImages?{query}"),
            )
            .multipart(form),
        )
        .await
    }

    async fn os_images(&self) -> Value {
        self.get("/osImages").await
    }
}

const ADMIN: (&str, &str) = (lxca::USER, lxca::PASSWORD);
const OPERATOR: (&str, &str) = (lxca::SECOND_USER, lxca::SECOND_PASSWORD);

async fn answer(request: reqwest::RequestBuilder) -> (u16, String) {
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn json_answer(request: reqwest::RequestBuilder) -> (u16, Value) {
    let (status, body) = answer(request).await;
    let value = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&body).unwrap_or_else(|_| panic!("not JSON ({status}): {body}"))
    };
    (status, value)
}

/// The first message id of an error envelope (and checks the envelope's shape).
fn message_id(body: &Value) -> String {
    assert_eq!(body["result"], "failed", "{body}");
    body["messages"][0]["id"].as_str().unwrap().to_string()
}

fn md5_hex(data: &[u8]) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(data))
}

fn sha1_hex(data: &[u8]) -> String {
    use sha1::Digest;
    hex::encode(sha1::Sha1::digest(data))
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

fn spec() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../specs/lxca.yaml"))
        .unwrap();
    conformance::yaml::from_str(&text, "lxca.yaml").unwrap()
}

#[test]
fn the_operation_table_matches_the_spec() {
    let spec = spec();
    let mut from_spec = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if let Some(id) = operation.get("operationId").and_then(Value::as_str) {
                from_spec.push((method.to_uppercase(), path.clone(), id.to_string()));
            }
        }
    }
    let mut table: Vec<(String, String, String)> = lxca::OPERATIONS
        .iter()
        .map(|(m, p, o)| (m.to_string(), p.to_string(), o.to_string()))
        .collect();
    from_spec.sort();
    table.sort();
    assert_eq!(table, from_spec);
}

// ---- authentication -------------------------------------------------------------------------

#[tokio::test]
async fn the_generated_client_works_with_a_session_and_with_basic() {
    let emulator = Emulator::start().await;
    let client = emulator.client();
    let ::lxca::client::get_backups::Success::Ok(list) = client.get_backups().await.unwrap();
    assert_eq!(list.backups.unwrap().len(), 2);
    assert_eq!(emulator.lxca.session_count(), 1);
    let ::lxca::client::get_aicc::Success::Ok(aicc) = client.get_aicc().await.unwrap();
    assert_eq!(aicc.appliance.unwrap().version.as_deref(), Some("4.1.0"));
    client.logout().await;
    assert_eq!(emulator.lxca.session_count(), 0);

    let basic = emulator.client_with(Auth::basic(lxca::USER, lxca::PASSWORD));
    let ::lxca::client::get_tasks::Success::Ok(tasks) =
        basic.get_tasks(&Default::default()).await.unwrap();
    assert!(tasks.is_empty());
    assert_eq!(emulator.lxca.session_count(), 0, "Basic opens no session");

    let wrong = emulator.client_with(Auth::basic(lxca::USER, "nope"));
    match wrong.get_backups().await {
        Err(codegen_runtime::Error::Api {
            status: 401,
            body: ::lxca::client::get_backups::Failure::Unauthorized(body),
            ..
        }) => {
            assert_eq!(body.messages[0].id, "FQXHMSE0001J");
        }
        other => panic!("{other:?}"),
    }
    let refused = emulator.client_with(Auth::lxca_session(lxca::USER, "nope"));
    assert!(refused.get_backups().await.is_err());
    emulator.server.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn sessions_need_their_csrf_token_and_end_at_logout_or_inactivity() {
    let emulator = Emulator::start().await;
    // No credentials at all: 401 with the error envelope.
    let (status, body) =
        json_answer(emulator.http.get(emulator.url("/managementServer/data"))).await;
    assert_eq!((status, message_id(&body).as_str()), (401, "FQXHMSE0001J"));
    // Bad login.
    let (status, body) = json_answer(
        emulator
            .http
            .post(emulator.url("/sessions"))
            .json(&json!({"UserId": "USERID", "password": "wrong"})),
    )
    .await;
    assert_eq!(status, 401, "{body}");
    // Login as pylxca does it (its content type carries a charset).
    let response = emulator
        .http
        .post(emulator.url("/sessions"))
        .header("content-type", "application/json; charset=utf-8")
        .body(r#"{"UserId": "USERID", "password": "PASSW0RD"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let cookies: Vec<String> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let cookie = |name: &str| -> String {
        let line = cookies
            .iter()
            .find(|c| c.starts_with(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name} cookie in {cookies:?}"));
        assert!(line.contains("Secure"), "{line}");
        line.split(';').next().unwrap()[name.len() + 1..].to_string()
    };
    let (session, csrf) = (cookie("JSESSIONID"), cookie("csrf"));
    assert_eq!(cookie("inactivityTimeout"), "1440");
    assert_eq!(cookie("user"), "USERID");
    assert!(cookies
        .iter()
        .any(|c| c.starts_with("JSESSIONID=") && c.contains("HttpOnly")));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["response"]["session"]["csrf"], csrf.as_str());
    assert_eq!(body["response"]["session"]["id"], session.as_str());
    assert_eq!(body["response"]["pwChangeRequired"], false);

    let jar = format!("JSESSIONID={session}; csrf={csrf}; user=USERID");
    let with = |token: Option<&str>| {
        let mut request = emulator
            .http
            .get(emulator.url("/tasks"))
            .header("cookie", jar.clone());
        if let Some(token) = token {
            request = request.header("x-csrf-token", token);
        }
        request
    };
    let (status, body) = json_answer(with(None)).await;
    assert_eq!((status, message_id(&body).as_str()), (403, "FQXHMSE0002J"));
    let (status, _) = json_answer(with(Some("not-the-token"))).await;
    assert_eq!(status, 403);
    let (status, body) = json_answer(with(Some(&csrf))).await;
    assert_eq!((status, body), (200, json!([])));

    // Inactivity: each request restarts the timeout.
    emulator.advance(1439.0 * 60.0);
    assert_eq!(json_answer(with(Some(&csrf))).await.0, 200);
    emulator.advance(1439.0 * 60.0);
    assert_eq!(json_answer(with(Some(&csrf))).await.0, 200);
    emulator.advance(1440.0 * 60.0);
    let (status, body) = json_answer(with(Some(&csrf))).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(emulator.lxca.session_count(), 0);

    // Logout ends a session.
    let client = emulator.client();
    client.get_tasks(&Default::default()).await.unwrap();
    assert_eq!(emulator.lxca.session_count(), 1);
    client.logout().await;
    assert_eq!(emulator.lxca.session_count(), 0);
    // Basic with an unknown scheme or garbage.
    let (status, _) = json_answer(
        emulator
            .http
            .get(emulator.url("/tasks"))
            .header("authorization", "Bearer abc"),
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = json_answer(
        emulator
            .http
            .get(emulator.url("/tasks"))
            .header("authorization", "Basic !!!not-base64"),
    )
    .await;
    assert_eq!(status, 401);
    emulator.server.shutdown(Duration::from_secs(5)).await;
}

// ---- backups --------------------------------------------------------------------------------

#[tokio::test]
async fn a_polled_listing_is_replayed_until_something_changes() {
    let emulator = Emulator::start().await;
    let replayed = || {
        emulator
            .lxca
            .environment()
            .replayed
            .load(std::sync::atomic::Ordering::SeqCst)
    };
    let before = emulator.backups().await;
    assert_eq!(emulator.backups().await, before);
    assert_eq!(replayed(), 1);
    // Another user's credentials are another request: its own answer.
    let (status, _) = answer(emulator.as_user(
        "OPERATOR",
        "OPERATOR-PASSW0RD",
        Method::GET,
        "/managementServer/data",
    ))
    .await;
    assert_eq!((status, replayed()), (200, 1));
    // A copy runs for 20 s and then adds a backup; while it runs, job and task views follow
    // the clock and nothing is replayed.
    let id = emulator
        .start_backup(json!({
            "action": "start", "destination": SHARE, "operation": "copy", "uuid": BACKUP
        }))
        .await;
    assert_eq!(emulator.job(&id).await["status"]["percentage"], 0);
    emulator.advance(10.0);
    assert_eq!(emulator.job(&id).await["status"]["percentage"], 50);
    assert_eq!(emulator.backups().await, before);
    assert_eq!(emulator.backups().await, before);
    assert_eq!(replayed(), 1);
    emulator.advance(10.0);
    assert_eq!(emulator.state(&id).await, "Complete");
    let after = emulator.backups().await;
    assert_eq!(after.len(), before.len() + 1);
    assert_eq!(emulator.backups().await, after);
    assert_eq!(replayed(), 2);
    // The finished job no longer changes with the clock: its view is replayed too.
    let job = emulator.job(&id).await;
    assert_eq!(emulator.job(&id).await, job);
    assert_eq!(replayed(), 3);
}

#[tokio::test]
async fn a_copy_reports_progress_in_jobs_and_tasks_and_adds_a_backup() {
    let emulator = Emulator::start().await;
    let client = emulator.client();
    let body: ::lxca::types::ManageBackupRequest = serde_json::from_value(json!({
        "action": "start", "destination": SHARE, "operation": "copy", "uuid": BACKUP
    }))
    .unwrap();
    let ::lxca::client::manage_backup::Success::Ok(started) =
        client.manage_backup(&body).await.unwrap();
    let id = started.job_id.unwrap();
    assert_eq!(emulator.state(&id).await, "Running");
    emulator.advance(10.0);
    let job = emulator.job(&id).await;
    assert_eq!(job["status"]["percentage"], 50);
    assert_eq!(job["isCancelable"], true);
    assert_eq!(job["createdBy"], "USERID");
    assert_eq!(job["uuid"], BACKUP);
    let sub: Vec<(&str, i64)> = job["status"]["substatus"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["status"]["state"].as_str().unwrap(),
                s["status"]["percentage"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(sub, [("Complete", 100), ("Running", 0)]);
    let task = emulator.task(&id).await;
    assert_eq!(task["jobUID"], id.as_str());
    assert_eq!(
        (task["status"].clone(), task["percentage"].clone()),
        (json!("Running"), json!(50))
    );
    assert_eq!(task["complete"], false);
    assert_eq!(task["children"].as_array().unwrap().len(), 2);
    assert_eq!(task["children"][0]["jobUID"], format!("{id}.1"));
    // compact drops the children.
    let compact = emulator.get(&format!("/tasks/{id}?compact=true")).await;
    assert!(compact[0].get("children").is_none());
    // The typed client reads the same job.
    let ::lxca::client::get_job::Success::Ok(typed) =
        client.get_job(&id, &Default::default()).await.unwrap();
    assert_eq!(typed.status.percentage, Some(50));
    assert_eq!(
        emulator.backups().await.len(),
        2,
        "not copied before the job ends"
    );

    emulator.advance(10.0);
    assert_eq!(emulator.state(&id).await, "Complete");
    let task = emulator.task(&id).await;
    assert_eq!(
        (task["percentage"].clone(), task["complete"].clone()),
        (json!(100), json!(true))
    );
    assert!(task["endTime"].as_str().unwrap().ends_with('Z'));
    let backups = emulator.backups().await;
    assert_eq!(backups.len(), 3);
    assert!(backups
        .iter()
        .any(|b| b["uuid"] == BACKUP && b["location"] == "internal"));
    assert!(backups.iter().any(|b| b["uuid"] != BACKUP
        && b["location"] == SHARE
        && b["filename"] == "LXCA_backup_Jul20.tar"));
    emulator.server.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_move_removes_the_original_when_it_completes() {
    let emulator = Emulator::start().await;
    let id = emulator
        .start_backup(json!({"operation": "move", "action": "start", "uuid": REMOTE_BACKUP, "destination": "internal"}))
        .await;
    emulator.advance(19.0);
    assert!(emulator
        .backups()
        .await
        .iter()
        .any(|b| b["uuid"] == REMOTE_BACKUP));
    emulator.advance(1.0);
    assert_eq!(emulator.state(&id).await, "Complete");
    let backups = emulator.backups().await;
    assert!(
        !backups.iter().any(|b| b["uuid"] == REMOTE_BACKUP),
        "{backups:?}"
    );
    let moved: Vec<&Value> = backups
        .iter()
        .filter(|b| b["filename"] == "LXCA_backup_Aug01.tar")
        .collect();
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0]["location"], "internal");
    assert_eq!(
        emulator.task(&id).await["children"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    emulator.server.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn invalid_backup_requests_answer_400() {
    let emulator = Emulator::start().await;
    for body in [
        // Unknown backup, unknown share, onto its own location, not an address.
        json!({"action": "start", "destination": SHARE, "operation": "copy", "uuid": "nope"}),
        json!({"action": "start", "destination": "/mnt/elsewhere", "operation": "copy", "uuid": BACKUP}),
        json!({"action": "start", "destination": "internal", "operation": "copy", "uuid": BACKUP}),
        json!({"action": "start", "destination": "appliance.example", "operation": "push", "uuid": BACKUP}),
        json!({"action": "start", "destination": REACHABLE, "operation": "push", "uuid": "nope"}),
        // Schema: a relative path, a cancel with a destination, a copy without uuid.
        json!({"action": "start", "destination": "relative", "operation": "copy", "uuid": BACKUP}),
        json!({"action": "cancel", "operation": "push", "destination": REACHABLE}),
        json!({"action": "start", "destination": SHARE, "operation": "copy"}),
        // No push to cancel.
        json!({"action": "cancel", "operation": "push"}),
    ] {
        let (status, reply) = emulator.manage(body.clone()).await;
        assert_eq!(status, 400, "{body}: {reply}");
        assert_eq!(reply["result"], "failed", "{body}: {reply}");
    }
    assert!(emulator.get("/tasks").await.as_array().unwrap().is_empty());
    assert_eq!(emulator.backups().await.len(), 2);
    emulator.server.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_push_to_an_unreachable_address_fails_and_a_running_push_can_be_cancelled() {
    let emulator = Emulator::start().await;
    // Unreachable: fails at 10 % (6 s of 60).
    let failing = emulator
        .start_backup(json!({"action": "start", "destination": "192.0.2.99", "operation": "push", "uuid": BACKUP}))
        .await;
    emulator.advance(5.0);
    assert_eq!(emulator.state(&failing).await, "Running");
    emulator.advance(1.0);
    let job = emulator.job(&failing).await;
    assert_eq!(job["status"]["state"], "Stopped_With_Error");
    assert_eq!(job["status"]["percentage"], 10);
    assert!(job["status"]["description"][0]["messageDisplay"]
        .as_str()
        .unwrap()
        .contains("cannot be reached"));
    let task = emulator.task(&failing).await;
    assert_eq!(task["status"], "Stopped_With_Error");
    assert_eq!(task["children"][0]["status"], "Stopped_With_Error");
    assert_eq!(task["children"][2]["status"], "Cancelled");
    let failed = emulator.get("/jobs?state=Stopped_With_Error").await;
    assert_eq!(failed.as_array().unwrap().len(), 1);

    // Reachable: runs; a second push is refused while it runs; cancel stops it.
    let push = emulator
        .start_backup(json!({"action": "start", "destination": REACHABLE, "operation": "push", "uuid": BACKUP}))
        .await;
    emulator.advance(30.0);
    let (status, _) = emulator
        .manage(json!({"action": "start", "destination": REACHABLE, "operation": "push", "uuid": BACKUP}))
        .await;
    assert_eq!(status, 400);
    let (status, reply) = emulator
        .manage(json!({"action": "cancel", "operation": "push"}))
        .await;
    assert_eq!(
        (status, reply),
        (200, json!({"result": "success", "message": []}))
    );
    let job = emulator.job(&push).await;
    assert_eq!(job["status"]["state"], "Cancelled");
    assert_eq!(job["status"]["percentage"], 50);
    assert_eq!(job["cancelledBy"], "USERID");
    emulator.advance(60.0);
    assert_eq!(
        emulator.state(&push).await,
        "Cancelled",
        "a cancelled job stays cancelled"
    );
    // A new push completes.
    let done = emulator
        .start_backup(json!({"action": "start", "destination": REACHABLE, "operation": "push", "uuid": BACKUP}))
        .await;
    emulator.advance(60.0);
    assert_eq!(emulator.state(&done).await, "Complete");
    emulator.server.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn an_injected_fault_fails_a_copy_and_leaves_the_backups_alone() {
    let emulator = Emulator::start().await;
    emulator
        .lxca
        .environment()
        .faults
        .add(
            "ManageBackup",
            FaultRule {
                job_fail_at: Some(50),
                times: Some(1),
                ..Default::default()
            },
        )
        .unwrap();
    let id = emulator
        .start_backup(
            json!({"action": "start", "destination": SHARE, "operation": "move", "uuid": BACKUP}),
        )
        .await;
    emulator.advance(60.0);
    assert_eq!(emulator.state(&id).await, "Stopped_With_Error");
    let backups = emulator.backups().await;
    assert_eq!(backups.len(), 2);
    assert!(backups.iter().any(|b| b["uuid"] == BACKUP));
    emulator.server.shutdown(Duration::from_secs(5)).await;
}

// ---- OS images ------------------------------------------------------------------------------

#[tokio::test]
async fn an_os_image_is_imported_with_the_generated_client_and_listed() {
    let emulator = Emulator::start().await;
    let client = emulator.client();
    let content = b"an ISO image".to_vec();
    let body: ::lxca::types::CreateOsImageImportJobRequest =
        serde_json::from_value(json!({"Action": "Init", "fileSize": content.len()})).unwrap();
    let options = ::lxca::client::create_os_image_import_job::Options {
        image_type: Some(::lxca::types::ImageType::Os),
        ..Default::default()
    };
    let ::lxca::client::create_os_image_import_job::Success::Ok(created) = client
        .create_os_image_import_job(&body, &options)
        .await
        .unwrap();
    let job = created.job_id;
    let task = emulator.task(&job).await;
    assert_eq!(
        (task["status"].clone(), task["createdBy"].clone()),
        (json!("Pending"), json!("USERID"))
    );

    let form = MultipartForm::new()
        .text("checksumType", "MD5")
        .text("checksumValue", md5_hex(&content).to_uppercase())
        .bytes(
            "uploadedfile",
            Some("redhat7.0.iso".into()),
            "application/octet-stream",
            content.clone().into(),
        );
    let upload_options = ::lxca::client::import_os_image_file::Options {
        image_type: Some(::lxca::types::ImageType::Os),
        os: Some("rhel".into()),
        image_name: Some("redhat7.0".into()),
        ..Default::default()
    };
    let ::lxca::client::import_os_image_file::Success::Created(result) = client
        .import_os_image_file(
            &job,
            ::lxca::client::import_os_image_file::Body::Multipart(form),
            &upload_options,
        )
        .await
        .unwrap();
    assert_eq!(result.fileid.as_deref(), Some("redhat7.0.iso"));
    assert_eq!(emulator.state(&job).await, "Complete");
    let listing = emulator.os_images().await;
    let images = listing["images"].as_array().unwrap();
    let image = images
        .iter()
        .find(|i| i["name"] == "redhat7.0.iso")
        .unwrap();
    assert_eq!(image["id"], "redhat7.0");
    assert_eq!(image["size"], content.len());
    assert_eq!(image["checksums"]["SHA256"], sha256_hex(&content));
    assert_eq!(listing["bootFiles"].as_array().unwrap().len(), 1);
    let filtered = emulator.get("/osImages?id=redhat7.0").await;
    assert_eq!(filtered["images"].as_array().unwrap().len(), 1);
    assert!(filtered["bootFiles"].as_array().unwrap().is_empty());

    // The same file again, in a new job: 409; the job keeps waiting.
    let again = emulator.import_job(ADMIN, "OS").await;
    let (status, reply) = emulator
        .upload(
            ADMIN,
            &format!("jobId={again}&imageType=OS&os=rhel"),
            "redhat7.0.iso",
            &content,
            None,
        )
        .await;
    assert_eq!(status, 409, "{reply}");
    assert_eq!(emulator.state(&again).await, "Pending");
    // The used job cannot take another file.
    let (status, _) = emulator
        .upload(ADMIN, &format!("jobId={job}"), "other.iso", &content, None)
        .await;
    assert_eq!(status, 409);
    // Deleting the image.
    let (status, _) = answer(emulator.authed(Method::DELETE, "/osImages/redhat7.0")).await;
    assert_eq!(status, 204);
    let (status, reply) = json_answer(emulator.authed(Method::DELETE, "/osImages/redhat7.0")).await;
    assert_eq!(status, 412, "{reply}");
    client.logout().await;
    emulator.server.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn only_the_creator_of_an_import_job_may_upload_with_it() {
    let emulator = Emulator::start().await;
    let job = emulator.import_job(ADMIN, "OS").await;
    let (status, reply) = emulator
        .upload(
            OPERATOR,
            &format!("jobId={job}&imageType=OS"),
            "a.iso",
            b"x",
            None,
        )
        .await;
    assert_eq!(status, 403, "{reply}");
    assert_eq!(reply["result"], "failed");
    assert_eq!(emulator.state(&job).await, "Pending");
    let (status, reply) = emulator
        .upload(
            ADMIN,
            &format!("jobId={job}&imageType=OS"),
            "a.iso",
            b"x",
            None,
        )
        .await;
    assert_eq!(status, 201, "{reply}");
    emulator.server.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn checksums_are_verified_against_the_uploaded_bytes() {
    let emulator = Emulator::start().await;
    let content = vec![7u8; 200_000];
    for (kind, value) in [
        ("SHA1", sha1_hex(&content)),
        ("SHA256", sha256_hex(&content)),
        ("MD5", md5_hex(&content)),
    ] {
        let job = emulator.import_job(ADMIN, "OS").await;
        let name = format!("good-{kind}.iso");
        let (status, reply) = emulator
            .upload(
                ADMIN,
                &format!("jobId={job}&imageType=OS&os=rhel"),
                &name,
                &content,
                Some((kind, &value)),
            )
            .await;
        assert_eq!(status, 201, "{kind}: {reply}");
    }
    let job = emulator.import_job(ADMIN, "OS").await;
    let wrong = sha256_hex(b"something else");
    let (status, reply) = emulator
        .upload(
            ADMIN,
            &format!("jobId={job}&imageType=OS"),
            "bad.iso",
            &content,
            Some(("SHA256", &wrong)),
        )
        .await;
    assert_eq!((status, message_id(&reply).as_str()), (500, "FQXHMFC0001M"));
    assert_eq!(emulator.state(&job).await, "Stopped_With_Error");
    assert!(!emulator.os_images().await["images"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["name"] == "bad.iso"));
    // A checksum type without a value, or an unknown type: 412.
    let job = emulator.import_job(ADMIN, "OS").await;
    for (kind, value) in [("MD5", ""), ("CRC32", "abcd")] {
        let (status, _) = emulator
            .upload(
                ADMIN,
                &format!("jobId={job}&imageType=OS"),
                "c.iso",
                &content,
                Some((kind, value)),
            )
            .await;
        assert_eq!(status, 412, "{kind}");
    }
    emulator.server.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn image_type_os_and_osrelease_rules_answer_412_with_a_message() {
    let emulator = Emulator::start().await;
    let dud = emulator.import_job(ADMIN, "DUD").await;
    let boot = emulator.import_job(ADMIN, "BOOT").await;
    let script = emulator.import_job(ADMIN, "SCRIPT").await;
    let os = emulator.import_job(ADMIN, "OS").await;
    for (query, file, needle) in [
        (
            format!("jobId={dud}&imageType=DUD&osrelease=7.0&imageName=rhel7.0"),
            "d.rpm",
            "os is required",
        ),
        (
            format!("jobId={dud}&imageType=DUD&os=rhel&imageName=rhel7.0"),
            "d.rpm",
            "osrelease is required",
        ),
        (
            format!("jobId={dud}&imageType=DUD&os=rhel&osrelease=7.0&imageName=nope"),
            "d.rpm",
            "names no OS image",
        ),
        (
            format!("jobId={boot}&imageType=BOOT&os=windows"),
            "b.zip",
            "osrelease is required",
        ),
        (
            format!("jobId={script}&imageType=SCRIPT"),
            "s.sh",
            "os is required",
        ),
        (
            format!("jobId={script}&imageType=SCRIPT&os=rhel"),
            "s.exe",
            "not a SCRIPT file",
        ),
        (
            format!("jobId={os}&imageType=DUD&os=rhel&osrelease=7"),
            "x.iso",
            "does not match",
        ),
        (format!("jobId={os}&imageType=OS"), "x.txt", "not a OS file"),
        (
            "jobId=999&imageType=OS".to_string(),
            "x.iso",
            "No OS image import job",
        ),
        (format!("imageType=OS&os=x&j={os}"), "x.iso", "jobId"),
    ] {
        let (status, reply) = emulator.upload(ADMIN, &query, file, b"data", None).await;
        assert_eq!(status, 412, "{query}: {reply}");
        let text = reply["messages"][0]["text"].as_str().unwrap();
        assert!(text.contains(needle), "{query}: {text}");
    }
    // Every job still waits; the right parameters then succeed.
    for job in [&dud, &boot, &script, &os] {
        assert_eq!(emulator.state(job).await, "Pending");
    }
    let (status, reply) = emulator
        .upload(
            ADMIN,
            &format!("jobId={dud}&imageType=DUD&os=rhel&osrelease=7.0&imageName=rhel7.0"),
            "d.rpm",
            b"x",
            None,
        )
        .await;
    assert_eq!(status, 201, "{reply}");
    let (status, reply) = emulator
        .upload(
            ADMIN,
            &format!("jobId={boot}&imageType=BOOT&os=windows&osrelease=2016"),
            "b.zip",
            b"x",
            None,
        )
        .await;
    assert_eq!(status, 201, "{reply}");
    let listing = emulator.os_images().await;
    assert!(listing["driverFiles"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["name"] == "d.rpm"));
    assert_eq!(listing["bootFiles"].as_array().unwrap().len(), 2);
    // The remote-file-server form names a server that does not exist.
    let (status, reply) = json_answer(
        emulator
            .authed(Method::POST, &format!("/files/osImages?jobId={os}"))
            .json(&json!({"serverId": "1", "path": "/images/redhat7.0.iso"})),
    )
    .await;
    assert_eq!(status, 412, "{reply}");
    emulator.server.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn uploads_are_size_limited_and_file_names_cannot_escape() {
    let emulator = Emulator::start().await;
    let job = emulator.import_job(ADMIN, "OS").await;
    let before = emulator.os_images().await;
    // Declared too large: 413 at once.
    let big = vec![0u8; (UPLOAD_LIMIT + 100 * 1024) as usize];
    let (status, reply) = emulator
        .upload(
            ADMIN,
            &format!("jobId={job}&imageType=OS"),
            "big.iso",
            &big,
            None,
        )
        .await;
    assert_eq!(status, 413, "{reply}");
    assert_eq!(message_id(&reply), "FQXHMCP0413J");
    // Streamed without a length: 413 once it grows past the limit.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = std::iter::once(Ok(
        b"--B\r\nContent-Disposition: form-data; name=\"uploadedfile\"; filename=\"big.iso\"\r\n\r\n".to_vec(),
    ))
    .chain((0..40).map(|_| Ok(vec![1u8; 64 * 1024])))
    .collect();
    let stream = futures_util::stream::iter(chunks);
    let (status, reply) = json_answer(
        emulator
            .authed(
                Method::POST,
                &format!("/files/osImages?jobId={job}&imageType=OS"),
            )
            .header("content-type", "multipart/form-data; boundary=B")
            .body(reqwest::Body::wrap_stream(stream)),
    )
    .await;
    assert_eq!(status, 413, "{reply}");
    // Traversal in the file name.
    for name in [
        "../../etc/passwd.iso",
        "..\\boot.iso",
        "/abs.iso",
        "..%2f..%2fx.iso",
    ] {
        let (status, reply) = emulator
            .upload(
                ADMIN,
                &format!("jobId={job}&imageType=OS"),
                name,
                b"x",
                None,
            )
            .await;
        assert_eq!(status, 412, "{name}: {reply}");
        assert!(
            reply["messages"][0]["text"]
                .as_str()
                .unwrap()
                .contains("not valid"),
            "{reply}"
        );
    }
    // Broken multipart.
    let (status, _) = json_answer(
        emulator
            .authed(
                Method::POST,
                &format!("/files/osImages?jobId={job}&imageType=OS"),
            )
            .header("content-type", "multipart/form-data; boundary=B")
            .body("--B\r\nno headers end"),
    )
    .await;
    assert_eq!(status, 412);
    let (status, _) = json_answer(
        emulator
            .authed(
                Method::POST,
                &format!("/files/osImages?jobId={job}&imageType=OS"),
            )
            .header("content-type", "multipart/form-data")
            .body("x"),
    )
    .await;
    assert_eq!(status, 412);
    // Nothing changed; the job still takes a proper file.
    assert_eq!(emulator.os_images().await, before);
    assert_eq!(emulator.state(&job).await, "Pending");
    let (status, reply) = emulator
        .upload(
            ADMIN,
            &format!("jobId={job}&imageType=OS"),
            "fine.iso",
            b"x",
            None,
        )
        .await;
    assert_eq!(status, 201, "{reply}");
    emulator.server.shutdown(Duration::from_secs(5)).await;
}

// ---- updates --------------------------------------------------------------------------------

#[tokio::test]
async fn the_updates_repository_serves_keys_readmes_and_change_histories() {
    let emulator = Emulator::start().await;
    let all = emulator.get("/managementServer/updates").await;
    assert_eq!(all["currentVersion"], "4.1.0");
    assert_eq!(all["updates"].as_array().unwrap().len(), 2);
    let version = emulator
        .get("/managementServer/updates?key=currentVersion")
        .await;
    assert_eq!(version, json!({"currentVersion": "4.1.0"}));
    let (status, _) =
        answer(emulator.authed(Method::GET, "/managementServer/updates?key=bogus")).await;
    assert_eq!(status, 400);

    let readme = emulator
        .get(&format!(
            "/managementServer/updates/{README_FIX}?filetype=readme"
        ))
        .await;
    assert_eq!(readme["field"], "readme");
    assert_eq!(readme["fixid"], README_FIX);
    assert!(readme["status"]["value"]
        .as_str()
        .unwrap()
        .contains("README"));
    let history = emulator
        .get(&format!(
            "/managementServer/updates/{README_FIX}?filetype=changeHistory"
        ))
        .await;
    assert!(history["status"]["value"]
        .as_str()
        .unwrap()
        .contains("Build 222"));
    // The generated client decodes the file shape.
    let client = emulator.client();
    let options = ::lxca::client::get_updates::Options {
        filetype: Some(::lxca::types::GetUpdatesFiletype::Readme),
        ..Default::default()
    };
    let ::lxca::client::get_updates::Success::Ok(reply) = client
        .get_updates(&[README_FIX.to_string()], &options)
        .await
        .unwrap();
    assert!(
        matches!(reply, ::lxca::types::GetUpdatesResponse::UpdateFile(f) if f.fixid == README_FIX)
    );

    // key and filetype together: 400.
    let (status, reply) = json_answer(emulator.authed(
        Method::GET,
        &format!("/managementServer/updates/{README_FIX}?key=update&filetype=readme"),
    ))
    .await;
    assert_eq!(status, 400, "{reply}");
    assert!(reply["messages"][0]["text"]
        .as_str()
        .unwrap()
        .contains("not both"));
    // Unknown ids are left out and named in a warning.
    let info = emulator
        .get(&format!(
            "/managementServer/updates/{README_FIX},nope_fix?key=update"
        ))
        .await;
    assert_eq!(info["update"].as_array().unwrap().len(), 1);
    assert_eq!(info["status"]["result"], "warning");
    assert!(info["status"]["messages"][0]["text"]
        .as_str()
        .unwrap()
        .contains("nope_fix"));
    assert!(info.get("actions").is_none());
    let info = emulator
        .get(&format!(
            "/managementServer/updates/{README_FIX},{NOT_DOWNLOADED_FIX}"
        ))
        .await;
    assert_eq!(info["update"].as_array().unwrap().len(), 2);
    assert_eq!(info["status"]["result"], "informational");
    // filetype of an unknown package, or a file the package lacks: 400.
    for path in [
        "/managementServer/updates/nope_fix?filetype=readme".to_string(),
        format!("/managementServer/updates/{NOT_DOWNLOADED_FIX}?filetype=changeHistory"),
    ] {
        let (status, _) = answer(emulator.authed(Method::GET, &path)).await;
        assert_eq!(status, 400, "{path}");
    }
    emulator.server.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn updates_are_acquired_applied_imported_and_deleted() {
    let emulator = Emulator::start().await;
    let (status, _) = json_answer(
        emulator
            .authed(Method::PUT, "/managementServer/updates?action=apply")
            .json(&json!({"fixids": [NOT_DOWNLOADED_FIX]})),
    )
    .await;
    assert_eq!(status, 400, "not acquired yet");
    // The body must match the action.
    let (status, _) = json_answer(
        emulator
            .authed(Method::POST, "/managementServer/updates?action=acquire")
            .json(&json!({"mts": ["lxca"]})),
    )
    .await;
    assert_eq!(status, 400);
    let (status, reply) = json_answer(
        emulator
            .authed(Method::POST, "/managementServer/updates?action=acquire")
            .json(&json!({"fixids": [format!("{NOT_DOWNLOADED_FIX},nope_fix")]})),
    )
    .await;
    assert_eq!(status, 400, "{reply}");
    let (status, reply) = json_answer(
        emulator
            .authed(Method::POST, "/managementServer/updates?action=acquire")
            .json(&json!({"fixids": [NOT_DOWNLOADED_FIX]})),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    let acquire = reply["jobid"].as_str().unwrap().to_string();
    emulator.advance(10.0);
    assert_eq!(emulator.state(&acquire).await, "Complete");
    let (status, reply) = json_answer(
        emulator
            .authed(Method::PUT, "/managementServer/updates?action=apply")
            .json(&json!({"fixids": [NOT_DOWNLOADED_FIX]})),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    let apply = reply["jobid"].as_str().unwrap().to_string();
    emulator.advance(15.0);
    assert_eq!(
        emulator
            .get("/managementServer/updates?key=currentVersion")
            .await["currentVersion"],
        "4.1.0"
    );
    emulator.advance(15.0);
    assert_eq!(emulator.state(&apply).await, "Complete");
    let repo = emulator.get("/managementServer/updates").await;
    assert_eq!(repo["currentVersion"], "1.1.0");
    assert_eq!(repo["history"].as_array().unwrap().len(), 2);
    let (status, reply) = json_answer(
        emulator
            .authed(Method::POST, "/managementServer/updates?action=refresh")
            .json(&json!({"mts": ["lxca"]})),
    )
    .await;
    assert_eq!(status, 200, "{reply}");

    // Import: a job, then the files (only its creator may send them).
    let (status, reply) = json_answer(
        emulator
            .authed(Method::POST, "/managementServer/updates?action=import")
            .json(&json!({"files": [
                {"index": 0, "name": "lnvgy_sw_lxca_thinksystemrepo1-1.3.2_anyos_noarch.xml", "size": 5, "type": "text/xml"},
                {"index": 1, "name": "lnvgy_sw_lxca_thinksystemrepo1-1.3.2_anyos_noarch.txt", "size": 6, "type": "text/plain"}
            ]})),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    let import = reply["jobid"].as_str().unwrap().to_string();
    let form = || {
        reqwest::multipart::Form::new()
            .part(
                "uploadedfile[]",
                reqwest::multipart::Part::bytes(b"<xml/>".to_vec())
                    .file_name("lnvgy_sw_lxca_thinksystemrepo1-1.3.2_anyos_noarch.xml"),
            )
            .part(
                "uploadedfile[]",
                reqwest::multipart::Part::bytes(b"Imported README".to_vec())
                    .file_name("lnvgy_sw_lxca_thinksystemrepo1-1.3.2_anyos_noarch.txt"),
            )
    };
    let path = format!("/files/managementServer/updates?action=import&jobid={import}");
    let (status, _) = json_answer(
        emulator
            .as_user(OPERATOR.0, OPERATOR.1, Method::POST, &path)
            .multipart(form()),
    )
    .await;
    assert_eq!(status, 403);
    let (status, reply) = json_answer(emulator.authed(Method::POST, &path).multipart(form())).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(emulator.state(&import).await, "Complete");
    let fix = "lnvgy_sw_lxca_thinksystemrepo1-1.3.2_anyos_noarch";
    let readme = emulator
        .get(&format!("/managementServer/updates/{fix}?filetype=readme"))
        .await;
    assert_eq!(readme["status"]["value"], "Imported README");

    let (status, _) = answer(emulator.authed(
        Method::DELETE,
        &format!("/managementServer/updates/{fix},nope"),
    ))
    .await;
    assert_eq!(status, 400);
    let (status, _) =
        answer(emulator.authed(Method::DELETE, &format!("/managementServer/updates/{fix}"))).await;
    assert_eq!(status, 200);
    let info = emulator
        .get(&format!("/managementServer/updates/{fix}"))
        .await;
    assert!(info["update"].as_array().unwrap().is_empty());
    emulator.server.shutdown(Duration::from_secs(5)).await;
}

// ---- tasks and jobs -------------------------------------------------------------------------

#[tokio::test]
async fn tasks_are_cancelled_and_deleted() {
    let emulator = Emulator::start().await;
    let a = emulator
        .start_backup(
            json!({"action": "start", "destination": SHARE, "operation": "copy", "uuid": BACKUP}),
        )
        .await;
    let b = emulator
        .start_backup(json!({"action": "start", "destination": "internal", "operation": "copy", "uuid": REMOTE_BACKUP}))
        .await;
    let c = emulator.import_job(ADMIN, "OS").await;
    emulator.advance(5.0);
    // Unfinished jobs cannot be deleted.
    let (status, _) = json_answer(emulator.authed(Method::DELETE, &format!("/tasks/{a}"))).await;
    assert_eq!(status, 400);
    let (status, _) = json_answer(emulator.authed(Method::DELETE, &format!("/jobs/{a}"))).await;
    assert_eq!(status, 409);
    // PUT /tasks cancels a list; an unknown id refuses the whole list.
    let (status, _) = json_answer(
        emulator
            .authed(Method::PUT, "/tasks")
            .json(&json!({"action": "cancel", "list": [a, "999"]})),
    )
    .await;
    assert_eq!(status, 412);
    assert_eq!(emulator.state(&a).await, "Running");
    let (status, _) = answer(
        emulator
            .authed(Method::PUT, "/tasks")
            .json(&json!({"action": "cancel", "list": [a, c]})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(emulator.state(&a).await, "Cancelled");
    assert_eq!(emulator.state(&c).await, "Cancelled");
    // A cancelled import job takes no file.
    let (status, _) = emulator
        .upload(
            ADMIN,
            &format!("jobId={c}&imageType=OS"),
            "late.iso",
            b"x",
            None,
        )
        .await;
    assert_eq!(status, 409);
    // PUT /jobs/{id}: Location; a finished job answers 409; unknown 404.
    let response = emulator
        .authed(Method::PUT, &format!("/jobs/{b}"))
        .json(&json!({"cancelRequest": "true"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["location"],
        format!("/jobs/{b}").as_str()
    );
    let (status, _) = json_answer(
        emulator
            .authed(Method::PUT, &format!("/jobs/{b}"))
            .json(&json!({"cancelRequest": "true"})),
    )
    .await;
    assert_eq!(status, 409);
    let (status, _) = json_answer(
        emulator
            .authed(Method::PUT, "/jobs/999")
            .json(&json!({"cancelRequest": "true"})),
    )
    .await;
    assert_eq!(status, 404);
    // The backups did not change.
    emulator.advance(60.0);
    assert_eq!(emulator.backups().await.len(), 2);
    // Filters, attributes.
    assert_eq!(
        emulator
            .get("/jobs?state=Cancelled")
            .await
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        emulator
            .get(&format!("/jobs?uuid={BACKUP}"))
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let only = emulator
        .get(&format!("/jobs/{a}?includeAttributes=createdBy"))
        .await;
    let mut keys: Vec<&String> = only.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["createdBy", "id", "status"]);
    let without = emulator
        .get(&format!("/jobs/{a}?excludeAttributes=createdBy,uuid"))
        .await;
    assert!(without.get("createdBy").is_none() && without.get("category").is_some());
    // Delete: then gone from every view.
    let (status, _) = answer(emulator.authed(Method::DELETE, &format!("/tasks/{a},{c}"))).await;
    assert_eq!(status, 200);
    let (status, _) = answer(emulator.authed(Method::DELETE, &format!("/jobs/{b}"))).await;
    assert_eq!(status, 200);
    assert!(emulator.get("/tasks").await.as_array().unwrap().is_empty());
    for path in [format!("/tasks/{a}"), format!("/jobs/{b}")] {
        let (status, _) = answer(emulator.authed(Method::GET, &path)).await;
        assert_eq!(status, 404, "{path}");
    }
    let (status, _) = answer(emulator.authed(Method::DELETE, &format!("/tasks/{a}"))).await;
    assert_eq!(status, 404);
    emulator.server.shutdown(Duration::from_secs(5)).await;
}

/// Every state a poller of GET /jobs/{id} sees moves only along the spec's `x-job` transitions
/// and ends in a terminal state.
#[tokio::test]
async fn polled_states_follow_the_spec_transitions() {
    let spec = spec();
    let job = &spec["paths"]["/managementServer/data"]["put"]["x-job"];
    let transitions = job["transitions"].as_object().unwrap();
    let terminal: Vec<Value> = ["succeeded", "failed", "cancelled"]
        .iter()
        .flat_map(|k| job["states"][k].as_array().unwrap().clone())
        .collect();
    let emulator = Emulator::start().await;
    for (body, cancel_at) in [
        (
            json!({"action": "start", "destination": SHARE, "operation": "copy", "uuid": BACKUP}),
            None,
        ),
        (
            json!({"action": "start", "destination": "192.0.2.1", "operation": "push", "uuid": BACKUP}),
            None,
        ),
        (
            json!({"action": "start", "destination": REACHABLE, "operation": "push", "uuid": BACKUP}),
            Some(3),
        ),
    ] {
        let id = emulator.start_backup(body.clone()).await;
        let mut seen = vec![emulator.state(&id).await];
        for step in 0..10 {
            if cancel_at == Some(step) {
                emulator
                    .manage(json!({"action": "cancel", "operation": "push"}))
                    .await;
            }
            emulator.advance(7.0);
            seen.push(emulator.state(&id).await);
        }
        for pair in seen.windows(2) {
            let allowed = pair[0] == pair[1]
                || transitions
                    .get(&pair[0])
                    .and_then(Value::as_array)
                    .is_some_and(|to| to.iter().any(|s| s == pair[1].as_str()));
            assert!(allowed, "{body}: {} -> {} in {seen:?}", pair[0], pair[1]);
        }
        assert!(terminal.contains(&json!(seen.last().unwrap())), "{seen:?}");
    }
    emulator.server.shutdown(Duration::from_secs(5)).await;
}

/// A thousand job starts at once (with readers in between): every id unique, none lost, all
/// finished once, and each one's effect applied once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_job_starts_get_unique_ids_and_all_finish() {
    let emulator = Arc::new(Emulator::with(Transport::Http).await);
    let mut tasks = Vec::new();
    for i in 0..1000 {
        let emulator = emulator.clone();
        tasks.push(tokio::spawn(async move {
            let (destination, uuid) = if i % 2 == 0 {
                (SHARE, BACKUP)
            } else {
                ("internal", REMOTE_BACKUP)
            };
            if i % 10 == 0 {
                emulator.get("/tasks?compact=true").await;
            }
            emulator
                .start_backup(json!({"action": "start", "destination": destination, "operation": "copy", "uuid": uuid}))
                .await
        }));
    }
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(task.await.unwrap());
    }
    let mut numbers: Vec<u64> = ids.iter().map(|id| id.parse().unwrap()).collect();
    numbers.sort();
    assert_eq!(
        numbers,
        (1..=1000).collect::<Vec<u64>>(),
        "unique, none lost"
    );
    emulator.advance(20.0);
    let tasks = emulator.get("/tasks?compact=true").await;
    let tasks = tasks.as_array().unwrap();
    assert_eq!(tasks.len(), 1000);
    assert!(tasks.iter().all(|t| t["status"] == "Complete"));
    assert_eq!(emulator.backups().await.len(), 1002);
}

// ---- hostile input --------------------------------------------------------------------------

#[tokio::test]
async fn hostile_input_is_refused_without_harm() {
    let emulator = Emulator::start().await;
    let before = emulator.backups().await;
    // Malformed JSON, wrong types, a wrong content type.
    for (content_type, body) in [
        ("application/json", "{\"action\": \"start\","),
        ("application/json", "[1, 2, 3]"),
        (
            "application/json",
            "{\"action\": 5, \"operation\": [], \"uuid\": null}",
        ),
        ("text/plain", "action=start"),
        ("application/json", "\u{0}\u{1}\u{2}"),
    ] {
        let (status, reply) = json_answer(
            emulator
                .authed(Method::PUT, "/managementServer/data")
                .header("content-type", content_type)
                .body(body),
        )
        .await;
        assert_eq!(status, 400, "{body}: {reply}");
        assert_eq!(reply["result"], "failed");
    }
    // A huge JSON body: 413, declared or streamed.
    let huge = format!("{{\"action\": \"{}\"}}", "a".repeat(2 * 1024 * 1024));
    let (status, reply) = json_answer(
        emulator
            .authed(Method::PUT, "/managementServer/data")
            .header("content-type", "application/json")
            .body(huge.clone()),
    )
    .await;
    assert_eq!(status, 413, "{reply}");
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = huge
        .into_bytes()
        .chunks(64 * 1024)
        .map(|c| Ok(c.to_vec()))
        .collect();
    let (status, _) = json_answer(
        emulator
            .authed(Method::PUT, "/managementServer/data")
            .header("content-type", "application/json")
            .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
                chunks,
            ))),
    )
    .await;
    assert_eq!(status, 413);
    // A login whose user name tries to inject a header.
    let response = emulator
        .http
        .post(emulator.url("/sessions"))
        .json(&json!({"UserId": "USERID\r\nSet-Cookie: evil=1", "password": "PASSW0RD"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.headers().get("set-cookie").is_none());
    // Non-UTF-8 credentials and cookies.
    let latin1 = reqwest::header::HeaderValue::from_bytes(b"Basic \xe9\xe9").unwrap();
    let (status, _) = json_answer(
        emulator
            .http
            .get(emulator.url("/tasks"))
            .header("authorization", latin1),
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = json_answer(
        emulator
            .http
            .get(emulator.url("/tasks"))
            .header("cookie", "JSESSIONID=; JSESSIONID===; csrf")
            .header("x-csrf-token", ""),
    )
    .await;
    assert_eq!(status, 401);
    // Traversal in paths and ids.
    for path in [
        "/osImages/..%2F..%2Fetc%2Fpasswd",
        "/tasks/..%2F1",
        "/jobs/%00",
    ] {
        let (status, _) = answer(emulator.authed(Method::GET, path)).await;
        assert!(matches!(status, 404 | 405), "{path}: {status}");
    }
    let (status, _) = answer(emulator.authed(Method::GET, "/no/such/resource")).await;
    assert_eq!(status, 404);
    assert_eq!(emulator.backups().await, before);
    emulator.server.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn raw_header_injection_over_plain_http_is_refused_and_the_server_keeps_serving() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let emulator = Emulator::with(Transport::Http).await;
    for request in [
        "GET /tasks HTTP/1.1\r\nHost: x\r\nAuthorization: Basic VVNFUklEOlBBU1NXMFJE\r\n Set-Cookie: folded\r\n\r\n",
        "GET /tasks HTTP/1.1\r\nHost: x\r\nX-Csrf-Token: a\rb\r\n\r\n",
        "GET /tasks HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello",
    ] {
        let mut stream = tokio::net::TcpStream::connect(emulator.server.addr()).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut reply = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut reply)).await;
        let text = String::from_utf8_lossy(&reply);
        assert!(!text.contains("folded") && !text.starts_with("HTTP/1.1 200"), "{request:?}: {text}");
    }
    let (status, _) = answer(emulator.authed(Method::GET, "/tasks")).await;
    assert_eq!(status, 200);
    // Plain HTTP: cookies are not marked Secure.
    let response = emulator
        .http
        .post(emulator.url("/sessions"))
        .json(&json!({"UserId": "USERID", "password": "PASSW0RD"}))
        .send()
        .await
        .unwrap();
    assert!(response
        .headers()
        .get_all("set-cookie")
        .iter()
        .all(|c| !c.to_str().unwrap().contains("Secure")));
    emulator.server.shutdown(Duration::from_secs(5)).await;
}

#[test]
fn build_serves_lxca_over_https_by_default() {
    let app = conformance::emulators::build(
        conformance::emulators::Vendor::Lxca,
        conformance::emulators::Settings::default(),
    )
    .unwrap();
    assert_eq!(app.transport, Transport::Https);
    assert_eq!(app.default_port, lxca::DEFAULT_PORT);
    assert!(app.notes.iter().any(|n| n.contains("USERID / PASSW0RD")));
}

#[test]
fn a_seed_file_replaces_the_credentials_and_bad_faults_are_refused() {
    use conformance::emulators::{build, Settings, Source, Vendor};
    let seed = Source {
        name: "state.yaml".into(),
        text: "users: [{name: admin2, password: s3cret}]\n".into(),
    };
    let app = build(
        Vendor::Lxca,
        Settings {
            seed: Some(seed),
            ..Settings::default()
        },
    )
    .unwrap();
    assert!(app.notes.iter().any(|n| n.contains("admin2 / s3cret")));
    assert!(!app.notes.iter().any(|n| n.contains("USERID")));
    let faults = Source {
        name: "faults.yaml".into(),
        text: "operations: {GetBackup: [{status: 503}]}\n".into(),
    };
    let error = build(
        Vendor::Lxca,
        Settings {
            faults: Some(faults),
            ..Settings::default()
        },
    )
    .unwrap_err();
    assert!(format!("{error:#}").contains("GetBackup"), "{error:#}");
}

#[tokio::test]
async fn seeded_users_log_in_and_injected_faults_answer_the_error_envelope() {
    let mut seed = Seed::builtin();
    seed.users = vec![conformance::emulators::lxca::UserSeed {
        name: "admin2".into(),
        password: "s3cret".into(),
    }];
    let lxca = Lxca::new(
        Environment::for_tests(),
        Options {
            seed,
            transport: Transport::Http,
        },
    )
    .unwrap();
    let server = serve(
        lxca.service(),
        "127.0.0.1:0".parse().unwrap(),
        Transport::Http,
    )
    .await
    .unwrap();
    let http = reqwest::Client::new();
    let url = server.url("/managementServer/data");
    let (status, _) = answer(http.get(&url).basic_auth("admin2", Some("s3cret"))).await;
    assert_eq!(status, 200);
    let (status, _) = answer(http.get(&url).basic_auth(lxca::USER, Some(lxca::PASSWORD))).await;
    assert_eq!(status, 401);
    lxca.environment()
        .faults
        .add(
            "GetBackups",
            FaultRule {
                status: Some(503),
                retry_after: Some(2),
                times: Some(1),
                ..Default::default()
            },
        )
        .unwrap();
    let response = http
        .get(&url)
        .basic_auth("admin2", Some("s3cret"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "2");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["result"], "failed");
    let (status, _) = answer(http.get(&url).basic_auth("admin2", Some("s3cret"))).await;
    assert_eq!(status, 200, "the fault fired once");
    server.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_upload_at_a_time_per_import_job() {
    let emulator = Emulator::start().await;
    let job = emulator.import_job(ADMIN, "OS").await;
    // The first upload streams slowly: its body is fed from here.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let first = emulator
        .authed(
            Method::POST,
            &format!("/files/osImages?jobId={job}&imageType=OS"),
        )
        .header("content-type", "multipart/form-data; boundary=B")
        .body(reqwest::Body::wrap_stream(stream));
    let first = tokio::spawn(json_answer(first));
    tx.send(Ok(
        b"--B\r\nContent-Disposition: form-data; name=\"uploadedfile\"; filename=\"slow.iso\"\r\n\r\n"
            .to_vec(),
    ))
    .await
    .unwrap();
    tx.send(Ok(vec![1u8; 4096])).await.unwrap();
    // The job shows the upload under way (bounded: each look is a round trip).
    let mut running = false;
    for _ in 0..500 {
        if emulator.state(&job).await == "Running" {
            running = true;
            break;
        }
    }
    assert!(running, "the job never showed the upload");
    let (status, reply) = emulator
        .upload(
            ADMIN,
            &format!("jobId={job}&imageType=OS"),
            "other.iso",
            b"x",
            None,
        )
        .await;
    assert_eq!(status, 409, "{reply}");
    tx.send(Ok(b"\r\n--B--\r\n".to_vec())).await.unwrap();
    drop(tx);
    let (status, reply) = first.await.unwrap();
    assert_eq!(status, 201, "{reply}");
    assert_eq!(reply["fileid"], "slow.iso");
    assert_eq!(emulator.state(&job).await, "Complete");
    let images = emulator.os_images().await;
    let names: Vec<&Value> = images["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["name"])
        .collect();
    assert!(names.contains(&&json!("slow.iso")) && !names.contains(&&json!("other.iso")));
    emulator.server.shutdown(Duration::from_secs(5)).await;
}
