//! Recoveries of a run's snapshot: a volume mount recovery and a download of files and folders
//! followed to their end, the download read in chunks (`startOffset`, `length` ≤ 8 MiB), indexed
//! files searched and downloaded; and recoveries that fail.

use anyhow::{anyhow, Context as _, Result};
use ibm_backup_recovery::client as api;
use ibm_backup_recovery::types::{
    CreateDownloadFilesAndFoldersRecoveryRequest, CreateRecoveryRequest,
};
use ibm_backup_recovery::Client;
use serde_json::{json, Value};

use super::{
    body, client, failed, follow_recovery, invalid, json_of, not_found, protected_run,
    snapshots_of, strings, Ctx, Scenario, MAX_CHUNK, UNKNOWN_ID,
};
use crate::faults::FaultRule;

pub(super) fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "recoveries",
            operations: &[
                "CreateRecovery",
                "GetRecoveryByID",
                "GetRecoveries",
                "CreateDownloadFilesAndFoldersRecovery",
                "DownloadFilesFromRecovery",
                "SearchIndexedObjects",
                "DownloadIndexedFile",
            ],
            mutates: true,
            emulator_only: false,
            run: |ctx| Box::pin(recoveries(ctx)),
        },
        Scenario {
            name: "recoveries-fail",
            operations: &[
                "CreateRecovery",
                "CreateDownloadFilesAndFoldersRecovery",
                "GetRecoveryByID",
                "DownloadFilesFromRecovery",
            ],
            mutates: true,
            emulator_only: true,
            run: |ctx| Box::pin(recoveries_fail(ctx)),
        },
    ]
}

fn mount(name: &str, snapshot: &str) -> CreateRecoveryRequest {
    body(json!({
        "name": name,
        "snapshotEnvironment": "kPhysical",
        "physicalParams": {
            "objects": [{"snapshotId": snapshot}],
            "recoveryAction": "InstantVolumeMount",
        },
    }))
}

fn download(
    name: &str,
    snapshot: &str,
    paths: &[&str],
) -> CreateDownloadFilesAndFoldersRecoveryRequest {
    let files: Vec<Value> = paths.iter().map(|p| json!({"absolutePath": p})).collect();
    body(json!({"name": name, "object": {"snapshotId": snapshot}, "filesAndFolders": files}))
}

/// A chunk of a recovery's download.
async fn chunk(
    client: &Client,
    id: &str,
    offset: Option<i64>,
    length: Option<i64>,
    file_type: Option<&str>,
) -> Result<Vec<u8>> {
    let options = api::download_files_from_recovery::Options {
        start_offset: offset,
        length,
        file_type: file_type.map(str::to_string),
        ..Default::default()
    };
    let api::download_files_from_recovery::Success::Ok(response) = client
        .download_files_from_recovery(id, &options)
        .await
        .map_err(failed("DownloadFilesFromRecovery"))?;
    Ok(response.bytes().await.map_err(|e| anyhow!("{e}"))?.to_vec())
}

/// A chunk of an indexed file.
async fn indexed(
    client: &Client,
    snapshot: &str,
    path: &str,
    offset: i64,
    length: i64,
) -> Result<Vec<u8>> {
    let options = api::download_indexed_file::Options {
        file_path: Some(path.to_string()),
        start_offset: Some(offset),
        length: Some(length),
        ..Default::default()
    };
    let api::download_indexed_file::Success::Ok(response) = client
        .download_indexed_file(snapshot, &options)
        .await
        .map_err(failed("DownloadIndexedFile"))?;
    Ok(response.bytes().await.map_err(|e| anyhow!("{e}"))?.to_vec())
}

async fn recoveries(ctx: &mut Ctx) -> Result<()> {
    let client = client(ctx)?;
    let made = protected_run(ctx, &client, "recovery").await?;
    if made.states.last().map(String::as_str) != Some("Succeeded") {
        anyhow::bail!("the run to recover from ended {:?}", made.states);
    }
    let snapshot = snapshots_of(&client, made.object, &made.group)
        .await?
        .first()
        .and_then(|s| s["id"].as_str().map(str::to_string))
        .context("the run left no snapshot")?;

    // The snapshot's indexed files.
    let search =
        |value: Value| body::<ibm_backup_recovery::types::SearchIndexedObjectsRequest>(value);
    let api::search_indexed_objects::Success::Ok(files) = client
        .search_indexed_objects(
            &search(json!({"objectType": "Files", "protectionGroupIds": [made.group]})),
            &Default::default(),
        )
        .await
        .map_err(failed("SearchIndexedObjects"))?;
    let files = json_of(&files);
    let paths = strings(&files, "/files", "/path");
    ctx.check(
        "SearchIndexedObjects",
        "the run's files are indexed, each from the group's object",
        !paths.is_empty()
            && strings(&files, "/files", "/protectionGroupId")
                .iter()
                .all(|g| *g == made.group)
            && strings(&files, "/files", "/sourceInfo/id")
                .iter()
                .all(|o| *o == made.object.to_string()),
        &files,
    );
    let path = paths.first().cloned().context("no indexed file")?;
    let name = path.rsplit(['/', '\\']).next().unwrap_or(&path).to_string();
    let api::search_indexed_objects::Success::Ok(named) = client
        .search_indexed_objects(
            &search(json!({"objectType": "Files", "protectionGroupIds": [made.group], "fileParams": {"searchString": name}})),
            &Default::default(),
        )
        .await
        .map_err(failed("SearchIndexedObjects"))?;
    let named = json_of(&named);
    ctx.check(
        "SearchIndexedObjects",
        "searching a file's name finds it",
        strings(&named, "/files", "/path").contains(&path),
        &named,
    );
    if paths.len() > 1 {
        let api::search_indexed_objects::Success::Ok(page) = client
            .search_indexed_objects(
                &search(
                    json!({"objectType": "Files", "protectionGroupIds": [made.group], "count": 1}),
                ),
                &Default::default(),
            )
            .await
            .map_err(failed("SearchIndexedObjects"))?;
        let page = json_of(&page);
        let cookie = page["paginationCookie"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let api::search_indexed_objects::Success::Ok(next) = client
            .search_indexed_objects(
                &search(json!({"objectType": "Files", "protectionGroupIds": [made.group], "count": 1, "paginationCookie": cookie})),
                &Default::default(),
            )
            .await
            .map_err(failed("SearchIndexedObjects"))?;
        let next = json_of(&next);
        let first = strings(&page, "/files", "/path");
        let second = strings(&next, "/files", "/path");
        ctx.check(
            "SearchIndexedObjects",
            "count=1 pages with a cookie, without repeating a file",
            first.len() == 1 && second.len() == 1 && first != second,
            format!("{page} then {next}"),
        );
    }

    // An indexed file, in chunks.
    let whole = indexed(&client, &snapshot, &path, 0, 1024).await?;
    let part = indexed(&client, &snapshot, &path, 512, 256).await?;
    ctx.check(
        "DownloadIndexedFile",
        "a chunk at an offset is that part of the file",
        whole.len() == 1024 && whole.get(512..768) == Some(part.as_slice()),
        format!("{} and {} bytes", whole.len(), part.len()),
    );
    let _ = client
        .download_indexed_file(
            &snapshot,
            &api::download_indexed_file::Options {
                file_path: Some(path.clone()),
                length: Some(MAX_CHUNK + 1),
                ..Default::default()
            },
        )
        .await;
    invalid(
        ctx,
        "DownloadIndexedFile",
        "a chunk above 8 MiB answers 400",
    );
    let _ = client
        .download_indexed_file(&snapshot, &Default::default())
        .await;
    invalid(
        ctx,
        "DownloadIndexedFile",
        "a physical snapshot's file needs a filePath (400)",
    );
    let _ = client
        .download_indexed_file(
            &snapshot,
            &api::download_indexed_file::Options {
                file_path: Some("/conformance/no/such/file".into()),
                ..Default::default()
            },
        )
        .await;
    not_found(
        ctx,
        "DownloadIndexedFile",
        "a file the snapshot does not hold answers 404",
    );

    // A volume mount recovery, followed to its end.
    let mount_name = ctx.name("mount");
    let api::create_recovery::Success::Created(created) = client
        .create_recovery(&mount(&mount_name, &snapshot), &Default::default())
        .await
        .map_err(failed("CreateRecovery"))?;
    let recovery = created.id.clone().context("the recovery has no id")?;
    let created = json_of(&created);
    ctx.check(
        "CreateRecovery",
        "the new recovery names its snapshot's object and is not finished",
        created.pointer("/physicalParams/objects/0/objectInfo/id") == Some(&json!(made.object))
            && ["Accepted", "Running"].contains(&created["status"].as_str().unwrap_or_default()),
        &created,
    );
    let states = follow_recovery(ctx, &client, &recovery).await?;
    ctx.check(
        "CreateRecovery",
        "the recovery progresses to Succeeded",
        states.last().map(String::as_str) == Some("Succeeded"),
        format!("{states:?}"),
    );
    let api::get_recoveries::Success::Ok(listed) = client
        .get_recoveries(&api::get_recoveries::Options {
            ids: Some(vec![recovery.clone()]),
            status: Some(vec![body(json!("Succeeded"))]),
            ..Default::default()
        })
        .await
        .map_err(failed("GetRecoveries"))?;
    let listed = json_of(&listed);
    ctx.check(
        "GetRecoveries",
        "the succeeded recovery is listed by id and status",
        strings(&listed, "/recoveries", "/id") == [recovery.clone()],
        &listed,
    );
    let api::get_recoveries::Success::Ok(all) = client
        .get_recoveries(&Default::default())
        .await
        .map_err(failed("GetRecoveries"))?;
    ctx.check(
        "GetRecoveries",
        "the recovery is in the unfiltered list",
        strings(&json_of(&all), "/recoveries", "/id").contains(&recovery),
        "",
    );
    let _ = client
        .download_files_from_recovery(&recovery, &Default::default())
        .await;
    invalid(
        ctx,
        "DownloadFilesFromRecovery",
        "a volume recovery has nothing to download (400)",
    );
    let _ = client
        .create_recovery(
            &mount(&ctx.name("mount-ghost"), UNKNOWN_ID),
            &Default::default(),
        )
        .await;
    not_found(
        ctx,
        "CreateRecovery",
        "recovering an unknown snapshot answers 404",
    );
    let _ = client
        .create_recovery(&mount(" ", &snapshot), &Default::default())
        .await;
    invalid(ctx, "CreateRecovery", "a blank name answers 400");
    let _ = client
        .get_recovery_by_id(UNKNOWN_ID, &Default::default())
        .await;
    not_found(ctx, "GetRecoveryByID", "an unknown recovery answers 404");

    // Download files and folders.
    let download_name = ctx.name("download");
    let api::create_download_files_and_folders_recovery::Success::Created(created) = client
        .create_download_files_and_folders_recovery(
            &download(&download_name, &snapshot, &[&path]),
            &Default::default(),
        )
        .await
        .map_err(failed("CreateDownloadFilesAndFoldersRecovery"))?;
    let id = created
        .id
        .clone()
        .context("the download recovery has no id")?;
    let _ = client
        .download_files_from_recovery(&id, &Default::default())
        .await;
    invalid(
        ctx,
        "DownloadFilesFromRecovery",
        "downloading before the recovery succeeded answers 400",
    );
    let states = follow_recovery(ctx, &client, &id).await?;
    ctx.check(
        "CreateDownloadFilesAndFoldersRecovery",
        "the download recovery progresses to Succeeded",
        states.last().map(String::as_str) == Some("Succeeded"),
        format!("{states:?}"),
    );
    let first = chunk(&client, &id, Some(0), Some(4096), None).await?;
    let middle = chunk(&client, &id, Some(1000), Some(500), None).await?;
    ctx.check(
        "DownloadFilesFromRecovery",
        "startOffset and length cut the download consistently",
        first.len() == 4096 && first.get(1000..1500) == Some(middle.as_slice()),
        format!("{} and {} bytes", first.len(), middle.len()),
    );
    let past = chunk(&client, &id, Some(i64::from(u32::MAX)), Some(16), None).await?;
    ctx.check(
        "DownloadFilesFromRecovery",
        "a chunk past the end is empty",
        past.is_empty(),
        format!("{} bytes", past.len()),
    );
    let list = chunk(&client, &id, None, None, Some("success_files_list")).await?;
    let list = String::from_utf8_lossy(&list).to_string();
    ctx.check(
        "DownloadFilesFromRecovery",
        "the success files list names the file recovered",
        list.lines().any(|l| l == path),
        &list,
    );
    let _ = client
        .download_files_from_recovery(
            &id,
            &api::download_files_from_recovery::Options {
                length: Some(MAX_CHUNK + 1),
                ..Default::default()
            },
        )
        .await;
    invalid(
        ctx,
        "DownloadFilesFromRecovery",
        "a chunk above 8 MiB answers 400",
    );
    let _ = client
        .download_files_from_recovery(UNKNOWN_ID, &Default::default())
        .await;
    not_found(
        ctx,
        "DownloadFilesFromRecovery",
        "downloading an unknown recovery answers 404",
    );
    let _ = client
        .create_download_files_and_folders_recovery(
            &download(
                &ctx.name("download-ghost"),
                &snapshot,
                &["/conformance/no/such/file"],
            ),
            &Default::default(),
        )
        .await;
    not_found(
        ctx,
        "CreateDownloadFilesAndFoldersRecovery",
        "a file the snapshot does not hold answers 404",
    );
    let _ = client
        .create_download_files_and_folders_recovery(
            &download(&ctx.name("download-none"), &snapshot, &[]),
            &Default::default(),
        )
        .await;
    invalid(
        ctx,
        "CreateDownloadFilesAndFoldersRecovery",
        "naming no file answers 400",
    );
    Ok(())
}

async fn recoveries_fail(ctx: &mut Ctx) -> Result<()> {
    let emulator = ctx.emulator.clone().context("needs the emulator")?;
    let client = client(ctx)?;
    let made = protected_run(ctx, &client, "failing-recovery").await?;
    let snapshot = snapshots_of(&client, made.object, &made.group)
        .await?
        .first()
        .and_then(|s| s["id"].as_str().map(str::to_string))
        .context("the run left no snapshot")?;
    for op in ["CreateRecovery", "CreateDownloadFilesAndFoldersRecovery"] {
        emulator
            .faults
            .add(
                op,
                FaultRule {
                    times: Some(1),
                    job_fail_at: Some(50),
                    ..Default::default()
                },
            )
            .map_err(|e| anyhow!("fault: {e}"))?;
    }
    let mount_name = ctx.name("failing-mount");
    let api::create_recovery::Success::Created(created) = client
        .create_recovery(&mount(&mount_name, &snapshot), &Default::default())
        .await
        .map_err(failed("CreateRecovery"))?;
    let id = created.id.clone().context("the recovery has no id")?;
    let states = follow_recovery(ctx, &client, &id).await?;
    ctx.check(
        "CreateRecovery",
        "a recovery that fails midway ends Failed",
        states.last().map(String::as_str) == Some("Failed"),
        format!("{states:?}"),
    );
    let path = {
        let api::search_indexed_objects::Success::Ok(files) = client
            .search_indexed_objects(
                &body(
                    json!({"objectType": "Files", "protectionGroupIds": [made.group], "count": 1}),
                ),
                &Default::default(),
            )
            .await
            .map_err(failed("SearchIndexedObjects"))?;
        strings(&json_of(&files), "/files", "/path")
            .first()
            .cloned()
            .context("no indexed file")?
    };
    let download_name = ctx.name("failing-download");
    let api::create_download_files_and_folders_recovery::Success::Created(created) = client
        .create_download_files_and_folders_recovery(
            &download(&download_name, &snapshot, &[&path]),
            &Default::default(),
        )
        .await
        .map_err(failed("CreateDownloadFilesAndFoldersRecovery"))?;
    let id = created
        .id
        .clone()
        .context("the download recovery has no id")?;
    let states = follow_recovery(ctx, &client, &id).await?;
    ctx.check(
        "CreateDownloadFilesAndFoldersRecovery",
        "a download recovery that fails midway ends Failed",
        states.last().map(String::as_str) == Some("Failed"),
        format!("{states:?}"),
    );
    let api::get_recovery_by_id::Success::Ok(failed_one) = client
        .get_recovery_by_id(&id, &Default::default())
        .await
        .map_err(failed("GetRecoveryByID"))?;
    let failed_one = json_of(&failed_one);
    ctx.check(
        "GetRecoveryByID",
        "a failed recovery says why",
        failed_one["messages"]
            .as_array()
            .is_some_and(|m| !m.is_empty()),
        &failed_one,
    );
    let _ = client
        .download_files_from_recovery(&id, &Default::default())
        .await;
    invalid(
        ctx,
        "DownloadFilesFromRecovery",
        "a failed recovery has nothing to download (400)",
    );
    Ok(())
}
