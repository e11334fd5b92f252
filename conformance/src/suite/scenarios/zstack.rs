//! ZStack: login, the query language, get, reconnect and delete jobs over the async convention.
//!
//! ZStack has no call that creates a backup storage, so on a live appliance the mutating
//! scenarios only touch what cannot do harm (a reconnect, a delete of a uuid that does not
//! exist); deleting real storage and time travel run on the emulator only.

use std::time::Duration;

use anyhow::{anyhow, Context as _, Result};
use codegen_runtime::Auth;
use serde_json::{json, Value};
use sha2::{Digest, Sha512};
use zstack::client::{get_api_job, query_backup_storage};
use zstack::Client;

use super::{Credentials, Ctx, Scenario};
use crate::faults::FaultRule;

/// A uuid no appliance has.
const UNKNOWN: &str = "ffffffffffffffffffffffffffffffff";

pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "login",
            operations: &["LogInByAccount"],
            mutates: false,
            emulator_only: false,
            run: |ctx| Box::pin(login(ctx)),
        },
        Scenario {
            name: "query-language",
            operations: &["QueryBackupStorage"],
            mutates: false,
            emulator_only: false,
            run: |ctx| Box::pin(query_language(ctx)),
        },
        Scenario {
            name: "get",
            operations: &["GetBackupStorage"],
            mutates: false,
            emulator_only: false,
            run: |ctx| Box::pin(get(ctx)),
        },
        Scenario {
            name: "reconnect",
            operations: &["ReconnectBackupStorage", "GetApiJob"],
            mutates: true,
            emulator_only: false,
            run: |ctx| Box::pin(reconnect(ctx)),
        },
        Scenario {
            name: "unknown-uuid-jobs-fail",
            operations: &["ReconnectBackupStorage", "DeleteBackupStorage", "GetApiJob"],
            mutates: true,
            emulator_only: false,
            run: |ctx| Box::pin(unknown_uuid_jobs_fail(ctx)),
        },
        Scenario {
            name: "delete-modes",
            operations: &["DeleteBackupStorage", "GetApiJob", "QueryBackupStorage"],
            mutates: true,
            emulator_only: true,
            run: |ctx| Box::pin(delete_modes(ctx)),
        },
        Scenario {
            name: "job-expiry-and-uuid",
            operations: &["ReconnectBackupStorage", "GetApiJob"],
            mutates: true,
            emulator_only: true,
            run: |ctx| Box::pin(job_expiry_and_uuid(ctx)),
        },
        Scenario {
            name: "deadline-passes",
            operations: &["ReconnectBackupStorage", "GetApiJob"],
            mutates: true,
            emulator_only: false,
            run: |ctx| Box::pin(deadline_passes(ctx)),
        },
        Scenario {
            name: "job-fails-midway",
            operations: &["ReconnectBackupStorage", "GetApiJob"],
            mutates: true,
            emulator_only: true,
            run: |ctx| Box::pin(job_fails_midway(ctx)),
        },
    ]
}

fn account(ctx: &Ctx) -> (String, String) {
    match &ctx.credentials {
        Credentials::ZStack { account, password } => (account.clone(), password.clone()),
        other => panic!("zstack scenarios got {other:?}"),
    }
}

fn client(ctx: &Ctx) -> Result<Client> {
    let (account, password) = account(ctx);
    Client::from_builder(ctx.builder().auth(Auth::zstack_session(account, password)))
        .map_err(|e| anyhow!("client: {e}"))
}

fn login_body(account: &str, password_sha512: &str) -> zstack::types::LogInByAccountRequest {
    serde_json::from_value(json!({
        "logInByAccount": {"accountName": account, "password": password_sha512}
    }))
    .expect("a valid login body")
}

fn error_code(ctx: &Ctx, op: &str) -> String {
    ctx.last(op)
        .and_then(|e| e.response)
        .and_then(|r| r.json())
        .and_then(|v| v["error"]["code"].as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Every backup storage the appliance lists: (uuid, name, type).
async fn storages(client: &Client) -> Result<Vec<Value>> {
    let query_backup_storage::Success::Ok(reply) = client
        .query_backup_storage(&Default::default())
        .await
        .map_err(|e| anyhow!("query: {e}"))?;
    let value = serde_json::to_value(&reply)?;
    Ok(value["inventories"].as_array().cloned().unwrap_or_default())
}

/// The uuid of a backup storage the appliance lists as Connected (what a reconnect starts from).
async fn connected_storage(client: &Client) -> Result<String> {
    storages(client)
        .await?
        .iter()
        .find(|s| s["status"] == "Connected")
        .and_then(|s| s["uuid"].as_str())
        .map(str::to_string)
        .context("no Connected backup storage")
}

async fn login(ctx: &mut Ctx) -> Result<()> {
    let (account, password) = account(ctx);
    let anonymous = Client::from_builder(ctx.builder()).map_err(|e| anyhow!("{e}"))?;
    let hash = hex::encode(Sha512::digest(password.as_bytes()));
    let _ = anonymous
        .log_in_by_account(&login_body(&account, &hash))
        .await;
    ctx.expect_status(
        "LogInByAccount",
        "the account's SHA-512 password opens a session",
        200,
    );
    let _ = anonymous
        .log_in_by_account(&login_body(
            &account,
            &hex::encode(Sha512::digest(b"not the password")),
        ))
        .await;
    if ctx.expect_status("LogInByAccount", "a wrong password is refused", 503) {
        let code = error_code(ctx, "LogInByAccount");
        ctx.check(
            "LogInByAccount",
            "a wrong password is ID.1000",
            code == "ID.1000",
            &code,
        );
    }
    // The password in clear, as a careless client would send it, is a wrong password too.
    let _ = anonymous
        .log_in_by_account(&login_body(&account, &password))
        .await;
    ctx.expect_status("LogInByAccount", "a clear-text password is refused", 503);
    Ok(())
}

async fn query_language(ctx: &mut Ctx) -> Result<()> {
    let client = client(ctx)?;
    let all = storages(&client).await?;
    ctx.check(
        "QueryBackupStorage",
        "an unconditioned query lists backup storage",
        !all.is_empty(),
        format!("{} inventories", all.len()),
    );
    let first = all.first().cloned().unwrap_or(Value::Null);
    let name = first["name"].as_str().unwrap_or("").to_string();
    let query = |options: query_backup_storage::Options| {
        let client = &client;
        async move {
            client.query_backup_storage(&options).await.ok().map(
                |query_backup_storage::Success::Ok(r)| serde_json::to_value(r).unwrap_or_default(),
            )
        }
    };
    let by_name = query(query_backup_storage::Options {
        q: Some(vec![format!("name={name}")]),
        ..Default::default()
    })
    .await;
    let names: Vec<&str> = by_name
        .as_ref()
        .and_then(|v| v["inventories"].as_array())
        .map(|a| a.iter().filter_map(|i| i["name"].as_str()).collect())
        .unwrap_or_default();
    ctx.check(
        "QueryBackupStorage",
        "q=name=<name> finds exactly that storage",
        !names.is_empty() && names.iter().all(|n| *n == name),
        format!("{names:?}"),
    );
    let counted = query(query_backup_storage::Options {
        count: Some(true),
        ..Default::default()
    })
    .await;
    let total = counted.as_ref().and_then(|v| v["total"].as_u64());
    ctx.check(
        "QueryBackupStorage",
        "count=true answers the total only",
        total == Some(all.len() as u64),
        format!("{counted:?}"),
    );
    let page = query(query_backup_storage::Options {
        limit: Some(1),
        start: Some(0),
        reply_with_count: Some(true),
        sort: Some("+name".into()),
        ..Default::default()
    })
    .await;
    let page_len = page
        .as_ref()
        .and_then(|v| v["inventories"].as_array())
        .map(Vec::len);
    ctx.check(
        "QueryBackupStorage",
        "limit=1 with replyWithCount pages and counts",
        page_len == Some(1.min(all.len()))
            && page.as_ref().and_then(|v| v["total"].as_u64()) == Some(all.len() as u64),
        format!("{page:?}"),
    );
    let like = query(query_backup_storage::Options {
        q: Some(vec![format!(
            "name~={}%",
            name.chars().next().unwrap_or('x')
        )]),
        fields: Some(vec!["name".into(), "type".into(), "uuid".into()]),
        ..Default::default()
    })
    .await;
    let fields_only = like
        .as_ref()
        .and_then(|v| v["inventories"].as_array())
        .is_some_and(|a| {
            !a.is_empty()
                && a.iter().all(|i| {
                    i.as_object().is_some_and(|o| {
                        o.keys()
                            .all(|k| ["name", "type", "uuid"].contains(&k.as_str()))
                    })
                })
        });
    ctx.check(
        "QueryBackupStorage",
        "a like condition with fields returns only those fields",
        fields_only,
        format!("{like:?}"),
    );
    // A condition on a field that does not exist: the API's SYS.1007.
    let _ = client
        .query_backup_storage(&query_backup_storage::Options {
            q: Some(vec!["noSuchField=1".into()]),
            ..Default::default()
        })
        .await;
    if ctx.expect_status("QueryBackupStorage", "an unknown field is refused", 503) {
        let code = error_code(ctx, "QueryBackupStorage");
        ctx.check(
            "QueryBackupStorage",
            "an unknown field is SYS.1007",
            code == "SYS.1007",
            &code,
        );
    }
    // A condition without an operator: the REST layer's plain-text 400.
    let _ = client
        .query_backup_storage(&query_backup_storage::Options {
            q: Some(vec!["name".into()]),
            ..Default::default()
        })
        .await;
    ctx.expect_status(
        "QueryBackupStorage",
        "a condition without an operator is a 400",
        400,
    );
    Ok(())
}

async fn get(ctx: &mut Ctx) -> Result<()> {
    let client = client(ctx)?;
    let all = storages(&client).await?;
    let uuid = all
        .first()
        .and_then(|s| s["uuid"].as_str())
        .context("the appliance lists no backup storage")?
        .to_string();
    let one = client.get_backup_storage(&uuid).await;
    let found = one
        .ok()
        .map(|zstack::client::get_backup_storage::Success::Ok(r)| {
            serde_json::to_value(r).unwrap_or_default()
        });
    let uuids: Vec<&str> = found
        .as_ref()
        .and_then(|v| v["inventories"].as_array())
        .map(|a| a.iter().filter_map(|i| i["uuid"].as_str()).collect())
        .unwrap_or_default();
    ctx.check(
        "GetBackupStorage",
        "get answers that storage alone",
        uuids == [uuid.as_str()],
        format!("{uuids:?}"),
    );
    let none = client.get_backup_storage(UNKNOWN).await;
    let empty = none
        .ok()
        .map(|zstack::client::get_backup_storage::Success::Ok(r)| {
            serde_json::to_value(r).unwrap_or_default()
        })
        .is_some_and(|v| v["inventories"].as_array().is_some_and(Vec::is_empty));
    ctx.check(
        "GetBackupStorage",
        "an unknown uuid answers an empty list",
        empty,
        "",
    );
    Ok(())
}

/// Starts a job with `start` and polls it to its end: (final status, final body).
async fn follow(ctx: &mut Ctx, client: &Client, location: &str) -> Result<(u16, Value)> {
    let uuid = location
        .rsplit('/')
        .next()
        .context("a job location ends with the job's uuid")?
        .to_string();
    let interval = Duration::from_millis(500);
    let outcome = ctx
        .poll(interval, || async {
            match client.get_api_job(&uuid).await {
                Ok(get_api_job::Success::Accepted) => None,
                Ok(get_api_job::Success::Ok(result)) => {
                    Some((200, serde_json::to_value(result).unwrap_or_default()))
                }
                Err(codegen_runtime::Error::Api { status, .. }) => Some((status, Value::Null)),
                Err(_) => Some((0, Value::Null)),
            }
        })
        .await;
    let (status, mut body) = outcome.context("the job did not end before the deadline")?;
    if status == 503 {
        body = ctx
            .last("GetApiJob")
            .and_then(|e| e.response)
            .and_then(|r| r.json())
            .unwrap_or(Value::Null);
    }
    Ok((status, body))
}

fn location(
    started: Result<impl serde::Serialize + std::fmt::Debug, impl std::fmt::Display>,
) -> Result<String> {
    let started = started.map_err(|e| anyhow!("the job did not start: {e}"))?;
    let value = serde_json::to_value(&started)?;
    value
        .pointer("/Accepted/location")
        .or_else(|| value.pointer("/location"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .with_context(|| format!("no location in {value}"))
}

fn reconnect_body() -> zstack::types::ReconnectBackupStorageRequest {
    serde_json::from_value(json!({"reconnectBackupStorage": {}})).expect("a valid reconnect body")
}

async fn reconnect(ctx: &mut Ctx) -> Result<()> {
    let client = client(ctx)?;
    let uuid = connected_storage(&client).await?;
    let started = client
        .reconnect_backup_storage(&uuid, &reconnect_body(), &Default::default())
        .await;
    ctx.expect_status(
        "ReconnectBackupStorage",
        "reconnect answers 202 with a location",
        202,
    );
    let location = location(started.map(|s| match s {
        zstack::client::reconnect_backup_storage::Success::Accepted(l) => l,
    }))?;
    let (status, body) = follow(ctx, &client, &location).await?;
    ctx.check(
        "GetApiJob",
        "the reconnect job succeeds",
        status == 200,
        format!("{status}: {body}"),
    );
    ctx.check(
        "ReconnectBackupStorage",
        "the job's result is the storage, Connected",
        body.pointer("/inventory/status") == Some(&json!("Connected")),
        &body,
    );
    let after = storages(&client).await?;
    let status_now = after
        .iter()
        .find(|s| s["uuid"] == uuid.as_str())
        .map(|s| s["status"].clone());
    ctx.check(
        "ReconnectBackupStorage",
        "the storage is listed Connected afterwards",
        status_now == Some(json!("Connected")),
        format!("{status_now:?}"),
    );
    Ok(())
}

async fn unknown_uuid_jobs_fail(ctx: &mut Ctx) -> Result<()> {
    let client = client(ctx)?;
    let started = client
        .reconnect_backup_storage(UNKNOWN, &reconnect_body(), &Default::default())
        .await;
    match started {
        Ok(zstack::client::reconnect_backup_storage::Success::Accepted(l)) => {
            let (status, body) = follow(ctx, &client, &l.location).await?;
            let code = body.pointer("/error/code").cloned().unwrap_or(Value::Null);
            ctx.check(
                "ReconnectBackupStorage",
                "reconnecting an unknown uuid fails with SYS.1003",
                status == 503 && code == "SYS.1003",
                format!("{status}: {body}"),
            );
        }
        Err(_) => {
            ctx.expect_status("ReconnectBackupStorage", "an unknown uuid is refused", 503);
        }
    }
    let started = client
        .delete_backup_storage(UNKNOWN, &Default::default())
        .await;
    match started {
        Ok(zstack::client::delete_backup_storage::Success::Accepted(l)) => {
            let (status, body) = follow(ctx, &client, &l.location).await?;
            ctx.check(
                "DeleteBackupStorage",
                "deleting an unknown uuid fails with SYS.1003",
                status == 503 && body.pointer("/error/code") == Some(&json!("SYS.1003")),
                format!("{status}: {body}"),
            );
        }
        Err(_) => {
            ctx.expect_status("DeleteBackupStorage", "an unknown uuid is refused", 503);
        }
    }
    // The REST layer checks X-Job-UUID before anything else.
    let _ = client
        .delete_backup_storage(
            UNKNOWN,
            &zstack::client::delete_backup_storage::Options {
                x_job_uuid: Some("not-a-job-uuid".into()),
                ..Default::default()
            },
        )
        .await;
    ctx.expect_status(
        "DeleteBackupStorage",
        "a malformed X-Job-UUID is a 400",
        400,
    );
    let _ = client
        .reconnect_backup_storage(
            UNKNOWN,
            &reconnect_body(),
            &zstack::client::reconnect_backup_storage::Options {
                x_job_uuid: Some("12345".into()),
            },
        )
        .await;
    ctx.expect_status(
        "ReconnectBackupStorage",
        "a malformed X-Job-UUID is a 400",
        400,
    );
    Ok(())
}

async fn delete_modes(ctx: &mut Ctx) -> Result<()> {
    let client = client(ctx)?;
    let all = storages(&client).await?;
    // The seed's Ceph storage holds an image that refuses a Permissive deletion.
    let ceph = all
        .iter()
        .find(|s| s["type"] == "Ceph")
        .and_then(|s| s["uuid"].as_str())
        .context("the seed has a Ceph backup storage")?
        .to_string();
    let mode = |m: &str| zstack::client::delete_backup_storage::Options {
        delete_mode: Some(serde_json::from_value(json!(m)).expect("a delete mode")),
        ..Default::default()
    };
    let started = client
        .delete_backup_storage(&ceph, &mode("Permissive"))
        .await;
    let l = location(started.map(|zstack::client::delete_backup_storage::Success::Accepted(l)| l))?;
    let (status, body) = follow(ctx, &client, &l).await?;
    ctx.check(
        "DeleteBackupStorage",
        "a Permissive delete of storage with a dependent image fails",
        status == 503,
        format!("{status}: {body}"),
    );
    let still = storages(&client)
        .await?
        .iter()
        .any(|s| s["uuid"] == ceph.as_str());
    ctx.check(
        "DeleteBackupStorage",
        "the storage survives a failed Permissive delete",
        still,
        "",
    );
    let started = client
        .delete_backup_storage(&ceph, &mode("Enforcing"))
        .await;
    let l = location(started.map(|zstack::client::delete_backup_storage::Success::Accepted(l)| l))?;
    let (status, body) = follow(ctx, &client, &l).await?;
    ctx.check(
        "DeleteBackupStorage",
        "an Enforcing delete succeeds",
        status == 200,
        format!("{status}: {body}"),
    );
    let gone = !storages(&client)
        .await?
        .iter()
        .any(|s| s["uuid"] == ceph.as_str());
    ctx.check(
        "DeleteBackupStorage",
        "the deleted storage is no longer listed",
        gone,
        "",
    );
    let _ = client.delete_backup_storage(&ceph, &mode("Forced")).await;
    ctx.expect_status(
        "DeleteBackupStorage",
        "an invalid deleteMode is refused (SYS.1007)",
        503,
    );
    Ok(())
}

async fn job_expiry_and_uuid(ctx: &mut Ctx) -> Result<()> {
    let client = client(ctx)?;
    let uuid = connected_storage(&client).await?;
    let job = "1adb6f97b32d46d28e1ad07e69bbe04a";
    let started = client
        .reconnect_backup_storage(
            &uuid,
            &reconnect_body(),
            &zstack::client::reconnect_backup_storage::Options {
                x_job_uuid: Some(job.into()),
            },
        )
        .await;
    let l =
        location(started.map(|zstack::client::reconnect_backup_storage::Success::Accepted(l)| l))?;
    ctx.check(
        "ReconnectBackupStorage",
        "the location ends with the X-Job-UUID given",
        l.to_ascii_lowercase().ends_with(job),
        &l,
    );
    let (status, _) = follow(ctx, &client, &l).await?;
    ctx.check("GetApiJob", "the named job succeeds", status == 200, status);
    // Results are kept for a while, then the job is gone.
    ctx.pace.advance(Duration::from_secs(3 * 24 * 3600)).await;
    let _ = client.get_api_job(job).await;
    ctx.expect_status("GetApiJob", "an expired job answers 404", 404);
    let _ = client.get_api_job(UNKNOWN).await;
    ctx.expect_status("GetApiJob", "an unknown job answers 404", 404);
    Ok(())
}

async fn job_fails_midway(ctx: &mut Ctx) -> Result<()> {
    let emulator = ctx.emulator.clone().context("needs the emulator")?;
    emulator.faults.add(
        "ReconnectBackupStorage",
        FaultRule {
            times: Some(1),
            job_fail_at: Some(50),
            ..Default::default()
        },
    )?;
    let client = client(ctx)?;
    let uuid = connected_storage(&client).await?;
    let started = client
        .reconnect_backup_storage(&uuid, &reconnect_body(), &Default::default())
        .await;
    let l =
        location(started.map(|zstack::client::reconnect_backup_storage::Success::Accepted(l)| l))?;
    let (status, body) = follow(ctx, &client, &l).await?;
    ctx.check(
        "GetApiJob",
        "a job that fails midway answers 503 with the error envelope",
        status == 503 && body.pointer("/error/code").is_some(),
        format!("{status}: {body}"),
    );
    Ok(())
}

/// A client that stops waiting before the job ends gets a deadline error naming the last state,
/// and the job goes on: it still ends, and the storage is Connected.
async fn deadline_passes(ctx: &mut Ctx) -> Result<()> {
    let client = client(ctx)?;
    let uuid = connected_storage(&client).await?;
    let started = client
        .reconnect_backup_storage(&uuid, &reconnect_body(), &Default::default())
        .await
        .map_err(|e| anyhow!("reconnect: {e}"))?;
    let handle = Client::reconnect_backup_storage_job_handle(&started)
        .context("the 202 carries the job's location")?;
    // On the emulator nothing moves the clock while the client waits, so the job is still running
    // when this short deadline passes; an appliance's reconnect takes seconds.
    let wait = codegen_runtime::WaitOptions {
        interval: Duration::from_millis(20),
        deadline: Duration::from_millis(60),
    };
    let waited = client
        .wait_for_reconnect_backup_storage(&handle, &wait)
        .await;
    let deadline = matches!(
        &waited,
        Err(codegen_runtime::WaitError::Job(
            codegen_runtime::JobError::DeadlinePassed { .. }
        ))
    );
    ctx.check(
        "ReconnectBackupStorage",
        "waiting past the deadline is a DeadlinePassed error, not a failure",
        deadline,
        format!("{waited:?}"),
    );
    let (status, body) = follow(ctx, &client, &handle).await?;
    ctx.check(
        "GetApiJob",
        "the job goes on after the client gave up, and succeeds",
        status == 200,
        format!("{status}: {body}"),
    );
    Ok(())
}
