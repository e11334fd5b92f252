//! The IBM Cloud Backup and Recovery emulator over real HTTPS on 127.0.0.1, driven by the
//! generated client (through the runtime's IBM IAM flow, pointed at the emulator's token
//! endpoint) and by raw reqwest where the wire matters. Time is virtual: no test sleeps.

use std::sync::Arc;
use std::time::Duration;

use codegen_runtime::{url::Url, Auth, ClientBuilder, RetryPolicy, WaitOptions};
use conformance::emulators::ibm::{self, Ibm, Options, Seed};
use conformance::emulators::Environment;
use conformance::faults::FaultRule;
use conformance::serve::{serve, Server, Transport};
use ibm_backup_recovery::client as api;
use ibm_backup_recovery::Client;
use serde_json::{json, Value};

const TOKEN: &str = "preset-test-token";
const A: &str = ibm::TENANT;
const B: &str = ibm::OTHER_TENANT;

struct Emulator {
    ibm: Arc<Ibm>,
    server: Server,
    http: reqwest::Client,
}

impl Emulator {
    async fn start() -> Self {
        Emulator::with(Options {
            token: Some(TOKEN.into()),
            ..Options::default()
        })
        .await
    }

    async fn with(options: Options) -> Self {
        let ibm = Ibm::new(Environment::for_tests(), options).unwrap();
        let server = serve(
            ibm.service(),
            "127.0.0.1:0".parse().unwrap(),
            Transport::Https,
        )
        .await
        .unwrap();
        let http = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .build()
            .unwrap();
        Emulator { ibm, server, http }
    }

    fn advance(&self, secs: f64) {
        self.ibm.clock().advance(Duration::from_secs_f64(secs));
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.url(ibm::BASE_PATH))
    }

    /// The generated client, logging in at the emulator's IAM with `key`, for `tenant`.
    fn client_for(&self, key: &str, tenant: &str) -> Client {
        let iam = Url::parse(&self.server.url(ibm::TOKEN_PATH)).unwrap();
        Client::from_builder(
            ClientBuilder::new(self.server.url(ibm::BASE_PATH))
                .retry(RetryPolicy::none())
                .danger_accept_invalid_certs(true)
                .default_header("X-IBM-Tenant-Id", tenant)
                .auth(Auth::ibm_iam_with_url(key, iam)),
        )
        .unwrap()
    }

    fn client(&self) -> Client {
        self.client_for(ibm::API_KEY, A)
    }

    /// A raw call with the preset token as `tenant`.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        tenant: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, self.url(path))
            .bearer_auth(TOKEN)
            .header("X-IBM-Tenant-Id", tenant);
        if let Some(body) = body {
            request = request.json(&body);
        }
        answer(request).await
    }

    async fn get(&self, path: &str, tenant: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, tenant, None).await
    }

    async fn post(&self, path: &str, tenant: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, tenant, Some(body))
            .await
    }

    async fn ok(&self, path: &str) -> Value {
        let (status, body) = self.get(path, A).await;
        assert_eq!(status, 200, "{path}: {body}");
        body
    }

    async fn group_id(&self, name: &str) -> String {
        let groups = self
            .ok(&format!("/data-protect/protection-groups?names={name}"))
            .await;
        groups["protectionGroups"][0]["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    async fn policy_id(&self, name: &str) -> String {
        let policies = self
            .ok(&format!("/data-protect/policies?policyNames={name}"))
            .await;
        policies["policies"][0]["id"].as_str().unwrap().to_string()
    }

    /// Starts a run of group `id` and answers the new run's id.
    async fn start_run(&self, group: &str) -> String {
        let (status, body) = self
            .post(
                &format!("/data-protect/protection-groups/{group}/runs"),
                A,
                json!({"runType": "kRegular"}),
            )
            .await;
        assert_eq!(status, 202, "{body}");
        assert_eq!(body, json!({"protectionGroupId": group}));
        self.newest_run(group).await["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    async fn newest_run(&self, group: &str) -> Value {
        let runs = self
            .ok(&format!(
                "/data-protect/protection-groups/{group}/runs?includeObjectDetails=true"
            ))
            .await;
        runs["runs"][0].clone()
    }

    async fn run_status(&self, group: &str, run: &str) -> String {
        let runs = self
            .ok(&format!(
                "/data-protect/protection-groups/{group}/runs?runId={run}"
            ))
            .await;
        runs["runs"][0]["localBackupInfo"]["status"]
            .as_str()
            .unwrap()
            .to_string()
    }

    async fn action(&self, group: &str, action: &str, run: &str) -> (u16, Value) {
        let key = format!("{}Params", action.to_lowercase());
        self.post(
            &format!("/data-protect/protection-groups/{group}/runs/actions"),
            A,
            json!({"action": action, key: [{"runId": run}]}),
        )
        .await
    }

    /// A finished run of the seed's `linux-servers` group (two objects).
    async fn finished_run(&self) -> (String, String) {
        let group = self.group_id("linux-servers").await;
        let run = self.start_run(&group).await;
        self.advance(32.0);
        assert_eq!(self.run_status(&group, &run).await, "Succeeded");
        (group, run)
    }

    async fn object_id(&self, name: &str) -> i64 {
        let found = self
            .ok(&format!("/data-protect/search/objects?searchString={name}"))
            .await;
        found["objects"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["name"] == name)
            .unwrap()["id"]
            .as_i64()
            .unwrap()
    }
}

async fn answer(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, body)
}

fn code(body: &Value) -> &str {
    body["errorCode"].as_str().unwrap_or("-")
}

fn wait() -> WaitOptions {
    WaitOptions {
        interval: Duration::from_millis(1),
        deadline: Duration::from_secs(5),
    }
}

#[test]
fn the_operation_table_matches_the_spec() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../specs/ibm-backup-recovery.yaml"
    ))
    .unwrap();
    let spec: Value = conformance::yaml::from_str(&text, "ibm-backup-recovery.yaml").unwrap();
    let mut from_spec = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if let Some(id) = operation["operationId"].as_str() {
                from_spec.push((method.to_uppercase(), path.clone(), id.to_string()));
            }
        }
    }
    let mut table: Vec<(String, String, String)> = ibm::OPERATIONS
        .iter()
        .map(|(m, p, o)| (m.to_string(), p.to_string(), o.to_string()))
        .collect();
    table.sort();
    from_spec.sort();
    assert_eq!(table, from_spec);
    assert_eq!(table.len(), 44);
}

#[tokio::test]
async fn the_generated_client_logs_in_at_the_emulated_iam() {
    let emulator = Emulator::start().await;
    let client = emulator.client();
    let api::get_protection_policies::Success::Ok(policies) = client
        .get_protection_policies(&Default::default())
        .await
        .unwrap();
    let names: Vec<String> = policies
        .policies
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["Gold", "Bronze"]);
    let api::get_protection_groups::Success::Ok(groups) = client
        .get_protection_groups(&Default::default())
        .await
        .unwrap();
    assert_eq!(groups.protection_groups.unwrap().len(), 2);
    let api::get_source_registrations::Success::Ok(sources) = client
        .get_source_registrations(&Default::default())
        .await
        .unwrap();
    assert_eq!(sources.registrations.unwrap().len(), 3);

    // A wrong API key: IAM's 400, so the client cannot log in.
    let error = emulator
        .client_for("not-the-key", A)
        .get_protection_policies(&Default::default())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("IAM"), "{error}");
}

#[tokio::test]
async fn the_token_endpoint_answers_as_iam_does() {
    let emulator = Emulator::start().await;
    let token_url = emulator.server.url(ibm::TOKEN_PATH);
    let grant = |form: &'static str| {
        emulator
            .http
            .post(&token_url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form)
    };
    let (status, body) = grant(
        "grant_type=urn%3Aibm%3Aparams%3Aoauth%3Agrant-type%3Aapikey&apikey=emulator-api-key",
    )
    .send()
    .await
    .map(|r| (r.status().as_u16(), r))
    .unwrap();
    assert_eq!(status, 200);
    let token: Value = body.json().await.unwrap();
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(token["expires_in"], 3600);
    assert_eq!(
        token["expiration"],
        conformance::clock::VIRTUAL_EPOCH_SECS + 3600
    );
    let access = token["access_token"].as_str().unwrap().to_string();
    let refresh = token["refresh_token"].as_str().unwrap().to_string();

    // The token works until it expires; then 401 with IBM's envelope.
    let with = |token: &str| {
        emulator
            .http
            .get(emulator.url("/data-protect/policies"))
            .bearer_auth(token)
            .header("X-IBM-Tenant-Id", A)
    };
    assert_eq!(answer(with(&access)).await.0, 200);
    emulator.advance(3599.0);
    assert_eq!(answer(with(&access)).await.0, 200);
    emulator.advance(1.0);
    let (status, body) = answer(with(&access)).await;
    assert_eq!((status, code(&body)), (401, "KStatusUnauthorized"));
    assert!(body["message"].as_str().unwrap().contains("expired"));
    // The preset token never expires.
    assert_eq!(answer(with(TOKEN)).await.0, 200);

    // The refresh grant gives a new token, once per refresh token.
    let form = format!("grant_type=refresh_token&refresh_token={refresh}");
    let refreshed = emulator
        .http
        .post(&token_url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form.clone());
    let (status, body) = answer(refreshed).await;
    assert_eq!(status, 200);
    assert_eq!(
        answer(with(body["access_token"].as_str().unwrap())).await.0,
        200
    );
    let again = emulator
        .http
        .post(&token_url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form);
    assert_eq!(answer(again).await.1["errorCode"], "BXNIM0407E");

    for (form, code) in [
        (
            "grant_type=urn%3Aibm%3Aparams%3Aoauth%3Agrant-type%3Aapikey&apikey=wrong",
            "BXNIM0415E",
        ),
        (
            "grant_type=urn%3Aibm%3Aparams%3Aoauth%3Agrant-type%3Aapikey",
            "BXNIM0109E",
        ),
        ("apikey=emulator-api-key", "BXNIM0109E"),
        ("grant_type=password&apikey=emulator-api-key", "BXNIM0104E"),
    ] {
        let (status, body) = answer(grant(form)).await;
        assert_eq!(
            (status, body["errorCode"].as_str()),
            (400, Some(code)),
            "{form}"
        );
    }
    // JSON is not IAM's format.
    let (status, _) = answer(
        emulator
            .http
            .post(&token_url)
            .json(&json!({"apikey": "emulator-api-key"})),
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn the_client_logs_in_again_when_its_token_expired() {
    let emulator = Emulator::start().await;
    let client = emulator.client();
    client
        .get_protection_policies(&Default::default())
        .await
        .unwrap();
    // The client's own clock says the token is fresh; the emulator's says it expired: the 401
    // makes the client fetch a new token and retry.
    emulator.advance(7200.0);
    let api::get_protection_policies::Success::Ok(policies) = client
        .get_protection_policies(&Default::default())
        .await
        .unwrap();
    assert_eq!(policies.policies.unwrap().len(), 2);
}

#[tokio::test]
async fn requests_need_a_token_and_a_known_tenant() {
    let emulator = Emulator::start().await;
    let url = emulator.url("/data-protect/policies");
    for request in [
        emulator.http.get(&url).header("X-IBM-Tenant-Id", A),
        emulator
            .http
            .get(&url)
            .header("X-IBM-Tenant-Id", A)
            .bearer_auth("made-up"),
        emulator
            .http
            .get(&url)
            .header("X-IBM-Tenant-Id", A)
            .header("Authorization", format!("Basic {TOKEN}")),
    ] {
        let (status, body) = answer(request).await;
        assert_eq!(
            (status, code(&body)),
            (401, "KStatusUnauthorized"),
            "{body}"
        );
        assert!(body["taskLogId"].is_string());
    }
    // The tenant header is required (the generated router's validation answer).
    let (status, body) = answer(emulator.http.get(&url).bearer_auth(TOKEN)).await;
    assert_eq!((status, code(&body)), (400, "KValidationError"));
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("X-IBM-Tenant-Id"));
    // An unknown tenant.
    let (status, body) = emulator.get("/data-protect/policies", "nobody/").await;
    assert_eq!((status, code(&body)), (403, "KAccessDenied"));
    // The trailing slash does not matter.
    assert_eq!(
        emulator.get("/data-protect/policies", "tenant-a").await.0,
        200
    );
    // Unknown paths: IBM's 404 envelope.
    let (status, body) = emulator.get("/data-protect/nothing", A).await;
    assert_eq!((status, code(&body)), (404, "KEntityNotExistsError"));
}

#[tokio::test]
async fn a_polled_listing_is_replayed_per_tenant_until_something_changes() {
    let emulator = Emulator::start().await;
    let replayed = || {
        emulator
            .ibm
            .environment()
            .replayed
            .load(std::sync::atomic::Ordering::SeqCst)
    };
    let groups = "/data-protect/protection-groups";
    let before = emulator.ok(groups).await;
    assert_eq!(emulator.ok(groups).await, before);
    assert_eq!(replayed(), 1);
    // The tenant header is part of the request: B gets its own (empty) answer.
    let (status, other) = emulator.get(groups, B).await;
    assert_eq!(
        (status, other["protectionGroups"].clone()),
        (200, json!([]))
    );
    assert_eq!(replayed(), 1);
    // A change by A is seen at once.
    let id = emulator.group_id("linux-servers").await;
    let (status, body) = emulator
        .call(reqwest::Method::DELETE, &format!("{groups}/{id}"), A, None)
        .await;
    assert_eq!(status, 204, "{body}");
    let after = emulator.ok(groups).await;
    assert_ne!(after, before);
    assert_eq!(emulator.ok(groups).await, after);
    assert_eq!(replayed(), 2);
}

#[tokio::test]
async fn tenants_are_isolated() {
    let emulator = Emulator::start().await;
    let gold = emulator.policy_id("Gold").await;
    let group = emulator.group_id("linux-servers").await;
    let (_, run) = emulator.finished_run().await;
    let host = emulator.object_id("linux-host-1").await;

    // B sees none of A's entities.
    for (path, key) in [
        ("/data-protect/policies", "policies"),
        ("/data-protect/protection-groups", "protectionGroups"),
        ("/data-protect/sources/registrations", "registrations"),
        ("/data-protect/search/objects", "objects"),
        ("/data-protect/search/protected-objects", "objects"),
        ("/data-source-connections", "connections"),
        ("/data-source-connectors", "connectors"),
    ] {
        let (status, body) = emulator.get(path, B).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(body[key], json!([]), "{path}");
        assert_ne!(emulator.ok(path).await[key], json!([]), "{path}");
    }
    // ... and cannot read, change, delete or run them.
    let not_found = [
        emulator
            .get(&format!("/data-protect/policies/{gold}"), B)
            .await,
        emulator
            .call(
                reqwest::Method::PUT,
                &format!("/data-protect/policies/{gold}"),
                B,
                Some(json!({"name": "Stolen", "backupPolicy": {"regular": {}}})),
            )
            .await,
        emulator
            .call(
                reqwest::Method::DELETE,
                &format!("/data-protect/policies/{gold}"),
                B,
                None,
            )
            .await,
        emulator
            .get(&format!("/data-protect/protection-groups/{group}"), B)
            .await,
        emulator
            .get(&format!("/data-protect/protection-groups/{group}/runs"), B)
            .await,
        emulator
            .post(
                &format!("/data-protect/protection-groups/{group}/runs"),
                B,
                json!({"runType": "kRegular"}),
            )
            .await,
        emulator
            .post(
                &format!("/data-protect/protection-groups/{group}/runs/actions"),
                B,
                json!({"action": "Cancel", "cancelParams": [{"runId": run}]}),
            )
            .await,
        emulator
            .get(&format!("/data-protect/objects/{host}/snapshots"), B)
            .await,
        emulator
            .get(&format!("/data-protect/sources/registrations/{host}"), B)
            .await,
        // B cannot build on A's policy either.
        emulator
            .post(
                "/data-protect/protection-groups",
                B,
                json!({"name": "g", "policyId": gold, "environment": "kPhysical"}),
            )
            .await,
    ];
    for (status, body) in not_found {
        assert_eq!(
            (status, code(&body)),
            (404, "KEntityNotExistsError"),
            "{body}"
        );
    }
    // Names are per tenant: B may use A's names.
    let (status, body) = emulator
        .post(
            "/data-protect/policies",
            B,
            json!({"name": "Gold", "backupPolicy": {"regular": {}}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    // A's policy is untouched.
    let gold_a = emulator.ok(&format!("/data-protect/policies/{gold}")).await;
    assert_eq!(gold_a["name"], "Gold");
    assert_eq!(gold_a["version"], 1);
    // B's policy is not A's.
    assert_eq!(
        emulator.ok("/data-protect/policies").await["policies"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn policies_crud_with_duplicates_and_missing_ones() {
    let emulator = Emulator::start().await;
    let client = emulator.client();
    let body: ibm_backup_recovery::types::ProtectionPolicyRequest = serde_json::from_value(json!({
        "name": "Silver",
        "description": "Every six hours",
        "backupPolicy": {"regular": {
            "incremental": {"schedule": {"unit": "Hours", "hourSchedule": {"frequency": 6}}},
            "retention": {"unit": "Weeks", "duration": 2},
        }},
    }))
    .unwrap();
    let api::create_protection_policy::Success::Created(created) = client
        .create_protection_policy(&body, &Default::default())
        .await
        .unwrap();
    let id = created.id.clone().unwrap();
    assert!(id.starts_with(&format!("{}:", ibm::CLUSTER_ID)), "{id}");
    assert_eq!(created.num_protection_groups, Some(0));
    let api::get_protection_policy_by_id::Success::Ok(read) = client
        .get_protection_policy_by_id(&id, &Default::default())
        .await
        .unwrap();
    assert_eq!(read.description.as_deref(), Some("Every six hours"));

    // Duplicate name: 409 KDuplicateError.
    let failure = client
        .create_protection_policy(&body, &Default::default())
        .await
        .unwrap_err();
    let codegen_runtime::Error::Api {
        status: 409,
        body: api::create_protection_policy::Failure::Conflict(error),
        ..
    } = failure
    else {
        panic!("{failure:?}");
    };
    assert_eq!(error.error_code.as_deref(), Some("KDuplicateError"));

    // Update: renaming onto another policy's name is a duplicate too.
    let path = format!("/data-protect/policies/{id}");
    let (status, body) = emulator
        .call(
            reqwest::Method::PUT,
            &path,
            A,
            Some(json!({"name": "Gold", "backupPolicy": {"regular": {}}})),
        )
        .await;
    assert_eq!((status, code(&body)), (409, "KDuplicateError"));
    let (status, body) = emulator
        .call(
            reqwest::Method::PUT,
            &path,
            A,
            Some(json!({"name": "Platinum", "backupPolicy": {"regular": {}}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["name"].as_str(), body["version"].as_i64()),
        (Some("Platinum"), Some(2))
    );
    assert_eq!(
        emulator
            .ok("/data-protect/policies?policyNames=Platinum")
            .await["policies"][0]["id"],
        id
    );

    // A policy in use cannot go; an unused one can, once.
    let gold = emulator.policy_id("Gold").await;
    let (status, body) = emulator
        .call(
            reqwest::Method::DELETE,
            &format!("/data-protect/policies/{gold}"),
            A,
            None,
        )
        .await;
    assert_eq!((status, code(&body)), (400, "KValidationError"));
    assert_eq!(
        emulator.ok("/data-protect/policies").await["policies"][0]["numProtectionGroups"],
        1
    );
    let (status, _) = emulator.call(reqwest::Method::DELETE, &path, A, None).await;
    assert_eq!(status, 204);
    for (status, body) in [
        emulator.call(reqwest::Method::DELETE, &path, A, None).await,
        emulator.get(&path, A).await,
    ] {
        assert_eq!((status, code(&body)), (404, "KEntityNotExistsError"));
    }
}

#[tokio::test]
async fn protection_groups_crud() {
    let emulator = Emulator::start().await;
    let gold = emulator.policy_id("Gold").await;
    let host = emulator.object_id("linux-host-1").await;
    let group = |name: &str, policy: &str, object: i64| {
        json!({
            "name": name,
            "policyId": policy,
            "environment": "kPhysical",
            "physicalParams": {
                "protectionType": "kFile",
                "fileProtectionTypeParams": {"objects": [{"id": object, "filePaths": [{"includedPath": "/home"}]}]},
            },
        })
    };
    let (status, created) = emulator
        .post(
            "/data-protect/protection-groups",
            A,
            group("home-dirs", &gold, host),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["isActive"], true);
    assert_eq!(created["numProtectedObjects"], 1);
    for (body, status, error) in [
        (group("home-dirs", &gold, host), 409, "KDuplicateError"),
        (group("x", "1:2:3", host), 404, "KEntityNotExistsError"),
        (group("y", &gold, 999_999), 404, "KEntityNotExistsError"),
    ] {
        let (got, answer) = emulator
            .post("/data-protect/protection-groups", A, body)
            .await;
        assert_eq!((got, code(&answer)), (status, error), "{answer}");
    }
    // Filters.
    let by_policy = emulator
        .ok(&format!("/data-protect/protection-groups?policyIds={gold}"))
        .await;
    let names: Vec<&str> = by_policy["protectionGroups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["linux-servers", "home-dirs"]);
    // Update, then delete.
    let path = format!("/data-protect/protection-groups/{id}");
    let mut changed = group("home-directories", &gold, host);
    changed["isPaused"] = json!(true);
    let (status, body) = emulator
        .call(reqwest::Method::PUT, &path, A, Some(changed))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["name"].as_str(), body["isPaused"].as_bool()),
        (Some("home-directories"), Some(true))
    );
    assert_eq!(
        emulator
            .ok("/data-protect/protection-groups?isPaused=true")
            .await["protectionGroups"][0]["id"],
        id
    );
    assert_eq!(
        emulator
            .call(reqwest::Method::DELETE, &path, A, None)
            .await
            .0,
        204
    );
    let (status, body) = emulator.get(&path, A).await;
    assert_eq!((status, code(&body)), (404, "KEntityNotExistsError"));
    assert_eq!(
        emulator.ok("/data-protect/protection-groups").await["protectionGroups"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn runs_move_from_accepted_to_succeeded_and_leave_snapshots() {
    let emulator = Emulator::start().await;
    let client = emulator.client();
    let group = emulator.group_id("linux-servers").await;
    let body: ibm_backup_recovery::types::CreateProtectionGroupRunRequest =
        serde_json::from_value(json!({"runType": "kRegular"})).unwrap();
    let started = client
        .create_protection_group_run(&group, &body, &Default::default())
        .await
        .unwrap();
    let handle = Client::create_protection_group_run_job_handle(&started).unwrap();
    assert_eq!(handle, group);
    let run = emulator.newest_run(&group).await;
    let run_id = run["id"].as_str().unwrap().to_string();
    assert!(run_id.contains(':'));
    assert_eq!(run["localBackupInfo"]["status"], "Accepted");
    assert_eq!(run["objects"].as_array().unwrap().len(), 2);
    emulator.advance(2.0);
    assert_eq!(emulator.run_status(&group, &run_id).await, "Running");
    emulator.advance(15.0);
    let halfway = emulator.newest_run(&group).await;
    assert_eq!(halfway["localBackupInfo"]["status"], "Running");
    assert_eq!(halfway["hasLocalSnapshot"], false);
    emulator.advance(15.0);
    // The client's job waiter sees it succeed.
    let done = client
        .wait_for_create_protection_group_run(&handle, &wait())
        .await
        .unwrap();
    let api::get_protection_group_runs::Success::Ok(runs) = done;
    let finished = serde_json::to_value(&runs.runs.unwrap()[0]).unwrap();
    assert_eq!(finished["localBackupInfo"]["status"], "Succeeded");
    assert_eq!(finished["localBackupInfo"]["successfulObjectsCount"], 2);
    assert_eq!(
        finished["localBackupInfo"]["endTimeUsecs"]
            .as_i64()
            .unwrap()
            - finished["localBackupInfo"]["startTimeUsecs"]
                .as_i64()
                .unwrap(),
        30_000_000
    );
    assert_eq!(finished["hasLocalSnapshot"], true);

    // One snapshot per object, naming the run.
    let host = emulator.object_id("linux-host-1").await;
    let snapshots = emulator
        .ok(&format!("/data-protect/objects/{host}/snapshots"))
        .await;
    let snapshots = snapshots["snapshots"].as_array().unwrap().clone();
    assert_eq!(snapshots.len(), 1);
    assert_eq!(snapshots[0]["protectionGroupRunId"], run_id.as_str());
    assert_eq!(snapshots[0]["protectionGroupId"], group.as_str());
    assert_eq!(snapshots[0]["objectName"], "linux-host-1");
    let detailed = emulator.newest_run(&group).await;
    let snapshot_in_run = detailed["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["object"]["id"] == host)
        .unwrap()["localSnapshotInfo"]["snapshotInfo"]["snapshotId"]
        .clone();
    assert_eq!(snapshot_in_run, snapshots[0]["id"]);
    // The group's last run is this one.
    let with_last = emulator
        .ok(&format!(
            "/data-protect/protection-groups/{group}?includeLastRunInfo=true"
        ))
        .await;
    assert_eq!(with_last["lastRun"]["id"], run_id.as_str());

    // Restore points in a time range cover the run's snapshots.
    let start = snapshots[0]["snapshotTimestampUsecs"].as_i64().unwrap();
    let (status, points) = emulator
        .post(
            "/data-protect/snapshots/restore-points",
            A,
            json!({"protectionGroupIds": [group], "environment": "kPhysical",
                   "startTimeUsecs": start - 1, "endTimeUsecs": start + 1}),
        )
        .await;
    assert_eq!(status, 201, "{points}");
    assert_eq!(points["fullSnapshotInfo"].as_array().unwrap().len(), 2);
    assert_eq!(
        points["fullSnapshotInfo"][0]["restoreInfo"]["runStartTimeUsecs"],
        start
    );
    let (_, none) = emulator
        .post(
            "/data-protect/snapshots/restore-points",
            A,
            json!({"protectionGroupIds": [group], "environment": "kPhysical",
                   "startTimeUsecs": start + 1, "endTimeUsecs": start + 100}),
        )
        .await;
    assert_eq!(none["fullSnapshotInfo"], json!([]));

    // A second run: two snapshots, filters by run instance.
    let second = emulator.start_run(&group).await;
    assert_ne!(second, run_id);
    emulator.advance(32.0);
    let all = emulator
        .ok(&format!("/data-protect/objects/{host}/snapshots"))
        .await;
    assert_eq!(all["snapshots"].as_array().unwrap().len(), 2);
    let instance = all["snapshots"][1]["runInstanceId"].as_i64().unwrap();
    let one = emulator
        .ok(&format!(
            "/data-protect/objects/{host}/snapshots?runInstanceIds={instance}"
        ))
        .await;
    assert_eq!(one["snapshots"][0]["protectionGroupRunId"], second.as_str());
    let runs = emulator
        .ok(&format!("/data-protect/protection-groups/{group}/runs"))
        .await;
    assert_eq!(runs["totalRuns"], 2);
    assert_eq!(runs["runs"][0]["id"], second.as_str());
    let limited = emulator
        .ok(&format!(
            "/data-protect/protection-groups/{group}/runs?numRuns=1&localBackupRunStatus=Succeeded"
        ))
        .await;
    assert_eq!(limited["runs"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_second_run_waits_for_the_first() {
    let emulator = Emulator::start().await;
    let group = emulator.group_id("windows-servers").await;
    emulator.start_run(&group).await;
    let (status, body) = emulator
        .post(
            &format!("/data-protect/protection-groups/{group}/runs"),
            A,
            json!({"runType": "kFull"}),
        )
        .await;
    assert_eq!((status, code(&body)), (409, "KDuplicateError"));
    let (status, body) = emulator
        .post(
            "/data-protect/protection-groups/1:2:3/runs",
            A,
            json!({"runType": "kFull"}),
        )
        .await;
    assert_eq!((status, code(&body)), (404, "KEntityNotExistsError"));
}

#[tokio::test]
async fn a_fault_fails_the_run_without_snapshots() {
    let emulator = Emulator::start().await;
    emulator
        .ibm
        .environment()
        .faults
        .add(
            "CreateProtectionGroupRun",
            FaultRule {
                times: Some(1),
                job_fail_at: Some(50),
                ..Default::default()
            },
        )
        .unwrap();
    let group = emulator.group_id("windows-servers").await;
    let run = emulator.start_run(&group).await;
    emulator.advance(2.0 + 14.9);
    assert_eq!(emulator.run_status(&group, &run).await, "Running");
    emulator.advance(0.1);
    let failed = emulator.newest_run(&group).await;
    assert_eq!(failed["localBackupInfo"]["status"], "Failed");
    assert_eq!(failed["localBackupInfo"]["failedObjectsCount"], 1);
    assert!(failed["localBackupInfo"]["messages"][0]
        .as_str()
        .unwrap()
        .contains("50%"));
    let host = emulator.object_id("windows-host-1").await;
    let snapshots = emulator
        .ok(&format!("/data-protect/objects/{host}/snapshots"))
        .await;
    assert_eq!(snapshots["snapshots"], json!([]));
    // The next run succeeds.
    let next = emulator.start_run(&group).await;
    emulator.advance(32.0);
    assert_eq!(emulator.run_status(&group, &next).await, "Succeeded");
}

#[tokio::test]
async fn run_actions_follow_the_legal_transitions() {
    let emulator = Emulator::start().await;
    let group = emulator.group_id("linux-servers").await;
    let run = emulator.start_run(&group).await;
    // Accepted: cannot be paused or resumed.
    for action in ["Pause", "Resume"] {
        let (status, body) = emulator.action(&group, action, &run).await;
        assert_eq!((status, code(&body)), (400, "KValidationError"), "{action}");
    }
    emulator.advance(12.0); // Running, a third done
    let (status, body) = emulator.action(&group, "Pause", &run).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(
        body,
        json!({"action": "Pause", "pauseParams": [{"runId": run}]})
    );
    assert_eq!(emulator.run_status(&group, &run).await, "Paused");
    let (status, _) = emulator.action(&group, "Pause", &run).await;
    assert_eq!(status, 400);
    // Paused: time passes, nothing moves.
    emulator.advance(100.0);
    assert_eq!(emulator.run_status(&group, &run).await, "Paused");
    assert_eq!(emulator.action(&group, "Resume", &run).await.0, 202);
    assert_eq!(emulator.action(&group, "Resume", &run).await.0, 400);
    emulator.advance(19.0);
    assert_eq!(emulator.run_status(&group, &run).await, "Running");
    emulator.advance(1.0);
    assert_eq!(emulator.run_status(&group, &run).await, "Succeeded");
    // Finished: no action applies.
    for action in ["Pause", "Resume", "Cancel"] {
        let (status, body) = emulator.action(&group, action, &run).await;
        assert_eq!((status, code(&body)), (400, "KValidationError"), "{action}");
    }
    // Cancel a running run: Canceled, no snapshots from it; the client's waiter follows it.
    let client = emulator.client();
    let second = emulator.start_run(&group).await;
    emulator.advance(5.0);
    let body: ibm_backup_recovery::types::PerformActionOnProtectionGroupRunRequest =
        serde_json::from_value(json!({"action": "Cancel", "cancelParams": [{"runId": second}]}))
            .unwrap();
    let started = client
        .perform_action_on_protection_group_run(&group, &body, &Default::default())
        .await
        .unwrap();
    let handle = Client::perform_action_on_protection_group_run_job_handle(&started).unwrap();
    assert_eq!(handle, second);
    let done = client
        .wait_for_perform_action_on_protection_group_run(&handle, &group, &wait())
        .await;
    let error = done.unwrap_err().to_string();
    assert!(error.to_lowercase().contains("cancel"), "{error}");
    assert_eq!(emulator.run_status(&group, &second).await, "Canceled");
    let snapshots: usize = {
        let host = emulator.object_id("linux-host-1").await;
        let found = emulator
            .ok(&format!("/data-protect/objects/{host}/snapshots"))
            .await;
        found["snapshots"].as_array().unwrap().len()
    };
    assert_eq!(snapshots, 1); // from the first run only
                              // Unknown runs: 404, and nothing changes for the others in the same request.
    let third = emulator.start_run(&group).await;
    emulator.advance(5.0);
    let (status, body) = emulator
        .post(
            &format!("/data-protect/protection-groups/{group}/runs/actions"),
            A,
            json!({"action": "Pause", "pauseParams": [{"runId": third}, {"runId": "1:1"}]}),
        )
        .await;
    assert_eq!((status, code(&body)), (404, "KEntityNotExistsError"));
    assert_eq!(emulator.run_status(&group, &third).await, "Running");
    let (status, _) = emulator
        .post(
            &format!("/data-protect/protection-groups/{group}/runs/actions"),
            A,
            json!({"action": "Pause"}),
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn updating_runs_answers_207_per_run() {
    let emulator = Emulator::start().await;
    let (group, run) = emulator.finished_run().await;
    let host = emulator.object_id("linux-host-1").await;
    let running = emulator.group_id("windows-servers").await;
    let busy = emulator.start_run(&running).await;
    let path = format!("/data-protect/protection-groups/{group}/runs");
    let update = |params: Value| {
        emulator.call(
            reqwest::Method::PUT,
            &path,
            A,
            Some(json!({"updateProtectionGroupRunParams": params})),
        )
    };
    let (status, body) = update(json!([
        {"runId": run, "localSnapshotConfig": {"enableLegalHold": true, "daysToKeep": 10}},
        {"runId": "9:9"},
        {"runId": busy, "localSnapshotConfig": {"enableLegalHold": true}},
    ]))
    .await;
    assert_eq!(status, 207, "{body}");
    assert_eq!(body["successfulRunIds"], json!([run]));
    let failed: Vec<&str> = body["failedRuns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["runId"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["9:9", busy.as_str()]);
    let snapshot = emulator
        .ok(&format!("/data-protect/objects/{host}/snapshots"))
        .await["snapshots"][0]
        .clone();
    assert_eq!(snapshot["onLegalHold"], true);
    // 30 days of Gold's retention, plus 10.
    assert_eq!(
        snapshot["expiryTimeUsecs"].as_i64().unwrap()
            - snapshot["snapshotTimestampUsecs"].as_i64().unwrap(),
        40 * 86_400 * 1_000_000
    );
    // On legal hold: the snapshots cannot be deleted.
    let (_, body) =
        update(json!([{"runId": run, "localSnapshotConfig": {"deleteSnapshot": true}}])).await;
    assert_eq!(body["successfulRunIds"], json!([]));
    assert!(body["failedRuns"][0]["errorMessage"]
        .as_str()
        .unwrap()
        .contains("legal hold"));
    let (_, body) =
        update(json!([{"runId": run, "localSnapshotConfig": {"enableLegalHold": false}}])).await;
    assert_eq!(body["successfulRunIds"], json!([run]));
    let (_, body) =
        update(json!([{"runId": run, "localSnapshotConfig": {"deleteSnapshot": true}}])).await;
    assert_eq!(body["successfulRunIds"], json!([run]));
    let gone = emulator
        .ok(&format!("/data-protect/objects/{host}/snapshots"))
        .await;
    assert_eq!(gone["snapshots"], json!([]));
    let after = emulator.newest_run(&group).await;
    assert_eq!(
        (
            after["isLocalSnapshotsDeleted"].as_bool(),
            after["hasLocalSnapshot"].as_bool()
        ),
        (Some(true), Some(false))
    );
    // Unknown group: 404; no runs named: 400.
    let (status, _) = emulator
        .call(
            reqwest::Method::PUT,
            "/data-protect/protection-groups/1:2:3/runs",
            A,
            Some(json!({"updateProtectionGroupRunParams": [{"runId": run}]})),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(update(json!([])).await.0, 400);
}

#[tokio::test]
async fn recoveries_progress_and_downloads_honour_offset_and_length() {
    let emulator = Emulator::start().await;
    let emulator = &emulator;
    emulator.finished_run().await;
    let host = emulator.object_id("linux-host-1").await;
    let snapshot = emulator
        .ok(&format!("/data-protect/objects/{host}/snapshots"))
        .await["snapshots"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    // A volume recovery through the client.
    let client = emulator.client();
    let body: ibm_backup_recovery::types::CreateRecoveryRequest = serde_json::from_value(json!({
        "name": "restore-host-1",
        "snapshotEnvironment": "kPhysical",
        "physicalParams": {"objects": [{"snapshotId": snapshot}], "recoveryAction": "RecoverPhysicalVolumes"},
    }))
    .unwrap();
    let api::create_recovery::Success::Created(recovery) = client
        .create_recovery(&body, &Default::default())
        .await
        .unwrap();
    let id = recovery.id.clone().unwrap();
    let recovery = serde_json::to_value(&recovery).unwrap();
    assert_eq!(recovery["status"], "Accepted");
    assert_eq!(
        recovery["physicalParams"]["objects"][0]["objectInfo"]["name"],
        "linux-host-1"
    );
    emulator.advance(1.0);
    assert_eq!(
        emulator.ok(&format!("/data-protect/recoveries/{id}")).await["status"],
        "Running"
    );
    emulator.advance(20.0);
    let handle = Client::create_recovery_job_handle(&api::create_recovery::Success::Created(
        serde_json::from_value(recovery).unwrap(),
    ))
    .unwrap();
    let api::get_recovery_by_id::Success::Ok(done) = client
        .wait_for_create_recovery(&handle, &wait())
        .await
        .unwrap();
    assert_eq!(serde_json::to_value(&done).unwrap()["status"], "Succeeded");
    let listed = emulator
        .ok("/data-protect/recoveries?status=Succeeded")
        .await;
    assert_eq!(listed["recoveries"][0]["id"], id.as_str());
    // Volume recoveries have nothing to download.
    let (status, _) = emulator
        .get(&format!("/data-protect/recoveries/{id}/download-files"), A)
        .await;
    assert_eq!(status, 400);

    // A snapshot that does not exist.
    let (status, body) = emulator
        .post(
            "/data-protect/recoveries",
            A,
            json!({"name": "r", "snapshotEnvironment": "kPhysical",
                   "physicalParams": {"objects": [{"snapshotId": "1:2:3"}], "recoveryAction": "RecoverFiles"}}),
        )
        .await;
    assert_eq!((status, code(&body)), (404, "KEntityNotExistsError"));

    // Download files and folders.
    let (status, download) = emulator
        .post(
            "/data-protect/recoveries/download-files-folders",
            A,
            json!({"name": "get-files", "object": {"snapshotId": snapshot},
                   "filesAndFolders": [{"absolutePath": "/etc", "isDirectory": true}, {"absolutePath": "/home/app/data.db"}]}),
        )
        .await;
    assert_eq!(status, 201, "{download}");
    assert_eq!(download["recoveryAction"], "DownloadFilesAndFolders");
    let download_id = download["id"].as_str().unwrap().to_string();
    let path = format!("/data-protect/recoveries/{download_id}/download-files");
    let (status, body) = emulator.get(&path, A).await;
    assert_eq!((status, code(&body)), (400, "KValidationError")); // not finished yet
    emulator.advance(21.0);
    let fetch = |query: String| {
        let url = emulator.url(&format!("{path}{query}"));
        async move {
            let response = emulator
                .http
                .get(url)
                .bearer_auth(TOKEN)
                .header("X-IBM-Tenant-Id", A)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, response.bytes().await.unwrap().to_vec())
        }
    };
    let (status, first) = fetch(String::new()).await;
    assert_eq!((status, first.len()), (200, 8 * 1024 * 1024));
    let (_, rest) = fetch(format!("?startOffset={}", 8 * 1024 * 1024)).await;
    assert_eq!(rest.len(), 10_490_000 - 8 * 1024 * 1024);
    let (_, middle) = fetch("?startOffset=1000&length=500".into()).await;
    assert_eq!(middle, first[1000..1500]);
    assert_eq!(middle, ibm::download_content(&download_id, 1000, 500));
    let (_, past) = fetch("?startOffset=99999999".into()).await;
    assert!(past.is_empty());
    let (status, too_big) = fetch(format!("?length={}", 8 * 1024 * 1024 + 1)).await;
    assert_eq!(status, 400);
    assert_eq!(
        serde_json::from_slice::<Value>(&too_big).unwrap()["errorCode"],
        "KValidationError"
    );
    assert_eq!(fetch("?startOffset=-5".into()).await.0, 400);
    assert_eq!(
        fetch("?fileType=success_files_list&startOffset=-5".into())
            .await
            .0,
        400
    );
    let (_, tail) = fetch("?fileType=success_files_list&startOffset=11&length=9".into()).await;
    assert_eq!(tail, b"/etc/fsta");
    let (_, list) = fetch("?fileType=success_files_list".into()).await;
    assert_eq!(
        String::from_utf8(list).unwrap(),
        "/etc/hosts\n/etc/fstab\n/home/app/data.db"
    );
    // A file the snapshot does not hold.
    let (status, body) = emulator
        .post(
            "/data-protect/recoveries/download-files-folders",
            A,
            json!({"name": "x", "object": {"snapshotId": snapshot}, "filesAndFolders": [{"absolutePath": "/nope"}]}),
        )
        .await;
    assert_eq!((status, code(&body)), (404, "KEntityNotExistsError"));
    // Another tenant cannot see or download it.
    let (status, _) = emulator.get(&path, B).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn search_pages_are_stable() {
    let emulator = Emulator::start().await;
    let emulator = &emulator;
    let page = |cookie: Option<String>| {
        let query = match cookie {
            Some(c) => format!("/data-protect/search/objects?count=2&paginationCookie={c}"),
            None => "/data-protect/search/objects?count=2".to_string(),
        };
        async move { emulator.ok(&query).await }
    };
    let first = page(None).await;
    assert_eq!(first["count"], 3);
    let names = |v: &Value| -> Vec<String> {
        v["objects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&first), ["linux-host-1", "linux-host-2"]);
    let cookie = first["paginationCookie"].as_str().unwrap().to_string();
    // A source registered in between comes last: the next page does not shift.
    let (status, _) = emulator
        .post(
            "/data-protect/sources/registrations",
            A,
            json!({"environment": "kPhysical", "physicalParams": {"endpoint": "10.0.0.99"}}),
        )
        .await;
    assert_eq!(status, 201);
    let second = page(Some(cookie.clone())).await;
    assert_eq!(names(&second), ["windows-host-1", "10.0.0.99"]);
    assert!(second.get("paginationCookie").is_none());
    // The same cookie gives the same page.
    assert_eq!(page(Some(cookie)).await, second);
    let (status, body) = emulator
        .get("/data-protect/search/objects?paginationCookie=zz", A)
        .await;
    assert_eq!((status, code(&body)), (400, "KValidationError"));
    // Filters.
    let protected = emulator
        .ok("/data-protect/search/objects?isProtected=false")
        .await;
    assert_eq!(names(&protected), ["10.0.0.99"]);
    let linux = emulator
        .ok("/data-protect/search/objects?searchString=linux")
        .await;
    assert_eq!(linux["objects"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn indexed_files_and_protected_objects_follow_the_snapshots() {
    let emulator = Emulator::start().await;
    let emulator = &emulator;
    let (group, run) = emulator.finished_run().await;
    let protected = emulator.ok("/data-protect/search/protected-objects").await;
    assert_eq!(protected["numResults"], 3);
    let host1 = protected["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "linux-host-1")
        .unwrap()
        .clone();
    assert_eq!(
        host1["latestSnapshotsInfo"][0]["protectionRunId"],
        run.as_str()
    );
    let windows = protected["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "windows-host-1")
        .unwrap()
        .clone();
    assert_eq!(windows["latestSnapshotsInfo"], json!([]));

    let search = |body: Value| emulator.post("/data-protect/search/indexed-objects", A, body);
    let (status, found) =
        search(json!({"objectType": "Files", "protectionGroupIds": [group], "count": 4})).await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["count"], 6);
    assert_eq!(found["files"].as_array().unwrap().len(), 4);
    let cookie = found["paginationCookie"].as_str().unwrap();
    let (_, rest) =
        search(json!({"objectType": "Files", "paginationCookie": cookie, "count": 4})).await;
    assert_eq!(rest["files"].as_array().unwrap().len(), 2);
    let (_, hosts) =
        search(json!({"objectType": "Files", "fileParams": {"searchString": "hosts"}})).await;
    assert_eq!(hosts["files"].as_array().unwrap().len(), 2);
    assert_eq!(hosts["files"][0]["policyName"], "Gold");
    let (status, _) = search(json!({"objectType": "Emails"})).await;
    assert_eq!(status, 400);

    // Download an indexed file in chunks.
    let snapshot = host1["latestSnapshotsInfo"][0]["localSnapshotInfo"]["snapshotId"]
        .as_str()
        .unwrap()
        .to_string();
    let file = |query: &str| {
        let url = emulator.url(&format!(
            "/data-protect/snapshots/{snapshot}/download-file?{query}"
        ));
        async move {
            let response = emulator
                .http
                .get(url)
                .bearer_auth(TOKEN)
                .header("X-IBM-Tenant-Id", A)
                .send()
                .await
                .unwrap();
            (
                response.status().as_u16(),
                response.bytes().await.unwrap().to_vec(),
            )
        }
    };
    let (status, whole) = file("filePath=/etc/hosts").await;
    assert_eq!(status, 200);
    assert!(whole.len() > 256 * 1024);
    let (_, part) = file("filePath=/etc/hosts&startOffset=10&length=20").await;
    assert_eq!(part, whole[10..30]);
    assert_eq!(file("filePath=/etc/passwd").await.0, 404);
    assert_eq!(file("").await.0, 400);
    assert_eq!(
        file(&format!("filePath=/etc/hosts&length={}", 9 * 1024 * 1024))
            .await
            .0,
        400
    );
}

#[tokio::test]
async fn source_registrations_crud() {
    let emulator = Emulator::start().await;
    let client = emulator.client();
    let body: ibm_backup_recovery::types::RegisterProtectionSourceRequest =
        serde_json::from_value(json!({
            "environment": "kPhysical",
            "name": "db-host",
            "encryptionKey": "do-not-store",
            "physicalParams": {"endpoint": "10.0.0.50", "hostType": "kLinux"},
        }))
        .unwrap();
    let api::register_protection_source::Success::Created(created) = client
        .register_protection_source(&body, &Default::default())
        .await
        .unwrap();
    let id = created.id.unwrap();
    let raw = serde_json::to_value(&created.source_info).unwrap();
    assert_eq!(raw["name"], "db-host");
    let path = format!("/data-protect/sources/registrations/{id}");
    let read = emulator.ok(&path).await;
    assert!(read.get("encryptionKey").is_none());
    assert_eq!(read["authenticationStatus"], "Finished");
    for body in [
        json!({"environment": "kPhysical", "name": "db-host", "physicalParams": {"endpoint": "10.9.9.9"}}),
        json!({"environment": "kPhysical", "name": "other", "physicalParams": {"endpoint": "10.0.0.50"}}),
    ] {
        let (status, answer) = emulator
            .post("/data-protect/sources/registrations", A, body)
            .await;
        assert_eq!((status, code(&answer)), (409, "KDuplicateError"));
    }
    let (status, answer) = emulator
        .post(
            "/data-protect/sources/registrations",
            A,
            json!({"environment": "kPhysical"}),
        )
        .await;
    assert_eq!((status, code(&answer)), (400, "KValidationError"));
    // Update and patch.
    let (status, updated) = emulator
        .call(
            reqwest::Method::PUT,
            &path,
            A,
            Some(json!({"environment": "kPhysical", "name": "db-primary"})),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["sourceInfo"]["name"], "db-primary");
    let (status, _) = emulator
        .call(
            reqwest::Method::PATCH,
            &path,
            A,
            Some(json!({"environment": "kSQL"})),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        emulator
            .call(
                reqwest::Method::PATCH,
                &path,
                A,
                Some(json!({"environment": "kPhysical"}))
            )
            .await
            .0,
        200
    );
    // Refresh moves lastRefreshedTimeMsecs.
    emulator.advance(60.0);
    let (status, _) = emulator
        .post(
            &format!("/data-protect/sources/{id}/refresh"),
            A,
            json!(null),
        )
        .await;
    assert_eq!(status, 204);
    let refreshed = emulator.ok(&path).await;
    assert_eq!(
        refreshed["lastRefreshedTimeMsecs"].as_i64().unwrap()
            - refreshed["registrationTimeMsecs"].as_i64().unwrap(),
        60_000
    );
    // A protected source cannot be unregistered; this one can.
    let protected = emulator.object_id("linux-host-1").await;
    let (status, body) = emulator
        .call(
            reqwest::Method::DELETE,
            &format!("/data-protect/sources/registrations/{protected}"),
            A,
            None,
        )
        .await;
    assert_eq!((status, code(&body)), (400, "KValidationError"));
    assert_eq!(
        emulator
            .call(reqwest::Method::DELETE, &path, A, None)
            .await
            .0,
        204
    );
    assert_eq!(emulator.get(&path, A).await.0, 404);
    assert_eq!(
        emulator
            .post("/data-protect/sources/424242/refresh", A, json!(null))
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn connections_and_connectors() {
    let emulator = Emulator::start().await;
    let emulator = &emulator;
    let listed = emulator.ok("/data-source-connections").await;
    let seeded = listed["connections"][0].clone();
    assert_eq!(seeded["connectionName"], "datacenter-1");
    assert_eq!(seeded["connectorIds"].as_array().unwrap().len(), 2);
    let (status, created) = emulator
        .post(
            "/data-source-connections",
            A,
            json!({"connectionName": "datacenter-2", "connectionEnvType": "kPhysical"}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["connectionId"].as_str().unwrap().to_string();
    let (status, body) = emulator
        .post(
            "/data-source-connections",
            A,
            json!({"connectionName": "datacenter-2"}),
        )
        .await;
    assert_eq!((status, code(&body)), (409, "KDuplicateError"));
    let path = format!("/data-source-connections/{id}");
    let (status, body) = emulator
        .call(
            reqwest::Method::PATCH,
            &path,
            A,
            Some(json!({"connectionName": "datacenter-1"})),
        )
        .await;
    assert_eq!((status, code(&body)), (409, "KDuplicateError"));
    let (status, body) = emulator
        .call(
            reqwest::Method::PATCH,
            &path,
            A,
            Some(json!({"connectionName": "dc-2"})),
        )
        .await;
    assert_eq!(
        (status, body["connectionName"].as_str()),
        (200, Some("dc-2"))
    );
    // The registration token: text, new each time.
    let token = |tenant: &'static str| {
        let url = emulator.url(&format!("{path}/registrationToken"));
        async move {
            let response = emulator
                .http
                .post(url)
                .bearer_auth(TOKEN)
                .header("X-IBM-Tenant-Id", tenant)
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    let (status, first) = token(A).await;
    assert_eq!(status, 200);
    let text: String = serde_json::from_str(&first).unwrap(); // a JSON string, as IBM's
    assert!(text.starts_with("dsc-"), "{first}");
    assert_ne!(token(A).await.1, first);
    assert_eq!(token(B).await.0, 404);
    assert_eq!(
        emulator
            .call(reqwest::Method::DELETE, &path, A, None)
            .await
            .0,
        204
    );
    assert_eq!(
        emulator
            .call(reqwest::Method::DELETE, &path, A, None)
            .await
            .0,
        404
    );

    // Connectors.
    let connectors = emulator
        .ok(&format!(
            "/data-source-connectors?connectionId={}",
            seeded["connectionId"].as_str().unwrap()
        ))
        .await;
    let connectors = connectors["connectors"].as_array().unwrap().clone();
    assert_eq!(connectors.len(), 2);
    assert_eq!(connectors[0]["connectivityStatus"]["isConnected"], true);
    assert_eq!(connectors[0]["connectorName"], "connector-dc1-a");
    let first_id = connectors[0]["connectorId"].as_str().unwrap();
    let connector = format!("/data-source-connectors/{first_id}");
    let (status, body) = emulator
        .call(
            reqwest::Method::PATCH,
            &connector,
            A,
            Some(json!({"connectorName": "connector-dc1-b"})),
        )
        .await;
    assert_eq!((status, code(&body)), (409, "KDuplicateError"));
    let (status, body) = emulator
        .call(
            reqwest::Method::PATCH,
            &connector,
            A,
            Some(json!({"connectorName": "renamed"})),
        )
        .await;
    assert_eq!(
        (status, body["connectorName"].as_str()),
        (200, Some("renamed"))
    );
    assert_eq!(
        emulator
            .call(
                reqwest::Method::PATCH,
                &connector,
                B,
                Some(json!({"connectorName": "x"}))
            )
            .await
            .0,
        404
    );
    assert_eq!(
        emulator
            .call(reqwest::Method::DELETE, &connector, A, None)
            .await
            .0,
        204
    );
    assert_eq!(
        emulator.ok("/data-source-connectors").await["connectors"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let metadata = emulator.ok("/data-source-connectors/metadata").await;
    assert!(
        !metadata["connectorImageMetadata"]["connectorImageFileList"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn agents_download_and_upgrade() {
    let emulator = Emulator::start().await;
    let emulator = &emulator;
    let response = emulator
        .http
        .post(emulator.url("/data-protect/agents/download"))
        .bearer_auth(TOKEN)
        .header("X-IBM-Tenant-Id", A)
        .json(&json!({"platform": "kLinux", "linuxParams": {"packageType": "kRPM"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/octet-stream"
    );
    assert!(response.text().await.unwrap().contains("kRPM"));

    let schedule = conformance::clock::VIRTUAL_EPOCH_SECS as i64 * 1_000_000 + 10_000_000;
    let (status, task) = emulator
        .post(
            "/data-protect/agents/upgrade-tasks",
            A,
            json!({"agentIDs": [101], "name": "upgrade", "scheduleTimeUsecs": schedule}),
        )
        .await;
    assert_eq!(status, 201, "{task}");
    assert_eq!(task["status"], "Scheduled");
    let id = task["id"].as_i64().unwrap();
    let status_of = || async move {
        emulator
            .ok(&format!("/data-protect/agents/upgrade-tasks?ids={id}"))
            .await["tasks"][0]["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    emulator.advance(10.0);
    assert_eq!(status_of().await, "Running");
    emulator.advance(60.0);
    assert_eq!(status_of().await, "Succeeded");
    // The client's waiter follows a task that fails (an injected fault).
    emulator
        .ibm
        .environment()
        .faults
        .add(
            "CreateUpgradeTask",
            FaultRule {
                times: Some(1),
                job_fail_at: Some(30),
                ..Default::default()
            },
        )
        .unwrap();
    let client = emulator.client();
    let body: ibm_backup_recovery::types::CreateUpgradeTaskRequest =
        serde_json::from_value(json!({"agentIDs": [101, 102]})).unwrap();
    let started = client
        .create_upgrade_task(&body, &Default::default())
        .await
        .unwrap();
    let handle = Client::create_upgrade_task_job_handle(&started).unwrap();
    emulator.advance(18.0);
    let error = client
        .wait_for_create_upgrade_task(&handle, &wait())
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("Failed"), "{error}");
    let failed = emulator
        .ok(&format!("/data-protect/agents/upgrade-tasks?ids={handle}"))
        .await;
    assert_eq!(failed["tasks"][0]["agents"].as_array().unwrap().len(), 2);
    assert!(failed["tasks"][0]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("30%"));
    let (status, body) = emulator
        .post(
            "/data-protect/agents/upgrade-tasks",
            A,
            json!({"agentIDs": [999]}),
        )
        .await;
    assert_eq!((status, code(&body)), (404, "KEntityNotExistsError"));
    assert_eq!(
        emulator
            .get("/data-protect/agents/upgrade-tasks", B)
            .await
            .1["tasks"],
        json!([])
    );
}

#[tokio::test]
async fn hostile_input_neither_crashes_nor_corrupts() {
    let emulator = Emulator::start().await;
    let before = emulator.ok("/data-protect/policies").await;
    let url = emulator.url("/data-protect/policies");
    let send = |body: Vec<u8>, content_type: &'static str| {
        emulator
            .http
            .post(&url)
            .bearer_auth(TOKEN)
            .header("X-IBM-Tenant-Id", A)
            .header("Content-Type", content_type)
            .body(body)
    };
    for (body, content_type) in [
        (b"{\"name\": ".to_vec(), "application/json"),
        (b"[1, 2, 3]".to_vec(), "application/json"),
        (
            br#"{"name": 5, "backupPolicy": {"regular": {}}}"#.to_vec(),
            "application/json",
        ),
        (
            br#"{"name": "x", "backupPolicy": "daily"}"#.to_vec(),
            "application/json",
        ),
        (br#"{"name": "x"}"#.to_vec(), "application/json"),
        (br#"name=x"#.to_vec(), "application/x-www-form-urlencoded"),
        (vec![0xff, 0xfe, 0x00], "application/json"),
    ] {
        let (status, answer) = answer(send(body.clone(), content_type)).await;
        assert_eq!(
            (status, code(&answer)),
            (400, "KValidationError"),
            "{}",
            String::from_utf8_lossy(&body)
        );
    }
    // A huge body: refused before it is read whole.
    let mut huge = br#"{"name": "big", "description": ""#.to_vec();
    huge.extend(std::iter::repeat_n(b'a', 17 * 1024 * 1024));
    huge.extend(br#"", "backupPolicy": {"regular": {}}}"#);
    let response = send(huge, "application/json").send().await.unwrap();
    assert_eq!(response.status(), 413);
    // Wrong types in paths and queries.
    for path in [
        "/data-protect/objects/not-a-number/snapshots",
        "/data-protect/protection-groups/abc/runs?runId=x",
        "/data-protect/recoveries/..%2F..%2Fetc",
        "/data-protect/search/objects?count=many",
        "/data-protect/sources/registrations/99999999999999999999999",
    ] {
        let (status, body) = emulator.get(path, A).await;
        assert_eq!(
            (status, code(&body)),
            (400, "KValidationError"),
            "{path}: {body}"
        );
    }
    let (status, _) = emulator
        .get("/data-protect/search/objects?count=0", A)
        .await;
    assert_eq!(status, 400);
    // Header injection in the tenant header cannot reach a tenant.
    let response = emulator
        .http
        .get(&url)
        .bearer_auth(TOKEN)
        .header("X-IBM-Tenant-Id", "tenant-a/\ttenant-b/")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    // Nothing changed, and the emulator still answers.
    assert_eq!(emulator.ok("/data-protect/policies").await, before);
}

#[tokio::test]
async fn injected_statuses_use_ibms_envelope() {
    let emulator = Emulator::start().await;
    emulator
        .ibm
        .environment()
        .faults
        .add(
            "GetProtectionPolicies",
            FaultRule {
                times: Some(1),
                status: Some(500),
                ..Default::default()
            },
        )
        .unwrap();
    let (status, body) = emulator.get("/data-protect/policies", A).await;
    assert_eq!((status, code(&body)), (500, "KInternalError"));
    assert_eq!(emulator.get("/data-protect/policies", A).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_groups_and_runs_stay_consistent() {
    let emulator = Arc::new(Emulator::start().await);
    let gold = emulator.policy_id("Gold").await;
    let host = emulator.object_id("linux-host-1").await;
    let mut tasks = Vec::new();
    for i in 0..100 {
        let (emulator, gold) = (emulator.clone(), gold.clone());
        tasks.push(tokio::spawn(async move {
            let (status, group) = emulator
                .post(
                    "/data-protect/protection-groups",
                    A,
                    json!({"name": format!("g{i}"), "policyId": gold, "environment": "kPhysical",
                           "physicalParams": {"protectionType": "kVolume",
                               "volumeProtectionTypeParams": {"objects": [{"id": host}]}}}),
                )
                .await;
            assert_eq!(status, 201, "{group}");
            let id = group["id"].as_str().unwrap().to_string();
            let (status, _) = emulator
                .post(
                    &format!("/data-protect/protection-groups/{id}/runs"),
                    A,
                    json!({"runType": "kRegular"}),
                )
                .await;
            assert_eq!(status, 202);
            id
        }));
    }
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(task.await.unwrap());
    }
    let unique: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), 100);
    emulator.advance(40.0);
    let snapshots = emulator
        .ok(&format!("/data-protect/objects/{host}/snapshots"))
        .await;
    assert_eq!(snapshots["snapshots"].as_array().unwrap().len(), 100);
    let run_ids: std::collections::HashSet<String> = snapshots["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(run_ids.len(), 100);
}

#[tokio::test]
async fn the_app_for_xtask_takes_flags_and_seed() {
    use conformance::emulators::{build, Settings, Source, Vendor};
    let seed = "apiKeys: [k1]\ntenants: [{id: acme/, policies: [{name: P, backupPolicy: {regular: {}}}]}]\n";
    let app = build(
        Vendor::IbmBackupRecovery,
        Settings {
            seed: Some(Source {
                name: "state.yaml".into(),
                text: seed.into(),
            }),
            api_key: Some("k2".into()),
            token: Some("scripted".into()),
            tenant: Some("renamed/".into()),
            ..Settings::default()
        },
    )
    .unwrap();
    assert_eq!(app.transport, Transport::Https);
    assert_eq!(app.base_path, "/v2");
    let notes = app.notes.join("\n");
    assert!(notes.contains("k1 or k2"), "{notes}");
    assert!(notes.contains("Bearer scripted"), "{notes}");
    assert!(notes.contains("renamed/"), "{notes}");
    let server = serve(
        app.service,
        "127.0.0.1:0".parse().unwrap(),
        Transport::Https,
    )
    .await
    .unwrap();
    let http = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let (status, body) = answer(
        http.get(format!("{}/data-protect/policies", server.url("/v2")))
            .bearer_auth("scripted")
            .header("X-IBM-Tenant-Id", "renamed/"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["policies"][0]["name"], "P");
    let faults = Source {
        name: "f.yaml".into(),
        text: "operations: {GetProtectionPolicy: [{drop: true}]}".into(),
    };
    let error = build(
        Vendor::IbmBackupRecovery,
        Settings {
            faults: Some(faults),
            ..Settings::default()
        },
    )
    .unwrap_err();
    assert!(error.to_string().contains("GetProtectionPolicy"), "{error}");
    let error = build(
        Vendor::ZStack,
        Settings {
            token: Some("t".into()),
            ..Settings::default()
        },
    )
    .unwrap_err();
    assert!(error.to_string().contains("ibm-backup-recovery"), "{error}");
    // The default seed builds too.
    let seed: Seed = conformance::yaml::from_str(ibm::DEFAULT_SEED, "default").unwrap();
    assert_eq!(seed.tenants.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_starts_of_one_group_make_one_run() {
    let emulator = Arc::new(Emulator::start().await);
    let group = emulator.group_id("linux-servers").await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (emulator, group) = (emulator.clone(), group.clone());
        tasks.push(tokio::spawn(async move {
            emulator
                .post(
                    &format!("/data-protect/protection-groups/{group}/runs"),
                    A,
                    json!({"runType": "kRegular"}),
                )
                .await
                .0
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    statuses.sort();
    assert_eq!(statuses[0], 202);
    assert!(statuses[1..].iter().all(|s| *s == 409), "{statuses:?}");
    let runs = emulator
        .ok(&format!("/data-protect/protection-groups/{group}/runs"))
        .await;
    assert_eq!(runs["totalRuns"], 1);
}

/// The keys in `ours` that the real response body (`fixture`) does not have at the same place.
fn foreign_keys(ours: &Value, fixture: &Value, at: &str, out: &mut Vec<String>) {
    match (ours, fixture) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, value) in a {
                match b.get(key) {
                    Some(theirs) => foreign_keys(value, theirs, &format!("{at}/{key}"), out),
                    None => out.push(format!("{at}/{key}")),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            if let Some(theirs) = b.first() {
                for (i, item) in a.iter().enumerate() {
                    foreign_keys(item, theirs, &format!("{at}/{i}"), out);
                }
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn answers_have_the_shape_of_ibms_bodies() {
    let emulator = Emulator::start().await;
    let (group, run) = emulator.finished_run().await;
    let host = emulator.object_id("linux-host-1").await;
    let snapshot = emulator
        .ok(&format!("/data-protect/objects/{host}/snapshots"))
        .await["snapshots"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, recovery) = emulator
        .post(
            "/data-protect/recoveries",
            A,
            json!({"name": "r", "snapshotEnvironment": "kPhysical",
                   "physicalParams": {"objects": [{"snapshotId": snapshot}], "recoveryAction": "RecoverPhysicalVolumes"}}),
        )
        .await;
    let (_, download) = emulator
        .post(
            "/data-protect/recoveries/download-files-folders",
            A,
            json!({"name": "d", "object": {"snapshotId": snapshot}, "filesAndFolders": [{"absolutePath": "/etc/hosts"}]}),
        )
        .await;
    let (_, task) = emulator
        .post(
            "/data-protect/agents/upgrade-tasks",
            A,
            json!({"agentIDs": [101], "name": "u"}),
        )
        .await;
    emulator.advance(100.0);
    let connection = emulator.ok("/data-source-connections").await["connections"][0].clone();
    let gets = [
        (
            "GetProtectionPolicies",
            "/data-protect/policies".to_string(),
        ),
        (
            "GetProtectionGroups",
            "/data-protect/protection-groups?includeLastRunInfo=true".into(),
        ),
        (
            "GetProtectionGroupByID",
            format!("/data-protect/protection-groups/{group}?includeLastRunInfo=true"),
        ),
        (
            "GetProtectionGroupRuns",
            format!("/data-protect/protection-groups/{group}/runs?includeObjectDetails=true"),
        ),
        (
            "GetObjectSnapshots",
            format!("/data-protect/objects/{host}/snapshots"),
        ),
        ("GetRecoveries", "/data-protect/recoveries".into()),
        (
            "GetRecoveryByID",
            format!(
                "/data-protect/recoveries/{}",
                recovery["id"].as_str().unwrap()
            ),
        ),
        (
            "GetRecoveryByID",
            format!(
                "/data-protect/recoveries/{}",
                download["id"].as_str().unwrap()
            ),
        ),
        (
            "SearchObjects",
            "/data-protect/search/objects?count=1".into(),
        ),
        (
            "SearchProtectedObjects",
            "/data-protect/search/protected-objects".into(),
        ),
        (
            "GetSourceRegistrations",
            "/data-protect/sources/registrations".into(),
        ),
        (
            "GetProtectionSourceRegistration",
            format!("/data-protect/sources/registrations/{host}"),
        ),
        (
            "GetDataSourceConnections",
            "/data-source-connections".into(),
        ),
        ("GetDataSourceConnectors", "/data-source-connectors".into()),
        (
            "GetConnectorMetadata",
            "/data-source-connectors/metadata".into(),
        ),
        (
            "GetUpgradeTasks",
            "/data-protect/agents/upgrade-tasks".into(),
        ),
    ];
    let mut answers: Vec<(&str, Value)> = Vec::new();
    for (operation, path) in gets {
        answers.push((operation, emulator.ok(&path).await));
    }
    answers.push(("CreateRecovery", recovery));
    answers.push(("CreateDownloadFilesAndFoldersRecovery", download));
    answers.push(("CreateUpgradeTask", task));
    answers.push(("CreateDataSourceConnection", connection));
    let (_, points) = emulator
        .post(
            "/data-protect/snapshots/restore-points",
            A,
            json!({"protectionGroupIds": [group], "environment": "kPhysical", "startTimeUsecs": 0, "endTimeUsecs": i64::MAX}),
        )
        .await;
    answers.push(("GetRestorePointsInTimeRange", points));
    let (_, files) = emulator
        .post(
            "/data-protect/search/indexed-objects",
            A,
            json!({"objectType": "Files", "count": 1}),
        )
        .await;
    answers.push(("SearchIndexedObjects", files));
    let (_, updated) = emulator
        .call(
            reqwest::Method::PUT,
            &format!("/data-protect/protection-groups/{group}/runs"),
            A,
            Some(json!({"updateProtectionGroupRunParams": [{"runId": run, "localSnapshotConfig": {"daysToKeep": 1}}, {"runId": "1:1"}]})),
        )
        .await;
    answers.push(("UpdateProtectionGroupRun", updated));
    let mut problems = Vec::new();
    for (operation, ours) in answers {
        let path = format!(
            "{}/../specs/fixtures/ibm-backup-recovery/responses/{operation}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut out = Vec::new();
        foreign_keys(&ours, &fixture, "", &mut out);
        problems.extend(out.into_iter().map(|p| format!("{operation}: {p}")));
    }
    problems.sort();
    problems.dedup();
    assert!(problems.is_empty(), "{problems:#?}");
}

/// Every status a poller sees, second by second, moves only along the spec's `x-job`
/// transitions of CreateProtectionGroupRun (through pause, resume, cancel and failure).
#[tokio::test]
async fn polled_run_states_follow_the_spec_transitions() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../specs/ibm-backup-recovery.yaml"
    ))
    .unwrap();
    let spec: Value = conformance::yaml::from_str(&text, "ibm-backup-recovery.yaml").unwrap();
    let job = &spec["paths"]["/data-protect/protection-groups/{id}/runs"]["post"]["x-job"];
    let allowed = |from: &str, to: &str| {
        from == to
            || job["transitions"][from]
                .as_array()
                .is_some_and(|next| next.iter().any(|s| s == to))
    };
    let emulator = Emulator::start().await;
    emulator
        .ibm
        .environment()
        .faults
        .add(
            "CreateProtectionGroupRun",
            FaultRule {
                times: Some(1),
                job_fail_at: Some(60),
                ..Default::default()
            },
        )
        .unwrap();
    let group = emulator.group_id("windows-servers").await;
    // Scripts: (second, action) for each run; the first run fails at 60%.
    type Script<'a> = (&'a [(u32, &'a str)], &'a [&'a str]);
    let scripts: [Script; 3] = [
        (&[], &["Accepted", "Running", "Failed"]),
        (
            &[(10, "Pause"), (40, "Resume")],
            &["Accepted", "Running", "Paused", "Running", "Succeeded"],
        ),
        (&[(1, "Cancel")], &["Accepted", "Canceled"]),
    ];
    for (script, expected) in scripts {
        let run = emulator.start_run(&group).await;
        let mut seen = vec![emulator.run_status(&group, &run).await];
        for second in 1..=120 {
            emulator.advance(1.0);
            for (at, action) in script.iter() {
                if *at == second {
                    assert_eq!(emulator.action(&group, action, &run).await.0, 202);
                }
            }
            let now = emulator.run_status(&group, &run).await;
            let last = seen.last().unwrap().clone();
            assert!(allowed(&last, &now), "{last} -> {now} in {seen:?}");
            if now != last {
                seen.push(now);
            }
        }
        assert_eq!(seen, expected);
        let terminal = seen.last().unwrap();
        let meaning = ["succeeded", "failed", "cancelled"].into_iter().find(|m| {
            job["states"][m]
                .as_array()
                .is_some_and(|s| s.iter().any(|x| x == terminal.as_str()))
        });
        assert!(meaning.is_some(), "{seen:?}");
    }
}

#[tokio::test]
async fn a_fault_fails_a_recovery() {
    let emulator = Emulator::start().await;
    emulator.finished_run().await;
    let host = emulator.object_id("linux-host-2").await;
    let snapshot = emulator
        .ok(&format!("/data-protect/objects/{host}/snapshots"))
        .await["snapshots"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    emulator
        .ibm
        .environment()
        .faults
        .add(
            "CreateDownloadFilesAndFoldersRecovery",
            FaultRule {
                times: Some(1),
                job_fail_at: Some(50),
                ..Default::default()
            },
        )
        .unwrap();
    let (status, created) = emulator
        .post(
            "/data-protect/recoveries/download-files-folders",
            A,
            json!({"name": "d", "object": {"snapshotId": snapshot},
                   "filesAndFolders": [{"absolutePath": "/opt/app/config.yaml"}]}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap();
    emulator.advance(1.0 + 9.9);
    let path = format!("/data-protect/recoveries/{id}");
    assert_eq!(emulator.ok(&path).await["status"], "Running");
    emulator.advance(0.1);
    let failed = emulator.ok(&path).await;
    assert_eq!(failed["status"], "Failed");
    assert!(failed["messages"][0].as_str().unwrap().contains("50%"));
    assert_eq!(failed["physicalParams"]["objects"][0]["status"], "Failed");
    let (status, _) = emulator.get(&format!("{path}/download-files"), A).await;
    assert_eq!(status, 400);
    let failed_only = emulator.ok("/data-protect/recoveries?status=Failed").await;
    assert_eq!(failed_only["recoveries"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_recoveries() {
    let emulator = Arc::new(Emulator::start().await);
    emulator.finished_run().await;
    let host = emulator.object_id("linux-host-1").await;
    let snapshot = emulator
        .ok(&format!("/data-protect/objects/{host}/snapshots"))
        .await["snapshots"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut tasks = Vec::new();
    for i in 0..1000 {
        let (emulator, snapshot) = (emulator.clone(), snapshot.clone());
        tasks.push(tokio::spawn(async move {
            let (status, body) = emulator
                .post(
                    "/data-protect/recoveries",
                    A,
                    json!({"name": format!("r{i}"), "snapshotEnvironment": "kPhysical",
                           "physicalParams": {"objects": [{"snapshotId": snapshot}],
                                              "recoveryAction": "RecoverPhysicalVolumes"}}),
                )
                .await;
            assert_eq!(status, 201, "{body}");
            body["id"].as_str().unwrap().to_string()
        }));
    }
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(task.await.unwrap());
    }
    let unique: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), 1000);
    emulator.advance(21.0);
    let all = emulator.ok("/data-protect/recoveries").await;
    let recoveries = all["recoveries"].as_array().unwrap();
    assert_eq!(recoveries.len(), 1000);
    assert!(recoveries.iter().all(|r| r["status"] == "Succeeded"));
}
