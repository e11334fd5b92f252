//! The ZStack emulator over real HTTP on 127.0.0.1, driven by the generated client and by raw
//! reqwest where the wire matters. Time is virtual: no test sleeps.

use std::sync::Arc;
use std::time::Duration;

use codegen_runtime::{Auth, ClientBuilder, RetryPolicy, WaitOptions};
use conformance::emulators::zstack::{self, Options, ZStack};
use conformance::emulators::Environment;
use conformance::faults::FaultRule;
use conformance::serve::{serve, Server, Transport};
use serde_json::{json, Value};

const IMAGE_STORE: &str = "1ab3b836a88342e1bbc1b1a17d092f0f";
const CEPH: &str = "eed424abee694bcda5a5e414a61ea3d3";
const OFFLINE: &str = "5d2b0c3f7e8a4b6c9d1e2f3a4b5c6d7e";
const PRESET: &str = "0123456789abcdef0123456789abcdef";

struct Emulator {
    zstack: Arc<ZStack>,
    server: Server,
    base: String,
    http: reqwest::Client,
}

impl Emulator {
    async fn start() -> Self {
        let options = Options {
            session: Some(PRESET.into()),
            ..Options::default()
        };
        let zstack = ZStack::new(Environment::for_tests(), options).unwrap();
        let server = serve(
            zstack.service(),
            "127.0.0.1:0".parse().unwrap(),
            Transport::Http,
        )
        .await
        .unwrap();
        let base = server.url(zstack::BASE_PATH);
        Emulator {
            zstack,
            server,
            base,
            http: reqwest::Client::new(),
        }
    }

    /// How many answers the emulator replayed so far.
    fn replayed(&self) -> u64 {
        self.zstack
            .environment()
            .replayed
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    fn advance(&self, secs: f64) {
        self.zstack.clock().advance(Duration::from_secs_f64(secs));
    }

    fn client(&self) -> zstack_client::Client {
        zstack_client::Client::from_builder(
            ClientBuilder::new(&self.base)
                .retry(RetryPolicy::none())
                .auth(Auth::zstack_session(zstack::ACCOUNT_NAME, zstack::PASSWORD)),
        )
        .unwrap()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request with the preset session.
    fn authed(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .header("Authorization", format!("OAuth {PRESET}"))
    }

    async fn get(&self, path: &str) -> (u16, String) {
        answer(self.authed(reqwest::Method::GET, path)).await
    }

    async fn query(&self, query: &str) -> Value {
        let (status, body) = self.get(&format!("/v1/backup-storage?{query}")).await;
        assert_eq!(status, 200, "{query}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    async fn names(&self, query: &str) -> Vec<String> {
        let mut names: Vec<String> = self.query(query).await["inventories"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["name"].as_str().unwrap_or("-").to_string())
            .collect();
        names.sort();
        names
    }

    async fn status_of(&self, uuid: &str) -> String {
        let reply = self.query(&format!("q=uuid={uuid}")).await;
        reply["inventories"][0]["status"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Starts an asynchronous call and returns (status, location or body).
    async fn start_job(&self, request: reqwest::RequestBuilder) -> String {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 202);
        let header = response.headers()["location"].to_str().unwrap().to_string();
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["location"], header.as_str());
        header
    }

    async fn poll(&self, location: &str) -> (u16, String) {
        answer(self.http.get(location)).await
    }
}

/// The generated crate's client, by a name that does not clash with the emulator module.
mod zstack_client {
    pub use ::zstack::Client;
}

async fn answer(request: reqwest::RequestBuilder) -> (u16, String) {
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

fn error_code(body: &str) -> String {
    let value: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    value["error"]["code"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn the_generated_client_logs_in_and_queries() {
    let emulator = Emulator::start().await;
    let client = emulator.client();
    let reply = client
        .query_backup_storage(&Default::default())
        .await
        .unwrap();
    let ::zstack::client::query_backup_storage::Success::Ok(reply) = reply;
    let inventories = reply.inventories.unwrap();
    assert_eq!(inventories.len(), 3);
    use ::zstack::types::BackupStorageInventory as Inv;
    assert!(inventories
        .iter()
        .any(|i| matches!(i, Inv::CephBackupStorageInventory(_))));
    assert!(inventories
        .iter()
        .any(|i| matches!(i, Inv::ImageStoreBackupStorageInventory(_))));
    let one = client.get_backup_storage(CEPH).await.unwrap();
    let ::zstack::client::get_backup_storage::Success::Ok(one) = one;
    assert_eq!(one.inventories.unwrap().len(), 1);
    let none = client
        .get_backup_storage("ffffffffffffffffffffffffffffffff")
        .await
        .unwrap();
    let ::zstack::client::get_backup_storage::Success::Ok(none) = none;
    assert_eq!(none.inventories.unwrap().len(), 0);
}

#[tokio::test]
async fn login_checks_the_password_hash() {
    let emulator = Emulator::start().await;
    let login = |password: &str| {
        emulator
            .http
            .put(emulator.url("/v1/accounts/login"))
            .json(&json!({"logInByAccount": {"accountName": "admin", "password": password}}))
    };
    let good = "b109f3bbbc244eb82441917ed06d618b9008dd09b3befd1b5e07394c706a8bb980b1d7785e5976ec049b46df5f1326af5a2ea6d103fd07c95385ffab0cacbc86";
    let (status, body) = answer(login(good)).await;
    assert_eq!(status, 200, "{body}");
    let session: Value = serde_json::from_str(&body).unwrap();
    let uuid = session["inventory"]["uuid"].as_str().unwrap().to_string();
    assert_eq!(uuid.len(), 32);
    assert_eq!(
        session["inventory"]["createDate"],
        "Jan 1, 2026 12:00:00 AM"
    );
    assert_eq!(
        session["inventory"]["expiredDate"],
        "Jan 1, 2026 2:00:00 AM"
    );
    // Uppercase hex is the same hash.
    assert_eq!(answer(login(&good.to_uppercase())).await.0, 200);
    let (status, body) = answer(login(&"0".repeat(128))).await;
    assert_eq!((status, error_code(&body)), (503, "ID.1000".into()));
    // Not a SHA-512: the API's invalid argument.
    let (status, body) = answer(login("password")).await;
    assert_eq!((status, error_code(&body)), (503, "SYS.1007".into()));

    // The session works, then expires after two hours.
    let with_session = || {
        emulator
            .http
            .get(emulator.url("/v1/backup-storage"))
            .header("Authorization", format!("OAuth {uuid}"))
    };
    assert_eq!(answer(with_session()).await.0, 200);
    emulator.advance(7199.0);
    let replayed = emulator.replayed();
    assert_eq!(answer(with_session()).await.0, 200);
    assert_eq!(
        emulator.replayed(),
        replayed + 1,
        "nothing changed but the time, before the session's expiry: the answer is replayed"
    );
    emulator.advance(1.0);
    let (status, body) = answer(with_session()).await;
    assert_eq!((status, error_code(&body)), (503, "ID.1001".into()));
    assert!(body.contains("Session expired"), "{body}");
    // The preset session does not expire.
    assert_eq!(emulator.get("/v1/backup-storage").await.0, 200);
}

#[tokio::test]
async fn the_rest_layer_refuses_bad_authorization_in_plain_text() {
    let emulator = Emulator::start().await;
    let url = emulator.url("/v1/backup-storage");
    for (header, status, body) in [
        (None, 400, "missing header 'Authorization'"),
        (
            Some("Basic YWRtaW46cGFzc3dvcmQ="),
            400,
            "Authorization type must be 'OAuth'",
        ),
        (Some("OAuth"), 400, "Authorization type must be 'OAuth'"),
        (
            Some("oauth 0123456789abcdef0123456789abcdef"),
            400,
            "Authorization type must be 'OAuth'",
        ),
    ] {
        let mut request = emulator.http.get(&url);
        if let Some(h) = header {
            request = request.header("Authorization", h);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), status, "{header:?}");
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/plain"
        );
        assert_eq!(response.text().await.unwrap(), body);
    }
    let (status, body) = answer(
        emulator
            .http
            .delete(emulator.url(&format!("/v1/backup-storage/{CEPH}")))
            .header("Authorization", "OAuth ffffffffffffffffffffffffffffffff"),
    )
    .await;
    assert_eq!((status, error_code(&body)), (503, "ID.1001".into()));
    // Nothing was started by the refused call.
    assert_eq!(emulator.zstack.backup_storages().len(), 3);
    // Job queries need no Authorization.
    let (status, body) = answer(
        emulator
            .http
            .get(emulator.url("/v1/api-jobs/ffffffffffffffffffffffffffffffff")),
    )
    .await;
    assert_eq!((status, body.as_str()), (404, "the job has been expired"));
}

#[tokio::test]
async fn the_query_language() {
    let emulator = Emulator::start().await;
    let all = ["ceph-bs", "image-store", "offline-store"];
    for (query, expected) in [
        ("", &all[..]),
        ("q=name=ceph-bs", &["ceph-bs"][..]),
        ("q=name!=ceph-bs", &["image-store", "offline-store"][..]),
        (
            "q=totalCapacity>305863802880",
            &["image-store", "offline-store"][..],
        ),
        ("q=totalCapacity>=305863802880", &all[..]),
        ("q=totalCapacity<1099511627776", &["ceph-bs"][..]),
        (
            "q=totalCapacity<=1099511627776",
            &["ceph-bs", "offline-store"][..],
        ),
        ("q=type?=Ceph,Nothing", &["ceph-bs"][..]),
        ("q=type!?=Ceph", &["image-store", "offline-store"][..]),
        ("q=name~=%25store", &["image-store", "offline-store"][..]),
        ("q=name~=image_store", &["image-store"][..]),
        ("q=name!~=%25store", &["ceph-bs"][..]),
        ("q=fsid%20is%20null", &["image-store", "offline-store"][..]),
        ("q=fsid%20not%20null", &["ceph-bs"][..]),
        (
            "q=status=Connected&q=type=ImageStoreBackupStorage",
            &["image-store"][..],
        ),
        (
            "q=createDate>2019-01-01%2000:00:00",
            &["ceph-bs", "offline-store"][..],
        ),
        (
            "q=createDate<Jan%205,%202020%208:15:00%20AM",
            &["ceph-bs", "image-store"][..],
        ),
        ("q=zone.name=zone-2", &["ceph-bs"][..]),
        ("q=zone.uuid%20is%20null", &["offline-store"][..]),
        ("q=image.status=Downloading", &["ceph-bs"][..]),
        ("q=image.size>1", &["ceph-bs", "image-store"][..]),
        ("q=mons.hostname=172.24.252.188", &["ceph-bs"][..]),
        ("q=mon.monPort=6789", &["ceph-bs"][..]),
        (
            "q=attachedZoneUuids=140ebc2fbdb74ae197323a69d432f25e",
            &["image-store"][..],
        ),
    ] {
        assert_eq!(emulator.names(query).await, expected, "{query}");
    }

    let count = emulator.query("count=true&q=status=Connected").await;
    assert_eq!(count, json!({"total": 2, "success": true}));
    let page = emulator
        .query("sort=-createDate&limit=1&start=1&replyWithCount=true")
        .await;
    assert_eq!(page["total"], 3);
    assert_eq!(page["inventories"].as_array().unwrap().len(), 1);
    assert_eq!(page["inventories"][0]["name"], "ceph-bs");
    let sorted = emulator.query("sort=%2BtotalCapacity").await;
    let names: Vec<&str> = sorted["inventories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ceph-bs", "offline-store", "image-store"]);
    let fields = emulator.query("fields=uuid,name&q=name=ceph-bs").await;
    assert_eq!(
        fields["inventories"][0],
        json!({"uuid": CEPH, "name": "ceph-bs", "type": "Ceph"})
    );
    assert!(emulator.query("limit=0").await["inventories"]
        .as_array()
        .unwrap()
        .is_empty());

    // The API's invalid arguments: 503 SYS.1007.
    for query in [
        "q=colour=red",
        "q=zone.colour=red",
        "q=nothing.name=x",
        "q=totalCapacity>lots",
        "q=mons=x",
        "q=mons.sshPassword=password",
        "sort=colour",
        "fields=uuid,colour",
    ] {
        let (status, body) = emulator.get(&format!("/v1/backup-storage?{query}")).await;
        assert_eq!(
            (status, error_code(&body)),
            (503, "SYS.1007".into()),
            "{query}"
        );
    }
    // The REST layer's: 400 plain text, in its words where the spec gives them.
    for (query, message) in [
        ("limit=ten", "Invalid query parameter. 'limit' must be an integer"),
        ("start=x", "Invalid query parameter. 'start' must be an integer"),
        (
            "q=uuid",
            "Invalid query parameter. The 'uuid' in the parameter[q] doesn't contain any query operator. Valid query operators are [[!=, >=, <=, !?=, !~=, ~=, ?=, =, >, <, is null, not null]]",
        ),
    ] {
        let (status, body) = emulator.get(&format!("/v1/backup-storage?{query}")).await;
        assert_eq!((status, body.as_str()), (400, message), "{query}");
    }
    for query in ["limit=-1", "sort=a,b"] {
        let response = emulator
            .authed(reqwest::Method::GET, &format!("/v1/backup-storage?{query}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{query}");
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain"));
    }
}

#[tokio::test]
async fn jobs_follow_the_async_convention() {
    let emulator = Emulator::start().await;
    let location = emulator
        .start_job(emulator.authed(
            reqwest::Method::DELETE,
            &format!("/v1/backup-storage/{IMAGE_STORE}"),
        ))
        .await;
    assert!(
        location.starts_with(&emulator.url("/v1/api-jobs/")),
        "{location}"
    );
    // Running: 202 with an empty body.
    assert_eq!(emulator.poll(&location).await, (202, String::new()));
    emulator.advance(1.9);
    assert_eq!(emulator.poll(&location).await.0, 202);
    assert_eq!(emulator.zstack.backup_storages().len(), 3);
    // Done: 200 with the empty result, and the storage is gone.
    emulator.advance(0.1);
    assert_eq!(emulator.poll(&location).await, (200, "{}".into()));
    assert_eq!(emulator.names("").await, ["ceph-bs", "offline-store"]);
    // Other methods: 405.
    for method in [
        reqwest::Method::POST,
        reqwest::Method::DELETE,
        reqwest::Method::PUT,
    ] {
        let (status, body) = answer(emulator.http.request(method, &location)).await;
        assert_eq!(
            (status, body.as_str()),
            (405, "only GET method is allowed for querying job status")
        );
    }
    // Any other method, with the methods allowed, as RFC 9110 wants of a 405.
    let traced = emulator
        .http
        .request(reqwest::Method::TRACE, &location)
        .send()
        .await
        .unwrap();
    assert_eq!(traced.status(), 405);
    assert_eq!(traced.headers()["allow"], "GET");
    // Expired after the retention time: 404.
    emulator.advance(599.0);
    assert_eq!(emulator.poll(&location).await.0, 200);
    emulator.advance(1.0);
    assert_eq!(
        emulator.poll(&location).await,
        (404, "the job has been expired".into())
    );
    // A job uuid that is not 32 hex digits: 404 too.
    assert_eq!(
        emulator.poll(&emulator.url("/v1/api-jobs/nope")).await.0,
        404
    );
    // An unknown path.
    assert_eq!(
        emulator.get("/v1/zones").await,
        (404, "no api mapping to /v1/zones".into())
    );
}

#[tokio::test]
async fn the_client_waits_for_jobs() {
    let emulator = Emulator::start().await;
    let client = emulator.client();
    let body: ::zstack::types::ReconnectBackupStorageRequest =
        serde_json::from_value(json!({"reconnectBackupStorage": {}})).unwrap();
    let started = client
        .reconnect_backup_storage(CEPH, &body, &Default::default())
        .await
        .unwrap();
    let handle = ::zstack::Client::reconnect_backup_storage_job_handle(&started).unwrap();
    assert_eq!(emulator.status_of(CEPH).await, "Connecting");
    emulator.advance(3.0);
    let wait = WaitOptions {
        interval: Duration::from_millis(1),
        deadline: Duration::from_secs(5),
    };
    let done = client
        .wait_for_reconnect_backup_storage(&handle, &wait)
        .await
        .unwrap();
    let ::zstack::client::get_api_job::Success::Ok(result) = done else {
        panic!("{done:?}");
    };
    let inventory = serde_json::to_value(result.inventory.unwrap()).unwrap();
    assert_eq!(inventory["status"], "Connected");
    assert_eq!(inventory["mons"][0]["status"], "Connected");
    assert_eq!(inventory["lastOpDate"], "Jan 1, 2026 12:00:03 AM");

    let started = client
        .delete_backup_storage(IMAGE_STORE, &Default::default())
        .await
        .unwrap();
    let handle = ::zstack::Client::delete_backup_storage_job_handle(&started).unwrap();
    emulator.advance(2.0);
    let done = client
        .wait_for_delete_backup_storage(&handle, &wait)
        .await
        .unwrap();
    assert!(matches!(
        done,
        ::zstack::client::get_api_job::Success::Ok(_)
    ));
}

#[tokio::test]
async fn a_polled_query_is_replayed_until_something_changes() {
    let emulator = Emulator::start().await;
    let storage = "/v1/backup-storage";
    let before = emulator.get(storage).await;
    assert_eq!(before.0, 200);
    assert_eq!(emulator.get(storage).await, before);
    assert_eq!(emulator.replayed(), 1);
    // A job changes the state at once (`Connecting`), and while it runs its storage's view
    // follows the clock: nothing is replayed until it has ended.
    let reconnect = emulator
        .authed(
            reqwest::Method::PUT,
            &format!("/v1/backup-storage/{CEPH}/actions"),
        )
        .json(&json!({"reconnectBackupStorage": {}}));
    emulator.start_job(reconnect).await;
    assert_eq!(emulator.status_of(CEPH).await, "Connecting");
    assert_eq!(emulator.status_of(CEPH).await, "Connecting");
    assert_eq!(emulator.replayed(), 1);
    emulator.advance(3.0);
    assert_eq!(emulator.status_of(CEPH).await, "Connected");
    let after = emulator.get(storage).await;
    assert_eq!(emulator.get(storage).await, after);
    assert_eq!(emulator.replayed(), 2);
}

#[tokio::test]
async fn reconnect_changes_status_over_the_job() {
    let emulator = Emulator::start().await;
    let reconnect = |uuid: &str| {
        emulator
            .authed(
                reqwest::Method::PUT,
                &format!("/v1/backup-storage/{uuid}/actions"),
            )
            .json(&json!({"reconnectBackupStorage": {}, "systemTags": [], "userTags": []}))
    };
    assert_eq!(emulator.status_of(OFFLINE).await, "Disconnected");
    let location = emulator.start_job(reconnect(OFFLINE)).await;
    assert_eq!(emulator.status_of(OFFLINE).await, "Connecting");
    emulator.advance(3.0);
    let (status, body) = emulator.poll(&location).await;
    assert_eq!((status, error_code(&body)), (503, "SYS.1006".into()));
    let error: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["error"]["cause"]["code"], "SYS.1001");
    assert_eq!(emulator.status_of(OFFLINE).await, "Disconnected");

    // A body without the action key: the REST layer's 400.
    let (status, _) = answer(
        emulator
            .authed(
                reqwest::Method::PUT,
                &format!("/v1/backup-storage/{CEPH}/actions"),
            )
            .json(&json!({"systemTags": []})),
    )
    .await;
    assert_eq!(status, 400);
    // An unknown storage: 202, then the job fails with SYS.1003.
    let location = emulator
        .start_job(reconnect("ffffffffffffffffffffffffffffffff"))
        .await;
    let (status, body) = emulator.poll(&location).await;
    assert_eq!((status, error_code(&body)), (503, "SYS.1003".into()));
}

#[tokio::test]
async fn permissive_and_enforcing_delete() {
    let emulator = Emulator::start().await;
    let delete = |mode: &str| {
        emulator.authed(
            reqwest::Method::DELETE,
            &format!("/v1/backup-storage/{CEPH}?deleteMode={mode}"),
        )
    };
    // ceph-bs holds an image that refuses deletion.
    let location = emulator.start_job(delete("Permissive")).await;
    emulator.advance(2.0);
    let (status, body) = emulator.poll(&location).await;
    assert_eq!((status, error_code(&body)), (503, "SYS.1006".into()));
    assert!(body.contains("windows-2019"), "{body}");
    assert!(emulator.names("").await.contains(&"ceph-bs".to_string()));

    let location = emulator.start_job(delete("Enforcing")).await;
    emulator.advance(2.0);
    assert_eq!(emulator.poll(&location).await.0, 200);
    assert!(!emulator.names("").await.contains(&"ceph-bs".to_string()));
    assert!(emulator.names("q=image.name=windows-2019").await.is_empty());

    // An invalid mode is the API's SYS.1007, at once.
    let (status, body) = answer(delete("Forced")).await;
    assert_eq!((status, error_code(&body)), (503, "SYS.1007".into()));
    // Deleting what is gone: the job fails with SYS.1003.
    let location = emulator.start_job(delete("Enforcing")).await;
    let (status, body) = emulator.poll(&location).await;
    assert_eq!((status, error_code(&body)), (503, "SYS.1003".into()));
}

#[tokio::test]
async fn x_job_uuid_names_the_job() {
    let emulator = Emulator::start().await;
    let job = "1ADB6F97B32D46D28E1AD07E69BBE04A";
    let reconnect = |uuid: &str, job: &str| {
        emulator
            .authed(
                reqwest::Method::PUT,
                &format!("/v1/backup-storage/{uuid}/actions"),
            )
            .header("X-Job-UUID", job)
            .json(&json!({"reconnectBackupStorage": {}}))
    };
    let location = emulator.start_job(reconnect(CEPH, job)).await;
    assert!(location.ends_with(&job.to_lowercase()), "{location}");
    // The same call again: the same job (idempotent), not a second one.
    assert_eq!(emulator.start_job(reconnect(CEPH, job)).await, location);
    // Another call with that uuid: refused.
    let (status, body) = answer(reconnect(IMAGE_STORE, job)).await;
    assert_eq!((status, error_code(&body)), (503, "SYS.1007".into()));
    // Not a dashless UUID: the REST layer's 400.
    for bad in ["1adb6f97-b32d-46d2-8e1a-d07e69bbe04a", "xyz", ""] {
        let (status, body) = answer(reconnect(CEPH, bad)).await;
        assert_eq!(
            (status, body.as_str()),
            (
                400,
                "Invalid header[X-Job-UUID], it must be a UUID with '-' stripped"
            ),
            "{bad:?}"
        );
    }
    emulator.advance(3.0);
    let (status, body) = emulator
        .poll(&emulator.url(&format!("/v1/api-jobs/{job}")))
        .await;
    assert_eq!(status, 200, "{body}");
    // Retried after it finished: still the same job, and the storage stays connected.
    assert_eq!(emulator.start_job(reconnect(CEPH, job)).await, location);
    assert_eq!(emulator.status_of(CEPH).await, "Connected");
    assert_eq!(emulator.poll(&location).await.0, 200);
}

#[tokio::test]
async fn faults_answer_drop_delay_and_fail_jobs() {
    let emulator = Emulator::start().await;
    let faults = &emulator.zstack.environment().faults;
    faults
        .add(
            "QueryBackupStorage",
            FaultRule {
                times: Some(2),
                status: Some(503),
                retry_after: Some(7),
                ..Default::default()
            },
        )
        .unwrap();
    for _ in 0..2 {
        let response = emulator
            .authed(reqwest::Method::GET, "/v1/backup-storage")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["retry-after"], "7");
        assert_eq!(error_code(&response.text().await.unwrap()), "SYS.1000");
    }
    assert_eq!(emulator.get("/v1/backup-storage").await.0, 200);

    faults
        .add(
            "GetBackupStorage",
            FaultRule {
                times: Some(1),
                drop: Some(true),
                ..Default::default()
            },
        )
        .unwrap();
    let path = format!("/v1/backup-storage/{CEPH}");
    assert!(emulator
        .authed(reqwest::Method::GET, &path)
        .send()
        .await
        .is_err());
    assert_eq!(emulator.get(&path).await.0, 200);

    // Latency on the emulator's clock: the answer comes only once the clock has moved.
    faults
        .add(
            "GetApiJob",
            FaultRule {
                times: Some(1),
                latency_ms: Some(5000),
                ..Default::default()
            },
        )
        .unwrap();
    let pending = tokio::spawn(answer(
        emulator
            .http
            .get(emulator.url("/v1/api-jobs/ffffffffffffffffffffffffffffffff")),
    ));
    let mut advanced = 0.0;
    while !pending.is_finished() {
        emulator.advance(0.5);
        advanced += 0.5;
        // Real time passes too (the request travels over loopback); virtual time just keeps
        // moving until the answer is back, which cannot happen before 5 s.
        tokio::task::yield_now().await;
    }
    assert!(advanced >= 5.0, "answered after {advanced}s");
    assert_eq!(pending.await.unwrap().0, 404);

    // A job that fails halfway.
    faults
        .add(
            "ReconnectBackupStorage",
            FaultRule {
                times: Some(1),
                job_fail_at: Some(50),
                ..Default::default()
            },
        )
        .unwrap();
    let location = emulator
        .start_job(
            emulator
                .authed(
                    reqwest::Method::PUT,
                    &format!("/v1/backup-storage/{CEPH}/actions"),
                )
                .json(&json!({"reconnectBackupStorage": {}})),
        )
        .await;
    emulator.advance(1.4);
    assert_eq!(emulator.poll(&location).await.0, 202);
    emulator.advance(0.1);
    let (status, body) = emulator.poll(&location).await;
    assert_eq!((status, error_code(&body)), (503, "SYS.1006".into()));
    assert_eq!(emulator.status_of(CEPH).await, "Disconnected");
}

#[tokio::test]
async fn hostile_input_neither_crashes_nor_corrupts() {
    let emulator = Emulator::start().await;
    let before = emulator.zstack.backup_storages();
    let login = emulator.url("/v1/accounts/login");
    let actions = format!("/v1/backup-storage/{CEPH}/actions");
    // Malformed JSON and wrong types.
    for body in [
        "{",
        "null",
        "[]",
        "{\"logInByAccount\": 5}",
        "{\"logInByAccount\": {\"accountName\": [], \"password\": {}}}",
        "\u{0}\u{1}",
    ] {
        let (status, _) = answer(
            emulator
                .http
                .put(&login)
                .header("content-type", "application/json")
                .body(body),
        )
        .await;
        assert_eq!(status, 503, "{body:?}");
        let (status, _) = answer(
            emulator
                .authed(reqwest::Method::PUT, &actions)
                .header("content-type", "application/json")
                .body(body),
        )
        .await;
        assert!(status == 400 || status == 503, "{body:?}: {status}");
    }
    // A huge body.
    let huge = vec![b' '; 2 * 1024 * 1024];
    let (status, _) = answer(
        emulator
            .authed(reqwest::Method::PUT, &actions)
            .header("content-type", "application/json")
            .body(huge),
    )
    .await;
    assert_eq!(status, 413);
    // Bytes that are not UTF-8 in Authorization, and a Host that is not a host.
    let bad = reqwest::header::HeaderValue::from_bytes(b"OAuth \xff\xfe").unwrap();
    let (status, _) = answer(
        emulator
            .http
            .get(emulator.url("/v1/backup-storage"))
            .header("Authorization", bad),
    )
    .await;
    assert_eq!(status, 400);
    let location = emulator
        .start_job(
            emulator
                .authed(reqwest::Method::PUT, &actions)
                .header("Host", "evil.example/x?y")
                .json(&json!({"reconnectBackupStorage": {}})),
        )
        .await;
    assert!(
        location.starts_with("http://localhost:8080/zstack/v1/api-jobs/"),
        "{location}"
    );
    // Path traversal and odd paths.
    for path in [
        "/v1/backup-storage/..%2F..%2Fetc%2Fpasswd",
        "/v1/backup-storage/%00",
        "/v1/api-jobs/..",
    ] {
        let (status, _) = emulator.get(path).await;
        assert!(status == 200 || status == 404, "{path}: {status}");
    }
    // Still serving, with the same data (the reconnect above only changed the status).
    emulator.advance(3.0);
    let after = emulator.zstack.backup_storages();
    assert_eq!(after.len(), before.len());
    for (a, b) in before.iter().zip(&after) {
        assert_eq!(a["uuid"], b["uuid"]);
        assert_eq!(a["name"], b["name"]);
    }
    assert_eq!(emulator.get("/v1/backup-storage").await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_jobs() {
    let emulator = Emulator::start().await;
    // In-process through the whole router (validation included), so that 1,000 requests are in
    // flight at once without 1,000 sockets.
    let router = emulator.zstack.service();
    let mut calls = Vec::new();
    for i in 0..1000 {
        let router = router.clone();
        let uuid = if i % 2 == 0 { CEPH } else { IMAGE_STORE };
        calls.push(tokio::spawn(async move {
            use tower::ServiceExt;
            let request =
                axum::http::Request::put(format!("/zstack/v1/backup-storage/{uuid}/actions"))
                    .header("Authorization", format!("OAuth {PRESET}"))
                    .header("content-type", "application/json")
                    .header("host", "127.0.0.1:8080")
                    .body(axum::body::Body::from("{\"reconnectBackupStorage\":{}}"))
                    .unwrap();
            let response = router.oneshot(request).await.unwrap();
            assert_eq!(response.status(), 202);
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap();
            let body: Value = serde_json::from_slice(&bytes).unwrap();
            body["location"].as_str().unwrap().to_string()
        }));
    }
    let mut locations = Vec::new();
    for call in calls {
        locations.push(call.await.unwrap());
    }
    let unique: std::collections::HashSet<&String> = locations.iter().collect();
    assert_eq!(unique.len(), 1000, "every job has its own uuid");
    emulator.advance(3.0);
    // Every job is there and finished (polled over HTTP, 50 at a time).
    use futures_util::StreamExt;
    let base = emulator.url("");
    let statuses: Vec<u16> = futures_util::stream::iter(locations.iter().map(|l| {
        let path = l.split("/zstack").nth(1).unwrap().to_string();
        let url = format!("{base}{path}");
        let http = emulator.http.clone();
        async move { http.get(url).send().await.unwrap().status().as_u16() }
    }))
    .buffer_unordered(50)
    .collect()
    .await;
    assert_eq!(statuses.len(), 1000);
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(emulator.status_of(CEPH).await, "Connected");
    emulator.server.shutdown(Duration::from_secs(5)).await;
}

#[test]
fn the_operation_table_matches_the_spec() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../specs/zstack.yaml"))
            .unwrap();
    let spec: Value = conformance::yaml::from_str(&text, "zstack.yaml").unwrap();
    let mut from_spec = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if let Some(id) = operation.get("operationId").and_then(Value::as_str) {
                from_spec.push((method.to_uppercase(), path.clone(), id.to_string()));
            }
        }
    }
    let mut table: Vec<(String, String, String)> = zstack::OPERATIONS
        .iter()
        .map(|(m, p, o)| (m.to_string(), p.to_string(), o.to_string()))
        .collect();
    from_spec.sort();
    table.sort();
    assert_eq!(table, from_spec);
}

#[tokio::test]
async fn https_serving_works_for_the_client() {
    let zstack = ZStack::new(
        Environment::for_tests(),
        Options {
            transport: Transport::Https,
            ..Options::default()
        },
    )
    .unwrap();
    let server = serve(
        zstack.service(),
        "127.0.0.1:0".parse().unwrap(),
        Transport::Https,
    )
    .await
    .unwrap();
    let client = ::zstack::Client::from_builder(
        ClientBuilder::new(server.url(zstack::BASE_PATH))
            .retry(RetryPolicy::none())
            .danger_accept_invalid_certs(true)
            .auth(Auth::zstack_session("admin", "password")),
    )
    .unwrap();
    let started = client
        .delete_backup_storage(IMAGE_STORE, &Default::default())
        .await
        .unwrap();
    let handle = ::zstack::Client::delete_backup_storage_job_handle(&started).unwrap();
    assert!(handle.starts_with("https://"), "{handle}");
    server.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn the_app_for_xtask_takes_seed_and_faults_as_yaml() {
    use conformance::emulators::{build, Settings, Source, Vendor};
    let seed = r#"
accounts: [{name: ops, password: s3cret, uuid: 36c27e8ff05c4780bf6d2fa65700f22e}]
backupStorages:
  - inventory: {uuid: 1ab3b836a88342e1bbc1b1a17d092f0f, name: only, type: Ceph, status: Connected}
"#;
    let faults = "operations: {GetBackupStorage: [{status: 500, times: 1}]}";
    let app = build(
        Vendor::ZStack,
        Settings {
            seed: Some(Source {
                name: "seed.yaml".into(),
                text: seed.into(),
            }),
            faults: Some(Source {
                name: "faults.yaml".into(),
                text: faults.into(),
            }),
            session: Some(PRESET.into()),
            ..Settings::default()
        },
    )
    .unwrap();
    assert_eq!((app.base_path, app.default_port), ("/zstack", 8080));
    assert!(
        app.notes.iter().any(|n| n.contains("ops / s3cret")),
        "{:?}",
        app.notes
    );
    let server = serve(app.service, "127.0.0.1:0".parse().unwrap(), app.transport)
        .await
        .unwrap();
    let client = ::zstack::Client::from_builder(
        ClientBuilder::new(server.url(app.base_path))
            .retry(RetryPolicy::none())
            .auth(Auth::zstack_session("ops", "s3cret")),
    )
    .unwrap();
    let ::zstack::client::query_backup_storage::Success::Ok(reply) = client
        .query_backup_storage(&Default::default())
        .await
        .unwrap();
    assert_eq!(reply.inventories.unwrap().len(), 1);
    let first = client.get_backup_storage(IMAGE_STORE).await;
    assert!(
        matches!(
            first,
            Err(codegen_runtime::Error::UnexpectedStatus { status: 500, .. })
        ),
        "{first:?}"
    );
    assert!(client.get_backup_storage(IMAGE_STORE).await.is_ok());
    server.shutdown(Duration::from_secs(5)).await;

    for (vendor, settings, message) in [
        (
            Vendor::ZStack,
            Settings {
                seed: Some(Source {
                    name: "bad.yaml".into(),
                    text: "accounts: 5".into(),
                }),
                ..Settings::default()
            },
            "bad.yaml",
        ),
        (
            Vendor::ZStack,
            Settings {
                faults: Some(Source {
                    name: "f.yaml".into(),
                    text: "operations: {X: [{}]}".into(),
                }),
                ..Settings::default()
            },
            "operations.X[0]",
        ),
        (
            Vendor::ZStack,
            Settings {
                faults: Some(Source {
                    name: "f.yaml".into(),
                    text: "operations: {QueryBackupStorages: [{drop: true}]}".into(),
                }),
                ..Settings::default()
            },
            "does not have: QueryBackupStorages",
        ),
    ] {
        let error = format!("{:#}", build(vendor, settings).unwrap_err());
        assert!(error.contains(message), "{error}");
    }
}

/// Every status a poller sees, step by step, moves only along the spec's `x-job` transitions of
/// the operation, and ends in one of its terminal states, then in its expired state.
#[tokio::test]
async fn polled_states_follow_the_spec_transitions() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../specs/zstack.yaml"))
            .unwrap();
    let spec: Value = conformance::yaml::from_str(&text, "zstack.yaml").unwrap();
    for (path, method, operation_path) in [
        (
            "/v1/backup-storage/{uuid}",
            "delete",
            reqwest::Method::DELETE,
        ),
        (
            "/v1/backup-storage/{uuid}/actions",
            "put",
            reqwest::Method::PUT,
        ),
    ] {
        let job = &spec["paths"][path][method]["x-job"];
        let transitions = job["transitions"].as_object().unwrap();
        let list = |key: &str| -> Vec<String> {
            job["states"][key]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect()
        };
        let (succeeded, failed, expired) = (list("succeeded"), list("failed"), list("expired"));
        for uuid in [IMAGE_STORE, OFFLINE, "ffffffffffffffffffffffffffffffff"] {
            let emulator = Emulator::start().await;
            let request = emulator
                .authed(operation_path.clone(), &path.replace("{uuid}", uuid))
                .json(&json!({"reconnectBackupStorage": {}}));
            let location = emulator.start_job(request).await;
            let mut seen = vec![emulator.poll(&location).await.0.to_string()];
            for _ in 0..40 {
                emulator.advance(20.0);
                seen.push(emulator.poll(&location).await.0.to_string());
            }
            for pair in seen.windows(2) {
                let allowed = pair[0] == pair[1]
                    || transitions
                        .get(&pair[0])
                        .and_then(Value::as_array)
                        .is_some_and(|to| to.iter().any(|s| s == pair[1].as_str()));
                assert!(
                    allowed,
                    "{method} {uuid}: {} -> {} in {seen:?}",
                    pair[0], pair[1]
                );
            }
            assert!(
                seen.iter()
                    .any(|s| succeeded.contains(s) || failed.contains(s)),
                "{seen:?}"
            );
            assert!(expired.contains(seen.last().unwrap()), "{seen:?}");
        }
    }
}
