//! Searches and snapshots, read-only: objects (paged with `paginationCookie`), protected objects,
//! indexed objects, an object's snapshots and restore points, discovered by listing.

use anyhow::{Context as _, Result};
use ibm_backup_recovery::client as api;
use ibm_backup_recovery::Client;
use serde_json::{json, Value};

use super::{
    body, client, failed, invalid, json_of, not_found, strings, Ctx, Scenario, UNKNOWN_ID,
    UNKNOWN_NUMBER,
};

pub(super) fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "search-objects",
            operations: &["SearchObjects", "SearchProtectedObjects"],
            mutates: false,
            emulator_only: false,
            run: |ctx| Box::pin(search_objects(ctx)),
        },
        Scenario {
            name: "snapshots-and-indexes",
            operations: &[
                "GetObjectSnapshots",
                "GetRestorePointsInTimeRange",
                "SearchIndexedObjects",
                "DownloadIndexedFile",
            ],
            mutates: false,
            emulator_only: false,
            run: |ctx| Box::pin(snapshots_and_indexes(ctx)),
        },
    ]
}

async fn objects(client: &Client, options: &api::search_objects::Options) -> Result<Value> {
    let api::search_objects::Success::Ok(found) = client
        .search_objects(options)
        .await
        .map_err(failed("SearchObjects"))?;
    Ok(json_of(&found))
}

async fn search_objects(ctx: &mut Ctx) -> Result<()> {
    let client = client(ctx)?;
    let all = objects(&client, &Default::default()).await?;
    let ids = strings(&all, "/objects", "/id");
    ctx.check(
        "SearchObjects",
        "the tenant's objects are found",
        !ids.is_empty(),
        &all,
    );
    // Page through one object at a time: every object once, in the same order.
    let mut paged = Vec::new();
    let mut cookie: Option<String> = None;
    for _ in 0..=ids.len() {
        let page = objects(
            &client,
            &api::search_objects::Options {
                count: Some(1),
                pagination_cookie: cookie.clone(),
                ..Default::default()
            },
        )
        .await?;
        paged.extend(strings(&page, "/objects", "/id"));
        cookie = page["paginationCookie"].as_str().map(str::to_string);
        if cookie.is_none() {
            break;
        }
    }
    ctx.check(
        "SearchObjects",
        "pages of count=1 follow paginationCookie through every object once",
        paged.starts_with(&ids)
            && paged
                .iter()
                .collect::<std::collections::BTreeSet<_>>()
                .len()
                == paged.len(),
        format!("paged {paged:?}, all {ids:?}"),
    );
    let first = all.pointer("/objects/0").cloned().unwrap_or_default();
    let name = first["name"].as_str().unwrap_or_default().to_string();
    let named = objects(
        &client,
        &api::search_objects::Options {
            search_string: Some(name.clone()),
            ..Default::default()
        },
    )
    .await?;
    ctx.check(
        "SearchObjects",
        "searchString finds the object of that name",
        strings(&named, "/objects", "/name").contains(&name),
        &named,
    );
    let by_id = objects(
        &client,
        &api::search_objects::Options {
            object_ids: first["id"].as_i64().map(|id| vec![id]),
            ..Default::default()
        },
    )
    .await?;
    ctx.check(
        "SearchObjects",
        "objectIds finds exactly that object",
        strings(&by_id, "/objects", "/id") == [first["id"].to_string()],
        &by_id,
    );
    let _ = client
        .search_objects(&api::search_objects::Options {
            pagination_cookie: Some("conformance-not-a-cookie".into()),
            ..Default::default()
        })
        .await;
    invalid(
        ctx,
        "SearchObjects",
        "a paginationCookie the API did not give answers 400",
    );

    let api::search_protected_objects::Success::Ok(protected) = client
        .search_protected_objects(&Default::default())
        .await
        .map_err(failed("SearchProtectedObjects"))?;
    let protected = json_of(&protected);
    let protected_ids = strings(&protected, "/objects", "/id");
    ctx.check(
        "SearchProtectedObjects",
        "protected objects are objects the search finds",
        protected_ids.iter().all(|id| ids.contains(id)),
        &protected,
    );
    if let Some(object) = protected.pointer("/objects/0").cloned() {
        let api::search_protected_objects::Success::Ok(one) = client
            .search_protected_objects(&api::search_protected_objects::Options {
                object_ids: object["id"].as_i64().map(|id| vec![id]),
                ..Default::default()
            })
            .await
            .map_err(failed("SearchProtectedObjects"))?;
        let one = json_of(&one);
        ctx.check(
            "SearchProtectedObjects",
            "objectIds narrows protected objects to that object",
            strings(&one, "/objects", "/id") == [object["id"].to_string()],
            &one,
        );
    }
    Ok(())
}

async fn snapshots_and_indexes(ctx: &mut Ctx) -> Result<()> {
    let client = client(ctx)?;
    let api::get_protection_groups::Success::Ok(groups) = client
        .get_protection_groups(&Default::default())
        .await
        .map_err(failed("GetProtectionGroups"))?;
    let groups = json_of(&groups);
    let group = groups
        .pointer("/protectionGroups/0/id")
        .and_then(Value::as_str)
        .context("no protection group")?
        .to_string();
    let found = {
        let api::search_objects::Success::Ok(found) = client
            .search_objects(&Default::default())
            .await
            .map_err(failed("SearchObjects"))?;
        json_of(&found)
    };
    let object = found
        .pointer("/objects/0/id")
        .and_then(Value::as_i64)
        .context("no object")?;
    let api::get_object_snapshots::Success::Ok(snapshots) = client
        .get_object_snapshots(object, &Default::default())
        .await
        .map_err(failed("GetObjectSnapshots"))?;
    let snapshots = json_of(&snapshots);
    ctx.check(
        "GetObjectSnapshots",
        "an object's snapshots are all of that object",
        snapshots["snapshots"].is_array()
            && strings(&snapshots, "/snapshots", "/objectId")
                .iter()
                .all(|o| *o == object.to_string()),
        &snapshots,
    );
    let _ = client
        .get_object_snapshots(UNKNOWN_NUMBER, &Default::default())
        .await;
    not_found(
        ctx,
        "GetObjectSnapshots",
        "the snapshots of an unknown object answer 404",
    );

    let range = |groups: Vec<&str>, start: i64, end: i64| {
        body::<ibm_backup_recovery::types::GetRestorePointsInTimeRangeRequest>(json!({
            "protectionGroupIds": groups, "environment": "kPhysical",
            "startTimeUsecs": start, "endTimeUsecs": end,
        }))
    };
    let api::get_restore_points_in_time_range::Success::Created(points) = client
        .get_restore_points_in_time_range(
            &range(vec![&group], 0, i64::MAX / 2),
            &Default::default(),
        )
        .await
        .map_err(failed("GetRestorePointsInTimeRange"))?;
    let points = json_of(&points);
    ctx.check(
        "GetRestorePointsInTimeRange",
        "a group's restore points are of that group",
        strings(
            &points,
            "/fullSnapshotInfo",
            "/restoreInfo/protectionGroupId",
        )
        .iter()
        .all(|g| *g == group),
        &points,
    );
    let _ = client
        .get_restore_points_in_time_range(&range(vec![&group], 10, 5), &Default::default())
        .await;
    invalid(
        ctx,
        "GetRestorePointsInTimeRange",
        "a range that ends before it starts answers 400",
    );
    let _ = client
        .get_restore_points_in_time_range(&range(vec![UNKNOWN_ID], 0, 1), &Default::default())
        .await;
    not_found(
        ctx,
        "GetRestorePointsInTimeRange",
        "an unknown group answers 404",
    );

    let search =
        |value: Value| body::<ibm_backup_recovery::types::SearchIndexedObjectsRequest>(value);
    let api::search_indexed_objects::Success::Ok(files) = client
        .search_indexed_objects(
            &search(json!({"objectType": "Files", "count": 10})),
            &Default::default(),
        )
        .await
        .map_err(failed("SearchIndexedObjects"))?;
    let files = json_of(&files);
    ctx.check(
        "SearchIndexedObjects",
        "indexed files are answered as files, at most count",
        files["files"].as_array().is_none_or(|f| f.len() <= 10),
        &files,
    );
    let _ = client
        .search_indexed_objects(
            &search(json!({"objectType": "Files", "protectionGroupIds": [UNKNOWN_ID]})),
            &Default::default(),
        )
        .await;
    not_found(
        ctx,
        "SearchIndexedObjects",
        "an unknown protection group answers 404",
    );
    let _ = client
        .search_indexed_objects(
            &search(json!({"objectType": "Files", "paginationCookie": "conformance-not-a-cookie"})),
            &Default::default(),
        )
        .await;
    invalid(
        ctx,
        "SearchIndexedObjects",
        "a paginationCookie the API did not give answers 400",
    );
    let _ = client
        .download_indexed_file(
            UNKNOWN_ID,
            &api::download_indexed_file::Options {
                file_path: Some("/etc/hosts".into()),
                ..Default::default()
            },
        )
        .await;
    not_found(
        ctx,
        "DownloadIndexedFile",
        "a file of an unknown snapshot answers 404",
    );
    Ok(())
}
