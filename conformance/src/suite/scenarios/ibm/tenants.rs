//! `X-IBM-Tenant-Id`: every operation refuses a request without it (400) and one for a tenant the
//! instance does not know (403); and what one tenant creates, another can neither see nor touch.

use anyhow::{Context as _, Result};
use ibm_backup_recovery::client as api;
use ibm_backup_recovery::Client;
use serde_json::{json, Value};

use super::{
    body, client, client_as, create_policy, expect_error, failed, json_of, not_found,
    physical_objects, policy_body, protected_run, snapshots_of, strings, As, Ctx, Scenario,
    UNKNOWN_ID, UNKNOWN_NUMBER, UNKNOWN_RUN,
};

const READS: &[&str] = &[
    "GetProtectionPolicies",
    "GetProtectionPolicyByID",
    "GetProtectionGroups",
    "GetProtectionGroupByID",
    "GetProtectionGroupRuns",
    "GetRecoveries",
    "GetRecoveryByID",
    "DownloadFilesFromRecovery",
    "GetObjectSnapshots",
    "DownloadIndexedFile",
    "SearchObjects",
    "SearchProtectedObjects",
    "SearchIndexedObjects",
    "GetRestorePointsInTimeRange",
    "GetSourceRegistrations",
    "GetProtectionSourceRegistration",
    "GetDataSourceConnections",
    "GetDataSourceConnectors",
    "GetConnectorMetadata",
    "GetUpgradeTasks",
];

const WRITES: &[&str] = &[
    "DownloadAgent",
    "CreateUpgradeTask",
    "CreateProtectionPolicy",
    "UpdateProtectionPolicy",
    "DeleteProtectionPolicy",
    "CreateProtectionGroup",
    "UpdateProtectionGroup",
    "DeleteProtectionGroup",
    "UpdateProtectionGroupRun",
    "CreateProtectionGroupRun",
    "PerformActionOnProtectionGroupRun",
    "CreateRecovery",
    "CreateDownloadFilesAndFoldersRecovery",
    "RegisterProtectionSource",
    "UpdateProtectionSourceRegistration",
    "PatchProtectionSourceRegistration",
    "DeleteProtectionSourceRegistration",
    "RefreshProtectionSourceByID",
    "CreateDataSourceConnection",
    "DeleteDataSourceConnection",
    "PatchDataSourceConnection",
    "GenerateDataSourceConnectionRegistrationToken",
    "DeleteDataSourceConnector",
    "PatchDataSourceConnector",
];

pub(super) fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "tenant-header-reads",
            operations: READS,
            mutates: false,
            emulator_only: false,
            run: |ctx| Box::pin(tenant_header(ctx, false)),
        },
        Scenario {
            // Every request is refused, and the bodies are invalid besides (blank names,
            // unknown ids): nothing changes, but the requests are mutations.
            name: "tenant-header-writes",
            operations: WRITES,
            mutates: true,
            emulator_only: false,
            run: |ctx| Box::pin(tenant_header(ctx, true)),
        },
        Scenario {
            name: "tenant-isolation",
            operations: &[
                "GetProtectionPolicies",
                "GetProtectionPolicyByID",
                "UpdateProtectionPolicy",
                "DeleteProtectionPolicy",
                "CreateProtectionPolicy",
                "GetProtectionGroups",
                "GetProtectionGroupByID",
                "UpdateProtectionGroup",
                "DeleteProtectionGroup",
                "CreateProtectionGroup",
                "GetProtectionGroupRuns",
                "CreateProtectionGroupRun",
                "PerformActionOnProtectionGroupRun",
                "UpdateProtectionGroupRun",
                "GetObjectSnapshots",
                "GetRestorePointsInTimeRange",
                "SearchObjects",
                "SearchProtectedObjects",
                "SearchIndexedObjects",
                "DownloadIndexedFile",
                "CreateRecovery",
                "CreateDownloadFilesAndFoldersRecovery",
                "GetRecoveries",
                "GetRecoveryByID",
                "DownloadFilesFromRecovery",
                "GetSourceRegistrations",
                "GetProtectionSourceRegistration",
                "UpdateProtectionSourceRegistration",
                "PatchProtectionSourceRegistration",
                "RefreshProtectionSourceByID",
                "DeleteProtectionSourceRegistration",
                "GetDataSourceConnections",
                "PatchDataSourceConnection",
                "GenerateDataSourceConnectionRegistrationToken",
                "DeleteDataSourceConnection",
                "GetDataSourceConnectors",
                "PatchDataSourceConnector",
                "DeleteDataSourceConnector",
                "GetUpgradeTasks",
            ],
            mutates: true,
            emulator_only: true,
            run: |ctx| Box::pin(tenant_isolation(ctx)),
        },
    ]
}

/// Calls every read (or every write) once with `client`, with ids nothing has and bodies the API
/// refuses anyway.
async fn call_all(client: &Client, writes: bool) {
    if !writes {
        let _ = client.get_protection_policies(&Default::default()).await;
        let _ = client
            .get_protection_policy_by_id(UNKNOWN_ID, &Default::default())
            .await;
        let _ = client.get_protection_groups(&Default::default()).await;
        let _ = client
            .get_protection_group_by_id(UNKNOWN_ID, &Default::default())
            .await;
        let _ = client
            .get_protection_group_runs(UNKNOWN_ID, &Default::default())
            .await;
        let _ = client.get_recoveries(&Default::default()).await;
        let _ = client
            .get_recovery_by_id(UNKNOWN_ID, &Default::default())
            .await;
        let _ = client
            .download_files_from_recovery(UNKNOWN_ID, &Default::default())
            .await;
        let _ = client
            .get_object_snapshots(UNKNOWN_NUMBER, &Default::default())
            .await;
        let _ = client
            .download_indexed_file(UNKNOWN_ID, &Default::default())
            .await;
        let _ = client.search_objects(&Default::default()).await;
        let _ = client.search_protected_objects(&Default::default()).await;
        let _ = client
            .search_indexed_objects(&body(json!({"objectType": "Files"})), &Default::default())
            .await;
        let _ = client
            .get_restore_points_in_time_range(
                &body(json!({"protectionGroupIds": [UNKNOWN_ID], "environment": "kPhysical", "startTimeUsecs": 0, "endTimeUsecs": 1})),
                &Default::default(),
            )
            .await;
        let _ = client.get_source_registrations(&Default::default()).await;
        let _ = client
            .get_protection_source_registration(UNKNOWN_NUMBER, &Default::default())
            .await;
        let _ = client
            .get_data_source_connections(&Default::default())
            .await;
        let _ = client.get_data_source_connectors(&Default::default()).await;
        let _ = client.get_connector_metadata(&Default::default()).await;
        let _ = client.get_upgrade_tasks(&Default::default()).await;
        return;
    }
    let _ = client
        .download_agent(&body(json!({"platform": "kLinux"})), &Default::default())
        .await;
    let _ = client
        .create_upgrade_task(
            &body(json!({"agentIDs": [UNKNOWN_NUMBER]})),
            &Default::default(),
        )
        .await;
    let _ = client
        .create_protection_policy(&body(policy_body(" ", "refused")), &Default::default())
        .await;
    let _ = client
        .update_protection_policy(
            UNKNOWN_ID,
            &body(policy_body(" ", "refused")),
            &Default::default(),
        )
        .await;
    let _ = client
        .delete_protection_policy(UNKNOWN_ID, &Default::default())
        .await;
    let group = json!({"name": " ", "policyId": UNKNOWN_ID, "environment": "kPhysical"});
    let _ = client
        .create_protection_group(&body(group.clone()), &Default::default())
        .await;
    let _ = client
        .update_protection_group(UNKNOWN_ID, &body(group), &Default::default())
        .await;
    let _ = client
        .delete_protection_group(UNKNOWN_ID, &Default::default())
        .await;
    let _ = client
        .update_protection_group_run(
            UNKNOWN_ID,
            &body(json!({"updateProtectionGroupRunParams": [{"runId": UNKNOWN_RUN}]})),
            &Default::default(),
        )
        .await;
    let _ = client
        .create_protection_group_run(
            UNKNOWN_ID,
            &body(json!({"runType": "kRegular"})),
            &Default::default(),
        )
        .await;
    let _ = client
        .perform_action_on_protection_group_run(
            UNKNOWN_ID,
            &body(json!({"action": "Cancel", "cancelParams": [{"runId": UNKNOWN_RUN}]})),
            &Default::default(),
        )
        .await;
    let _ = client
        .create_recovery(
            &body(json!({"name": " ", "snapshotEnvironment": "kPhysical",
                         "physicalParams": {"objects": [{"snapshotId": UNKNOWN_ID}], "recoveryAction": "InstantVolumeMount"}})),
            &Default::default(),
        )
        .await;
    let _ = client
        .create_download_files_and_folders_recovery(
            &body(
                json!({"name": " ", "object": {"snapshotId": UNKNOWN_ID}, "filesAndFolders": []}),
            ),
            &Default::default(),
        )
        .await;
    let _ = client
        .register_protection_source(
            &body(json!({"environment": "kPhysical"})),
            &Default::default(),
        )
        .await;
    let _ = client
        .update_protection_source_registration(
            UNKNOWN_NUMBER,
            &body(json!({"environment": "kPhysical"})),
            &Default::default(),
        )
        .await;
    let _ = client
        .patch_protection_source_registration(
            UNKNOWN_NUMBER,
            &body(json!({"environment": "kPhysical"})),
            &Default::default(),
        )
        .await;
    let _ = client
        .delete_protection_source_registration(UNKNOWN_NUMBER, &Default::default())
        .await;
    let _ = client
        .refresh_protection_source_by_id(UNKNOWN_NUMBER, &Default::default())
        .await;
    let _ = client
        .create_data_source_connection(&body(json!({"connectionName": " "})), &Default::default())
        .await;
    let _ = client
        .delete_data_source_connection(UNKNOWN_ID, &Default::default())
        .await;
    let _ = client
        .patch_data_source_connection(
            UNKNOWN_ID,
            &body(json!({"connectionName": " "})),
            &Default::default(),
        )
        .await;
    let _ = client
        .generate_data_source_connection_registration_token(UNKNOWN_ID, &Default::default())
        .await;
    let _ = client
        .delete_data_source_connector(UNKNOWN_ID, &Default::default())
        .await;
    let _ = client
        .patch_data_source_connector(
            UNKNOWN_ID,
            &body(json!({"connectorName": " "})),
            &Default::default(),
        )
        .await;
}

async fn tenant_header(ctx: &mut Ctx, writes: bool) -> Result<()> {
    let ops = if writes { WRITES } else { READS };
    call_all(&client_as(ctx, As::Nobody)?, writes).await;
    for op in ops {
        expect_error(
            ctx,
            op,
            "a request without X-IBM-Tenant-Id answers 400",
            400,
            "KValidationError",
        );
    }
    call_all(&client_as(ctx, As::Unknown)?, writes).await;
    for op in ops {
        expect_error(
            ctx,
            op,
            "a request for an unknown tenant answers 403",
            403,
            "KAccessDenied",
        );
    }
    Ok(())
}

async fn tenant_isolation(ctx: &mut Ctx) -> Result<()> {
    let a = client(ctx)?;
    let b = client_as(ctx, As::Other)?;

    // What tenant A has: a policy and a group with a finished run, its snapshot, a download
    // recovery, a registered source, a connection and connectors.
    let made = protected_run(ctx, &a, "isolated").await?;
    let api::get_protection_group_by_id::Success::Ok(group) = a
        .get_protection_group_by_id(&made.group, &Default::default())
        .await
        .map_err(failed("GetProtectionGroupByID"))?;
    let group = json_of(&group);
    let policy = group["policyId"]
        .as_str()
        .context("the group's policy")?
        .to_string();
    let policy_name = {
        let api::get_protection_policy_by_id::Success::Ok(p) = a
            .get_protection_policy_by_id(&policy, &Default::default())
            .await
            .map_err(failed("GetProtectionPolicyByID"))?;
        p.name
    };
    let snapshot = snapshots_of(&a, made.object, &made.group)
        .await?
        .first()
        .and_then(|s| s["id"].as_str().map(str::to_string))
        .context("the run left no snapshot")?;
    let path = {
        let api::search_indexed_objects::Success::Ok(files) = a
            .search_indexed_objects(
                &body(json!({"objectType": "Files", "protectionGroupIds": [made.group]})),
                &Default::default(),
            )
            .await
            .map_err(failed("SearchIndexedObjects"))?;
        strings(&json_of(&files), "/files", "/path")
            .first()
            .cloned()
            .context("no indexed file")?
    };
    let recovery_name = ctx.name("isolated-download");
    let api::create_download_files_and_folders_recovery::Success::Created(recovery) = a
        .create_download_files_and_folders_recovery(
            &body(json!({"name": recovery_name, "object": {"snapshotId": snapshot}, "filesAndFolders": [{"absolutePath": path}]})),
            &Default::default(),
        )
        .await
        .map_err(failed("CreateDownloadFilesAndFoldersRecovery"))?;
    let recovery = recovery.id.context("the recovery has no id")?;
    super::follow_recovery(ctx, &a, &recovery).await?;
    let source = physical_objects(&a, 1).await?[0]["sourceId"]
        .as_i64()
        .context("an object's source id")?;
    let api::get_data_source_connections::Success::Ok(connections) = a
        .get_data_source_connections(&Default::default())
        .await
        .map_err(failed("GetDataSourceConnections"))?;
    let connection = json_of(&connections)
        .pointer("/connections/0/connectionId")
        .and_then(Value::as_str)
        .context("tenant A has no connection")?
        .to_string();
    let api::get_data_source_connectors::Success::Ok(connectors) = a
        .get_data_source_connectors(&Default::default())
        .await
        .map_err(failed("GetDataSourceConnectors"))?;
    let connector = json_of(&connectors)
        .pointer("/connectors/0/connectorId")
        .and_then(Value::as_str)
        .context("tenant A has no connector")?
        .to_string();

    // B's lists hold none of it.
    let lists = [
        (
            "GetProtectionPolicies",
            b.get_protection_policies(&Default::default())
                .await
                .map(|api::get_protection_policies::Success::Ok(v)| json_of(&v))
                .ok(),
            "/policies",
            "/id",
            policy.clone(),
        ),
        (
            "GetProtectionGroups",
            b.get_protection_groups(&Default::default())
                .await
                .map(|api::get_protection_groups::Success::Ok(v)| json_of(&v))
                .ok(),
            "/protectionGroups",
            "/id",
            made.group.clone(),
        ),
        (
            "GetRecoveries",
            b.get_recoveries(&Default::default())
                .await
                .map(|api::get_recoveries::Success::Ok(v)| json_of(&v))
                .ok(),
            "/recoveries",
            "/id",
            recovery.clone(),
        ),
        (
            "SearchObjects",
            b.search_objects(&Default::default())
                .await
                .map(|api::search_objects::Success::Ok(v)| json_of(&v))
                .ok(),
            "/objects",
            "/id",
            made.object.to_string(),
        ),
        (
            "SearchProtectedObjects",
            b.search_protected_objects(&Default::default())
                .await
                .map(|api::search_protected_objects::Success::Ok(v)| json_of(&v))
                .ok(),
            "/objects",
            "/id",
            made.object.to_string(),
        ),
        (
            "SearchIndexedObjects",
            b.search_indexed_objects(&body(json!({"objectType": "Files"})), &Default::default())
                .await
                .map(|api::search_indexed_objects::Success::Ok(v)| json_of(&v))
                .ok(),
            "/files",
            "/protectionGroupId",
            made.group.clone(),
        ),
        (
            "GetSourceRegistrations",
            b.get_source_registrations(&Default::default())
                .await
                .map(|api::get_source_registrations::Success::Ok(v)| json_of(&v))
                .ok(),
            "/registrations",
            "/id",
            source.to_string(),
        ),
        (
            "GetDataSourceConnections",
            b.get_data_source_connections(&Default::default())
                .await
                .map(|api::get_data_source_connections::Success::Ok(v)| json_of(&v))
                .ok(),
            "/connections",
            "/connectionId",
            connection.clone(),
        ),
        (
            "GetDataSourceConnectors",
            b.get_data_source_connectors(&Default::default())
                .await
                .map(|api::get_data_source_connectors::Success::Ok(v)| json_of(&v))
                .ok(),
            "/connectors",
            "/connectorId",
            connector.clone(),
        ),
    ];
    for (op, listed, list, id, theirs) in lists {
        let ok = listed
            .as_ref()
            .is_some_and(|v| !strings(v, list, id).contains(&theirs));
        ctx.check(
            op,
            "another tenant's list does not show the tenant's entity",
            ok,
            format!("{listed:?}"),
        );
    }
    let api::get_upgrade_tasks::Success::Ok(tasks) = b
        .get_upgrade_tasks(&Default::default())
        .await
        .map_err(failed("GetUpgradeTasks"))?;
    ctx.check(
        "GetUpgradeTasks",
        "another tenant sees no upgrade task of the tenant's",
        json_of(&tasks)["tasks"]
            .as_array()
            .is_none_or(Vec::is_empty),
        json_of(&tasks),
    );

    // ... and B can read, change, delete or run none of it: 404.
    let reject = "another tenant's request for the tenant's entity answers 404";
    let _ = b
        .get_protection_policy_by_id(&policy, &Default::default())
        .await;
    not_found(ctx, "GetProtectionPolicyByID", reject);
    let _ = b
        .update_protection_policy(
            &policy,
            &body(policy_body(&policy_name, "stolen")),
            &Default::default(),
        )
        .await;
    not_found(ctx, "UpdateProtectionPolicy", reject);
    let _ = b
        .delete_protection_policy(&policy, &Default::default())
        .await;
    not_found(ctx, "DeleteProtectionPolicy", reject);
    let _ = b
        .get_protection_group_by_id(&made.group, &Default::default())
        .await;
    not_found(ctx, "GetProtectionGroupByID", reject);
    let _ = b
        .update_protection_group(
            &made.group,
            &body(super::group_body("stolen", &policy, &[made.object])),
            &Default::default(),
        )
        .await;
    not_found(ctx, "UpdateProtectionGroup", reject);
    let _ = b
        .delete_protection_group(&made.group, &Default::default())
        .await;
    not_found(ctx, "DeleteProtectionGroup", reject);
    let _ = b
        .create_protection_group(
            &body(super::group_body(
                &ctx.name("stolen-group"),
                &policy,
                &[made.object],
            )),
            &Default::default(),
        )
        .await;
    not_found(
        ctx,
        "CreateProtectionGroup",
        "another tenant cannot build a group on the tenant's policy (404)",
    );
    let _ = b
        .get_protection_group_runs(&made.group, &Default::default())
        .await;
    not_found(ctx, "GetProtectionGroupRuns", reject);
    let _ = b
        .create_protection_group_run(
            &made.group,
            &body(json!({"runType": "kRegular"})),
            &Default::default(),
        )
        .await;
    not_found(ctx, "CreateProtectionGroupRun", reject);
    let _ = b
        .perform_action_on_protection_group_run(
            &made.group,
            &body(json!({"action": "Cancel", "cancelParams": [{"runId": made.run}]})),
            &Default::default(),
        )
        .await;
    not_found(ctx, "PerformActionOnProtectionGroupRun", reject);
    let _ = b
        .update_protection_group_run(
            &made.group,
            &body(json!({"updateProtectionGroupRunParams": [{"runId": made.run, "localSnapshotConfig": {"deleteSnapshot": true}}]})),
            &Default::default(),
        )
        .await;
    not_found(ctx, "UpdateProtectionGroupRun", reject);
    let _ = b
        .get_object_snapshots(made.object, &Default::default())
        .await;
    not_found(ctx, "GetObjectSnapshots", reject);
    let _ = b
        .get_restore_points_in_time_range(
            &body(json!({"protectionGroupIds": [made.group], "environment": "kPhysical", "startTimeUsecs": 0, "endTimeUsecs": i64::MAX / 2})),
            &Default::default(),
        )
        .await;
    not_found(ctx, "GetRestorePointsInTimeRange", reject);
    let _ = b
        .search_indexed_objects(
            &body(json!({"objectType": "Files", "protectionGroupIds": [made.group]})),
            &Default::default(),
        )
        .await;
    not_found(ctx, "SearchIndexedObjects", reject);
    let _ = b
        .download_indexed_file(
            &snapshot,
            &api::download_indexed_file::Options {
                file_path: Some(path.clone()),
                ..Default::default()
            },
        )
        .await;
    not_found(ctx, "DownloadIndexedFile", reject);
    let _ = b
        .create_recovery(
            &body(json!({"name": ctx.name("stolen-recovery"), "snapshotEnvironment": "kPhysical",
                         "physicalParams": {"objects": [{"snapshotId": snapshot}], "recoveryAction": "InstantVolumeMount"}})),
            &Default::default(),
        )
        .await;
    not_found(
        ctx,
        "CreateRecovery",
        "another tenant cannot recover the tenant's snapshot (404)",
    );
    let _ = b
        .create_download_files_and_folders_recovery(
            &body(json!({"name": ctx.name("stolen-download"), "object": {"snapshotId": snapshot}, "filesAndFolders": [{"absolutePath": path}]})),
            &Default::default(),
        )
        .await;
    not_found(
        ctx,
        "CreateDownloadFilesAndFoldersRecovery",
        "another tenant cannot download the tenant's files (404)",
    );
    let _ = b.get_recovery_by_id(&recovery, &Default::default()).await;
    not_found(ctx, "GetRecoveryByID", reject);
    let _ = b
        .download_files_from_recovery(&recovery, &Default::default())
        .await;
    not_found(ctx, "DownloadFilesFromRecovery", reject);
    let _ = b
        .get_protection_source_registration(source, &Default::default())
        .await;
    not_found(ctx, "GetProtectionSourceRegistration", reject);
    let _ = b
        .update_protection_source_registration(
            source,
            &body(json!({"environment": "kPhysical", "name": "stolen"})),
            &Default::default(),
        )
        .await;
    not_found(ctx, "UpdateProtectionSourceRegistration", reject);
    let _ = b
        .patch_protection_source_registration(
            source,
            &body(json!({"environment": "kPhysical"})),
            &Default::default(),
        )
        .await;
    not_found(ctx, "PatchProtectionSourceRegistration", reject);
    let _ = b
        .refresh_protection_source_by_id(source, &Default::default())
        .await;
    not_found(ctx, "RefreshProtectionSourceByID", reject);
    let _ = b
        .delete_protection_source_registration(source, &Default::default())
        .await;
    not_found(ctx, "DeleteProtectionSourceRegistration", reject);
    let _ = b
        .patch_data_source_connection(
            &connection,
            &body(json!({"connectionName": "stolen"})),
            &Default::default(),
        )
        .await;
    not_found(ctx, "PatchDataSourceConnection", reject);
    let _ = b
        .generate_data_source_connection_registration_token(&connection, &Default::default())
        .await;
    not_found(ctx, "GenerateDataSourceConnectionRegistrationToken", reject);
    let _ = b
        .delete_data_source_connection(&connection, &Default::default())
        .await;
    not_found(ctx, "DeleteDataSourceConnection", reject);
    let _ = b
        .patch_data_source_connector(
            &connector,
            &body(json!({"connectorName": "stolen"})),
            &Default::default(),
        )
        .await;
    not_found(ctx, "PatchDataSourceConnector", reject);
    let _ = b
        .delete_data_source_connector(&connector, &Default::default())
        .await;
    not_found(ctx, "DeleteDataSourceConnector", reject);

    // Names are per tenant: B may use A's policy name.
    let mine = create_policy(ctx, &b, &policy_name).await?;
    ctx.check(
        "CreateProtectionPolicy",
        "another tenant may use the tenant's policy name",
        mine != policy,
        &mine,
    );

    // A's entities are untouched.
    let api::get_protection_policy_by_id::Success::Ok(still) = a
        .get_protection_policy_by_id(&policy, &Default::default())
        .await
        .map_err(failed("GetProtectionPolicyByID"))?;
    let still = json_of(&still);
    ctx.check(
        "UpdateProtectionPolicy",
        "the tenant's policy is unchanged by the other tenant",
        still["name"] == policy_name.as_str() && still["description"] != "stolen",
        &still,
    );
    let snapshots = snapshots_of(&a, made.object, &made.group).await?;
    ctx.check(
        "UpdateProtectionGroupRun",
        "the tenant's snapshot survives the other tenant's delete",
        snapshots.len() == 1,
        format!("{snapshots:?}"),
    );
    Ok(())
}
