//! Runs of protection groups: a run from Accepted to Succeeded with its snapshots and restore
//! points, run updates (207), run actions (cancel, pause and resume, and the transitions the API
//! refuses), and a run that fails.

use anyhow::{anyhow, Context as _, Result};
use ibm_backup_recovery::client as api;
use ibm_backup_recovery::Client;
use serde_json::{json, Value};

use super::{
    body, client, create_group, create_policy, duplicate, failed, follow, follow_run, interval,
    invalid, json_of, not_found, physical_objects, protected_run, run_state, snapshots_of, strings,
    Ctx, Scenario, RUN_TERMINAL, UNKNOWN_ID, UNKNOWN_NUMBER, UNKNOWN_RUN,
};
use crate::faults::FaultRule;

/// A run that left Accepted.
const RUNNING_OR_DONE: &[&str] = &[
    "Running",
    "Paused",
    "Succeeded",
    "SucceededWithWarning",
    "Failed",
    "Canceled",
];

pub(super) fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "run-succeeds",
            operations: &[
                "CreateProtectionGroupRun",
                "GetProtectionGroupRuns",
                "GetProtectionGroupByID",
                "GetObjectSnapshots",
                "GetRestorePointsInTimeRange",
                "UpdateProtectionGroupRun",
                "PerformActionOnProtectionGroupRun",
            ],
            mutates: true,
            emulator_only: false,
            run: |ctx| Box::pin(run_succeeds(ctx)),
        },
        Scenario {
            name: "run-cancel",
            operations: &[
                "PerformActionOnProtectionGroupRun",
                "CreateProtectionGroupRun",
                "GetProtectionGroupRuns",
            ],
            mutates: true,
            emulator_only: false,
            run: |ctx| Box::pin(run_cancel(ctx)),
        },
        Scenario {
            name: "run-pause-resume",
            operations: &[
                "PerformActionOnProtectionGroupRun",
                "CreateProtectionGroupRun",
                "GetProtectionGroupRuns",
                "GetObjectSnapshots",
            ],
            mutates: true,
            emulator_only: false,
            run: |ctx| Box::pin(run_pause_resume(ctx)),
        },
        Scenario {
            name: "run-fails",
            operations: &["CreateProtectionGroupRun", "GetProtectionGroupRuns"],
            mutates: true,
            emulator_only: true,
            run: |ctx| Box::pin(run_fails(ctx)),
        },
    ]
}

async fn runs(
    client: &Client,
    group: &str,
    options: &api::get_protection_group_runs::Options,
) -> Result<Value> {
    let api::get_protection_group_runs::Success::Ok(runs) = client
        .get_protection_group_runs(group, options)
        .await
        .map_err(failed("GetProtectionGroupRuns"))?;
    Ok(json_of(&runs))
}

fn start_body() -> ibm_backup_recovery::types::CreateProtectionGroupRunRequest {
    body(json!({"runType": "kRegular"}))
}

fn action(
    name: &str,
    run: &str,
) -> ibm_backup_recovery::types::PerformActionOnProtectionGroupRunRequest {
    let key = format!("{}Params", name.to_lowercase());
    body(json!({"action": name, key: [{"runId": run}]}))
}

async fn run_succeeds(ctx: &mut Ctx) -> Result<()> {
    let client = client(ctx)?;
    let object = physical_objects(&client, 1).await?[0]["id"]
        .as_i64()
        .context("an object id")?;
    let policy_name = ctx.name("run-policy");
    let policy = create_policy(ctx, &client, &policy_name).await?;
    let group_name = ctx.name("run-group");
    let group = create_group(ctx, &client, &group_name, &policy, &[object]).await?;
    let started = client
        .create_protection_group_run(&group, &start_body(), &Default::default())
        .await
        .map_err(failed("CreateProtectionGroupRun"))?;
    ctx.expect_status(
        "CreateProtectionGroupRun",
        "starting a run answers 202",
        202,
    );
    let handle = Client::create_protection_group_run_job_handle(&started);
    ctx.check(
        "CreateProtectionGroupRun",
        "the run's job handle is its group's id",
        handle.as_deref() == Some(group.as_str()),
        format!("{handle:?}"),
    );
    // One run at a time per group.
    let _ = client
        .create_protection_group_run(
            &group,
            &body(json!({"runType": "kFull"})),
            &Default::default(),
        )
        .await;
    duplicate(
        ctx,
        "CreateProtectionGroupRun",
        "a second run while one is unfinished answers 409",
    );
    let _ = client
        .create_protection_group_run(UNKNOWN_ID, &start_body(), &Default::default())
        .await;
    not_found(
        ctx,
        "CreateProtectionGroupRun",
        "running an unknown group answers 404",
    );

    let states = follow_run(ctx, &client, &group).await?;
    ctx.check(
        "CreateProtectionGroupRun",
        "the run ends Succeeded",
        states.last().map(String::as_str) == Some("Succeeded"),
        format!("{states:?}"),
    );
    ctx.check(
        "GetProtectionGroupRuns",
        "the run was seen unfinished before it succeeded",
        states.len() >= 2 && ["Accepted", "Running"].contains(&states[0].as_str()),
        format!("{states:?}"),
    );
    let all = runs(&client, &group, &Default::default()).await?;
    let run = all
        .pointer("/runs/0/id")
        .and_then(Value::as_str)
        .context("the group lists no run")?
        .to_string();
    ctx.check(
        "GetProtectionGroupRuns",
        "the group lists exactly its one run",
        strings(&all, "/runs", "/id") == [run.clone()] && all["totalRuns"] == json!(1),
        &all,
    );
    let one = runs(
        &client,
        &group,
        &api::get_protection_group_runs::Options {
            run_id: Some(run.clone()),
            include_object_details: Some(true),
            local_backup_run_status: Some(vec![body(json!("Succeeded"))]),
            ..Default::default()
        },
    )
    .await?;
    ctx.check(
        "GetProtectionGroupRuns",
        "runId= with its status and object details finds the run and its object",
        strings(&one, "/runs", "/id") == [run.clone()]
            && strings(&one, "/runs/0/objects", "/object/id") == [object.to_string()],
        &one,
    );
    let failed_only = runs(
        &client,
        &group,
        &api::get_protection_group_runs::Options {
            local_backup_run_status: Some(vec![body(json!("Failed"))]),
            ..Default::default()
        },
    )
    .await?;
    ctx.check(
        "GetProtectionGroupRuns",
        "localBackupRunStatus=Failed does not list a succeeded run",
        strings(&failed_only, "/runs", "/id").is_empty(),
        &failed_only,
    );
    let api::get_protection_group_by_id::Success::Ok(with_last) = client
        .get_protection_group_by_id(
            &group,
            &api::get_protection_group_by_id::Options {
                include_last_run_info: Some(true),
                ..Default::default()
            },
        )
        .await
        .map_err(failed("GetProtectionGroupByID"))?;
    let with_last = json_of(&with_last);
    ctx.check(
        "GetProtectionGroupByID",
        "includeLastRunInfo names the run as the group's last",
        with_last.pointer("/lastRun/id") == Some(&json!(run)),
        &with_last,
    );

    // The run left a snapshot of the object, and a restore point.
    let snapshots = snapshots_of(&client, object, &group).await?;
    ctx.check(
        "GetObjectSnapshots",
        "the run left one snapshot of its object",
        snapshots.len() == 1 && snapshots[0]["protectionGroupRunId"] == run.as_str(),
        format!("{snapshots:?}"),
    );
    let taken = snapshots
        .first()
        .and_then(|s| s["snapshotTimestampUsecs"].as_i64())
        .context("the snapshot has no timestamp")?;
    let points = |start: i64, end: i64, groups: Vec<String>| {
        body::<ibm_backup_recovery::types::GetRestorePointsInTimeRangeRequest>(json!({
            "protectionGroupIds": groups, "environment": "kPhysical",
            "startTimeUsecs": start, "endTimeUsecs": end,
        }))
    };
    let api::get_restore_points_in_time_range::Success::Created(found) = client
        .get_restore_points_in_time_range(
            &points(taken - 1, taken + 1, vec![group.clone()]),
            &Default::default(),
        )
        .await
        .map_err(failed("GetRestorePointsInTimeRange"))?;
    let found = json_of(&found);
    ctx.check(
        "GetRestorePointsInTimeRange",
        "the run's snapshot is a restore point in a range around it",
        strings(
            &found,
            "/fullSnapshotInfo",
            "/restoreInfo/runStartTimeUsecs",
        ) == [taken.to_string()],
        &found,
    );
    let api::get_restore_points_in_time_range::Success::Created(none) = client
        .get_restore_points_in_time_range(
            &points(taken + 1, taken + 1_000_000, vec![group.clone()]),
            &Default::default(),
        )
        .await
        .map_err(failed("GetRestorePointsInTimeRange"))?;
    let none = json_of(&none);
    ctx.check(
        "GetRestorePointsInTimeRange",
        "a range after the snapshot has no restore point",
        strings(&none, "/fullSnapshotInfo", "/restoreInfo/runStartTimeUsecs").is_empty(),
        &none,
    );
    let _ = client
        .get_restore_points_in_time_range(
            &points(taken + 1, taken - 1, vec![group.clone()]),
            &Default::default(),
        )
        .await;
    invalid(
        ctx,
        "GetRestorePointsInTimeRange",
        "a range that ends before it starts answers 400",
    );

    // Updating runs: 207 with a result per run.
    let update = |params: Value| {
        body::<ibm_backup_recovery::types::UpdateProtectionGroupRunRequest>(
            json!({"updateProtectionGroupRunParams": params}),
        )
    };
    let api::update_protection_group_run::Success::MultiStatus(result) = client
        .update_protection_group_run(
            &group,
            &update(json!([
                {"runId": run, "localSnapshotConfig": {"enableLegalHold": true, "daysToKeep": 1}},
                {"runId": UNKNOWN_RUN, "localSnapshotConfig": {"daysToKeep": 1}},
            ])),
            &Default::default(),
        )
        .await
        .map_err(failed("UpdateProtectionGroupRun"))?;
    let result = json_of(&result);
    ctx.check(
        "UpdateProtectionGroupRun",
        "the update answers the run as updated and the unknown run as failed",
        strings(&result, "/successfulRunIds", "") == [run.clone()]
            && strings(&result, "/failedRuns", "/runId") == [UNKNOWN_RUN.to_string()],
        &result,
    );
    let held = snapshots_of(&client, object, &group).await?;
    ctx.check(
        "UpdateProtectionGroupRun",
        "the run's snapshot is on legal hold, kept a day longer",
        held.len() == 1
            && held[0]["onLegalHold"] == json!(true)
            && held[0]["expiryTimeUsecs"].as_i64()
                == snapshots[0]["expiryTimeUsecs"]
                    .as_i64()
                    .map(|e| e + 86_400_000_000),
        format!("{held:?}"),
    );
    let api::update_protection_group_run::Success::MultiStatus(refused) = client
        .update_protection_group_run(
            &group,
            &update(json!([{"runId": run, "localSnapshotConfig": {"deleteSnapshot": true}}])),
            &Default::default(),
        )
        .await
        .map_err(failed("UpdateProtectionGroupRun"))?;
    let refused = json_of(&refused);
    ctx.check(
        "UpdateProtectionGroupRun",
        "snapshots on legal hold cannot be deleted",
        strings(&refused, "/successfulRunIds", "").is_empty()
            && strings(&refused, "/failedRuns", "/runId") == [run.clone()],
        &refused,
    );
    client
        .update_protection_group_run(
            &group,
            &update(json!([{"runId": run, "localSnapshotConfig": {"enableLegalHold": false}}])),
            &Default::default(),
        )
        .await
        .map_err(failed("UpdateProtectionGroupRun"))?;
    let _ = client
        .update_protection_group_run(&group, &update(json!([])), &Default::default())
        .await;
    invalid(
        ctx,
        "UpdateProtectionGroupRun",
        "an update naming no run answers 400",
    );
    let _ = client
        .update_protection_group_run(
            UNKNOWN_ID,
            &update(json!([{"runId": run}])),
            &Default::default(),
        )
        .await;
    not_found(
        ctx,
        "UpdateProtectionGroupRun",
        "updating the runs of an unknown group answers 404",
    );

    // A finished run takes no action; an unknown one is not found.
    for name in ["Cancel", "Pause", "Resume"] {
        let _ = client
            .perform_action_on_protection_group_run(
                &group,
                &action(name, &run),
                &Default::default(),
            )
            .await;
        invalid(
            ctx,
            "PerformActionOnProtectionGroupRun",
            &format!("{name} on a succeeded run answers 400"),
        );
    }
    let _ = client
        .perform_action_on_protection_group_run(
            &group,
            &action("Cancel", UNKNOWN_RUN),
            &Default::default(),
        )
        .await;
    not_found(
        ctx,
        "PerformActionOnProtectionGroupRun",
        "cancelling an unknown run answers 404",
    );
    let _ = client
        .perform_action_on_protection_group_run(
            &group,
            &body(json!({"action": "Cancel"})),
            &Default::default(),
        )
        .await;
    invalid(
        ctx,
        "PerformActionOnProtectionGroupRun",
        "an action naming no run answers 400",
    );

    // A run of objects the group does not protect is refused.
    let _ = client
        .create_protection_group_run(
            &group,
            &body(json!({"runType": "kRegular", "objects": [{"id": UNKNOWN_NUMBER}]})),
            &Default::default(),
        )
        .await;
    invalid(
        ctx,
        "CreateProtectionGroupRun",
        "a run of an object the group does not protect answers 400",
    );
    Ok(())
}

async fn run_cancel(ctx: &mut Ctx) -> Result<()> {
    let client = client(ctx)?;
    let object = physical_objects(&client, 1).await?[0]["id"]
        .as_i64()
        .context("an object id")?;
    let policy_name = ctx.name("cancel-policy");
    let policy = create_policy(ctx, &client, &policy_name).await?;
    let group_name = ctx.name("cancel-group");
    let group = create_group(ctx, &client, &group_name, &policy, &[object]).await?;
    client
        .create_protection_group_run(&group, &start_body(), &Default::default())
        .await
        .map_err(failed("CreateProtectionGroupRun"))?;
    let listed = runs(&client, &group, &Default::default()).await?;
    let run = listed
        .pointer("/runs/0/id")
        .and_then(Value::as_str)
        .context("the group lists no run")?
        .to_string();
    let status = run_state(&client, &group, Some(&run))
        .await
        .unwrap_or_default();
    if status == "Accepted" {
        // Only a running run pauses; only a paused one resumes.
        for name in ["Pause", "Resume"] {
            let _ = client
                .perform_action_on_protection_group_run(
                    &group,
                    &action(name, &run),
                    &Default::default(),
                )
                .await;
            invalid(
                ctx,
                "PerformActionOnProtectionGroupRun",
                &format!("{name} on an accepted run answers 400"),
            );
        }
    }
    // Cancel while it runs.
    follow(ctx, RUNNING_OR_DONE, || {
        run_state(&client, &group, Some(&run))
    })
    .await?;
    let started = client
        .perform_action_on_protection_group_run(
            &group,
            &action("Cancel", &run),
            &Default::default(),
        )
        .await
        .map_err(failed("PerformActionOnProtectionGroupRun"))?;
    ctx.expect_status(
        "PerformActionOnProtectionGroupRun",
        "cancelling an unfinished run answers 202",
        202,
    );
    let handle = Client::perform_action_on_protection_group_run_job_handle(&started);
    ctx.check(
        "PerformActionOnProtectionGroupRun",
        "the cancel's job handle is the run's id",
        handle.as_deref() == Some(run.as_str()),
        format!("{handle:?}"),
    );
    let states = follow(ctx, RUN_TERMINAL, || run_state(&client, &group, Some(&run))).await?;
    ctx.check(
        "PerformActionOnProtectionGroupRun",
        "the cancelled run ends Canceled",
        states.last().map(String::as_str) == Some("Canceled"),
        format!("{states:?}"),
    );
    let snapshots = snapshots_of(&client, object, &group).await?;
    ctx.check(
        "GetProtectionGroupRuns",
        "a cancelled run leaves no snapshot",
        snapshots.is_empty(),
        format!("{snapshots:?}"),
    );
    let _ = client
        .perform_action_on_protection_group_run(
            &group,
            &action("Cancel", &run),
            &Default::default(),
        )
        .await;
    invalid(
        ctx,
        "PerformActionOnProtectionGroupRun",
        "cancelling a cancelled run answers 400",
    );
    Ok(())
}

/// The run ids an action's answer echoes in `<action>Params`.
fn echoed(answer: &Value, name: &str) -> Vec<String> {
    strings(answer, &format!("/{}Params", name.to_lowercase()), "/runId")
}

async fn run_pause_resume(ctx: &mut Ctx) -> Result<()> {
    let client = client(ctx)?;
    let object = physical_objects(&client, 1).await?[0]["id"]
        .as_i64()
        .context("an object id")?;
    let policy_name = ctx.name("pause-policy");
    let policy = create_policy(ctx, &client, &policy_name).await?;
    let group_name = ctx.name("pause-group");
    let group = create_group(ctx, &client, &group_name, &policy, &[object]).await?;
    client
        .create_protection_group_run(&group, &start_body(), &Default::default())
        .await
        .map_err(failed("CreateProtectionGroupRun"))?;
    ctx.expect_status(
        "CreateProtectionGroupRun",
        "starting a run answers 202",
        202,
    );
    let listed = runs(&client, &group, &Default::default()).await?;
    let run = listed
        .pointer("/runs/0/id")
        .and_then(Value::as_str)
        .context("the group lists no run")?
        .to_string();
    // Only a running run pauses.
    let before = follow(ctx, RUNNING_OR_DONE, || {
        run_state(&client, &group, Some(&run))
    })
    .await?;
    if !ctx.check(
        "GetProtectionGroupRuns",
        "the run is seen Running before it is paused",
        before.last().map(String::as_str) == Some("Running"),
        format!("{before:?}"),
    ) {
        return Ok(());
    }

    let api::perform_action_on_protection_group_run::Success::Accepted(paused) = client
        .perform_action_on_protection_group_run(&group, &action("Pause", &run), &Default::default())
        .await
        .map_err(failed("PerformActionOnProtectionGroupRun"))?;
    ctx.expect_status(
        "PerformActionOnProtectionGroupRun",
        "pausing a running run answers 202",
        202,
    );
    let paused = json_of(&paused);
    ctx.check(
        "PerformActionOnProtectionGroupRun",
        "the pause's answer names the run in pauseParams",
        echoed(&paused, "Pause") == [run.clone()],
        &paused,
    );
    let now = run_state(&client, &group, Some(&run))
        .await
        .unwrap_or_default();
    ctx.check(
        "PerformActionOnProtectionGroupRun",
        "the paused run shows Paused",
        now == "Paused",
        &now,
    );
    // A paused run stands still: on the emulator for longer than the whole run would take.
    let hold = if ctx.emulator.is_some() {
        std::time::Duration::from_secs(120)
    } else {
        ctx.poll_interval.unwrap_or(interval(ctx))
    };
    ctx.pace.advance(hold).await;
    let still = run_state(&client, &group, Some(&run))
        .await
        .unwrap_or_default();
    ctx.check(
        "PerformActionOnProtectionGroupRun",
        "a paused run stays Paused",
        still == "Paused",
        &still,
    );
    let _ = client
        .perform_action_on_protection_group_run(&group, &action("Pause", &run), &Default::default())
        .await;
    invalid(
        ctx,
        "PerformActionOnProtectionGroupRun",
        "Pause on a paused run answers 400",
    );

    let api::perform_action_on_protection_group_run::Success::Accepted(resumed) = client
        .perform_action_on_protection_group_run(
            &group,
            &action("Resume", &run),
            &Default::default(),
        )
        .await
        .map_err(failed("PerformActionOnProtectionGroupRun"))?;
    ctx.expect_status(
        "PerformActionOnProtectionGroupRun",
        "resuming a paused run answers 202",
        202,
    );
    let resumed = json_of(&resumed);
    ctx.check(
        "PerformActionOnProtectionGroupRun",
        "the resume's answer names the run in resumeParams",
        echoed(&resumed, "Resume") == [run.clone()],
        &resumed,
    );
    let now = run_state(&client, &group, Some(&run))
        .await
        .unwrap_or_default();
    ctx.check(
        "PerformActionOnProtectionGroupRun",
        "the resumed run is Running again",
        now == "Running",
        &now,
    );
    let after = follow(ctx, RUN_TERMINAL, || run_state(&client, &group, Some(&run))).await?;
    ctx.check(
        "PerformActionOnProtectionGroupRun",
        "the resumed run ends Succeeded",
        after.last().map(String::as_str) == Some("Succeeded"),
        format!("{after:?}"),
    );
    let snapshots = snapshots_of(&client, object, &group).await?;
    ctx.check(
        "GetObjectSnapshots",
        "the paused and resumed run left one snapshot of its object",
        snapshots.len() == 1 && snapshots[0]["protectionGroupRunId"] == run.as_str(),
        format!("{snapshots:?}"),
    );
    Ok(())
}

async fn run_fails(ctx: &mut Ctx) -> Result<()> {
    let emulator = ctx.emulator.clone().context("needs the emulator")?;
    let client = client(ctx)?;
    emulator
        .faults
        .add(
            "CreateProtectionGroupRun",
            FaultRule {
                times: Some(1),
                job_fail_at: Some(50),
                ..Default::default()
            },
        )
        .map_err(|e| anyhow!("fault: {e}"))?;
    let made = protected_run(ctx, &client, "failing").await?;
    ctx.check(
        "CreateProtectionGroupRun",
        "a run that fails midway ends Failed after running",
        made.states.last().map(String::as_str) == Some("Failed")
            && made.states.iter().any(|s| s == "Running"),
        format!("{:?}", made.states),
    );
    let failed_runs = runs(
        &client,
        &made.group,
        &api::get_protection_group_runs::Options {
            local_backup_run_status: Some(vec![body(json!("Failed"))]),
            ..Default::default()
        },
    )
    .await?;
    let messages = failed_runs
        .pointer("/runs/0/localBackupInfo/messages")
        .cloned()
        .unwrap_or_default();
    ctx.check(
        "GetProtectionGroupRuns",
        "the failed run is listed as Failed, with a message",
        strings(&failed_runs, "/runs", "/id") == [made.run.clone()]
            && messages.as_array().is_some_and(|m| !m.is_empty()),
        &failed_runs,
    );
    let snapshots = snapshots_of(&client, made.object, &made.group).await?;
    ctx.check(
        "GetObjectSnapshots",
        "a failed run leaves no snapshot",
        snapshots.is_empty(),
        format!("{snapshots:?}"),
    );
    Ok(())
}
