//! IBM Backup and Recovery: policies, protection groups and their runs, recoveries and downloads,
//! snapshots and searches, source registrations, data-source connections and connectors, agents,
//! and the tenant header (`X-IBM-Tenant-Id`) that scopes all of them.
//!
//! Read-only scenarios discover what they use by listing, so they run on a real instance too.
//! Mutating scenarios create what they need (named with [`Ctx::name`]) and remove it afterwards;
//! every run of a protection group is the only run of a group the scenario created, because a
//! run's job handle is its group's id and the job checks read every later poll of that group.
//! Scenarios that need faults, a second tenant, or agent ids only the emulator's seed knows
//! (nothing in the API lists agents) run on the embedded emulator only.

mod agents;
mod protection;
mod recoveries;
mod runs;
mod search;
mod sources;
mod tenants;

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{anyhow, Context as _, Result};
use codegen_runtime::Auth;
use ibm_backup_recovery::client as api;
use ibm_backup_recovery::Client;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

use super::{Credentials, Ctx, Scenario};

/// An entity id (`cluster:incarnation:n`) no instance has.
const UNKNOWN_ID: &str = "1:1:999999999";
/// A numeric id (objects, sources, agents) no instance has.
const UNKNOWN_NUMBER: i64 = 999_999_999;
/// A run id no group has.
const UNKNOWN_RUN: &str = "999999999:1";
/// A tenant no instance knows.
const UNKNOWN_TENANT: &str = "conformance-no-such-tenant/";
/// The largest download chunk the API allows (8 MiB).
const MAX_CHUNK: i64 = 8 * 1024 * 1024;

const RUN_TERMINAL: &[&str] = &[
    "Succeeded",
    "SucceededWithWarning",
    "LegalHold",
    "Failed",
    "Missed",
    "Skipped",
    "Canceled",
];
const UPGRADE_TERMINAL: &[&str] = &["Succeeded", "Failed", "PartiallyFailed", "Canceled"];

pub fn scenarios() -> Vec<Scenario> {
    let mut all = Vec::new();
    all.extend(protection::scenarios());
    all.extend(runs::scenarios());
    all.extend(recoveries::scenarios());
    all.extend(search::scenarios());
    all.extend(sources::scenarios());
    all.extend(agents::scenarios());
    all.extend(tenants::scenarios());
    all
}

/// Which tenant a client speaks for.
#[derive(Clone, Copy)]
enum As {
    /// The run's tenant.
    Tenant,
    /// The second tenant (isolation checks).
    Other,
    /// A tenant the instance does not know.
    Unknown,
    /// No `X-IBM-Tenant-Id` at all.
    Nobody,
}

fn credentials(ctx: &Ctx) -> (String, String, Option<String>, Option<String>) {
    match &ctx.credentials {
        Credentials::Ibm {
            api_key,
            tenant,
            iam_url,
            other_tenant,
        } => (
            api_key.clone(),
            tenant.clone(),
            iam_url.clone(),
            other_tenant.clone(),
        ),
        other => panic!("ibm scenarios got {other:?}"),
    }
}

/// The generated client, logged in at IAM with the run's API key, speaking for `who`.
fn client_as(ctx: &Ctx, who: As) -> Result<Client> {
    let (api_key, tenant, iam_url, other) = credentials(ctx);
    let iam_url = iam_url.context("no IAM token URL")?;
    let mut builder = ctx
        .builder()
        .auth(Auth::ibm_iam_with_url(api_key, iam_url.parse()?));
    let tenant = match who {
        As::Tenant => Some(tenant),
        As::Other => Some(other.context("no second tenant configured")?),
        As::Unknown => Some(UNKNOWN_TENANT.to_string()),
        As::Nobody => None,
    };
    if let Some(tenant) = tenant {
        builder = builder.default_header("X-IBM-Tenant-Id", &tenant);
    }
    Client::from_builder(builder).map_err(|e| anyhow!("client: {e}"))
}

fn client(ctx: &Ctx) -> Result<Client> {
    client_as(ctx, As::Tenant)
}

/// A typed request body from JSON (the scenarios write what goes on the wire).
fn body<T: DeserializeOwned>(value: Value) -> T {
    match serde_json::from_value(value.clone()) {
        Ok(body) => body,
        Err(e) => panic!("a request body the spec accepts: {e}: {value}"),
    }
}

/// A typed answer as JSON.
fn json_of<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// Turns a client error into the scenario's error, naming the operation.
fn failed<E: std::fmt::Debug>(
    op: &'static str,
) -> impl Fn(codegen_runtime::Error<E>) -> anyhow::Error {
    move |e| anyhow!("{op}: {e}")
}

/// The `errorCode` of the last answer to `op`.
fn error_code(ctx: &Ctx, op: &str) -> String {
    ctx.last(op)
        .and_then(|e| e.response)
        .and_then(|r| r.json())
        .and_then(|v| v["errorCode"].as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Checks that the last call of `op` answered `status` with IBM's `errorCode` `code`.
fn expect_error(ctx: &mut Ctx, op: &str, what: &str, status: u16, code: &str) -> bool {
    if !ctx.expect_status(op, what, status) {
        return false;
    }
    let got = error_code(ctx, op);
    ctx.check(op, &format!("{what} ({code})"), got == code, &got)
}

fn not_found(ctx: &mut Ctx, op: &str, what: &str) -> bool {
    expect_error(ctx, op, what, 404, "KEntityNotExistsError")
}

fn invalid(ctx: &mut Ctx, op: &str, what: &str) -> bool {
    expect_error(ctx, op, what, 400, "KValidationError")
}

fn duplicate(ctx: &mut Ctx, op: &str, what: &str) -> bool {
    expect_error(ctx, op, what, 409, "KDuplicateError")
}

/// The strings at `pointer` in each item of the array at `list`.
fn strings(value: &Value, list: &str, pointer: &str) -> Vec<String> {
    value
        .pointer(list)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.pointer(pointer))
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Time between polls: short on the emulator (its clock moves), gentle on an appliance.
fn interval(ctx: &Ctx) -> Duration {
    if ctx.emulator.is_some() {
        Duration::from_secs(2)
    } else {
        Duration::from_secs(10)
    }
}

/// Polls `read` (a job's state, `None` when it could not be read) until it is one of
/// `terminal`; answers every distinct state seen, in order.
async fn follow<F, Fut>(ctx: &Ctx, terminal: &[&str], mut read: F) -> Result<Vec<String>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<String>>,
{
    let seen = Mutex::new(Vec::<String>::new());
    let end = ctx
        .poll(interval(ctx), || {
            let next = read();
            let seen = &seen;
            async move {
                let Some(state) = next.await else {
                    return Some(false);
                };
                let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
                if seen.last() != Some(&state) {
                    seen.push(state.clone());
                }
                terminal.contains(&state.as_str()).then_some(true)
            }
        })
        .await;
    let seen = seen.into_inner().unwrap_or_else(|e| e.into_inner());
    match end {
        Some(true) => Ok(seen),
        Some(false) => Err(anyhow!(
            "the job's state could not be read (seen: {seen:?})"
        )),
        None => Err(anyhow!(
            "the job did not end before the deadline (seen: {seen:?})"
        )),
    }
}

/// The state of the newest run of `group` (or of run `run`), as the x-job reads it.
async fn run_state(client: &Client, group: &str, run: Option<&str>) -> Option<String> {
    let options = api::get_protection_group_runs::Options {
        run_id: run.map(str::to_string),
        ..Default::default()
    };
    let api::get_protection_group_runs::Success::Ok(runs) = client
        .get_protection_group_runs(group, &options)
        .await
        .ok()?;
    json_of(&runs)
        .pointer("/runs/0/localBackupInfo/status")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Follows the newest run of `group` to its end.
async fn follow_run(ctx: &Ctx, client: &Client, group: &str) -> Result<Vec<String>> {
    follow(ctx, RUN_TERMINAL, || run_state(client, group, None)).await
}

/// Follows a recovery to its end.
async fn follow_recovery(ctx: &Ctx, client: &Client, id: &str) -> Result<Vec<String>> {
    follow(ctx, RUN_TERMINAL, || async {
        let api::get_recovery_by_id::Success::Ok(r) = client
            .get_recovery_by_id(id, &Default::default())
            .await
            .ok()?;
        json_of(&r)["status"].as_str().map(str::to_string)
    })
    .await
}

/// The first physical objects the tenant can protect (search order), at most `n`.
async fn physical_objects(client: &Client, n: usize) -> Result<Vec<Value>> {
    let options = api::search_objects::Options {
        environments: Some(vec![body(json!("kPhysical"))]),
        ..Default::default()
    };
    let api::search_objects::Success::Ok(found) = client
        .search_objects(&options)
        .await
        .map_err(failed("SearchObjects"))?;
    let objects: Vec<Value> = json_of(&found)["objects"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|o| o["id"].is_i64())
        .take(n)
        .collect();
    if objects.is_empty() {
        anyhow::bail!("the tenant has no physical object to protect");
    }
    Ok(objects)
}

fn policy_body(name: &str, description: &str) -> Value {
    json!({
        "name": name,
        "description": description,
        "backupPolicy": {"regular": {
            "incremental": {"schedule": {"unit": "Days", "daySchedule": {"frequency": 1}}},
            "retention": {"unit": "Days", "duration": 7},
        }},
    })
}

fn group_body(name: &str, policy: &str, objects: &[i64]) -> Value {
    let objects: Vec<Value> = objects.iter().map(|id| json!({"id": id})).collect();
    json!({
        "name": name,
        "policyId": policy,
        "environment": "kPhysical",
        "description": "created by the conformance suite",
        "physicalParams": {
            "protectionType": "kVolume",
            "volumeProtectionTypeParams": {"objects": objects},
        },
    })
}

/// Creates a policy named `name`, removed when the scenario ends; answers its id.
async fn create_policy(ctx: &mut Ctx, client: &Client, name: &str) -> Result<String> {
    let api::create_protection_policy::Success::Created(created) = client
        .create_protection_policy(
            &body(policy_body(name, "conformance suite")),
            &Default::default(),
        )
        .await
        .map_err(failed("CreateProtectionPolicy"))?;
    let id = created.id.clone().context("the created policy has no id")?;
    let cleanup = client.clone();
    let policy = id.clone();
    ctx.on_cleanup(&format!("delete policy {id}"), move || {
        Box::pin(async move {
            match cleanup
                .delete_protection_policy(&policy, &Default::default())
                .await
            {
                Ok(_) => Ok(()),
                Err(e) if e.status() == Some(404) => Ok(()),
                Err(e) => Err(anyhow!("{e}")),
            }
        })
    });
    Ok(id)
}

/// Creates a group named `name` under `policy` protecting `objects`, removed (with its
/// snapshots) when the scenario ends; answers its id.
async fn create_group(
    ctx: &mut Ctx,
    client: &Client,
    name: &str,
    policy: &str,
    objects: &[i64],
) -> Result<String> {
    let api::create_protection_group::Success::Created(created) = client
        .create_protection_group(
            &body(group_body(name, policy, objects)),
            &Default::default(),
        )
        .await
        .map_err(failed("CreateProtectionGroup"))?;
    let id = json_of(&created)["id"]
        .as_str()
        .context("the created group has no id")?
        .to_string();
    let cleanup = client.clone();
    let group = id.clone();
    ctx.on_cleanup(&format!("delete protection group {id}"), move || {
        Box::pin(async move {
            let options = api::delete_protection_group::Options {
                delete_snapshots: Some(true),
                ..Default::default()
            };
            match cleanup.delete_protection_group(&group, &options).await {
                Ok(_) => Ok(()),
                Err(e) if e.status() == Some(404) => Ok(()),
                Err(e) => Err(anyhow!("{e}")),
            }
        })
    });
    Ok(id)
}

/// What [`protected_run`] made: a policy, a group over one object, and its finished run.
struct Protected {
    group: String,
    object: i64,
    run: String,
    states: Vec<String>,
}

/// Creates a policy and a group over the first physical object, starts one run and follows it
/// to its end. Checks the start (202, the handle is the group id).
async fn protected_run(ctx: &mut Ctx, client: &Client, what: &str) -> Result<Protected> {
    let object = physical_objects(client, 1).await?[0]["id"]
        .as_i64()
        .context("an object id")?;
    let policy = create_policy(ctx, client, &ctx.name(&format!("{what}-policy"))).await?;
    let group = create_group(
        ctx,
        client,
        &ctx.name(&format!("{what}-group")),
        &policy,
        &[object],
    )
    .await?;
    let started = client
        .create_protection_group_run(
            &group,
            &body(json!({"runType": "kRegular"})),
            &Default::default(),
        )
        .await
        .map_err(failed("CreateProtectionGroupRun"))?;
    let handle = Client::create_protection_group_run_job_handle(&started);
    ctx.check(
        "CreateProtectionGroupRun",
        "the run's job handle is its group's id",
        handle.as_deref() == Some(group.as_str()),
        format!("{handle:?}"),
    );
    let states = follow_run(ctx, client, &group).await?;
    let api::get_protection_group_runs::Success::Ok(runs) = client
        .get_protection_group_runs(&group, &Default::default())
        .await
        .map_err(failed("GetProtectionGroupRuns"))?;
    let run = json_of(&runs)
        .pointer("/runs/0/id")
        .and_then(Value::as_str)
        .context("the group lists no run")?
        .to_string();
    Ok(Protected {
        group,
        object,
        run,
        states,
    })
}

/// The snapshots of `object` made by runs of `group`.
async fn snapshots_of(client: &Client, object: i64, group: &str) -> Result<Vec<Value>> {
    let options = api::get_object_snapshots::Options {
        protection_group_ids: Some(vec![group.to_string()]),
        ..Default::default()
    };
    let api::get_object_snapshots::Success::Ok(found) = client
        .get_object_snapshots(object, &options)
        .await
        .map_err(failed("GetObjectSnapshots"))?;
    Ok(json_of(&found)["snapshots"]
        .as_array()
        .cloned()
        .unwrap_or_default())
}
