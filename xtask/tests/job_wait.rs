//! The generated `wait_for_<op>` methods follow an `x-job` as the spec declares it: ZStack's job
//! state is the HTTP status of `GET /v1/api-jobs/{uuid}` (202 running, 200 done, 503 failed, 404
//! expired) and its handle is the `location` URL of the 202 answer.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use codegen_runtime::server::Reply;
use codegen_runtime::{ClientBuilder, JobError, RetryPolicy, WaitError, WaitOptions};
use zstack::server::{self, Api};
use zstack::stub::Stub;
use zstack::types;

const JOB: &str = "0123456789abcdef0123456789abcde";

/// Answers polls of one job from a script of statuses; everything else as the stub does.
struct ScriptedJob {
    polls: Mutex<VecDeque<u16>>,
    polled_uuids: Mutex<Vec<String>>,
}

impl Api for ScriptedJob {
    async fn log_in_by_account(
        &self,
        r: server::log_in_by_account::Request,
    ) -> Reply<server::log_in_by_account::Response> {
        Stub.log_in_by_account(r).await
    }
    async fn query_backup_storage(
        &self,
        r: server::query_backup_storage::Request,
    ) -> Reply<server::query_backup_storage::Response> {
        Stub.query_backup_storage(r).await
    }
    async fn get_backup_storage(
        &self,
        r: server::get_backup_storage::Request,
    ) -> Reply<server::get_backup_storage::Response> {
        Stub.get_backup_storage(r).await
    }
    async fn delete_backup_storage(
        &self,
        r: server::delete_backup_storage::Request,
    ) -> Reply<server::delete_backup_storage::Response> {
        // ZStack job ids are 32 hex digits; the server stub refuses anything else with a 404.
        let location = format!(
            "http://zstack.example:8080/zstack/v1/api-jobs/{JOB}{}",
            r.uuid.len()
        );
        server::delete_backup_storage::Response::Accepted(types::ApiJobLocation { location }).into()
    }
    async fn reconnect_backup_storage(
        &self,
        r: server::reconnect_backup_storage::Request,
    ) -> Reply<server::reconnect_backup_storage::Response> {
        Stub.reconnect_backup_storage(r).await
    }
    async fn get_api_job(
        &self,
        r: server::get_api_job::Request,
    ) -> Reply<server::get_api_job::Response> {
        self.polled_uuids.lock().unwrap().push(r.uuid.clone());
        let next = self.polls.lock().unwrap().pop_front().unwrap_or(404);
        match next {
            202 => server::get_api_job::Response::Accepted,
            200 => server::get_api_job::Response::Ok(types::ApiJobResult::default()),
            503 => server::get_api_job::Response::ServiceUnavailable(
                serde_json::from_value(serde_json::json!({"error": {"code": "SYS.1006", "description": "operation error"}})).unwrap(),
            ),
            _ => server::get_api_job::Response::NotFound("the job has been expired".into()),
        }
        .into()
    }
}

async fn run(
    script: &[u16],
) -> (
    Result<zstack::client::get_api_job::Success, WaitError<zstack::client::get_api_job::Failure>>,
    Vec<String>,
) {
    let api = Arc::new(ScriptedJob {
        polls: Mutex::new(script.iter().copied().collect()),
        polled_uuids: Mutex::new(Vec::new()),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = server::router(api.clone());
    tokio::spawn(async move {
        codegen_runtime::axum::serve(listener, router)
            .await
            .unwrap()
    });
    let client = zstack::Client::from_builder(
        ClientBuilder::new(format!("http://{addr}")).retry(RetryPolicy::none()),
    )
    .unwrap();

    let started = client
        .delete_backup_storage(
            "bs1",
            &zstack::client::delete_backup_storage::Options::default(),
        )
        .await
        .unwrap();
    let handle = zstack::Client::delete_backup_storage_job_handle(&started)
        .expect("the 202 answer carries the job's location");
    assert!(
        handle.ends_with(&format!("/v1/api-jobs/{JOB}3")),
        "{handle}"
    );
    let wait = WaitOptions {
        interval: Duration::from_millis(1),
        deadline: Duration::from_secs(10),
    };
    let result = client.wait_for_delete_backup_storage(&handle, &wait).await;
    let polled = api.polled_uuids.lock().unwrap().clone();
    (result, polled)
}

#[tokio::test]
async fn a_running_job_is_polled_until_it_succeeds() {
    let (result, polled) = run(&[202, 202, 200]).await;
    assert!(
        matches!(result, Ok(zstack::client::get_api_job::Success::Ok(_))),
        "{result:?}"
    );
    // The uuid was read out of the location URL, and the job polled until it finished.
    assert_eq!(polled, vec![format!("{JOB}3"); 3]);
}

#[tokio::test]
async fn a_failed_job_is_a_typed_failure_with_its_body() {
    let (result, _) = run(&[202, 503]).await;
    match result {
        Err(WaitError::Job(JobError::Failed { state, body })) => {
            assert_eq!(state, "503");
            assert!(String::from_utf8_lossy(&body).contains("SYS.1006"));
        }
        other => panic!("expected a failed job, got {other:?}"),
    }
}

#[tokio::test]
async fn an_expired_job_is_reported_as_expired() {
    let (result, _) = run(&[404]).await;
    assert!(
        matches!(result, Err(WaitError::Job(JobError::Expired { .. }))),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_move_the_spec_does_not_allow_is_reported() {
    // The spec says a running ZStack job does not expire: 202 -> 404 breaks its transitions.
    let (result, _) = run(&[202, 404]).await;
    match result {
        Err(WaitError::Job(JobError::IllegalTransition { from, to })) => {
            assert_eq!((from.as_str(), to.as_str()), ("202", "404"))
        }
        other => panic!("expected an illegal transition, got {other:?}"),
    }
}
