//! Snapshots, restore points, indexed files and the searches.

use axum::body::Body;
use ibm_backup_recovery::server::{
    download_indexed_file, get_object_snapshots, get_restore_points_in_time_range,
    search_indexed_objects, search_objects, search_protected_objects,
};
use serde_json::{json, Value};

use super::{
    chunk, fnv, num_key, paginate, tenant_key, typed, Failure, Ibm, Object, Snapshot, State,
    CLUSTER_ID, CLUSTER_INCARNATION,
};

/// Page size when a search does not say.
const DEFAULT_PAGE: usize = 50;

impl State {
    /// The tenant's live snapshots (not expired at `now`).
    fn live_snapshots<'a>(
        &'a self,
        tenant: &'a str,
        now: i64,
    ) -> impl Iterator<Item = &'a Snapshot> {
        self.snapshots
            .iter()
            .filter(move |s| s.tenant == tenant && s.expiry_usecs > now)
    }

    fn snapshot_view(&self, snapshot: &Snapshot) -> Value {
        let object = self.objects.get(&snapshot.object_id);
        let group = self.groups.get(&snapshot.group_id);
        let on_hold = self
            .runs
            .iter()
            .find(|r| r.id == snapshot.run_id)
            .map(|r| (r.on_legal_hold, r.data_lock.is_some()))
            .unwrap_or((false, false));
        json!({
            "id": snapshot.id,
            "clusterId": CLUSTER_ID,
            "clusterIncarnationId": CLUSTER_INCARNATION,
            "environment": object.map(|o| o.environment.as_str()).unwrap_or("kPhysical"),
            "expiryTimeUsecs": snapshot.expiry_usecs,
            "hasDataLock": on_hold.1,
            "indexingStatus": "Done",
            "objectId": snapshot.object_id,
            "objectName": object.map(|o| o.name.as_str()).unwrap_or(""),
            "onLegalHold": on_hold.0,
            "ownershipContext": "Local",
            "physicalParams": {"enableSystemBackup": false, "protectionType": "kVolume"},
            "protectionGroupId": snapshot.group_id,
            "protectionGroupName": group.map(|g| g.str("name")).unwrap_or(""),
            "protectionGroupRunId": snapshot.run_id,
            "regionId": "us-east",
            "runInstanceId": snapshot.instance_id,
            "runStartTimeUsecs": snapshot.timestamp_usecs,
            "runType": snapshot.run_type,
            "snapshotTargetType": "Local",
            "snapshotTimestampUsecs": snapshot.timestamp_usecs,
            "sourceId": object.map(|o| o.source_id).unwrap_or(0),
            "storageDomainId": 1,
        })
    }

    /// The tenant's object `id`, or 404.
    fn object(&self, tenant: &str, id: i64) -> Result<&Object, Failure> {
        self.objects
            .get(&id)
            .filter(|o| o.tenant == tenant)
            .ok_or_else(|| Failure::not_found("Object", id))
    }

    /// The tenant's groups protecting `object`.
    fn groups_of(&self, tenant: &str, object: i64) -> Vec<(&String, &super::Owned)> {
        self.groups
            .iter()
            .filter(|(_, g)| g.tenant == tenant && State::group_objects(&g.value).contains(&object))
            .collect()
    }
}

fn text_matches(haystack: &str, needle: Option<&String>) -> bool {
    match needle.map(|n| n.trim().trim_matches('*')) {
        None | Some("") => true,
        Some(n) => haystack.to_lowercase().contains(&n.to_lowercase()),
    }
}

impl Ibm {
    pub(super) fn get_object_snapshots(
        &self,
        request: get_object_snapshots::Request,
    ) -> Result<get_object_snapshots::Response, Failure> {
        let tenant = tenant_key(&request.x_ibm_tenant_id);
        self.jobs.settle();
        let now = self.now_usecs();
        let state = self.lock();
        state.object(&tenant, request.id)?;
        let run_types: Option<Vec<String>> = request
            .run_types
            .as_ref()
            .map(|t| t.iter().map(|v| v.to_string()).collect());
        let mut snapshots: Vec<&Snapshot> = state
            .live_snapshots(&tenant, now)
            .filter(|s| s.object_id == request.id)
            .filter(|s| {
                request
                    .from_time_usecs
                    .is_none_or(|t| s.timestamp_usecs >= t)
            })
            .filter(|s| request.to_time_usecs.is_none_or(|t| s.timestamp_usecs <= t))
            .filter(|s| {
                request
                    .run_start_from_time_usecs
                    .is_none_or(|t| s.timestamp_usecs >= t)
            })
            .filter(|s| {
                request
                    .run_start_to_time_usecs
                    .is_none_or(|t| s.timestamp_usecs <= t)
            })
            .filter(|s| {
                request
                    .protection_group_ids
                    .as_ref()
                    .is_none_or(|ids| ids.contains(&s.group_id))
            })
            .filter(|s| {
                request
                    .run_instance_ids
                    .as_ref()
                    .is_none_or(|ids| ids.contains(&s.instance_id))
            })
            .filter(|s| run_types.as_ref().is_none_or(|t| t.contains(&s.run_type)))
            .collect();
        snapshots.sort_by_key(|s| s.timestamp_usecs);
        let views: Vec<Value> = snapshots.iter().map(|s| state.snapshot_view(s)).collect();
        Ok(get_object_snapshots::Response::Ok(typed(
            json!({"snapshots": views}),
        )?))
    }

    pub(super) fn get_restore_points_in_time_range(
        &self,
        request: get_restore_points_in_time_range::Request,
    ) -> Result<get_restore_points_in_time_range::Response, Failure> {
        let tenant = tenant_key(&request.x_ibm_tenant_id);
        let body = &request.body;
        if body.start_time_usecs > body.end_time_usecs {
            return Err(Failure::invalid("startTimeUsecs is after endTimeUsecs"));
        }
        if body.protection_group_ids.is_empty() {
            return Err(Failure::invalid("protectionGroupIds must not be empty"));
        }
        self.jobs.settle();
        let now = self.now_usecs();
        let state = self.lock();
        for id in &body.protection_group_ids {
            if state.groups.get(id).is_none_or(|g| g.tenant != tenant) {
                return Err(Failure::not_found("Protection Group", id));
            }
        }
        let mut snapshots: Vec<&Snapshot> = state
            .live_snapshots(&tenant, now)
            .filter(|s| body.protection_group_ids.contains(&s.group_id))
            .filter(|s| (body.start_time_usecs..=body.end_time_usecs).contains(&s.timestamp_usecs))
            .filter(|s| {
                body.source_id.is_none_or(|source| {
                    state
                        .objects
                        .get(&s.object_id)
                        .is_some_and(|o| o.source_id == source)
                })
            })
            .collect();
        snapshots.sort_by_key(|s| s.timestamp_usecs);
        let full: Vec<Value> = snapshots
            .iter()
            .map(|s| {
                let object = state.objects.get(&s.object_id);
                let info = object
                    .map(|o| state.summary(o))
                    .unwrap_or(json!({"id": s.object_id}));
                json!({"restoreInfo": {
                    "attemptNumber": 1,
                    "objectInfo": info,
                    "protectionGroupId": s.group_id,
                    "runStartTimeUsecs": s.timestamp_usecs,
                    "snapshotRelativeDirPath": format!("/snapshots/{}", s.id),
                    "viewName": format!("view-{}", s.group_id.replace(':', "-")),
                    "vmHadIndependentDisks": false,
                }})
            })
            .collect();
        let ranges: Vec<Value> = snapshots
            .iter()
            .map(|s| {
                json!({
                    "protectionGroupId": s.group_id,
                    "startTimeUsecs": s.timestamp_usecs,
                    "endTimeUsecs": s.timestamp_usecs,
                })
            })
            .collect();
        Ok(get_restore_points_in_time_range::Response::Created(typed(
            json!({"fullSnapshotInfo": full, "timeRangeInfo": {"timeRanges": ranges}}),
        )?))
    }

    pub(super) fn download_indexed_file(
        &self,
        request: download_indexed_file::Request,
    ) -> Result<download_indexed_file::Response, Failure> {
        let tenant = tenant_key(&request.x_ibm_tenant_id);
        self.jobs.settle();
        let now = self.now_usecs();
        let state = self.lock();
        let snapshot = state
            .live_snapshots(&tenant, now)
            .find(|s| s.id == request.snapshots_id)
            .ok_or_else(|| Failure::not_found("Snapshot", &request.snapshots_id))?;
        let path = request
            .file_path
            .as_deref()
            .filter(|p| !p.is_empty())
            .ok_or_else(|| Failure::invalid("filePath is required for physical snapshots"))?;
        let object = state.objects.get(&snapshot.object_id);
        if !object.is_some_and(|o| o.files.iter().any(|f| f == path)) {
            return Err(Failure::not_found("File", path));
        }
        let name = format!("{}|{path}", snapshot.id);
        let size = file_size(path);
        let bytes = chunk(&name, size, request.start_offset, request.length)?;
        Ok(download_indexed_file::Response::Ok(Body::from(bytes)))
    }

    pub(super) fn search_indexed_objects(
        &self,
        request: search_indexed_objects::Request,
    ) -> Result<search_indexed_objects::Response, Failure> {
        let tenant = tenant_key(&request.x_ibm_tenant_id);
        let body = &request.body;
        if body.object_type != "Files" {
            return Err(Failure::invalid(format!(
                "objectType {} is not indexed by the emulator (it indexes Files)",
                body.object_type
            )));
        }
        self.jobs.settle();
        let now = self.now_usecs();
        let state = self.lock();
        if let Some(ids) = &body.protection_group_ids {
            for id in ids {
                if state.groups.get(id).is_none_or(|g| g.tenant != tenant) {
                    return Err(Failure::not_found("Protection Group", id));
                }
            }
        }
        let needle = body
            .file_params
            .as_ref()
            .and_then(|f| f.search_string.clone());
        // One entry per (group, object, path): the files of the newest snapshot.
        let mut latest: std::collections::BTreeMap<(String, i64), &Snapshot> = Default::default();
        for s in state.live_snapshots(&tenant, now) {
            if body
                .protection_group_ids
                .as_ref()
                .is_some_and(|ids| !ids.contains(&s.group_id))
            {
                continue;
            }
            let key = (s.group_id.clone(), s.object_id);
            if latest
                .get(&key)
                .is_none_or(|old| old.timestamp_usecs < s.timestamp_usecs)
            {
                latest.insert(key, s);
            }
        }
        let mut items = Vec::new();
        for ((group_id, object_id), _) in latest {
            let Some(object) = state.objects.get(&object_id) else {
                continue;
            };
            let group = state.groups.get(&group_id);
            let policy_id = group
                .map(|g| g.str("policyId").to_string())
                .unwrap_or_default();
            let policy_name = state
                .policies
                .get(&policy_id)
                .map(|p| p.str("name").to_string())
                .unwrap_or_default();
            for path in object
                .files
                .iter()
                .filter(|p| text_matches(p, needle.as_ref()))
            {
                let name = path.rsplit(['/', '\\']).next().unwrap_or(path).to_string();
                let key = format!("{group_id}|{}|{path}", num_key(object_id));
                items.push((
                    key,
                    json!({
                        "name": name,
                        "path": path,
                        "type": "File",
                        "protectionGroupId": group_id,
                        "protectionGroupName": group.map(|g| g.str("name")).unwrap_or(""),
                        "policyId": policy_id,
                        "policyName": policy_name,
                        "storageDomainId": 1,
                        "sourceInfo": state.summary(object),
                    }),
                ));
            }
        }
        let total = items.len();
        let (files, cookie) = paginate(
            items,
            body.pagination_cookie.as_deref(),
            body.count,
            DEFAULT_PAGE,
        )?;
        let mut answer = json!({"objectType": "Files", "count": total, "files": files});
        if let Some(cookie) = cookie {
            answer["paginationCookie"] = json!(cookie);
        }
        Ok(search_indexed_objects::Response::Ok(typed(answer)?))
    }

    pub(super) fn search_objects(
        &self,
        request: search_objects::Request,
    ) -> Result<search_objects::Response, Failure> {
        let tenant = tenant_key(&request.x_ibm_tenant_id);
        let views = self.job_views();
        let state = self.lock();
        let environments: Option<Vec<String>> = request
            .environments
            .as_ref()
            .map(|e| e.iter().map(|v| v.to_string()).collect());
        let mut items = Vec::new();
        for object in state.objects.values().filter(|o| o.tenant == tenant) {
            let groups = state.groups_of(&tenant, object.id);
            let protected = !groups.is_empty();
            let keep = text_matches(&object.name, request.search_string.as_ref())
                && environments
                    .as_ref()
                    .is_none_or(|e| e.contains(&object.environment))
                && request
                    .object_ids
                    .as_ref()
                    .is_none_or(|ids| ids.contains(&object.id))
                && request
                    .source_ids
                    .as_ref()
                    .is_none_or(|ids| ids.contains(&object.source_id))
                && request.is_protected.is_none_or(|p| p == protected)
                && request.is_deleted != Some(true)
                && request
                    .protection_group_ids
                    .as_ref()
                    .is_none_or(|ids| groups.iter().any(|(id, _)| ids.contains(id)));
            if !keep {
                continue;
            }
            let summaries: Vec<Value> = groups
                .iter()
                .map(|(id, g)| {
                    let last = state
                        .runs
                        .iter()
                        .filter(|r| r.group_id == **id)
                        .max_by_key(|r| r.start_usecs)
                        .and_then(|r| views.get(&super::groups::run_job(&r.id)))
                        .map(|j| super::run_status(&j.state));
                    let policy_id = g.str("policyId");
                    let mut summary = json!({
                        "name": g.str("name"),
                        "id": id,
                        "protectionEnvType": "kPhysical",
                        "policyName": state.policies.get(policy_id).map(|p| p.str("name")).unwrap_or(""),
                        "policyId": policy_id,
                        "lastRunSlaViolated": false,
                    });
                    if let Some(last) = last {
                        summary["lastBackupRunStatus"] = json!(last);
                    }
                    summary
                })
                .collect();
            let mut value = state.summary(object);
            value["protectionStats"] = json!([{
                "environment": object.environment,
                "protectedCount": i64::from(protected),
                "unprotectedCount": i64::from(!protected),
                "deletedProtectedCount": 0,
                "protectedSizeBytes": if protected { object.size } else { 0 },
                "unprotectedSizeBytes": if protected { 0 } else { object.size },
            }]);
            value["objectProtectionInfos"] = json!([{
                "objectId": object.id,
                "sourceId": object.source_id,
                "regionId": "us-east",
                "clusterId": CLUSTER_ID,
                "clusterIncarnationId": CLUSTER_INCARNATION,
                "tenantIds": [request.x_ibm_tenant_id],
                "isDeleted": false,
                "protectionGroups": summaries,
            }]);
            items.push((num_key(object.id), value));
        }
        let total = items.len();
        let (objects, cookie) = paginate(
            items,
            request.pagination_cookie.as_deref(),
            request.count,
            DEFAULT_PAGE,
        )?;
        let mut answer = json!({"objects": objects, "count": total});
        if let Some(cookie) = cookie {
            answer["paginationCookie"] = json!(cookie);
        }
        Ok(search_objects::Response::Ok(typed(answer)?))
    }

    pub(super) fn search_protected_objects(
        &self,
        request: search_protected_objects::Request,
    ) -> Result<search_protected_objects::Response, Failure> {
        let tenant = tenant_key(&request.x_ibm_tenant_id);
        self.jobs.settle();
        let now = self.now_usecs();
        let state = self.lock();
        let environments: Option<Vec<String>> = request
            .environments
            .as_ref()
            .map(|e| e.iter().map(|v| v.to_string()).collect());
        let mut objects = Vec::new();
        let mut identifiers: Vec<(String, String)> = Vec::new();
        for object in state.objects.values().filter(|o| o.tenant == tenant) {
            let groups: Vec<(&String, &super::Owned)> = state
                .groups_of(&tenant, object.id)
                .into_iter()
                .filter(|(id, _)| {
                    request
                        .protection_group_ids
                        .as_ref()
                        .is_none_or(|ids| ids.contains(id))
                })
                .collect();
            let keep = !groups.is_empty()
                && text_matches(&object.name, request.search_string.as_ref())
                && environments
                    .as_ref()
                    .is_none_or(|e| e.contains(&object.environment))
                && request
                    .object_ids
                    .as_ref()
                    .is_none_or(|ids| ids.contains(&object.id))
                && request
                    .source_ids
                    .as_ref()
                    .is_none_or(|ids| ids.contains(&object.source_id));
            if !keep {
                continue;
            }
            let mut latest = Vec::new();
            for (id, group) in &groups {
                let newest = state
                    .live_snapshots(&tenant, now)
                    .filter(|s| s.group_id == **id && s.object_id == object.id)
                    .filter(|s| {
                        request
                            .filter_snapshot_from_usecs
                            .is_none_or(|t| s.timestamp_usecs >= t)
                    })
                    .filter(|s| {
                        request
                            .filter_snapshot_to_usecs
                            .is_none_or(|t| s.timestamp_usecs <= t)
                    })
                    .filter(|s| {
                        request
                            .run_instance_ids
                            .as_ref()
                            .is_none_or(|ids| ids.contains(&s.instance_id))
                    })
                    .max_by_key(|s| s.timestamp_usecs);
                if let Some(s) = newest {
                    latest.push(json!({
                        "localSnapshotInfo": {"snapshotId": s.id, "logicalSizeBytes": object.size},
                        "indexingStatus": "Done",
                        "protectionGroupId": id,
                        "protectionGroupName": group.str("name"),
                        "runInstanceId": s.instance_id,
                        "protectionRunId": s.run_id,
                        "runType": s.run_type,
                        "protectionRunStartTimeUsecs": s.timestamp_usecs,
                    }));
                }
                let pair = (id.to_string(), group.str("name").to_string());
                if !identifiers.contains(&pair) {
                    identifiers.push(pair);
                }
            }
            let mut value = state.summary(object);
            value["latestSnapshotsInfo"] = Value::Array(latest);
            objects.push(value);
        }
        let count = objects.len();
        let identifiers: Vec<Value> = identifiers
            .into_iter()
            .map(|(id, name)| json!({"protectionGroupId": id, "protectionGroupName": name}))
            .collect();
        Ok(search_protected_objects::Response::Ok(typed(json!({
            "objects": objects,
            "metadata": {"uniqueProtectionGroupIdentifiers": identifiers},
            "numResults": count,
        }))?))
    }
}

/// An indexed file's size: a few hundred KiB, stable per path.
pub fn file_size(path: &str) -> u64 {
    256 * 1024 + fnv(path) % 65_536
}
