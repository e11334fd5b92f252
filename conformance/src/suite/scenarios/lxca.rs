//! LXCA: sessions and their CSRF token, backups (copy, move, push, import), the
//! management-server updates repository, the OS images repository's two-step import, and jobs
//! seen as jobs and as tasks.
//!
//! On a live appliance the read-only scenarios discover what they read by listing it. The
//! mutating scenarios that can run there only create what they can remove again (OS-image import
//! jobs and a small script file named after the run) or send requests the appliance must refuse;
//! copying, moving and pushing backups, importing backups and updates, and applying updates need
//! the emulator's seed (a configured remote share, a reachable appliance, update packages) or
//! would change the appliance for good, so they run on the emulator only.
//!
//! Statuses no scenario can provoke, and why:
//! - CreateSession 403: bad credentials answer 401; the API has no other refusal of a login.
//! - DeleteSession, GetAicc, GetBackups 400; GetJob, DeleteJob 400; DeleteOsImages 400: the
//!   operations take no parameter or body that could be invalid (a path id is any string; an
//!   empty id list is another path).
//! - GetJobs 404/409, GetJob 409: the API Blueprint lists them, but nothing a filter or a read
//!   does conflicts with anything or names a missing resource (an unknown job is GetJob's 404).

use std::time::Duration;

use anyhow::{anyhow, bail, Context as _, Result};
use codegen_runtime::{ApiBody, ApiRequest, ApiResponse, Auth, MultipartForm};
use lxca::client::{
    create_os_image_import_job, get_job, get_jobs, get_os_images, get_tasks, get_tasks_by_ids,
    get_updates, get_updates_repository, import_backup, import_os_image_file, manage_backup,
};
use lxca::types;
use lxca::Client;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{Credentials, Ctx, Scenario};
use crate::faults::FaultRule;
use crate::suite::exchange::Exchange;

/// A job id no appliance has.
const UNKNOWN_JOB: &str = "999999999";
/// An update id no repository has.
const UNKNOWN_UPDATE: &str = "conformance-no-such-update";
/// A backup uuid no appliance has.
const UNKNOWN_BACKUP: &str = "00000000-0000-4000-8000-000000000000";
/// An address from TEST-NET-1 (RFC 5737): no appliance answers there.
const UNREACHABLE: &str = "192.0.2.99";
/// The appliance the emulator's seed can push to.
const REACHABLE: &str = "10.243.16.45";
/// The job states that are not terminal.
const RUNNING: &[&str] = &["Pending", "Running", "Running_With_Errors"];

pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "sessions",
            operations: &["CreateSession", "DeleteSession", "GetAicc"],
            mutates: false,
            emulator_only: false,
            run: |ctx| Box::pin(sessions(ctx)),
        },
        Scenario {
            name: "csrf-token-required-reads",
            operations: &[
                "GetAicc",
                "GetBackups",
                "GetUpdatesRepository",
                "GetUpdates",
                "GetOsImages",
                "GetTasks",
                "GetTasksByIds",
                "GetJobs",
                "GetJob",
            ],
            mutates: false,
            emulator_only: false,
            run: |ctx| Box::pin(csrf_required_reads(ctx)),
        },
        Scenario {
            name: "csrf-token-required-writes",
            operations: &[
                "ManageBackup",
                "ImportBackup",
                "ApplyUpdates",
                "ManageUpdates",
                "DeleteUpdates",
                "ImportUpdateFiles",
                "CreateOsImageImportJob",
                "DeleteOsImages",
                "ImportOsImageFile",
                "CancelTasks",
                "DeleteTasks",
                "CancelJob",
                "DeleteJob",
            ],
            mutates: true,
            emulator_only: false,
            run: |ctx| Box::pin(csrf_required_writes(ctx)),
        },
        Scenario {
            name: "backups-list",
            operations: &["GetBackups"],
            mutates: false,
            emulator_only: false,
            run: |ctx| Box::pin(backups_list(ctx)),
        },
        Scenario {
            name: "updates-repository",
            operations: &["GetUpdatesRepository", "GetUpdates"],
            mutates: false,
            emulator_only: false,
            run: |ctx| Box::pin(updates_repository(ctx)),
        },
        Scenario {
            name: "os-images-list",
            operations: &["GetOsImages"],
            mutates: false,
            emulator_only: false,
            run: |ctx| Box::pin(os_images_list(ctx)),
        },
        Scenario {
            name: "backup-requests-refused",
            operations: &["ManageBackup", "GetBackups"],
            mutates: true,
            emulator_only: false,
            run: |ctx| Box::pin(backup_requests_refused(ctx)),
        },
        Scenario {
            name: "copy-backup",
            operations: &[
                "ManageBackup",
                "GetJob",
                "GetJobs",
                "GetTasksByIds",
                "GetBackups",
            ],
            mutates: true,
            emulator_only: true,
            run: |ctx| Box::pin(copy_backup(ctx)),
        },
        Scenario {
            name: "move-backup",
            operations: &["ManageBackup", "GetJob", "GetBackups"],
            mutates: true,
            emulator_only: true,
            run: |ctx| Box::pin(move_backup(ctx)),
        },
        Scenario {
            name: "push-to-unreachable-fails",
            operations: &["ManageBackup", "GetJob", "GetBackups"],
            mutates: true,
            emulator_only: false,
            run: |ctx| Box::pin(push_to_unreachable_fails(ctx)),
        },
        Scenario {
            name: "push-cancelled",
            operations: &["ManageBackup", "CancelJob", "GetJob"],
            mutates: true,
            emulator_only: true,
            run: |ctx| Box::pin(push_cancelled(ctx)),
        },
        Scenario {
            name: "push-cancelled-by-action",
            operations: &["ManageBackup", "GetJob", "GetBackups"],
            mutates: true,
            emulator_only: true,
            run: |ctx| Box::pin(push_cancelled_by_action(ctx)),
        },
        Scenario {
            name: "import-backup",
            operations: &["ImportBackup", "GetBackups"],
            mutates: true,
            emulator_only: true,
            run: |ctx| Box::pin(import_backup_scenario(ctx)),
        },
        Scenario {
            name: "updates-refresh",
            operations: &["ManageUpdates", "GetJob"],
            mutates: true,
            emulator_only: false,
            run: |ctx| Box::pin(updates_refresh(ctx)),
        },
        Scenario {
            name: "updates-acquire-and-apply",
            operations: &[
                "ManageUpdates",
                "ApplyUpdates",
                "GetUpdates",
                "GetUpdatesRepository",
                "GetJob",
            ],
            mutates: true,
            emulator_only: true,
            run: |ctx| Box::pin(updates_acquire_and_apply(ctx)),
        },
        Scenario {
            name: "apply-fails-midway",
            operations: &["ApplyUpdates", "GetJob", "GetUpdatesRepository"],
            mutates: true,
            emulator_only: true,
            run: |ctx| Box::pin(apply_fails_midway(ctx)),
        },
        Scenario {
            name: "updates-import-and-delete",
            operations: &[
                "ManageUpdates",
                "ImportUpdateFiles",
                "GetUpdates",
                "DeleteUpdates",
                "GetJob",
            ],
            mutates: true,
            emulator_only: true,
            run: |ctx| Box::pin(updates_import_and_delete(ctx)),
        },
        Scenario {
            name: "os-image-import",
            operations: &[
                "CreateOsImageImportJob",
                "ImportOsImageFile",
                "GetOsImages",
                "DeleteOsImages",
                "CancelJob",
                "GetJob",
            ],
            mutates: true,
            emulator_only: false,
            run: |ctx| Box::pin(os_image_import(ctx)),
        },
        Scenario {
            name: "os-image-upload-rules",
            operations: &[
                "ImportOsImageFile",
                "CreateOsImageImportJob",
                "CancelTasks",
                "GetTasksByIds",
                "GetJob",
            ],
            mutates: true,
            emulator_only: false,
            run: |ctx| Box::pin(os_image_upload_rules(ctx)),
        },
        Scenario {
            name: "tasks-cancel-and-delete",
            operations: &[
                "CancelTasks",
                "DeleteTasks",
                "GetTasksByIds",
                "GetTasks",
                "CancelJob",
                "DeleteJob",
                "GetJob",
                "GetJobs",
            ],
            mutates: true,
            emulator_only: false,
            run: |ctx| Box::pin(tasks_cancel_and_delete(ctx)),
        },
        Scenario {
            name: "jobs-and-tasks-read",
            operations: &["GetTasks", "GetTasksByIds", "GetJobs", "GetJob"],
            mutates: false,
            emulator_only: false,
            run: |ctx| Box::pin(jobs_and_tasks_read(ctx)),
        },
    ]
}

// ---- clients and helpers --------------------------------------------------------------------

fn user(ctx: &Ctx) -> (String, String) {
    match &ctx.credentials {
        Credentials::Lxca { user, password, .. } => (user.clone(), password.clone()),
        other => panic!("lxca scenarios got {other:?}"),
    }
}

fn second_user(ctx: &Ctx) -> Option<(String, String)> {
    match &ctx.credentials {
        Credentials::Lxca { second, .. } => second.clone(),
        _ => None,
    }
}

/// A client that logs in with POST /sessions (cookies + X-Csrf-Token, as pylxca works); the
/// session is closed when the scenario ends.
fn session(ctx: &mut Ctx) -> Result<Client> {
    let (user, password) = user(ctx);
    let client = Client::from_builder(ctx.builder().auth(Auth::lxca_session(user, password)))
        .map_err(|e| anyhow!("client: {e}"))?;
    let closing = client.clone();
    ctx.on_cleanup("log out", move || {
        Box::pin(async move {
            closing.logout().await;
            Ok(())
        })
    });
    Ok(client)
}

/// A client that sends HTTP Basic on every request (the Ruby client's way).
fn basic(ctx: &Ctx) -> Result<Client> {
    let (user, password) = user(ctx);
    Client::from_builder(ctx.builder().auth(Auth::basic(user, password)))
        .map_err(|e| anyhow!("client: {e}"))
}

/// The second user's client, when the run has a second user.
fn second(ctx: &Ctx) -> Result<Option<Client>> {
    match second_user(ctx) {
        Some((user, password)) => Ok(Some(
            Client::from_builder(ctx.builder().auth(Auth::basic(user, password)))
                .map_err(|e| anyhow!("client: {e}"))?,
        )),
        None => Ok(None),
    }
}

/// A typed body from JSON.
fn body<T: DeserializeOwned>(value: Value) -> Result<T> {
    serde_json::from_value(value.clone()).with_context(|| format!("not a valid body: {value}"))
}

/// The status and JSON body of the last call of `op` in this scenario.
fn answer(ctx: &Ctx, op: &str) -> (u16, Value) {
    ctx.last(op)
        .and_then(|e| e.response)
        .map(|r| (r.status, r.json().unwrap_or(Value::Null)))
        .unwrap_or((0, Value::Null))
}

/// The first message id of the last answer of `op` (an error envelope's).
fn message_id(ctx: &Ctx, op: &str) -> String {
    answer(ctx, op).1["messages"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Sends a generated request after `change` and decodes the answer with the generated decoder:
/// for what the typed methods cannot send (a wrong CSRF token, an invalid body or query value).
// The error type is the generated client's, as every generated decoder returns it.
#[allow(clippy::result_large_err)]
async fn send<E>(
    client: &Client,
    request: std::result::Result<ApiRequest, codegen_runtime::Error<E>>,
    change: impl FnOnce(ApiRequest) -> ApiRequest,
) {
    // The answer is read from the tap's log (`ctx.expect_status`), not decoded here.
    let keep = |response: ApiResponse| Ok::<_, codegen_runtime::Error<E>>(response);
    let _ = client
        .raw()
        .call(request.map(change), codegen_runtime::read_all, keep)
        .await;
}

/// A session request whose X-Csrf-Token is not the session's.
fn wrong_csrf(request: ApiRequest) -> ApiRequest {
    request
        .header("x-csrf-token", "conformance-wrong-token")
        .expect("a valid header")
}

/// Replaces the JSON body.
fn json_body(value: Value) -> impl FnOnce(ApiRequest) -> ApiRequest {
    move |mut request| {
        request.body = ApiBody::Json(serde_json::to_vec(&value).unwrap_or_default().into());
        request
    }
}

/// Sets a query parameter to `value`, whatever its type says.
fn query(name: &'static str, value: &'static str) -> impl FnOnce(ApiRequest) -> ApiRequest {
    move |mut request| {
        request.query.retain(|(n, _)| n != name);
        request.query.push((name.to_string(), value.to_string()));
        request
    }
}

/// The state a job ends in, polling GET /jobs/{id} (a read that fails ends the poll with
/// `error <status>`).
async fn follow(ctx: &Ctx, client: &Client, id: &str) -> Result<String> {
    ctx.poll(Duration::from_secs(2), || async {
        let options = get_job::Options::default();
        match client.get_job(id, &options).await {
            Ok(get_job::Success::Ok(job)) => {
                let state = job.status.state.as_str().to_string();
                (!RUNNING.contains(&state.as_str())).then_some(state)
            }
            Err(codegen_runtime::Error::Api { status, .. }) => Some(format!("error {status}")),
            Err(e) => Some(format!("error {e}")),
        }
    })
    .await
    .with_context(|| format!("the job {id} did not end before the deadline"))
}

/// The job's state now.
async fn state_of(client: &Client, id: &str) -> String {
    match client.get_job(id, &get_job::Options::default()).await {
        Ok(get_job::Success::Ok(job)) => job.status.state.as_str().to_string(),
        Err(e) => format!("error {e}"),
    }
}

/// Every backup listed.
async fn backups(ctx: &Ctx, client: &Client) -> Result<Vec<Value>> {
    client
        .get_backups()
        .await
        .map_err(|e| anyhow!("GET /managementServer/data: {e}"))?;
    Ok(answer(ctx, "GetBackups").1["backups"]
        .as_array()
        .cloned()
        .unwrap_or_default())
}

fn uuid_of(backup: &Value) -> String {
    backup["uuid"].as_str().unwrap_or_default().to_string()
}

/// Starts a backup operation: its job id.
async fn start_backup(
    ctx: &mut Ctx,
    client: &Client,
    request: Value,
    what: &str,
) -> Result<String> {
    let started = client.manage_backup(&body(request)?).await;
    ctx.expect_status("ManageBackup", &format!("{what} is accepted"), 200);
    let manage_backup::Success::Ok(reply) = started.map_err(|e| anyhow!("{what}: {e}"))?;
    reply
        .job_id
        .filter(|id| !id.is_empty())
        .with_context(|| format!("{what}: no jobId in the answer"))
}

/// The OS images repository as the appliance lists it (the typed answer keeps only
/// `bootFiles`).
async fn os_listing(client: &Client) -> Result<Value> {
    let request = Client::request_get_os_images(&get_os_images::Options::default())
        .map_err(|e| anyhow!("{e}"))?;
    let response = client
        .raw()
        .send(request)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let bytes = response.bytes().await.map_err(|e| anyhow!("{e}"))?;
    serde_json::from_slice(&bytes).context("GET /osImages answered no JSON")
}

/// The file of that name in any list of the OS images repository.
fn find_file(listing: &Value, name: &str) -> Option<Value> {
    listing
        .as_object()?
        .values()
        .filter_map(Value::as_array)
        .flatten()
        .find(|item| item["name"] == name)
        .cloned()
}

/// Every item of every list of the OS images repository.
fn all_files(listing: &Value) -> Vec<Value> {
    listing
        .as_object()
        .map(|o| {
            o.values()
                .filter_map(Value::as_array)
                .flatten()
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

/// Starts an OS images import job of `image_type`: its id.
async fn import_job(
    ctx: &mut Ctx,
    client: &Client,
    image_type: types::ImageType,
    size: usize,
) -> Result<String> {
    let created = client
        .create_os_image_import_job(
            &body(json!({"Action": "Init", "fileSize": size}))?,
            &create_os_image_import_job::Options {
                image_type: Some(image_type),
                ..Default::default()
            },
        )
        .await;
    ctx.expect_status("CreateOsImageImportJob", "an import job is created", 200);
    let create_os_image_import_job::Success::Ok(job) =
        created.map_err(|e| anyhow!("POST /osImages: {e}"))?;
    Ok(job.job_id)
}

/// Cancels `id` when the scenario ends if it is still running, then deletes its record: a live
/// appliance keeps no job of ours.
fn cancel_when_done(ctx: &mut Ctx, client: &Client, id: &str) {
    let client = client.clone();
    let id = id.to_string();
    ctx.on_cleanup(&format!("cancel and delete job {id}"), move || {
        Box::pin(async move {
            if RUNNING.contains(&state_of(&client, &id).await.as_str()) {
                let _ = client.cancel_job(&id, &cancel_request()).await;
            }
            // The job's record is something the run created too: gone once it has ended.
            let _ = client.delete_job(&id).await;
            Ok(())
        })
    });
}

/// Removes the OS images repository file `name` when the scenario ends, if it is there.
fn delete_file_when_done(ctx: &mut Ctx, client: &Client, name: &str) {
    let client = client.clone();
    let name = name.to_string();
    ctx.on_cleanup(&format!("delete {name}"), move || {
        Box::pin(async move {
            let listing = os_listing(&client).await?;
            if let Some(id) =
                find_file(&listing, &name).and_then(|f| f["id"].as_str().map(str::to_string))
            {
                client
                    .delete_os_images(&[id])
                    .await
                    .map_err(|e| anyhow!("DELETE /osImages: {e}"))?;
            }
            Ok(())
        })
    });
}

fn cancel_request() -> types::CancelJobRequest {
    types::CancelJobRequest {
        cancel_request: types::CancelJobRequestCancelRequest::True,
    }
}

fn cancel_tasks_request(list: &[&str]) -> types::CancelTasksRequest {
    types::CancelTasksRequest {
        action: types::CancelTasksRequestAction::Cancel,
        list: list.iter().map(|s| s.to_string()).collect(),
    }
}

/// A multipart body with one OS images repository file, optionally with its checksum.
fn os_file(
    name: &str,
    content: &[u8],
    checksum: Option<(&str, &str)>,
) -> import_os_image_file::Body {
    let mut form = MultipartForm::new();
    if let Some((kind, value)) = checksum {
        form = form.text("checksumType", kind).text("checksumValue", value);
    }
    form = form.bytes(
        "uploadedfile",
        Some(name.to_string()),
        "application/octet-stream",
        content.to_vec().into(),
    );
    import_os_image_file::Body::Multipart(form)
}

fn script_options(os: Option<&str>) -> import_os_image_file::Options {
    import_os_image_file::Options {
        image_type: Some(types::ImageType::Script),
        os: os.map(str::to_string),
        ..Default::default()
    }
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// The cookies an answer set, as (name, value).
fn set_cookies(exchange: &Exchange) -> Vec<(String, String)> {
    exchange
        .response
        .iter()
        .flat_map(|r| r.headers.iter())
        .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
        .filter_map(|(_, v)| {
            let (name, value) = v.split(';').next()?.split_once('=')?;
            Some((
                name.trim().to_string(),
                value.trim().trim_matches('"').to_string(),
            ))
        })
        .collect()
}

// ---- sessions -------------------------------------------------------------------------------

async fn sessions(ctx: &mut Ctx) -> Result<()> {
    let (user, password) = user(ctx);
    let anonymous = Client::from_builder(ctx.builder()).map_err(|e| anyhow!("{e}"))?;
    let login: types::CreateSessionRequest = body(json!({"UserId": user, "password": password}))?;
    let opened = anonymous.create_session(&login).await;
    ctx.expect_status(
        "CreateSession",
        "the user's credentials open a session",
        200,
    );
    let (_, reply) = answer(ctx, "CreateSession");
    ctx.check(
        "CreateSession",
        "the login answers result success",
        reply["result"] == "success",
        &reply["result"],
    );
    opened.map_err(|e| anyhow!("POST /sessions: {e}"))?;
    let cookies = ctx
        .last("CreateSession")
        .map(|e| set_cookies(&e))
        .unwrap_or_default();
    let cookie = |name: &str| {
        cookies
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let (Some(session_id), Some(csrf)) = (cookie("JSESSIONID"), cookie("csrf")) else {
        ctx.check(
            "CreateSession",
            "the login sets the JSESSIONID and csrf cookies",
            false,
            format!(
                "cookies set: {:?}",
                cookies.iter().map(|(n, _)| n).collect::<Vec<_>>()
            ),
        );
        return Ok(());
    };
    ctx.check(
        "CreateSession",
        "the login sets the JSESSIONID and csrf cookies",
        true,
        "",
    );
    if let Some(in_body) = reply
        .pointer("/response/session/csrf")
        .and_then(Value::as_str)
    {
        ctx.check(
            "CreateSession",
            "the body's session csrf is the csrf cookie",
            in_body == csrf,
            "",
        );
    }
    // The session by hand: its cookies and X-Csrf-Token on every request.
    let jar = format!("JSESSIONID={session_id}; csrf={csrf}");
    let manual = Client::from_builder(
        ctx.builder()
            .default_header("cookie", &jar)
            .default_header("x-csrf-token", &csrf),
    )
    .map_err(|e| anyhow!("{e}"))?;
    let aicc = manual.get_aicc().await;
    ctx.expect_status(
        "GetAicc",
        "the session's cookies and token are accepted",
        200,
    );
    if let Ok(lxca::client::get_aicc::Success::Ok(_)) = aicc {
        let (_, info) = answer(ctx, "GetAicc");
        ctx.check(
            "GetAicc",
            "GET /aicc answers the appliance object",
            info["appliance"].is_object(),
            &info,
        );
    }
    send(&manual, Client::request_get_aicc(), wrong_csrf).await;
    ctx.expect_status(
        "GetAicc",
        "a session request with a wrong X-Csrf-Token is refused",
        403,
    );
    send(&manual, Client::request_delete_session(), wrong_csrf).await;
    ctx.expect_status(
        "DeleteSession",
        "a logout with a wrong X-Csrf-Token is refused",
        403,
    );
    let _ = manual.get_aicc().await;
    ctx.expect_status("GetAicc", "a refused logout leaves the session open", 200);
    let _ = manual.delete_session().await;
    ctx.expect_status("DeleteSession", "DELETE /sessions logs out", 200);
    let _ = manual.get_aicc().await;
    ctx.expect_status("GetAicc", "the closed session is refused", 401);

    let wrong: types::CreateSessionRequest =
        body(json!({"UserId": user, "password": "not-the-password"}))?;
    let _ = anonymous.create_session(&wrong).await;
    ctx.expect_status("CreateSession", "a wrong password is refused", 401);
    if ctx
        .last("CreateSession")
        .and_then(|e| e.response)
        .map(|r| r.status)
        == Some(401)
    {
        let refused_cookies = ctx
            .last("CreateSession")
            .map(|e| set_cookies(&e))
            .unwrap_or_default();
        ctx.check(
            "CreateSession",
            "a refused login sets no session cookie",
            !refused_cookies.iter().any(|(n, _)| n == "JSESSIONID"),
            format!("{refused_cookies:?}"),
        );
    }
    send(
        &anonymous,
        Client::request_create_session(&login),
        json_body(json!({"UserId": user})),
    )
    .await;
    ctx.expect_status("CreateSession", "a login without password is a 400", 400);

    let basic = basic(ctx)?;
    let _ = basic.get_aicc().await;
    ctx.expect_status("GetAicc", "HTTP Basic is accepted on any request", 200);
    let _ = basic.delete_session().await;
    ctx.expect_status(
        "DeleteSession",
        "DELETE /sessions with HTTP Basic answers 200",
        200,
    );
    Ok(())
}

// ---- the CSRF token -------------------------------------------------------------------------

async fn csrf_required_reads(ctx: &mut Ctx) -> Result<()> {
    let client = session(ctx)?;
    // Opens the session.
    client
        .get_aicc()
        .await
        .map_err(|e| anyhow!("GET /aicc: {e}"))?;
    let what = "a session request with a wrong X-Csrf-Token is refused";
    send(&client, Client::request_get_aicc(), wrong_csrf).await;
    ctx.expect_status("GetAicc", what, 403);
    send(&client, Client::request_get_backups(), wrong_csrf).await;
    ctx.expect_status("GetBackups", what, 403);
    send(
        &client,
        Client::request_get_updates_repository(&Default::default()),
        wrong_csrf,
    )
    .await;
    ctx.expect_status("GetUpdatesRepository", what, 403);
    send(
        &client,
        Client::request_get_updates(&[UNKNOWN_UPDATE.to_string()], &Default::default()),
        wrong_csrf,
    )
    .await;
    ctx.expect_status("GetUpdates", what, 403);
    send(
        &client,
        Client::request_get_os_images(&Default::default()),
        wrong_csrf,
    )
    .await;
    ctx.expect_status("GetOsImages", what, 403);
    send(
        &client,
        Client::request_get_tasks(&Default::default()),
        wrong_csrf,
    )
    .await;
    ctx.expect_status("GetTasks", what, 403);
    send(
        &client,
        Client::request_get_tasks_by_ids(&[UNKNOWN_JOB.to_string()], &Default::default()),
        wrong_csrf,
    )
    .await;
    ctx.expect_status("GetTasksByIds", what, 403);
    send(
        &client,
        Client::request_get_jobs(&Default::default()),
        wrong_csrf,
    )
    .await;
    ctx.expect_status("GetJobs", what, 403);
    send(
        &client,
        Client::request_get_job(UNKNOWN_JOB, &Default::default()),
        wrong_csrf,
    )
    .await;
    ctx.expect_status("GetJob", what, 403);
    let _ = client.get_aicc().await;
    ctx.expect_status("GetAicc", "the session survives refused requests", 200);
    Ok(())
}

async fn csrf_required_writes(ctx: &mut Ctx) -> Result<()> {
    let client = session(ctx)?;
    let (user, _) = user(ctx);
    let ours = |jobs: Vec<types::Job>| {
        jobs.iter()
            .filter(|j| j.created_by.as_deref() == Some(user.as_str()))
            .count()
    };
    let jobs_before = match client.get_jobs(&Default::default()).await {
        Ok(get_jobs::Success::Ok(jobs)) => ours(jobs),
        Err(e) => bail!("GET /jobs: {e}"),
    };
    let what = "a session request with a wrong X-Csrf-Token is refused";
    // Each request is harmless should the appliance accept it: unknown ids, a refresh.
    let copy: types::ManageBackupRequest = body(json!({
        "action": "start", "destination": "internal", "operation": "copy", "uuid": UNKNOWN_BACKUP
    }))?;
    send(&client, Client::request_manage_backup(&copy), wrong_csrf).await;
    ctx.expect_status("ManageBackup", what, 403);
    send(
        &client,
        Client::request_import_backup(
            &types::ImportBackupAction::Process,
            import_backup::Body::Json(body(json!({"passphrase": "csrf-probe-passphrase"}))?),
        ),
        wrong_csrf,
    )
    .await;
    ctx.expect_status("ImportBackup", what, 403);
    send(
        &client,
        Client::request_apply_updates(
            &types::ApplyUpdatesAction::Apply,
            &body(json!({"fixids": [UNKNOWN_UPDATE]}))?,
        ),
        wrong_csrf,
    )
    .await;
    ctx.expect_status("ApplyUpdates", what, 403);
    send(
        &client,
        Client::request_manage_updates(
            &types::ManageUpdatesAction::Refresh,
            &body(json!({"mts": ["lxca"]}))?,
        ),
        wrong_csrf,
    )
    .await;
    ctx.expect_status("ManageUpdates", what, 403);
    send(
        &client,
        Client::request_delete_updates(&[UNKNOWN_UPDATE.to_string()]),
        wrong_csrf,
    )
    .await;
    ctx.expect_status("DeleteUpdates", what, 403);
    let form = MultipartForm::new().bytes(
        "uploadedfile[]",
        Some("conformance.xml".into()),
        "text/xml",
        b"<xml/>".to_vec().into(),
    );
    send(
        &client,
        Client::request_import_update_files(
            &types::ImportUpdateFilesAction::Import,
            UNKNOWN_JOB,
            form,
        ),
        wrong_csrf,
    )
    .await;
    ctx.expect_status("ImportUpdateFiles", what, 403);
    send(
        &client,
        Client::request_create_os_image_import_job(
            &body(json!({"Action": "Init"}))?,
            &create_os_image_import_job::Options {
                image_type: Some(types::ImageType::Script),
                ..Default::default()
            },
        ),
        wrong_csrf,
    )
    .await;
    ctx.expect_status("CreateOsImageImportJob", what, 403);
    send(
        &client,
        Client::request_delete_os_images(&["conformance-no-such-image".to_string()]),
        wrong_csrf,
    )
    .await;
    ctx.expect_status("DeleteOsImages", what, 403);
    send(
        &client,
        Client::request_import_os_image_file(
            UNKNOWN_JOB,
            os_file("conformance.sh", b"#!/bin/sh\n", None),
            &script_options(Some("rhel")),
        ),
        wrong_csrf,
    )
    .await;
    ctx.expect_status("ImportOsImageFile", what, 403);
    send(
        &client,
        Client::request_cancel_tasks(&cancel_tasks_request(&[UNKNOWN_JOB])),
        wrong_csrf,
    )
    .await;
    ctx.expect_status("CancelTasks", what, 403);
    send(
        &client,
        Client::request_delete_tasks(&[UNKNOWN_JOB.to_string()]),
        wrong_csrf,
    )
    .await;
    ctx.expect_status("DeleteTasks", what, 403);
    send(
        &client,
        Client::request_cancel_job(UNKNOWN_JOB, &cancel_request()),
        wrong_csrf,
    )
    .await;
    ctx.expect_status("CancelJob", what, 403);
    send(&client, Client::request_delete_job(UNKNOWN_JOB), wrong_csrf).await;
    ctx.expect_status("DeleteJob", what, 403);
    let jobs_after = match client.get_jobs(&Default::default()).await {
        Ok(get_jobs::Success::Ok(jobs)) => ours(jobs),
        Err(e) => bail!("GET /jobs: {e}"),
    };
    ctx.check(
        "ManageUpdates",
        "refused requests start no job",
        jobs_after == jobs_before,
        format!("{jobs_before} jobs of {user} before, {jobs_after} after"),
    );
    Ok(())
}

// ---- read-only listings ---------------------------------------------------------------------

async fn backups_list(ctx: &mut Ctx) -> Result<()> {
    let client = basic(ctx)?;
    let list = backups(ctx, &client).await?;
    ctx.expect_status("GetBackups", "the backups are listed", 200);
    let (_, reply) = answer(ctx, "GetBackups");
    ctx.check(
        "GetBackups",
        "the answer is {\"backups\": [...]}",
        reply["backups"].is_array(),
        &reply,
    );
    let mut uuids: Vec<String> = list.iter().map(uuid_of).collect();
    ctx.check(
        "GetBackups",
        "every backup has a uuid and a location",
        list.iter().all(|b| {
            !uuid_of(b).is_empty() && b["location"].as_str().is_some_and(|l| !l.is_empty())
        }),
        format!("{list:?}"),
    );
    let count = uuids.len();
    uuids.sort();
    uuids.dedup();
    ctx.check(
        "GetBackups",
        "uuids are unique",
        uuids.len() == count,
        format!("{count} backups, {} uuids", uuids.len()),
    );
    Ok(())
}

async fn updates_repository(ctx: &mut Ctx) -> Result<()> {
    let client = basic(ctx)?;
    let _ = client.get_updates_repository(&Default::default()).await;
    ctx.expect_status(
        "GetUpdatesRepository",
        "the updates repository is described",
        200,
    );
    let (_, all) = answer(ctx, "GetUpdatesRepository");
    ctx.check(
        "GetUpdatesRepository",
        "without key the answer has the current version and the updates",
        all["currentVersion"].is_string() && all["updates"].is_array(),
        &all,
    );
    use types::GetUpdatesRepositoryKey as K;
    for (key, member) in [
        (K::CurrentVersion, "currentVersion"),
        (K::History, "history"),
        (K::ImportDir, "importDir"),
        (K::Size, "size"),
        (K::Updates, "updates"),
        (K::UpdatedDate, "updatedDate"),
    ] {
        let _ = client
            .get_updates_repository(&get_updates_repository::Options { key: Some(key) })
            .await;
        let (status, reply) = answer(ctx, "GetUpdatesRepository");
        let members: Vec<&String> = reply
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        ctx.check(
            "GetUpdatesRepository",
            &format!("key={member} answers {member} alone"),
            status == 200 && members == [member],
            format!("{status}: {members:?}"),
        );
    }
    let _ = client
        .get_updates_repository(&get_updates_repository::Options { key: Some(K::All) })
        .await;
    ctx.expect_status("GetUpdatesRepository", "key=all is accepted", 200);
    let _ = client
        .get_updates_repository(&get_updates_repository::Options {
            key: Some(K::Unknown("bogus".into())),
        })
        .await;
    ctx.expect_status("GetUpdatesRepository", "an unknown key is a 400", 400);

    let packages = all["updates"].as_array().cloned().unwrap_or_default();
    let Some(package) = packages.first() else {
        ctx.check(
            "GetUpdates",
            "the repository lists no update to read",
            true,
            "",
        );
        return Ok(());
    };
    let fix = package["fixid"].as_str().unwrap_or_default().to_string();
    let ids = [fix.clone()];
    let _ = client.get_updates(&ids, &Default::default()).await;
    ctx.expect_status(
        "GetUpdates",
        "an update of the repository is described",
        200,
    );
    let (_, info) = answer(ctx, "GetUpdates");
    ctx.check(
        "GetUpdates",
        "its update[] names it",
        info["update"][0]["fixid"] == fix.as_str(),
        &info,
    );
    let _ = client
        .get_updates(
            &ids,
            &get_updates::Options {
                key: Some(types::GetUpdatesKey::Update),
                ..Default::default()
            },
        )
        .await;
    let (status, info) = answer(ctx, "GetUpdates");
    ctx.check(
        "GetUpdates",
        "key=update answers update[] without actions",
        status == 200 && info["update"].is_array() && info.get("actions").is_none(),
        format!("{status}: {info}"),
    );
    let _ = client
        .get_updates(
            &ids,
            &get_updates::Options {
                action: Some(types::GetUpdatesAction::Status),
                ..Default::default()
            },
        )
        .await;
    ctx.expect_status("GetUpdates", "action=status is answered", 200);
    if package["readme"] == "true" {
        let _ = client
            .get_updates(
                &ids,
                &get_updates::Options {
                    filetype: Some(types::GetUpdatesFiletype::Readme),
                    ..Default::default()
                },
            )
            .await;
        let (status, file) = answer(ctx, "GetUpdates");
        ctx.check(
            "GetUpdates",
            "filetype=readme answers the readme of that update",
            status == 200 && file["field"] == "readme" && file["fixid"] == fix.as_str(),
            format!("{status}: {file}"),
        );
    }
    let _ = client
        .get_updates(
            &[fix.clone(), UNKNOWN_UPDATE.to_string()],
            &get_updates::Options {
                key: Some(types::GetUpdatesKey::Update),
                ..Default::default()
            },
        )
        .await;
    let (status, info) = answer(ctx, "GetUpdates");
    let listed: Vec<&str> = info["update"]
        .as_array()
        .map(|a| a.iter().filter_map(|u| u["fixid"].as_str()).collect())
        .unwrap_or_default();
    ctx.check(
        "GetUpdates",
        "an unknown id in the list is left out",
        status == 200 && listed == [fix.as_str()],
        format!("{status}: {listed:?}"),
    );
    let _ = client
        .get_updates(
            &ids,
            &get_updates::Options {
                key: Some(types::GetUpdatesKey::Update),
                filetype: Some(types::GetUpdatesFiletype::Readme),
                ..Default::default()
            },
        )
        .await;
    ctx.expect_status("GetUpdates", "key and filetype together are a 400", 400);
    Ok(())
}

async fn os_images_list(ctx: &mut Ctx) -> Result<()> {
    let client = basic(ctx)?;
    let _ = client.get_os_images(&Default::default()).await;
    ctx.expect_status("GetOsImages", "the OS images repository is listed", 200);
    let (_, listing) = answer(ctx, "GetOsImages");
    ctx.check(
        "GetOsImages",
        "the listing is an object of lists",
        listing.is_object(),
        &listing,
    );
    let files = all_files(&listing);
    if let Some(id) = files.iter().find_map(|f| f["id"].as_str()) {
        let _ = client
            .get_os_images(&get_os_images::Options {
                id: Some(vec![id.to_string()]),
                ..Default::default()
            })
            .await;
        let (status, filtered) = answer(ctx, "GetOsImages");
        let listed = all_files(&filtered);
        ctx.check(
            "GetOsImages",
            "id=<id> lists that file only",
            status == 200 && !listed.is_empty() && listed.iter().all(|f| f["id"] == id),
            format!("{status}: {filtered}"),
        );
    }
    let _ = client
        .get_os_images(&get_os_images::Options {
            image_type: Some(types::GetOsImagesImageType::Osprofile),
            ..Default::default()
        })
        .await;
    ctx.expect_status("GetOsImages", "imageType=OSPROFILE is accepted", 200);
    let _ = client
        .get_os_images(&get_os_images::Options {
            image_type: Some(types::GetOsImagesImageType::Unknown("BOGUS".into())),
            ..Default::default()
        })
        .await;
    ctx.expect_status("GetOsImages", "an unknown imageType is a 400", 400);
    Ok(())
}

// ---- backups --------------------------------------------------------------------------------

async fn backup_requests_refused(ctx: &mut Ctx) -> Result<()> {
    let client = session(ctx)?;
    let before = backups(ctx, &client).await?;
    let copy: types::ManageBackupRequest = body(json!({
        "action": "start", "destination": "internal", "operation": "copy", "uuid": UNKNOWN_BACKUP
    }))?;
    let _ = client.manage_backup(&copy).await;
    ctx.expect_status("ManageBackup", "a copy of an unknown backup is a 400", 400);
    for (invalid, what) in [
        (
            json!({"action": "start", "destination": "relative/share", "operation": "copy", "uuid": UNKNOWN_BACKUP}),
            "a destination that is neither internal nor a mount point is a 400",
        ),
        (
            json!({"action": "start", "destination": "internal", "operation": "copy"}),
            "a copy without uuid is a 400",
        ),
        (
            json!({"action": "cancel", "operation": "push", "destination": UNREACHABLE}),
            "a cancel with a destination is a 400",
        ),
        (
            json!({"action": "start", "destination": "internal", "operation": "delete", "uuid": UNKNOWN_BACKUP}),
            "an unknown operation is a 400",
        ),
    ] {
        send(
            &client,
            Client::request_manage_backup(&copy),
            json_body(invalid),
        )
        .await;
        ctx.expect_status("ManageBackup", what, 400);
    }
    let after = backups(ctx, &client).await?;
    ctx.check(
        "ManageBackup",
        "refused requests leave the backups alone",
        after == before,
        format!("{} before, {} after", before.len(), after.len()),
    );
    Ok(())
}

/// A backup in `location` (`internal`) or on a share (`None`).
fn pick(list: &[Value], internal: bool) -> Option<Value> {
    list.iter()
        .find(|b| {
            let location = b["location"].as_str().unwrap_or_default();
            if internal {
                location == "internal"
            } else {
                location.starts_with('/')
            }
        })
        .cloned()
}

async fn copy_backup(ctx: &mut Ctx) -> Result<()> {
    let client = session(ctx)?;
    let list = backups(ctx, &client).await?;
    let original = pick(&list, true).context("no backup in the local repository")?;
    let share = pick(&list, false)
        .and_then(|b| b["location"].as_str().map(str::to_string))
        .context("no remote share holds a backup")?;
    let uuid = uuid_of(&original);
    let id = start_backup(
        ctx,
        &client,
        json!({"action": "start", "destination": share, "operation": "copy", "uuid": uuid}),
        "a copy to a remote share",
    )
    .await?;
    let now = state_of(&client, &id).await;
    ctx.check(
        "GetJob",
        "the copy job runs",
        RUNNING.contains(&now.as_str()),
        &now,
    );
    let _ = client
        .get_tasks_by_ids(std::slice::from_ref(&id), &Default::default())
        .await;
    let (status, tasks) = answer(ctx, "GetTasksByIds");
    ctx.check(
        "GetTasksByIds",
        "the job is a task with its subtasks",
        status == 200
            && tasks[0]["jobUID"] == id.as_str()
            && tasks[0]["children"]
                .as_array()
                .is_some_and(|c| !c.is_empty()),
        format!("{status}: {tasks}"),
    );
    let _ = client
        .get_tasks_by_ids(
            std::slice::from_ref(&id),
            &get_tasks_by_ids::Options {
                compact: Some(true),
            },
        )
        .await;
    let (status, tasks) = answer(ctx, "GetTasksByIds");
    ctx.check(
        "GetTasksByIds",
        "compact=true leaves the subtasks out",
        status == 200 && tasks[0].get("children").is_none(),
        format!("{status}: {tasks}"),
    );
    let _ = client
        .get_jobs(&get_jobs::Options {
            uuid: Some(uuid.clone()),
            ..Default::default()
        })
        .await;
    let (status, jobs) = answer(ctx, "GetJobs");
    let ids: Vec<&str> = jobs
        .as_array()
        .map(|a| a.iter().filter_map(|j| j["id"].as_str()).collect())
        .unwrap_or_default();
    ctx.check(
        "GetJobs",
        "uuid=<backup> lists the job acting on it",
        status == 200 && ids.contains(&id.as_str()),
        format!("{status}: {ids:?}"),
    );
    let end = follow(ctx, &client, &id).await?;
    ctx.check(
        "ManageBackup",
        "the copy job completes",
        end == "Complete",
        &end,
    );
    let after = backups(ctx, &client).await?;
    ctx.check(
        "ManageBackup",
        "the original stays in the local repository",
        after
            .iter()
            .any(|b| uuid_of(b) == uuid && b["location"] == "internal"),
        format!("{after:?}"),
    );
    ctx.check(
        "ManageBackup",
        "the copy is listed on the share",
        after.iter().any(|b| {
            uuid_of(b) != uuid
                && b["location"] == share.as_str()
                && b["filename"] == original["filename"]
        }),
        format!("{after:?}"),
    );
    Ok(())
}

async fn move_backup(ctx: &mut Ctx) -> Result<()> {
    let client = session(ctx)?;
    let list = backups(ctx, &client).await?;
    let original = pick(&list, false).context("no backup on a remote share")?;
    let uuid = uuid_of(&original);
    let id = start_backup(
        ctx,
        &client,
        json!({"action": "start", "destination": "internal", "operation": "move", "uuid": uuid}),
        "a move to the local repository",
    )
    .await?;
    let end = follow(ctx, &client, &id).await?;
    ctx.check(
        "ManageBackup",
        "the move job completes",
        end == "Complete",
        &end,
    );
    let after = backups(ctx, &client).await?;
    ctx.check(
        "ManageBackup",
        "the original is gone after a move",
        !after.iter().any(|b| uuid_of(b) == uuid),
        format!("{after:?}"),
    );
    let moved: Vec<&Value> = after
        .iter()
        .filter(|b| b["filename"] == original["filename"])
        .collect();
    ctx.check(
        "ManageBackup",
        "the moved backup is listed in the local repository",
        moved.len() == 1 && moved[0]["location"] == "internal",
        format!("{moved:?}"),
    );
    Ok(())
}

async fn push_to_unreachable_fails(ctx: &mut Ctx) -> Result<()> {
    let client = session(ctx)?;
    let list = backups(ctx, &client).await?;
    let backup = list.first().context("the appliance lists no backup")?;
    let uuid = uuid_of(backup);
    let id = start_backup(
        ctx,
        &client,
        json!({"action": "start", "destination": UNREACHABLE, "operation": "push", "uuid": uuid}),
        "a push to an address where no appliance answers",
    )
    .await?;
    cancel_when_done(ctx, &client, &id);
    let end = follow(ctx, &client, &id).await?;
    ctx.check(
        "ManageBackup",
        "a push to an unreachable address fails",
        end == "Stopped_With_Error" || end == "Interrupted",
        &end,
    );
    let (_, job) = answer(ctx, "GetJob");
    ctx.check(
        "GetJob",
        "the failed job says why",
        job["status"]["description"]
            .as_array()
            .is_some_and(|d| !d.is_empty()),
        &job["status"],
    );
    let after = backups(ctx, &client).await?;
    ctx.check(
        "ManageBackup",
        "a failed push leaves the backups alone",
        after.len() == list.len(),
        format!("{} before, {} after", list.len(), after.len()),
    );
    Ok(())
}

async fn push_cancelled(ctx: &mut Ctx) -> Result<()> {
    let (user, _) = user(ctx);
    let client = session(ctx)?;
    let list = backups(ctx, &client).await?;
    let uuid = uuid_of(list.first().context("no backup")?);
    let push =
        json!({"action": "start", "destination": REACHABLE, "operation": "push", "uuid": uuid});
    let id = start_backup(
        ctx,
        &client,
        push.clone(),
        "a push to a reachable appliance",
    )
    .await?;
    ctx.pace.advance(Duration::from_secs(10)).await;
    let now = state_of(&client, &id).await;
    ctx.check("GetJob", "the push runs", now == "Running", &now);
    let _ = client.manage_backup(&body(push)?).await;
    ctx.expect_status("ManageBackup", "a second push while one runs is a 400", 400);
    let _ = client.cancel_job(&id, &cancel_request()).await;
    if ctx.expect_status("CancelJob", "a running push is cancelled", 200) {
        let location = ctx
            .last("CancelJob")
            .and_then(|e| e.response)
            .and_then(|r| r.header("location").map(str::to_string))
            .unwrap_or_default();
        ctx.check(
            "CancelJob",
            "the answer's Location is the job",
            location.ends_with(&format!("/jobs/{id}")),
            &location,
        );
    }
    let end = follow(ctx, &client, &id).await?;
    ctx.check(
        "CancelJob",
        "the cancelled push ends Cancelled",
        end == "Cancelled",
        &end,
    );
    let (_, job) = answer(ctx, "GetJob");
    ctx.check(
        "CancelJob",
        "cancelledBy names the user",
        job["cancelledBy"] == user.as_str(),
        &job["cancelledBy"],
    );
    let _ = client.cancel_job(&id, &cancel_request()).await;
    ctx.expect_status("CancelJob", "cancelling a finished job is a 409", 409);
    let _ = client
        .manage_backup(&body(json!({"action": "cancel", "operation": "push"}))?)
        .await;
    ctx.expect_status(
        "ManageBackup",
        "action=cancel with no push in progress is a 400",
        400,
    );
    ctx.pace.advance(Duration::from_secs(120)).await;
    let later = state_of(&client, &id).await;
    ctx.check(
        "GetJob",
        "a cancelled job stays cancelled",
        later == "Cancelled",
        &later,
    );
    Ok(())
}

/// The documented way to stop a push: ManageBackup with `action=cancel`, which names no job and
/// answers no `jobId`.
async fn push_cancelled_by_action(ctx: &mut Ctx) -> Result<()> {
    let (user, _) = user(ctx);
    let client = session(ctx)?;
    let before = backups(ctx, &client).await?;
    let uuid = uuid_of(before.first().context("no backup")?);
    let id = start_backup(
        ctx,
        &client,
        json!({"action": "start", "destination": REACHABLE, "operation": "push", "uuid": uuid}),
        "a push to a reachable appliance",
    )
    .await?;
    cancel_when_done(ctx, &client, &id);
    ctx.pace.advance(Duration::from_secs(10)).await;
    let now = state_of(&client, &id).await;
    ctx.check("GetJob", "the push runs", now == "Running", &now);
    let _ = client
        .manage_backup(&body(json!({"action": "cancel", "operation": "push"}))?)
        .await;
    if ctx.expect_status(
        "ManageBackup",
        "action=cancel while a push runs is accepted",
        200,
    ) {
        let (_, reply) = answer(ctx, "ManageBackup");
        ctx.check(
            "ManageBackup",
            "the cancel's answer is a success without jobId",
            reply["result"] == "success" && reply.get("jobId").is_none_or(Value::is_null),
            &reply,
        );
    }
    let end = follow(ctx, &client, &id).await?;
    ctx.check(
        "ManageBackup",
        "the push cancelled by action=cancel ends Cancelled",
        end == "Cancelled",
        &end,
    );
    let (_, job) = answer(ctx, "GetJob");
    ctx.check(
        "GetJob",
        "cancelledBy names the user",
        job["cancelledBy"] == user.as_str(),
        &job["cancelledBy"],
    );
    let _ = client
        .manage_backup(&body(json!({"action": "cancel", "operation": "push"}))?)
        .await;
    ctx.expect_status(
        "ManageBackup",
        "a second action=cancel, with the push cancelled, is a 400",
        400,
    );
    let after = backups(ctx, &client).await?;
    ctx.check(
        "ManageBackup",
        "a cancelled push leaves the backups alone",
        after == before,
        format!("{} before, {} after", before.len(), after.len()),
    );
    Ok(())
}

async fn import_backup_scenario(ctx: &mut Ctx) -> Result<()> {
    let client = session(ctx)?;
    let process = || -> Result<import_backup::Body> {
        Ok(import_backup::Body::Json(body(
            json!({"passphrase": "conformance-passphrase"}),
        )?))
    };
    let _ = client
        .import_backup(&types::ImportBackupAction::Process, process()?)
        .await;
    ctx.expect_status(
        "ImportBackup",
        "action=process with nothing imported is a 400",
        400,
    );
    let name = format!("{}.tar", ctx.name("backup"));
    let form = MultipartForm::new().bytes(
        "uploadedfile",
        Some(name.clone()),
        "application/x-tar",
        b"a backup package".to_vec().into(),
    );
    let _ = client
        .import_backup(
            &types::ImportBackupAction::Import,
            import_backup::Body::Multipart(form),
        )
        .await;
    ctx.expect_status("ImportBackup", "a backup package is imported", 200);
    let list = backups(ctx, &client).await?;
    ctx.check(
        "ImportBackup",
        "the imported backup is listed",
        list.iter().any(|b| b["filename"] == name.as_str()),
        format!("{list:?}"),
    );
    let _ = client
        .import_backup(&types::ImportBackupAction::Process, process()?)
        .await;
    ctx.expect_status("ImportBackup", "the imported backup is processed", 200);
    let _ = client
        .import_backup(&types::ImportBackupAction::Process, process()?)
        .await;
    ctx.expect_status(
        "ImportBackup",
        "a second action=process finds nothing to process (400)",
        400,
    );
    let _ = client
        .import_backup(&types::ImportBackupAction::Import, process()?)
        .await;
    ctx.expect_status(
        "ImportBackup",
        "action=import with a JSON body is a 400",
        400,
    );
    let _ = client
        .import_backup(
            &types::ImportBackupAction::Unknown("restore".into()),
            process()?,
        )
        .await;
    ctx.expect_status("ImportBackup", "an unknown action is a 400", 400);
    Ok(())
}

// ---- updates --------------------------------------------------------------------------------

async fn updates_refresh(ctx: &mut Ctx) -> Result<()> {
    let client = session(ctx)?;
    let started = client
        .manage_updates(
            &types::ManageUpdatesAction::Refresh,
            &body(json!({"mts": ["lxca"]}))?,
        )
        .await;
    ctx.expect_status("ManageUpdates", "action=refresh starts a job", 200);
    let lxca::client::manage_updates::Success::Ok(reply) =
        started.map_err(|e| anyhow!("refresh: {e}"))?;
    let id = reply.jobid.context("no jobid in the refresh answer")?;
    cancel_when_done(ctx, &client, &id);
    let end = follow(ctx, &client, &id).await?;
    ctx.check(
        "ManageUpdates",
        "the refresh job completes",
        end == "Complete",
        &end,
    );
    let _ = client
        .manage_updates(
            &types::ManageUpdatesAction::Refresh,
            &body(json!({"fixids": [UNKNOWN_UPDATE]}))?,
        )
        .await;
    ctx.expect_status(
        "ManageUpdates",
        "a body that does not match the action is a 400",
        400,
    );
    let _ = client
        .manage_updates(
            &types::ManageUpdatesAction::Unknown("download".into()),
            &body(json!({"mts": ["lxca"]}))?,
        )
        .await;
    ctx.expect_status("ManageUpdates", "an unknown action is a 400", 400);
    Ok(())
}

/// The repository's packages (key=updates).
async fn packages(ctx: &Ctx, client: &Client) -> Result<Vec<Value>> {
    client
        .get_updates_repository(&get_updates_repository::Options {
            key: Some(types::GetUpdatesRepositoryKey::Updates),
        })
        .await
        .map_err(|e| anyhow!("GET /managementServer/updates: {e}"))?;
    Ok(answer(ctx, "GetUpdatesRepository").1["updates"]
        .as_array()
        .cloned()
        .unwrap_or_default())
}

async fn repository_member(
    ctx: &Ctx,
    client: &Client,
    key: types::GetUpdatesRepositoryKey,
    member: &str,
) -> Value {
    let _ = client
        .get_updates_repository(&get_updates_repository::Options { key: Some(key) })
        .await;
    answer(ctx, "GetUpdatesRepository").1[member].clone()
}

async fn updates_acquire_and_apply(ctx: &mut Ctx) -> Result<()> {
    let client = session(ctx)?;
    let list = packages(ctx, &client).await?;
    let package = list
        .iter()
        .find(|p| p["applyable"] == "false")
        .context("no update waits to be acquired")?
        .clone();
    let fix = package["fixid"].as_str().unwrap_or_default().to_string();
    let apply =
        |fix: &str| -> Result<types::ApplyUpdatesRequest> { body(json!({"fixids": [fix]})) };
    let _ = client
        .apply_updates(&types::ApplyUpdatesAction::Apply, &apply(&fix)?)
        .await;
    ctx.expect_status(
        "ApplyUpdates",
        "an update that was not acquired cannot be applied (400)",
        400,
    );
    let _ = client
        .apply_updates(&types::ApplyUpdatesAction::Apply, &apply(UNKNOWN_UPDATE)?)
        .await;
    ctx.expect_status("ApplyUpdates", "an unknown update is a 400", 400);
    let _ = client
        .manage_updates(
            &types::ManageUpdatesAction::Acquire,
            &body(json!({"fixids": [format!("{fix},{UNKNOWN_UPDATE}")]}))?,
        )
        .await;
    ctx.expect_status(
        "ManageUpdates",
        "acquiring a list with an unknown id is a 400",
        400,
    );
    let started = client
        .manage_updates(
            &types::ManageUpdatesAction::Acquire,
            &body(json!({"fixids": [fix]}))?,
        )
        .await;
    ctx.expect_status("ManageUpdates", "action=acquire starts a job", 200);
    let lxca::client::manage_updates::Success::Ok(reply) =
        started.map_err(|e| anyhow!("acquire: {e}"))?;
    let id = reply.jobid.context("no jobid in the acquire answer")?;
    let end = follow(ctx, &client, &id).await?;
    ctx.check(
        "ManageUpdates",
        "the acquire job completes",
        end == "Complete",
        &end,
    );
    let _ = client
        .get_updates(
            std::slice::from_ref(&fix),
            &get_updates::Options {
                key: Some(types::GetUpdatesKey::Update),
                ..Default::default()
            },
        )
        .await;
    let (_, info) = answer(ctx, "GetUpdates");
    ctx.check(
        "ManageUpdates",
        "the acquired update can be applied",
        info["update"][0]["applyable"] == "true",
        &info["update"],
    );
    let history_before = repository_member(
        ctx,
        &client,
        types::GetUpdatesRepositoryKey::History,
        "history",
    )
    .await
    .as_array()
    .map_or(0, Vec::len);
    let started = client
        .apply_updates(&types::ApplyUpdatesAction::Apply, &apply(&fix)?)
        .await;
    ctx.expect_status("ApplyUpdates", "an acquired update is applied", 200);
    let lxca::client::apply_updates::Success::Ok(reply) =
        started.map_err(|e| anyhow!("apply: {e}"))?;
    let id = reply.jobid.context("no jobid in the apply answer")?;
    let end = follow(ctx, &client, &id).await?;
    ctx.check(
        "ApplyUpdates",
        "the apply job completes",
        end == "Complete",
        &end,
    );
    let version = repository_member(
        ctx,
        &client,
        types::GetUpdatesRepositoryKey::CurrentVersion,
        "currentVersion",
    )
    .await;
    ctx.check(
        "ApplyUpdates",
        "the current version is the applied update's",
        version == package["version"],
        format!("{version} (update {})", package["version"]),
    );
    let history_after = repository_member(
        ctx,
        &client,
        types::GetUpdatesRepositoryKey::History,
        "history",
    )
    .await
    .as_array()
    .map_or(0, Vec::len);
    ctx.check(
        "ApplyUpdates",
        "the history records the update",
        history_after == history_before + 1,
        format!("{history_before} entries before, {history_after} after"),
    );
    let _ = client
        .apply_updates(
            &types::ApplyUpdatesAction::Unknown("install".into()),
            &apply(&fix)?,
        )
        .await;
    ctx.expect_status("ApplyUpdates", "an unknown action is a 400", 400);
    Ok(())
}

async fn apply_fails_midway(ctx: &mut Ctx) -> Result<()> {
    let emulator = ctx.emulator.clone().context("needs the emulator")?;
    let client = session(ctx)?;
    let list = packages(ctx, &client).await?;
    let fix = list
        .iter()
        .find(|p| p["applyable"] == "true")
        .and_then(|p| p["fixid"].as_str())
        .context("no update can be applied")?
        .to_string();
    let version = repository_member(
        ctx,
        &client,
        types::GetUpdatesRepositoryKey::CurrentVersion,
        "currentVersion",
    )
    .await;
    emulator.faults.add(
        "ApplyUpdates",
        FaultRule {
            times: Some(1),
            job_fail_at: Some(50),
            ..Default::default()
        },
    )?;
    let started = client
        .apply_updates(
            &types::ApplyUpdatesAction::Apply,
            &body(json!({"fixids": [fix]}))?,
        )
        .await;
    ctx.expect_status("ApplyUpdates", "the update is applied", 200);
    let lxca::client::apply_updates::Success::Ok(reply) =
        started.map_err(|e| anyhow!("apply: {e}"))?;
    let id = reply.jobid.context("no jobid in the apply answer")?;
    let end = follow(ctx, &client, &id).await?;
    ctx.check(
        "ApplyUpdates",
        "an apply that fails midway ends Stopped_With_Error",
        end == "Stopped_With_Error",
        &end,
    );
    let now = repository_member(
        ctx,
        &client,
        types::GetUpdatesRepositoryKey::CurrentVersion,
        "currentVersion",
    )
    .await;
    ctx.check(
        "ApplyUpdates",
        "a failed apply leaves the current version",
        now == version,
        format!("{version} before, {now} after"),
    );
    Ok(())
}

async fn updates_import_and_delete(ctx: &mut Ctx) -> Result<()> {
    let client = session(ctx)?;
    let fix = ctx.name("update");
    let readme = "Conformance update README";
    let files = [
        (format!("{fix}.xml"), "text/xml", b"<xml/>".to_vec()),
        (
            format!("{fix}.txt"),
            "text/plain",
            readme.as_bytes().to_vec(),
        ),
    ];
    let listed: Vec<Value> = files
        .iter()
        .enumerate()
        .map(|(i, (name, kind, data))| json!({"index": i, "name": name, "size": data.len(), "type": kind}))
        .collect();
    let started = client
        .manage_updates(
            &types::ManageUpdatesAction::Import,
            &body(json!({ "files": listed }))?,
        )
        .await;
    ctx.expect_status("ManageUpdates", "action=import creates an import job", 200);
    let lxca::client::manage_updates::Success::Ok(reply) =
        started.map_err(|e| anyhow!("import: {e}"))?;
    let id = reply.jobid.context("no jobid in the import answer")?;
    let now = state_of(&client, &id).await;
    ctx.check(
        "GetJob",
        "the import job waits for its files",
        now == "Pending",
        &now,
    );
    let form = || {
        files
            .iter()
            .fold(MultipartForm::new(), |form, (name, kind, data)| {
                form.bytes(
                    "uploadedfile[]",
                    Some(name.clone()),
                    *kind,
                    data.clone().into(),
                )
            })
    };
    let action = types::ImportUpdateFilesAction::Import;
    if let Some(other) = second(ctx)? {
        let _ = other.import_update_files(&action, &id, form()).await;
        ctx.expect_status(
            "ImportUpdateFiles",
            "another user's import job refuses the files (403)",
            403,
        );
        let now = state_of(&client, &id).await;
        ctx.check(
            "ImportUpdateFiles",
            "the job still waits",
            now == "Pending",
            &now,
        );
    }
    let _ = client
        .import_update_files(&action, UNKNOWN_JOB, form())
        .await;
    ctx.expect_status("ImportUpdateFiles", "an unknown job id is a 400", 400);
    let _ = client.import_update_files(&action, &id, form()).await;
    ctx.expect_status(
        "ImportUpdateFiles",
        "the job's creator uploads the files",
        200,
    );
    let end = follow(ctx, &client, &id).await?;
    ctx.check(
        "ImportUpdateFiles",
        "the import job completes",
        end == "Complete",
        &end,
    );
    let ids = [fix.clone()];
    let _ = client
        .get_updates(
            &ids,
            &get_updates::Options {
                filetype: Some(types::GetUpdatesFiletype::Readme),
                ..Default::default()
            },
        )
        .await;
    let (status, file) = answer(ctx, "GetUpdates");
    let text = file
        .pointer("/status/value")
        .or_else(|| file.pointer("/value"))
        .cloned()
        .unwrap_or(Value::Null);
    ctx.check(
        "ImportUpdateFiles",
        "the imported update serves the uploaded readme",
        status == 200 && text == readme,
        format!("{status}: {file}"),
    );
    let _ = client
        .delete_updates(&[fix.clone(), UNKNOWN_UPDATE.to_string()])
        .await;
    ctx.expect_status("DeleteUpdates", "a list with an unknown id is a 400", 400);
    let _ = client.delete_updates(&ids).await;
    ctx.expect_status("DeleteUpdates", "the imported update is deleted", 200);
    let _ = client
        .get_updates(
            &ids,
            &get_updates::Options {
                key: Some(types::GetUpdatesKey::Update),
                ..Default::default()
            },
        )
        .await;
    let (_, info) = answer(ctx, "GetUpdates");
    ctx.check(
        "DeleteUpdates",
        "the deleted update is no longer described",
        info["update"].as_array().is_some_and(Vec::is_empty),
        &info,
    );
    let _ = client
        .manage_updates(
            &types::ManageUpdatesAction::Import,
            &body(json!({"files": [{"name": "../escape.xml", "size": 1}]}))?,
        )
        .await;
    ctx.expect_status(
        "ManageUpdates",
        "a file name that leaves the repository is a 400",
        400,
    );
    Ok(())
}

// ---- OS images ------------------------------------------------------------------------------

async fn os_image_import(ctx: &mut Ctx) -> Result<()> {
    let client = session(ctx)?;
    let name = format!("{}.sh", ctx.name("script"));
    let content = b"#!/bin/sh\necho conformance\n".to_vec();
    delete_file_when_done(ctx, &client, &name);
    let job = import_job(ctx, &client, types::ImageType::Script, content.len()).await?;
    cancel_when_done(ctx, &client, &job);
    let now = state_of(&client, &job).await;
    ctx.check(
        "CreateOsImageImportJob",
        "the import job waits for its file",
        now == "Pending",
        &now,
    );
    if let Some(other) = second(ctx)? {
        let _ = other
            .import_os_image_file(
                &job,
                os_file(&name, &content, None),
                &script_options(Some("rhel")),
            )
            .await;
        ctx.expect_status(
            "ImportOsImageFile",
            "another user's import job refuses the file (403)",
            403,
        );
        let now = state_of(&client, &job).await;
        ctx.check(
            "ImportOsImageFile",
            "the job still waits",
            now == "Pending",
            &now,
        );
    }
    let checksum = sha256_hex(&content);
    let options = import_os_image_file::Options {
        description: Some("conformance suite".into()),
        ..script_options(Some("rhel"))
    };
    let _ = client
        .import_os_image_file(
            &job,
            os_file(&name, &content, Some(("SHA256", &checksum))),
            &options,
        )
        .await;
    ctx.expect_status(
        "ImportOsImageFile",
        "the job's creator imports a file with its checksum",
        201,
    );
    let (_, result) = answer(ctx, "ImportOsImageFile");
    ctx.check(
        "ImportOsImageFile",
        "the import answers result success and a fileid",
        result["result"] == "success" && result["fileid"].is_string(),
        &result,
    );
    let end = follow(ctx, &client, &job).await?;
    ctx.check(
        "CreateOsImageImportJob",
        "the import job completes with the upload",
        end == "Complete",
        &end,
    );
    let _ = client.get_os_images(&Default::default()).await;
    let (_, listing) = answer(ctx, "GetOsImages");
    let file = find_file(&listing, &name);
    ctx.check(
        "ImportOsImageFile",
        "the imported file is listed",
        file.is_some(),
        &listing,
    );
    let id = file
        .as_ref()
        .and_then(|f| f["id"].as_str())
        .context("the imported file has no id")?
        .to_string();

    // The same file again, in a new job: 409, and that job keeps waiting until cancelled.
    let again = import_job(ctx, &client, types::ImageType::Script, content.len()).await?;
    cancel_when_done(ctx, &client, &again);
    let _ = client
        .import_os_image_file(
            &again,
            os_file(&name, &content, None),
            &script_options(Some("rhel")),
        )
        .await;
    ctx.expect_status(
        "ImportOsImageFile",
        "a file already in the repository is a 409",
        409,
    );
    let now = state_of(&client, &again).await;
    ctx.check(
        "ImportOsImageFile",
        "the refused job still waits",
        now == "Pending",
        &now,
    );
    let _ = client.cancel_job(&again, &cancel_request()).await;
    ctx.expect_status("CancelJob", "a waiting import job is cancelled", 200);
    let end = follow(ctx, &client, &again).await?;
    ctx.check(
        "CancelJob",
        "the cancelled import job ends Cancelled",
        end == "Cancelled",
        &end,
    );
    // A job takes one file.
    let _ = client
        .import_os_image_file(
            &job,
            os_file(&format!("{}.sh", ctx.name("other")), &content, None),
            &script_options(Some("rhel")),
        )
        .await;
    ctx.expect_status(
        "ImportOsImageFile",
        "a used job takes no other file (409)",
        409,
    );

    let _ = client.delete_os_images(std::slice::from_ref(&id)).await;
    ctx.expect_status("DeleteOsImages", "the imported file is removed", 204);
    let _ = client.get_os_images(&Default::default()).await;
    let (_, listing) = answer(ctx, "GetOsImages");
    ctx.check(
        "DeleteOsImages",
        "the removed file is no longer listed",
        find_file(&listing, &name).is_none(),
        &listing,
    );
    let _ = client.delete_os_images(&[id]).await;
    ctx.expect_status("DeleteOsImages", "removing it again is a 412", 412);
    Ok(())
}

async fn os_image_upload_rules(ctx: &mut Ctx) -> Result<()> {
    let client = session(ctx)?;
    let content = b"#!/bin/sh\necho rules\n".to_vec();
    let name = format!("{}.sh", ctx.name("rules"));
    delete_file_when_done(ctx, &client, &name);
    let job = import_job(ctx, &client, types::ImageType::Script, content.len()).await?;
    cancel_when_done(ctx, &client, &job);
    let refused = "ImportOsImageFile";
    let _ = client
        .import_os_image_file(&job, os_file(&name, &content, None), &script_options(None))
        .await;
    ctx.expect_status(refused, "a SCRIPT without os is a 412", 412);
    let _ = client
        .import_os_image_file(
            &job,
            os_file(&format!("{}.exe", ctx.name("rules")), &content, None),
            &script_options(Some("rhel")),
        )
        .await;
    ctx.expect_status(refused, "a file that is no script is a 412", 412);
    let _ = client
        .import_os_image_file(
            &job,
            os_file(&name, &content, None),
            &import_os_image_file::Options {
                image_type: Some(types::ImageType::Dud),
                os: Some("rhel".into()),
                osrelease: Some("7.0".into()),
                ..Default::default()
            },
        )
        .await;
    ctx.expect_status(refused, "an imageType other than the job's is a 412", 412);
    let _ = client
        .import_os_image_file(
            &job,
            os_file(&name, &content, Some(("MD5", ""))),
            &script_options(Some("rhel")),
        )
        .await;
    ctx.expect_status(refused, "a checksumType without a value is a 412", 412);
    let _ = client
        .import_os_image_file(
            &job,
            import_os_image_file::Body::Json(body(
                json!({"serverId": "conformance-no-such-server", "path": "/images/x.sh"}),
            )?),
            &script_options(Some("rhel")),
        )
        .await;
    ctx.expect_status(refused, "an unknown remote file server is a 412", 412);
    let _ = client
        .import_os_image_file(
            UNKNOWN_JOB,
            os_file(&name, &content, None),
            &script_options(Some("rhel")),
        )
        .await;
    ctx.expect_status(refused, "an unknown job id is a 412", 412);
    let now = state_of(&client, &job).await;
    ctx.check(
        refused,
        "refused uploads leave the job waiting",
        now == "Pending",
        &now,
    );

    // A checksum that does not match fails the upload and its job.
    let failing = import_job(ctx, &client, types::ImageType::Script, content.len()).await?;
    cancel_when_done(ctx, &client, &failing);
    let wrong = sha256_hex(b"something else");
    let _ = client
        .import_os_image_file(
            &failing,
            os_file(&name, &content, Some(("SHA256", &wrong))),
            &script_options(Some("rhel")),
        )
        .await;
    if ctx.expect_status(refused, "a checksum mismatch is a 500", 500) {
        let id = message_id(ctx, refused);
        ctx.check(
            refused,
            "a checksum mismatch is FQXHMFC0001M",
            id == "FQXHMFC0001M",
            &id,
        );
    }
    let end = follow(ctx, &client, &failing).await?;
    ctx.check(
        "CreateOsImageImportJob",
        "the job of a mismatched upload fails",
        end == "Stopped_With_Error",
        &end,
    );
    let listing = os_listing(&client).await?;
    ctx.check(
        refused,
        "a mismatched file is not listed",
        find_file(&listing, &name).is_none(),
        "",
    );

    // Invalid job requests.
    let _ = client
        .create_os_image_import_job(
            &body(json!({"Action": "Init"}))?,
            &create_os_image_import_job::Options {
                image_type: Some(types::ImageType::Unknown("BOGUS".into())),
                ..Default::default()
            },
        )
        .await;
    ctx.expect_status(
        "CreateOsImageImportJob",
        "an unknown imageType is a 400",
        400,
    );
    send(
        &client,
        Client::request_create_os_image_import_job(
            &body(json!({"Action": "Init"}))?,
            &Default::default(),
        ),
        json_body(json!({"Action": "Init", "fileSize": "large"})),
    )
    .await;
    ctx.expect_status(
        "CreateOsImageImportJob",
        "a fileSize that is no number is a 400",
        400,
    );

    // Cancelled through PUT /tasks, the waiting job takes no file.
    let _ = client.cancel_tasks(&cancel_tasks_request(&[&job])).await;
    ctx.expect_status("CancelTasks", "PUT /tasks cancels the waiting job", 200);
    let _ = client
        .get_tasks_by_ids(std::slice::from_ref(&job), &Default::default())
        .await;
    let (_, tasks) = answer(ctx, "GetTasksByIds");
    ctx.check(
        "CancelTasks",
        "the task shows Cancelled",
        tasks[0]["status"] == "Cancelled",
        &tasks,
    );
    let end = follow(ctx, &client, &job).await?;
    ctx.check(
        "CancelTasks",
        "the job ends Cancelled",
        end == "Cancelled",
        &end,
    );
    let _ = client
        .import_os_image_file(
            &job,
            os_file(&name, &content, None),
            &script_options(Some("rhel")),
        )
        .await;
    ctx.expect_status(refused, "a cancelled job takes no file (409)", 409);
    Ok(())
}

// ---- jobs and tasks -------------------------------------------------------------------------

async fn tasks_cancel_and_delete(ctx: &mut Ctx) -> Result<()> {
    let client = session(ctx)?;
    let a = import_job(ctx, &client, types::ImageType::Script, 1).await?;
    cancel_when_done(ctx, &client, &a);
    let b = import_job(ctx, &client, types::ImageType::Script, 1).await?;
    cancel_when_done(ctx, &client, &b);
    let _ = client.delete_tasks(std::slice::from_ref(&a)).await;
    ctx.expect_status(
        "DeleteTasks",
        "an unfinished task cannot be deleted (400)",
        400,
    );
    let _ = client.delete_job(&b).await;
    ctx.expect_status(
        "DeleteJob",
        "an unfinished job cannot be deleted (409)",
        409,
    );
    let _ = client
        .cancel_tasks(&cancel_tasks_request(&[&a, UNKNOWN_JOB]))
        .await;
    ctx.expect_status("CancelTasks", "a list with an unknown id is a 412", 412);
    let now = state_of(&client, &a).await;
    ctx.check(
        "CancelTasks",
        "a refused list cancels nothing",
        now == "Pending",
        &now,
    );
    let _ = client.cancel_tasks(&cancel_tasks_request(&[])).await;
    ctx.expect_status("CancelTasks", "an empty list is a 400", 400);
    let _ = client.cancel_tasks(&cancel_tasks_request(&[&a])).await;
    ctx.expect_status("CancelTasks", "PUT /tasks cancels the job", 200);
    let end = follow(ctx, &client, &a).await?;
    ctx.check(
        "CancelTasks",
        "the job ends Cancelled",
        end == "Cancelled",
        &end,
    );

    let _ = client
        .cancel_job(
            &b,
            &types::CancelJobRequest {
                cancel_request: types::CancelJobRequestCancelRequest::Unknown("false".into()),
            },
        )
        .await;
    ctx.expect_status(
        "CancelJob",
        "cancelRequest other than \"true\" is a 400",
        400,
    );
    let _ = client.cancel_job(&b, &cancel_request()).await;
    ctx.expect_status("CancelJob", "PUT /jobs/{id} cancels the job", 200);
    let end = follow(ctx, &client, &b).await?;
    ctx.check(
        "CancelJob",
        "the job ends Cancelled",
        end == "Cancelled",
        &end,
    );
    let _ = client.cancel_job(&b, &cancel_request()).await;
    ctx.expect_status("CancelJob", "cancelling a finished job is a 409", 409);
    let _ = client.cancel_job(UNKNOWN_JOB, &cancel_request()).await;
    ctx.expect_status("CancelJob", "an unknown job is a 404", 404);

    let _ = client
        .get_jobs(&get_jobs::Options {
            state: Some(types::JobState::Cancelled),
            ..Default::default()
        })
        .await;
    let (status, jobs) = answer(ctx, "GetJobs");
    let listed: Vec<&str> = jobs
        .as_array()
        .map(|j| j.iter().filter_map(|j| j["id"].as_str()).collect())
        .unwrap_or_default();
    ctx.check(
        "GetJobs",
        "state=Cancelled lists both cancelled jobs, and only cancelled jobs",
        status == 200
            && listed.contains(&a.as_str())
            && listed.contains(&b.as_str())
            && jobs
                .as_array()
                .is_some_and(|j| j.iter().all(|j| j["status"]["state"] == "Cancelled")),
        format!("{status}: {listed:?}"),
    );

    let _ = client.delete_tasks(std::slice::from_ref(&a)).await;
    ctx.expect_status("DeleteTasks", "a finished task is deleted", 200);
    let _ = client
        .get_tasks_by_ids(std::slice::from_ref(&a), &Default::default())
        .await;
    ctx.expect_status("GetTasksByIds", "a deleted task is a 404", 404);
    let _ = client.delete_tasks(std::slice::from_ref(&a)).await;
    ctx.expect_status("DeleteTasks", "deleting it again is a 404", 404);
    let _ = client.delete_job(&b).await;
    ctx.expect_status("DeleteJob", "a finished job is deleted", 200);
    let _ = client.get_job(&b, &Default::default()).await;
    ctx.expect_status("GetJob", "a deleted job is a 404", 404);
    let _ = client.delete_job(&b).await;
    ctx.expect_status("DeleteJob", "deleting it again is a 404", 404);
    let tasks = match client
        .get_tasks(&get_tasks::Options {
            compact: Some(true),
        })
        .await
    {
        Ok(get_tasks::Success::Ok(tasks)) => tasks,
        Err(e) => bail!("GET /tasks: {e}"),
    };
    ctx.check(
        "DeleteTasks",
        "deleted jobs are no longer listed as tasks",
        !tasks.iter().any(|t| t.job_uid == a || t.job_uid == b),
        "",
    );
    Ok(())
}

async fn jobs_and_tasks_read(ctx: &mut Ctx) -> Result<()> {
    let client = basic(ctx)?;
    let _ = client.get_tasks(&Default::default()).await;
    ctx.expect_status("GetTasks", "the tasks are listed", 200);
    let (_, tasks) = answer(ctx, "GetTasks");
    ctx.check("GetTasks", "the answer is an array", tasks.is_array(), "");
    let _ = client
        .get_tasks(&get_tasks::Options {
            compact: Some(true),
        })
        .await;
    let (status, compact) = answer(ctx, "GetTasks");
    ctx.check(
        "GetTasks",
        "compact=true leaves the subtasks out",
        status == 200
            && compact
                .as_array()
                .is_some_and(|t| t.iter().all(|t| t.get("children").is_none())),
        status,
    );
    send(
        &client,
        Client::request_get_tasks(&Default::default()),
        query("compact", "maybe"),
    )
    .await;
    ctx.expect_status("GetTasks", "compact that is no boolean is a 400", 400);
    if let Some(id) = tasks[0]["jobUID"].as_str() {
        let _ = client
            .get_tasks_by_ids(&[id.to_string()], &Default::default())
            .await;
        let (status, one) = answer(ctx, "GetTasksByIds");
        ctx.check(
            "GetTasksByIds",
            "a listed task is answered alone",
            status == 200 && one.as_array().map(Vec::len) == Some(1) && one[0]["jobUID"] == id,
            format!("{status}: {one}"),
        );
        send(
            &client,
            Client::request_get_tasks_by_ids(&[id.to_string()], &Default::default()),
            query("compact", "maybe"),
        )
        .await;
        ctx.expect_status("GetTasksByIds", "compact that is no boolean is a 400", 400);
    }
    let _ = client
        .get_tasks_by_ids(&[UNKNOWN_JOB.to_string()], &Default::default())
        .await;
    ctx.expect_status("GetTasksByIds", "an unknown task is a 404", 404);

    let _ = client.get_jobs(&Default::default()).await;
    ctx.expect_status("GetJobs", "the jobs are listed", 200);
    let (_, jobs) = answer(ctx, "GetJobs");
    if let Some(job) = jobs.as_array().and_then(|j| j.first()).cloned() {
        let id = job["id"].as_str().unwrap_or_default().to_string();
        let state = job["status"]["state"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let _ = client
            .get_jobs(&get_jobs::Options {
                state: Some(body(json!(state))?),
                ..Default::default()
            })
            .await;
        let (status, filtered) = answer(ctx, "GetJobs");
        ctx.check(
            "GetJobs",
            "state=<state> lists only jobs in that state",
            status == 200
                && filtered.as_array().is_some_and(|j| {
                    !j.is_empty() && j.iter().all(|j| j["status"]["state"] == state.as_str())
                }),
            format!("{status}: {filtered}"),
        );
        let _ = client.get_job(&id, &Default::default()).await;
        let (status, one) = answer(ctx, "GetJob");
        ctx.check(
            "GetJob",
            "a listed job is answered",
            status == 200 && one["id"] == id.as_str(),
            format!("{status}: {one}"),
        );
        let _ = client
            .get_job(
                &id,
                &get_job::Options {
                    include_attributes: Some(vec!["createdBy".into()]),
                    ..Default::default()
                },
            )
            .await;
        let (status, only) = answer(ctx, "GetJob");
        let mut keys: Vec<&str> = only
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        keys.sort_unstable();
        ctx.check(
            "GetJob",
            "includeAttributes=createdBy answers id, status and createdBy",
            status == 200
                && keys
                    .iter()
                    .all(|k| ["createdBy", "id", "status"].contains(k)),
            format!("{status}: {keys:?}"),
        );
        let _ = client
            .get_job(
                &id,
                &get_job::Options {
                    exclude_attributes: Some(vec!["createdBy".into()]),
                    ..Default::default()
                },
            )
            .await;
        let (status, without) = answer(ctx, "GetJob");
        ctx.check(
            "GetJob",
            "excludeAttributes=createdBy leaves createdBy out",
            status == 200 && without.get("createdBy").is_none() && without["status"].is_object(),
            format!("{status}: {without}"),
        );
    }
    let _ = client
        .get_jobs(&get_jobs::Options {
            state: Some(types::JobState::Unknown("Finished".into())),
            ..Default::default()
        })
        .await;
    ctx.expect_status("GetJobs", "an unknown state is a 400", 400);
    let _ = client.get_job(UNKNOWN_JOB, &Default::default()).await;
    ctx.expect_status("GetJob", "an unknown job is a 404", 404);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_names_are_unique_and_operations_are_the_specs() {
        let all = scenarios();
        let mut names: Vec<&str> = all.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len());
        let known: Vec<&str> = crate::emulators::lxca::OPERATIONS
            .iter()
            .map(|(_, _, op)| *op)
            .collect();
        for s in &all {
            for op in s.operations {
                assert!(known.contains(op), "{}: {op}", s.name);
            }
        }
        for op in known {
            assert!(
                all.iter().any(|s| s.operations.contains(&op)),
                "no scenario names {op}"
            );
        }
    }
}
