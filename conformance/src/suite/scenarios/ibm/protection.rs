//! Protection policies and protection groups: listing, reading, and create/update/delete round
//! trips with their duplicates, missing references and validation errors.

use anyhow::{Context as _, Result};
use ibm_backup_recovery::client as api;
use serde_json::{json, Value};

use super::{
    body, client, create_group, create_policy, duplicate, failed, group_body, invalid, json_of,
    not_found, physical_objects, policy_body, strings, Ctx, Scenario, UNKNOWN_ID, UNKNOWN_NUMBER,
};

pub(super) fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "policies-list",
            operations: &["GetProtectionPolicies", "GetProtectionPolicyByID"],
            mutates: false,
            emulator_only: false,
            run: |ctx| Box::pin(policies_list(ctx)),
        },
        Scenario {
            name: "policies-crud",
            operations: &[
                "CreateProtectionPolicy",
                "GetProtectionPolicyByID",
                "GetProtectionPolicies",
                "UpdateProtectionPolicy",
                "DeleteProtectionPolicy",
            ],
            mutates: true,
            emulator_only: false,
            run: |ctx| Box::pin(policies_crud(ctx)),
        },
        Scenario {
            name: "groups-list",
            operations: &[
                "GetProtectionGroups",
                "GetProtectionGroupByID",
                "GetProtectionGroupRuns",
            ],
            mutates: false,
            emulator_only: false,
            run: |ctx| Box::pin(groups_list(ctx)),
        },
        Scenario {
            name: "groups-crud",
            operations: &[
                "CreateProtectionGroup",
                "GetProtectionGroupByID",
                "GetProtectionGroups",
                "UpdateProtectionGroup",
                "DeleteProtectionGroup",
                "DeleteProtectionPolicy",
            ],
            mutates: true,
            emulator_only: false,
            run: |ctx| Box::pin(groups_crud(ctx)),
        },
    ]
}

async fn policies(
    client: &ibm_backup_recovery::Client,
    options: &api::get_protection_policies::Options,
) -> Result<Value> {
    let api::get_protection_policies::Success::Ok(listed) = client
        .get_protection_policies(options)
        .await
        .map_err(failed("GetProtectionPolicies"))?;
    Ok(json_of(&listed))
}

async fn policies_list(ctx: &mut Ctx) -> Result<()> {
    let client = client(ctx)?;
    let all = policies(&client, &Default::default()).await?;
    let ids = strings(&all, "/policies", "/id");
    ctx.check(
        "GetProtectionPolicies",
        "the tenant lists its policies, each with an id",
        !ids.is_empty() && all["policies"].as_array().map(Vec::len) == Some(ids.len()),
        &all,
    );
    let first = all
        .pointer("/policies/0")
        .cloned()
        .context("no policy to read")?;
    let id = first["id"].as_str().unwrap_or_default().to_string();
    let name = first["name"].as_str().unwrap_or_default().to_string();
    let api::get_protection_policy_by_id::Success::Ok(one) = client
        .get_protection_policy_by_id(&id, &Default::default())
        .await
        .map_err(failed("GetProtectionPolicyByID"))?;
    let one = json_of(&one);
    ctx.check(
        "GetProtectionPolicyByID",
        "reading a listed policy answers that policy",
        one["id"] == first["id"] && one["name"] == first["name"],
        &one,
    );
    let by_id = policies(
        &client,
        &api::get_protection_policies::Options {
            ids: Some(vec![id.clone()]),
            ..Default::default()
        },
    )
    .await?;
    ctx.check(
        "GetProtectionPolicies",
        "ids= lists exactly that policy",
        strings(&by_id, "/policies", "/id") == [id.clone()],
        &by_id,
    );
    let by_name = policies(
        &client,
        &api::get_protection_policies::Options {
            policy_names: Some(vec![name.clone()]),
            ..Default::default()
        },
    )
    .await?;
    ctx.check(
        "GetProtectionPolicies",
        "policyNames= lists the policies of that name",
        strings(&by_name, "/policies", "/name")
            .iter()
            .all(|n| *n == name)
            && strings(&by_name, "/policies", "/id").contains(&id),
        &by_name,
    );
    let _ = client
        .get_protection_policy_by_id(UNKNOWN_ID, &Default::default())
        .await;
    not_found(
        ctx,
        "GetProtectionPolicyByID",
        "an unknown policy answers 404",
    );
    Ok(())
}

async fn policies_crud(ctx: &mut Ctx) -> Result<()> {
    let client = client(ctx)?;
    let name = ctx.name("policy");
    let id = create_policy(ctx, &client, &name).await?;
    ctx.expect_status("CreateProtectionPolicy", "a new policy answers 201", 201);
    let created = ctx
        .last("CreateProtectionPolicy")
        .and_then(|e| e.response)
        .and_then(|r| r.json())
        .unwrap_or_default();
    ctx.check(
        "CreateProtectionPolicy",
        "the new policy has the name given and protects nothing yet",
        created["name"] == name.as_str() && created["numProtectionGroups"] == json!(0),
        &created,
    );
    let api::get_protection_policy_by_id::Success::Ok(read) = client
        .get_protection_policy_by_id(&id, &Default::default())
        .await
        .map_err(failed("GetProtectionPolicyByID"))?;
    let read = json_of(&read);
    ctx.check(
        "GetProtectionPolicyByID",
        "the new policy reads back as created",
        read["name"] == name.as_str()
            && read["description"] == "conformance suite"
            && read.pointer("/backupPolicy/regular/retention/duration") == Some(&json!(7)),
        &read,
    );
    let listed = policies(&client, &Default::default()).await?;
    ctx.check(
        "GetProtectionPolicies",
        "the new policy is listed",
        strings(&listed, "/policies", "/id").contains(&id),
        "",
    );

    // Duplicates and validation.
    let _ = client
        .create_protection_policy(&body(policy_body(&name, "again")), &Default::default())
        .await;
    duplicate(
        ctx,
        "CreateProtectionPolicy",
        "a second policy of the same name answers 409",
    );
    let _ = client
        .create_protection_policy(&body(policy_body(" ", "no name")), &Default::default())
        .await;
    invalid(ctx, "CreateProtectionPolicy", "a blank name answers 400");

    // Update: a new name and description; renaming onto another policy is a duplicate.
    let other_name = ctx.name("policy-other");
    let other = create_policy(ctx, &client, &other_name).await?;
    let renamed = ctx.name("policy-renamed");
    let api::update_protection_policy::Success::Ok(updated) = client
        .update_protection_policy(
            &id,
            &body(policy_body(&renamed, "updated")),
            &Default::default(),
        )
        .await
        .map_err(failed("UpdateProtectionPolicy"))?;
    let updated = json_of(&updated);
    ctx.check(
        "UpdateProtectionPolicy",
        "the update answers the policy with its new name and description",
        updated["id"] == id.as_str()
            && updated["name"] == renamed.as_str()
            && updated["description"] == "updated",
        &updated,
    );
    let by_name = policies(
        &client,
        &api::get_protection_policies::Options {
            policy_names: Some(vec![renamed.clone()]),
            ..Default::default()
        },
    )
    .await?;
    ctx.check(
        "GetProtectionPolicies",
        "the policy is found by its new name",
        strings(&by_name, "/policies", "/id") == [id.clone()],
        &by_name,
    );
    let _ = client
        .update_protection_policy(
            &id,
            &body(policy_body(&other_name, "clash")),
            &Default::default(),
        )
        .await;
    duplicate(
        ctx,
        "UpdateProtectionPolicy",
        "renaming onto another policy's name answers 409",
    );
    let _ = client
        .update_protection_policy(&id, &body(policy_body("", "blank")), &Default::default())
        .await;
    invalid(ctx, "UpdateProtectionPolicy", "a blank name answers 400");
    let _ = client
        .update_protection_policy(
            UNKNOWN_ID,
            &body(policy_body(&ctx.name("ghost"), "x")),
            &Default::default(),
        )
        .await;
    not_found(
        ctx,
        "UpdateProtectionPolicy",
        "updating an unknown policy answers 404",
    );

    // Delete, once.
    client
        .delete_protection_policy(&other, &Default::default())
        .await
        .map_err(failed("DeleteProtectionPolicy"))?;
    ctx.expect_status(
        "DeleteProtectionPolicy",
        "deleting an unused policy answers 204",
        204,
    );
    let _ = client
        .delete_protection_policy(&other, &Default::default())
        .await;
    not_found(
        ctx,
        "DeleteProtectionPolicy",
        "deleting it again answers 404",
    );
    let _ = client
        .get_protection_policy_by_id(&other, &Default::default())
        .await;
    not_found(
        ctx,
        "GetProtectionPolicyByID",
        "a deleted policy answers 404",
    );
    let listed = policies(&client, &Default::default()).await?;
    ctx.check(
        "GetProtectionPolicies",
        "a deleted policy is no longer listed",
        !strings(&listed, "/policies", "/id").contains(&other),
        "",
    );
    Ok(())
}

async fn groups(
    client: &ibm_backup_recovery::Client,
    options: &api::get_protection_groups::Options,
) -> Result<Value> {
    let api::get_protection_groups::Success::Ok(listed) = client
        .get_protection_groups(options)
        .await
        .map_err(failed("GetProtectionGroups"))?;
    Ok(json_of(&listed))
}

async fn groups_list(ctx: &mut Ctx) -> Result<()> {
    let client = client(ctx)?;
    let all = groups(&client, &Default::default()).await?;
    let ids = strings(&all, "/protectionGroups", "/id");
    ctx.check(
        "GetProtectionGroups",
        "the tenant lists its protection groups",
        !ids.is_empty(),
        &all,
    );
    let first = all
        .pointer("/protectionGroups/0")
        .cloned()
        .context("no protection group to read")?;
    let id = first["id"].as_str().unwrap_or_default().to_string();
    let api::get_protection_group_by_id::Success::Ok(one) = client
        .get_protection_group_by_id(
            &id,
            &api::get_protection_group_by_id::Options {
                include_last_run_info: Some(true),
                ..Default::default()
            },
        )
        .await
        .map_err(failed("GetProtectionGroupByID"))?;
    let one = json_of(&one);
    ctx.check(
        "GetProtectionGroupByID",
        "reading a listed group answers that group",
        one["id"] == first["id"]
            && one["name"] == first["name"]
            && one["policyId"] == first["policyId"],
        &one,
    );
    let by_policy = groups(
        &client,
        &api::get_protection_groups::Options {
            policy_ids: Some(vec![first["policyId"]
                .as_str()
                .unwrap_or_default()
                .to_string()]),
            ..Default::default()
        },
    )
    .await?;
    ctx.check(
        "GetProtectionGroups",
        "policyIds= lists the groups of that policy",
        strings(&by_policy, "/protectionGroups", "/id").contains(&id)
            && strings(&by_policy, "/protectionGroups", "/policyId")
                .iter()
                .all(|p| Some(p.as_str()) == first["policyId"].as_str()),
        &by_policy,
    );
    let by_name = groups(
        &client,
        &api::get_protection_groups::Options {
            names: Some(vec![first["name"].as_str().unwrap_or_default().to_string()]),
            ..Default::default()
        },
    )
    .await?;
    ctx.check(
        "GetProtectionGroups",
        "names= lists the group of that name",
        strings(&by_name, "/protectionGroups", "/id") == [id.clone()],
        &by_name,
    );
    let api::get_protection_group_runs::Success::Ok(runs) = client
        .get_protection_group_runs(
            &id,
            &api::get_protection_group_runs::Options {
                num_runs: Some(5),
                ..Default::default()
            },
        )
        .await
        .map_err(failed("GetProtectionGroupRuns"))?;
    let runs = json_of(&runs);
    ctx.check(
        "GetProtectionGroupRuns",
        "a group's runs list at most numRuns runs",
        runs["runs"].as_array().is_none_or(|r| r.len() <= 5),
        &runs,
    );
    let _ = client
        .get_protection_group_by_id(UNKNOWN_ID, &Default::default())
        .await;
    not_found(
        ctx,
        "GetProtectionGroupByID",
        "an unknown group answers 404",
    );
    let _ = client
        .get_protection_group_runs(UNKNOWN_ID, &Default::default())
        .await;
    not_found(
        ctx,
        "GetProtectionGroupRuns",
        "the runs of an unknown group answer 404",
    );
    Ok(())
}

async fn groups_crud(ctx: &mut Ctx) -> Result<()> {
    let client = client(ctx)?;
    let objects: Vec<i64> = physical_objects(&client, 2)
        .await?
        .iter()
        .filter_map(|o| o["id"].as_i64())
        .collect();
    let policy = create_policy(ctx, &client, &ctx.name("groups-policy")).await?;
    let name = ctx.name("group");
    let id = create_group(ctx, &client, &name, &policy, &objects[..1]).await?;
    let created = ctx
        .last("CreateProtectionGroup")
        .and_then(|e| e.response)
        .and_then(|r| r.json())
        .unwrap_or_default();
    ctx.check(
        "CreateProtectionGroup",
        "the new group is active and protects the object given",
        created["name"] == name.as_str()
            && created["isActive"] == json!(true)
            && created["policyId"] == policy.as_str(),
        &created,
    );
    let api::get_protection_group_by_id::Success::Ok(read) = client
        .get_protection_group_by_id(&id, &Default::default())
        .await
        .map_err(failed("GetProtectionGroupByID"))?;
    let read = json_of(&read);
    ctx.check(
        "GetProtectionGroupByID",
        "the new group reads back as created",
        read["name"] == name.as_str()
            && read.pointer("/physicalParams/volumeProtectionTypeParams/objects/0/id")
                == Some(&json!(objects[0])),
        &read,
    );
    let by_policy = groups(
        &client,
        &api::get_protection_groups::Options {
            policy_ids: Some(vec![policy.clone()]),
            ..Default::default()
        },
    )
    .await?;
    ctx.check(
        "GetProtectionGroups",
        "the new group is listed under its policy",
        strings(&by_policy, "/protectionGroups", "/id") == [id.clone()],
        &by_policy,
    );

    // Duplicates, missing references, validation.
    let _ = client
        .create_protection_group(
            &body(group_body(&name, &policy, &objects[..1])),
            &Default::default(),
        )
        .await;
    duplicate(
        ctx,
        "CreateProtectionGroup",
        "a second group of the same name answers 409",
    );
    let _ = client
        .create_protection_group(
            &body(group_body(&ctx.name("group-x"), UNKNOWN_ID, &objects[..1])),
            &Default::default(),
        )
        .await;
    not_found(
        ctx,
        "CreateProtectionGroup",
        "an unknown policy answers 404",
    );
    let _ = client
        .create_protection_group(
            &body(group_body(&ctx.name("group-y"), &policy, &[UNKNOWN_NUMBER])),
            &Default::default(),
        )
        .await;
    not_found(
        ctx,
        "CreateProtectionGroup",
        "an unknown object answers 404",
    );
    let _ = client
        .create_protection_group(
            &body(group_body(" ", &policy, &objects[..1])),
            &Default::default(),
        )
        .await;
    invalid(ctx, "CreateProtectionGroup", "a blank name answers 400");

    // A policy in use cannot be deleted.
    let _ = client
        .delete_protection_policy(&policy, &Default::default())
        .await;
    invalid(
        ctx,
        "DeleteProtectionPolicy",
        "deleting a policy a group uses answers 400",
    );

    // Update: rename, pause, protect every object found.
    let other_name = ctx.name("group-other");
    let other = create_group(ctx, &client, &other_name, &policy, &objects[..1]).await?;
    let renamed = ctx.name("group-renamed");
    let mut changed = group_body(&renamed, &policy, &objects);
    changed["isPaused"] = json!(true);
    let api::update_protection_group::Success::Ok(updated) = client
        .update_protection_group(&id, &body(changed), &Default::default())
        .await
        .map_err(failed("UpdateProtectionGroup"))?;
    let updated = json_of(&updated);
    ctx.check(
        "UpdateProtectionGroup",
        "the update answers the group renamed and paused",
        updated["id"] == id.as_str()
            && updated["name"] == renamed.as_str()
            && updated["isPaused"] == json!(true),
        &updated,
    );
    let paused = groups(
        &client,
        &api::get_protection_groups::Options {
            is_paused: Some(true),
            policy_ids: Some(vec![policy.clone()]),
            ..Default::default()
        },
    )
    .await?;
    ctx.check(
        "GetProtectionGroups",
        "isPaused=true lists the paused group only",
        strings(&paused, "/protectionGroups", "/id") == [id.clone()],
        &paused,
    );
    let _ = client
        .update_protection_group(
            &id,
            &body(group_body(&other_name, &policy, &objects)),
            &Default::default(),
        )
        .await;
    duplicate(
        ctx,
        "UpdateProtectionGroup",
        "renaming onto another group's name answers 409",
    );
    let _ = client
        .update_protection_group(
            &id,
            &body(group_body("", &policy, &objects)),
            &Default::default(),
        )
        .await;
    invalid(ctx, "UpdateProtectionGroup", "a blank name answers 400");
    let _ = client
        .update_protection_group(
            UNKNOWN_ID,
            &body(group_body(&ctx.name("ghost"), &policy, &objects)),
            &Default::default(),
        )
        .await;
    not_found(
        ctx,
        "UpdateProtectionGroup",
        "updating an unknown group answers 404",
    );

    // Delete, once.
    client
        .delete_protection_group(&other, &Default::default())
        .await
        .map_err(failed("DeleteProtectionGroup"))?;
    ctx.expect_status("DeleteProtectionGroup", "deleting a group answers 204", 204);
    let _ = client
        .delete_protection_group(&other, &Default::default())
        .await;
    not_found(
        ctx,
        "DeleteProtectionGroup",
        "deleting it again answers 404",
    );
    let _ = client
        .get_protection_group_by_id(&other, &Default::default())
        .await;
    not_found(ctx, "GetProtectionGroupByID", "a deleted group answers 404");
    let left = groups(
        &client,
        &api::get_protection_groups::Options {
            policy_ids: Some(vec![policy.clone()]),
            ..Default::default()
        },
    )
    .await?;
    ctx.check(
        "GetProtectionGroups",
        "a deleted group is no longer listed",
        strings(&left, "/protectionGroups", "/id") == [id.clone()],
        &left,
    );
    Ok(())
}
