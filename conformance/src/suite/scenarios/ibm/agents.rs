//! Agents: installer downloads, and upgrade tasks followed to their end (scheduled, immediate,
//! failing). Nothing in the API lists agents, so upgrades use the emulator's seeded agent ids.

use anyhow::{anyhow, Context as _, Result};
use ibm_backup_recovery::client as api;
use ibm_backup_recovery::Client;
use serde_json::{json, Value};

use super::{
    body, client, failed, follow, invalid, json_of, not_found, strings, Ctx, Scenario,
    UNKNOWN_NUMBER, UPGRADE_TERMINAL,
};
use crate::faults::FaultRule;

/// The agents the emulator's default seed knows.
const SEEDED_AGENTS: [i64; 2] = [101, 102];

pub(super) fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "agent-download",
            operations: &["DownloadAgent", "GetUpgradeTasks"],
            mutates: true,
            emulator_only: false,
            run: |ctx| Box::pin(agent_download(ctx)),
        },
        Scenario {
            name: "agent-upgrades",
            operations: &["CreateUpgradeTask", "GetUpgradeTasks"],
            mutates: true,
            emulator_only: true,
            run: |ctx| Box::pin(agent_upgrades(ctx)),
        },
    ]
}

async fn agent_download(ctx: &mut Ctx) -> Result<()> {
    let client = client(ctx)?;
    for (request, marker) in [
        (
            json!({"platform": "kLinux", "linuxParams": {"packageType": "kRPM"}}),
            "kRPM",
        ),
        (json!({"platform": "kWindows"}), ""),
    ] {
        let api::download_agent::Success::Ok(response) = client
            .download_agent(&body(request.clone()), &Default::default())
            .await
            .map_err(failed("DownloadAgent"))?;
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let bytes = response.bytes().await.map_err(|e| anyhow!("{e}"))?;
        ctx.check(
            "DownloadAgent",
            &format!("{} answers an installer as octets", request["platform"]),
            !bytes.is_empty()
                && content_type.starts_with("application/octet-stream")
                && String::from_utf8_lossy(&bytes).contains(marker),
            format!("{content_type}, {} bytes", bytes.len()),
        );
    }
    let api::get_upgrade_tasks::Success::Ok(tasks) = client
        .get_upgrade_tasks(&Default::default())
        .await
        .map_err(failed("GetUpgradeTasks"))?;
    let tasks = json_of(&tasks);
    ctx.check(
        "GetUpgradeTasks",
        "upgrade tasks are listed, each with an id",
        tasks["tasks"]
            .as_array()
            .is_none_or(|t| t.iter().all(|t| t["id"].is_i64())),
        &tasks,
    );
    Ok(())
}

async fn task_state(client: &Client, id: i64) -> Option<String> {
    let options = api::get_upgrade_tasks::Options {
        ids: Some(vec![id]),
        ..Default::default()
    };
    let api::get_upgrade_tasks::Success::Ok(tasks) =
        client.get_upgrade_tasks(&options).await.ok()?;
    json_of(&tasks)
        .pointer("/tasks/0/status")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Creates an upgrade task and follows it to its end: (id, states seen).
async fn upgrade(ctx: &mut Ctx, client: &Client, request: Value) -> Result<(i64, Vec<String>)> {
    let started = client
        .create_upgrade_task(&body(request), &Default::default())
        .await
        .map_err(failed("CreateUpgradeTask"))?;
    let handle = Client::create_upgrade_task_job_handle(&started).context("no task id")?;
    let id: i64 = handle
        .parse()
        .map_err(|e| anyhow!("task id {handle}: {e}"))?;
    let states = follow(ctx, UPGRADE_TERMINAL, || task_state(client, id)).await?;
    Ok((id, states))
}

async fn agent_upgrades(ctx: &mut Ctx) -> Result<()> {
    let emulator = ctx.emulator.clone().context("needs the emulator")?;
    let client = client(ctx)?;
    // Scheduled a minute ahead: Scheduled, then Running, then Succeeded.
    let now = crate::clock::unix_millis(emulator.clock.now()) as i64 * 1000;
    let name = ctx.name("upgrade");
    let (scheduled, states) = upgrade(
        ctx,
        &client,
        json!({"agentIDs": [SEEDED_AGENTS[0]], "name": name, "scheduleTimeUsecs": now + 60_000_000}),
    )
    .await?;
    ctx.check(
        "CreateUpgradeTask",
        "a scheduled upgrade waits, runs and succeeds",
        states.first().map(String::as_str) == Some("Scheduled")
            && states.last().map(String::as_str) == Some("Succeeded"),
        format!("{states:?}"),
    );
    let api::get_upgrade_tasks::Success::Ok(listed) = client
        .get_upgrade_tasks(&Default::default())
        .await
        .map_err(failed("GetUpgradeTasks"))?;
    let listed = json_of(&listed);
    ctx.check(
        "GetUpgradeTasks",
        "the task is listed with its agent",
        strings(&listed, "/tasks", "/id").contains(&scheduled.to_string())
            && listed["tasks"]
                .as_array()
                .and_then(|t| t.iter().find(|t| t["id"] == json!(scheduled)))
                .is_some_and(|t| strings(t, "/agents", "/id") == [SEEDED_AGENTS[0].to_string()]),
        &listed,
    );
    // Failing midway (an injected fault).
    emulator
        .faults
        .add(
            "CreateUpgradeTask",
            FaultRule {
                times: Some(1),
                job_fail_at: Some(30),
                ..Default::default()
            },
        )
        .map_err(|e| anyhow!("fault: {e}"))?;
    let (failed_task, states) = upgrade(ctx, &client, json!({"agentIDs": SEEDED_AGENTS})).await?;
    ctx.check(
        "CreateUpgradeTask",
        "an upgrade that fails midway ends Failed",
        states.last().map(String::as_str) == Some("Failed"),
        format!("{states:?}"),
    );
    let api::get_upgrade_tasks::Success::Ok(one) = client
        .get_upgrade_tasks(&api::get_upgrade_tasks::Options {
            ids: Some(vec![failed_task]),
            ..Default::default()
        })
        .await
        .map_err(failed("GetUpgradeTasks"))?;
    let one = json_of(&one);
    ctx.check(
        "GetUpgradeTasks",
        "ids= lists that task, with its error",
        strings(&one, "/tasks", "/id") == [failed_task.to_string()]
            && one
                .pointer("/tasks/0/error/message")
                .is_some_and(Value::is_string),
        &one,
    );
    let _ = client
        .create_upgrade_task(
            &body(json!({"agentIDs": [UNKNOWN_NUMBER]})),
            &Default::default(),
        )
        .await;
    not_found(
        ctx,
        "CreateUpgradeTask",
        "upgrading an unknown agent answers 404",
    );
    let _ = client
        .create_upgrade_task(&body(json!({"agentIDs": []})), &Default::default())
        .await;
    invalid(
        ctx,
        "CreateUpgradeTask",
        "an upgrade naming no agent answers 400",
    );
    Ok(())
}
