//! Protection groups and their runs.

use std::collections::HashMap;
use std::sync::Arc;

use ibm_backup_recovery::server::{
    create_protection_group, create_protection_group_run, delete_protection_group,
    get_protection_group_by_id, get_protection_group_runs, get_protection_groups,
    perform_action_on_protection_group_run, update_protection_group, update_protection_group_run,
};
use ibm_backup_recovery::types::PerformActionOnProtectionGroupRunRequestAction as Action;
use serde_json::{json, Map, Value};

use super::seed::secs;
use super::{
    lock, run_status, tenant_key, to_map, typed, Failure, Ibm, Owned, Run, Snapshot, State,
    CLUSTER_ID, CLUSTER_INCARNATION,
};
use crate::jobs::{Effect, Ending, JobPlan, JobState, JobView};

type Views = HashMap<String, JobView<(), String>>;

const DAY_USECS: i64 = 86_400 * 1_000_000;

pub(super) fn run_job(id: &str) -> String {
    format!("run:{id}")
}

impl State {
    /// The tenant's group `id`, or 404.
    fn group(&self, tenant: &str, id: &str) -> Result<&Owned, Failure> {
        self.groups
            .get(id)
            .filter(|g| g.tenant == tenant)
            .ok_or_else(|| Failure::not_found("Protection Group", id))
    }

    fn group_name_taken(&self, tenant: &str, name: &str, except: Option<&str>) -> bool {
        self.groups.iter().any(|(id, g)| {
            g.tenant == tenant && g.str("name") == name && Some(id.as_str()) != except
        })
    }

    /// Checks a group body's policy and objects against the tenant's.
    fn check_group(&self, tenant: &str, body: &Map<String, Value>) -> Result<(), Failure> {
        let policy = body.get("policyId").and_then(Value::as_str).unwrap_or("");
        self.policy_exists(tenant, policy)?;
        for id in State::group_objects(body) {
            if self.objects.get(&id).is_none_or(|o| o.tenant != tenant) {
                return Err(Failure::not_found("Object", id));
            }
        }
        Ok(())
    }

    fn policy_exists(&self, tenant: &str, id: &str) -> Result<(), Failure> {
        match self.policies.get(id) {
            Some(p) if p.tenant == tenant => Ok(()),
            _ => Err(Failure::not_found("Protection Policy", id)),
        }
    }

    /// The retention of a group's policy, in microseconds (30 days when unsaid).
    fn retention_usecs(&self, group: &Owned) -> i64 {
        let retention = self
            .policies
            .get(group.str("policyId"))
            .and_then(|p| super::pointer(&p.value, "/backupPolicy/regular/retention"));
        let duration = retention
            .and_then(|r| r.get("duration"))
            .and_then(Value::as_i64)
            .unwrap_or(30)
            .clamp(0, 100_000);
        let days = match retention
            .and_then(|r| r.get("unit"))
            .and_then(Value::as_str)
        {
            Some("Weeks") => 7,
            Some("Months") => 30,
            Some("Years") => 365,
            _ => 1,
        };
        duration * days * DAY_USECS
    }

    /// The runs of group `id`, newest first.
    fn runs_of(&self, group_id: &str) -> Vec<&Run> {
        let mut runs: Vec<&Run> = self
            .runs
            .iter()
            .filter(|r| r.group_id == group_id)
            .collect();
        runs.sort_by_key(|r| std::cmp::Reverse(r.start_usecs));
        runs
    }

    /// A run as answered.
    fn run_view(&self, run: &Run, views: &Views, with_objects: bool) -> Value {
        let job = views.get(&run_job(&run.id));
        let status = job.map(|j| run_status(&j.state)).unwrap_or("Succeeded");
        let group = self.groups.get(&run.group_id);
        let start = job
            .and_then(|j| j.started_at)
            .map(super::usecs)
            .unwrap_or(run.start_usecs);
        let end = job.and_then(|j| j.finished_at).map(super::usecs);
        let percent = job.map(|j| j.percent as i64).unwrap_or(100);
        let objects: Vec<&super::Object> = run
            .objects
            .iter()
            .filter_map(|id| self.objects.get(id))
            .collect();
        let total: i64 = objects.iter().map(|o| o.size).sum();
        let (ok, failed, cancelled) = match status {
            "Succeeded" => (objects.len(), 0, 0),
            "Failed" => (0, objects.len(), 0),
            "Canceled" => (0, 0, objects.len()),
            _ => (0, 0, 0),
        };
        let mut messages = Vec::new();
        if let Some(JobState::Failed(message)) = job.map(|j| &j.state) {
            messages.push(message.clone());
        }
        let mut local = json!({
            "runType": run.run_type,
            "isSlaViolated": false,
            "startTimeUsecs": start,
            "status": status,
            "messages": messages,
            "successfulObjectsCount": ok,
            "skippedObjectsCount": 0,
            "failedObjectsCount": failed,
            "cancelledObjectsCount": cancelled,
            "successfulAppObjectsCount": 0,
            "failedAppObjectsCount": 0,
            "cancelledAppObjectsCount": 0,
            "localSnapshotStats": {
                "logicalSizeBytes": total,
                "bytesWritten": total / 100 * percent / 10,
                "bytesRead": total / 100 * percent,
            },
            "progressTaskId": format!("progress-{}", run.id),
            "localTaskId": format!("{CLUSTER_ID}:{CLUSTER_INCARNATION}:{}", run.instance_id),
        });
        if let Some(end) = end {
            local["endTimeUsecs"] = json!(end);
        }
        if let Some(lock) = &run.data_lock {
            local["dataLock"] = json!(lock);
        }
        let mut view = json!({
            "id": run.id,
            "protectionGroupInstanceId": run.instance_id,
            "protectionGroupId": run.group_id,
            "protectionGroupName": group.map(|g| g.str("name")).unwrap_or(""),
            "isReplicationRun": false,
            "originClusterIdentifier": {
                "clusterId": CLUSTER_ID,
                "clusterIncarnationId": CLUSTER_INCARNATION,
                "clusterName": "emulated-cluster",
            },
            "isLocalSnapshotsDeleted": run.snapshots_deleted,
            "localBackupInfo": local,
            "onLegalHold": run.on_legal_hold,
            "isCloudArchivalDirect": false,
            "hasLocalSnapshot": status == "Succeeded" && !run.snapshots_deleted,
            "environment": "kPhysical",
        });
        if with_objects {
            let results: Vec<Value> = objects
                .iter()
                .map(|object| {
                    let snapshot = self
                        .snapshots
                        .iter()
                        .find(|s| s.run_id == run.id && s.object_id == object.id);
                    let mut info = json!({
                        "status": match status {
                            "Succeeded" => "kSuccessful",
                            "Failed" => "kFailed",
                            "Canceled" => "kCanceled",
                            _ => "kInProgress",
                        },
                        "startTimeUsecs": start,
                        "expiryTimeUsecs": run.expiry_usecs,
                        "stats": {"logicalSizeBytes": object.size},
                        "isManuallyDeleted": run.snapshots_deleted,
                        "totalFileCount": object.files.len(),
                        "backupFileCount": object.files.len(),
                    });
                    if let Some(snapshot) = snapshot {
                        info["snapshotId"] = json!(snapshot.id);
                        info["snapshotCreationTimeUsecs"] = json!(snapshot.timestamp_usecs);
                    }
                    if let Some(end) = end {
                        info["endTimeUsecs"] = json!(end);
                    }
                    json!({
                        "object": self.summary(object),
                        "localSnapshotInfo": {"snapshotInfo": info},
                        "onLegalHold": run.on_legal_hold,
                    })
                })
                .collect();
            view["objects"] = Value::Array(results);
        }
        view
    }

    /// A group as answered (with its last run when asked).
    fn group_view(&self, id: &str, group: &Owned, views: &Views, last_run: bool) -> Value {
        let mut value = group.value.clone();
        value.insert(
            "numProtectedObjects".into(),
            json!(State::group_objects(&group.value).len()),
        );
        if last_run {
            if let Some(run) = self.runs_of(id).first() {
                value.insert("lastRun".into(), self.run_view(run, views, false));
            }
        }
        Value::Object(value)
    }
}

/// The legal moves of the run actions, from IBM's status names (the spec's `x-job.transitions`).
fn allowed(action: &Action, status: &str) -> bool {
    match action {
        Action::Pause => status == "Running",
        Action::Resume => status == "Paused",
        Action::Cancel => matches!(status, "Accepted" | "Running" | "Paused"),
        _ => false,
    }
}

impl Ibm {
    /// Creates a group for `tenant` from a request body; answers its id.
    pub(super) fn create_group_for(
        &self,
        tenant: &str,
        mut body: Map<String, Value>,
    ) -> Result<String, Failure> {
        let name = body
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if name.trim().is_empty() {
            return Err(Failure::invalid("name must not be empty"));
        }
        let id = self.next_entity_id();
        let now = self.now_usecs();
        let mut state = self.lock();
        if state.group_name_taken(tenant, &name, None) {
            return Err(Failure::duplicate("Protection Group", &name));
        }
        state.check_group(tenant, &body)?;
        let paused = body
            .get("isPaused")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        body.insert("id".into(), json!(id));
        body.insert("clusterId".into(), json!(CLUSTER_ID.to_string()));
        body.insert("regionId".into(), json!("us-east"));
        body.insert("isActive".into(), json!(true));
        body.insert("isDeleted".into(), json!(false));
        body.insert("isPaused".into(), json!(paused));
        body.insert("isProtectOnce".into(), json!(false));
        body.insert("lastModifiedTimestampUsecs".into(), json!(now));
        state.groups.insert(
            id.clone(),
            Owned {
                tenant: tenant.to_string(),
                value: body,
            },
        );
        Ok(id)
    }

    pub(super) fn get_protection_groups(
        &self,
        request: get_protection_groups::Request,
    ) -> Result<get_protection_groups::Response, Failure> {
        let tenant = tenant_key(&request.x_ibm_tenant_id);
        let last_run = request.include_last_run_info.unwrap_or(false);
        // The jobs are read only for the last runs; settling is what reading them did first.
        let views = if last_run {
            self.job_views()
        } else {
            self.jobs.settle();
            HashMap::new()
        };
        let state = self.lock();
        let groups = super::ordered(&state.groups)
            .into_iter()
            .filter(|(_, g)| g.tenant == tenant)
            .filter(|(id, _)| request.ids.as_ref().is_none_or(|ids| ids.contains(id)))
            .filter(|(_, g)| {
                request
                    .names
                    .as_ref()
                    .is_none_or(|names| names.iter().any(|n| n == g.str("name")))
            })
            .filter(|(_, g)| {
                request
                    .policy_ids
                    .as_ref()
                    .is_none_or(|ids| ids.iter().any(|p| p == g.str("policyId")))
            })
            .filter(|(_, g)| {
                request.is_paused.is_none_or(|p| {
                    g.value
                        .get("isPaused")
                        .and_then(Value::as_bool)
                        .unwrap_or(false)
                        == p
                })
            })
            // Deleted groups are gone: asking for them finds nothing.
            .filter(|_| request.is_deleted != Some(true))
            .filter(|(_, g)| {
                request.source_ids.as_ref().is_none_or(|ids| {
                    State::group_objects(&g.value)
                        .iter()
                        .any(|o| ids.contains(o))
                })
            })
            // Each group read as the list's item type: the same as reading
            // `{"protectionGroups": [...]}` as a whole. Without its last run, a group's view
            // depends only on the group, so it is remembered while the group does not change.
            .map(|(id, g)| {
                if last_run {
                    typed(state.group_view(id, g, &views, true))
                } else {
                    self.group_answers.try_get(id, &g.value, || {
                        typed(state.group_view(id, g, &views, false))
                    })
                }
            })
            .collect::<Result<Vec<_>, Failure>>()?;
        Ok(get_protection_groups::Response::Ok(
            ibm_backup_recovery::types::ProtectionGroupsResponse {
                protection_groups: Some(groups),
            },
        ))
    }

    pub(super) fn create_protection_group(
        &self,
        request: create_protection_group::Request,
    ) -> Result<create_protection_group::Response, Failure> {
        let tenant = tenant_key(&request.x_ibm_tenant_id);
        let id = self.create_group_for(&tenant, to_map(&request.body))?;
        let state = self.lock();
        let view = state.group_view(&id, state.group(&tenant, &id)?, &HashMap::new(), false);
        Ok(create_protection_group::Response::Created(typed(view)?))
    }

    pub(super) fn get_protection_group_by_id(
        &self,
        request: get_protection_group_by_id::Request,
    ) -> Result<get_protection_group_by_id::Response, Failure> {
        let tenant = tenant_key(&request.x_ibm_tenant_id);
        let views = self.job_views();
        let state = self.lock();
        let group = state.group(&tenant, &request.id)?;
        let view = state.group_view(
            &request.id,
            group,
            &views,
            request.include_last_run_info.unwrap_or(false),
        );
        Ok(get_protection_group_by_id::Response::Ok(typed(view)?))
    }

    pub(super) fn update_protection_group(
        &self,
        request: update_protection_group::Request,
    ) -> Result<update_protection_group::Response, Failure> {
        let tenant = tenant_key(&request.x_ibm_tenant_id);
        let now = self.now_usecs();
        let mut state = self.lock();
        let old = state.group(&tenant, &request.id)?.clone();
        let mut body = to_map(&request.body);
        let name = request.body.name.clone();
        if name.trim().is_empty() {
            return Err(Failure::invalid("name must not be empty"));
        }
        if state.group_name_taken(&tenant, &name, Some(&request.id)) {
            return Err(Failure::duplicate("Protection Group", &name));
        }
        state.check_group(&tenant, &body)?;
        for key in [
            "id",
            "clusterId",
            "regionId",
            "isActive",
            "isDeleted",
            "isProtectOnce",
        ] {
            if let Some(v) = old.value.get(key) {
                body.insert(key.into(), v.clone());
            }
        }
        if !body.contains_key("isPaused") {
            body.insert("isPaused".into(), json!(false));
        }
        body.insert("lastModifiedTimestampUsecs".into(), json!(now));
        let updated = Owned {
            tenant,
            value: body,
        };
        let view = state.group_view(&request.id, &updated, &HashMap::new(), false);
        state.groups.insert(request.id.clone(), updated);
        Ok(update_protection_group::Response::Ok(typed(view)?))
    }

    pub(super) fn delete_protection_group(
        &self,
        request: delete_protection_group::Request,
    ) -> Result<delete_protection_group::Response, Failure> {
        let tenant = tenant_key(&request.x_ibm_tenant_id);
        let runs: Vec<String> = {
            let state = self.lock();
            state.group(&tenant, &request.id)?;
            state
                .runs
                .iter()
                .filter(|r| r.group_id == request.id)
                .map(|r| r.id.clone())
                .collect()
        };
        // Unfinished runs stop (outside the state lock: cancelling runs their effects).
        for run in &runs {
            let _ = self.jobs.cancel(&run_job(run));
        }
        let mut state = self.lock();
        state.groups.remove(&request.id);
        if request.delete_snapshots == Some(true) {
            state.snapshots.retain(|s| s.group_id != request.id);
            for run in state.runs.iter_mut().filter(|r| r.group_id == request.id) {
                run.snapshots_deleted = true;
            }
        }
        Ok(delete_protection_group::Response::NoContent)
    }

    pub(super) fn get_protection_group_runs(
        &self,
        request: get_protection_group_runs::Request,
    ) -> Result<get_protection_group_runs::Response, Failure> {
        let tenant = tenant_key(&request.x_ibm_tenant_id);
        let views = self.job_views();
        let state = self.lock();
        state.group(&tenant, &request.id)?;
        let statuses: Option<Vec<String>> = request
            .local_backup_run_status
            .as_ref()
            .map(|s| s.iter().map(|v| v.to_string()).collect());
        let types: Option<Vec<String>> = request.run_types.as_ref().map(|s| {
            s.iter()
                .map(|v| match v.to_string().as_str() {
                    "kIncremental" => "kRegular".to_string(),
                    other => other.to_string(),
                })
                .collect()
        });
        let with_objects = request.include_object_details.unwrap_or(false);
        let all: Vec<Value> = state
            .runs_of(&request.id)
            .into_iter()
            .filter(|r| request.run_id.as_ref().is_none_or(|id| *id == r.id))
            .filter(|r| request.start_time_usecs.is_none_or(|t| r.start_usecs >= t))
            .filter(|r| request.end_time_usecs.is_none_or(|t| r.start_usecs <= t))
            .filter(|r| {
                types
                    .as_ref()
                    .is_none_or(|t| t.contains(&"kAll".to_string()) || t.contains(&r.run_type))
            })
            .map(|r| state.run_view(r, &views, with_objects))
            .filter(|v| {
                statuses.as_ref().is_none_or(|s| {
                    s.iter()
                        .any(|x| Some(x.as_str()) == v["localBackupInfo"]["status"].as_str())
                })
            })
            .filter(|v| {
                request.exclude_non_restorable_runs != Some(true)
                    || v["hasLocalSnapshot"] == json!(true)
            })
            .collect();
        let total = all.len();
        let limit = request.num_runs.unwrap_or(100).clamp(0, 10_000) as usize;
        let runs: Vec<Value> = all.into_iter().take(limit).collect();
        Ok(get_protection_group_runs::Response::Ok(typed(
            json!({"runs": runs, "totalRuns": total}),
        )?))
    }

    pub(super) fn create_protection_group_run(
        &self,
        request: create_protection_group_run::Request,
    ) -> Result<create_protection_group_run::Response, Failure> {
        let tenant = tenant_key(&request.x_ibm_tenant_id);
        let _starting = self.run_starts.lock().unwrap_or_else(|e| e.into_inner());
        let views = self.job_views();
        let instance_id = self.next_number();
        let now = self.now_usecs();
        let (run_id, expiry) = {
            let mut state = self.lock();
            let group = state.group(&tenant, &request.id)?.clone();
            let busy = state.runs_of(&request.id).into_iter().any(|r| {
                views
                    .get(&run_job(&r.id))
                    .is_some_and(|j| !j.state.is_terminal())
            });
            if busy {
                return Err(Failure::new(
                    409,
                    "KDuplicateError",
                    format!(
                        "a run of Protection Group {} is already in progress",
                        request.id
                    ),
                ));
            }
            let protected = State::group_objects(&group.value);
            let objects: Vec<i64> = match &request.body.objects {
                Some(objects) if !objects.is_empty() => {
                    let ids: Vec<i64> = objects.iter().map(|o| o.id).collect();
                    if let Some(stray) = ids.iter().find(|id| !protected.contains(id)) {
                        return Err(Failure::invalid(format!(
                            "object {stray} is not protected by Protection Group {}",
                            request.id
                        )));
                    }
                    ids
                }
                _ => protected,
            };
            let number = request.id.rsplit(':').next().unwrap_or("0");
            let last = state
                .runs_of(&request.id)
                .first()
                .map(|r| r.start_usecs)
                .unwrap_or(0);
            let start = now.max(last + 1);
            let run_id = format!("{number}:{start}");
            let expiry = start + state.retention_usecs(&group);
            state.runs.push(Run {
                id: run_id.clone(),
                tenant: tenant.clone(),
                group_id: request.id.clone(),
                instance_id,
                run_type: request.body.run_type.to_string(),
                start_usecs: start,
                objects,
                on_legal_hold: false,
                snapshots_deleted: false,
                expiry_usecs: expiry,
                data_lock: None,
            });
            (run_id, expiry)
        };
        let fail_at = self
            .env
            .faults
            .job_fail_at("CreateProtectionGroupRun")
            .map(|pct| {
                (
                    pct,
                    format!("the backup failed at {pct}% (an injected fault)"),
                )
            });
        let plan = JobPlan {
            pending: secs(self.timing.run_accepted_secs),
            duration: secs(self.timing.run_duration_secs),
            fail_at,
        };
        let state = Arc::clone(&self.state);
        let id = run_id.clone();
        let effect: Effect<(), String> = Box::new(move |ending| match ending {
            Ending::Completed => {
                let mut state = lock(&state);
                let Some(run) = state.runs.iter().find(|r| r.id == id).cloned() else {
                    return Err("the run is gone".into());
                };
                for object in &run.objects {
                    if !state.objects.contains_key(object) {
                        continue;
                    }
                    state.snapshots.push(Snapshot {
                        id: format!(
                            "{CLUSTER_ID}:{CLUSTER_INCARNATION}:{}:{}:{object}",
                            run.instance_id, run.start_usecs
                        ),
                        tenant: run.tenant.clone(),
                        object_id: *object,
                        group_id: run.group_id.clone(),
                        run_id: run.id.clone(),
                        instance_id: run.instance_id,
                        run_type: run.run_type.clone(),
                        timestamp_usecs: run.start_usecs,
                        expiry_usecs: expiry,
                    });
                }
                Ok(())
            }
            Ending::Failed(e) => Err(e),
            Ending::Cancelled => Err("the run was canceled".into()),
        });
        self.jobs
            .start(run_job(&run_id), "run", Some(tenant), plan, effect)
            .map_err(|e| Failure::internal(e.to_string()))?;
        Ok(create_protection_group_run::Response::Accepted(typed(
            json!({"protectionGroupId": request.id}),
        )?))
    }

    pub(super) fn perform_action_on_protection_group_run(
        &self,
        request: perform_action_on_protection_group_run::Request,
    ) -> Result<perform_action_on_protection_group_run::Response, Failure> {
        let tenant = tenant_key(&request.x_ibm_tenant_id);
        let body = &request.body;
        let ids: Vec<String> = match body.action {
            Action::Pause => body
                .pause_params
                .iter()
                .flatten()
                .map(|p| p.run_id.clone())
                .collect(),
            Action::Resume => body
                .resume_params
                .iter()
                .flatten()
                .map(|p| p.run_id.clone())
                .collect(),
            Action::Cancel => body
                .cancel_params
                .iter()
                .flatten()
                .map(|p| p.run_id.clone())
                .collect(),
            ref other => return Err(Failure::invalid(format!("unknown action {other}"))),
        };
        let action = body.action.to_string();
        if ids.is_empty() {
            return Err(Failure::invalid(format!(
                "{}Params must name at least one run",
                action.to_lowercase()
            )));
        }
        let views = self.job_views();
        {
            let state = self.lock();
            state.group(&tenant, &request.id)?;
            for id in &ids {
                if !state
                    .runs
                    .iter()
                    .any(|r| r.id == *id && r.group_id == request.id)
                {
                    return Err(Failure::not_found("Protection Group Run", id));
                }
                let status = views
                    .get(&run_job(id))
                    .map(|j| run_status(&j.state))
                    .unwrap_or("Succeeded");
                if !allowed(&body.action, status) {
                    return Err(Failure::invalid(format!(
                        "run {id} is {status}: it cannot be {}",
                        match body.action {
                            Action::Pause => "paused",
                            Action::Resume => "resumed",
                            _ => "canceled",
                        }
                    )));
                }
            }
        }
        for id in &ids {
            let job = run_job(id);
            let result = match body.action {
                Action::Pause => self.jobs.pause(&job),
                Action::Resume => self.jobs.resume(&job),
                _ => self.jobs.cancel(&job),
            };
            // Only a run that finished in between can fail here.
            result.map_err(|e| Failure::invalid(format!("run {id}: {e}")))?;
        }
        let params: Vec<Value> = ids.iter().map(|id| json!({"runId": id})).collect();
        let key = format!("{}Params", action.to_lowercase());
        Ok(perform_action_on_protection_group_run::Response::Accepted(
            typed(json!({"action": action, key: params}))?,
        ))
    }

    pub(super) fn update_protection_group_run(
        &self,
        request: update_protection_group_run::Request,
    ) -> Result<update_protection_group_run::Response, Failure> {
        let tenant = tenant_key(&request.x_ibm_tenant_id);
        let params = &request.body.update_protection_group_run_params;
        if params.is_empty() {
            return Err(Failure::invalid(
                "updateProtectionGroupRunParams must name at least one run",
            ));
        }
        let views = self.job_views();
        let now = self.now_usecs();
        let mut state = self.lock();
        state.group(&tenant, &request.id)?;
        let mut succeeded = Vec::new();
        let mut failed = Vec::new();
        for param in params {
            let id = &param.run_id;
            let Some(index) = state
                .runs
                .iter()
                .position(|r| r.id == *id && r.group_id == request.id)
            else {
                failed
                    .push(json!({"runId": id, "errorMessage": format!("run {id} does not exist")}));
                continue;
            };
            let status = views
                .get(&run_job(id))
                .map(|j| run_status(&j.state))
                .unwrap_or("Succeeded");
            let Some(config) = &param.local_snapshot_config else {
                succeeded.push(json!(id));
                continue;
            };
            if status != "Succeeded" {
                failed.push(json!({"runId": id, "errorMessage": format!("run {id} is {status}: only the snapshots of a succeeded run can change")}));
                continue;
            }
            let run = state.runs[index].clone();
            if config.delete_snapshot == Some(true)
                && (run.on_legal_hold || config.enable_legal_hold == Some(true))
            {
                failed.push(json!({"runId": id, "errorMessage": format!("run {id} is on legal hold: its snapshots cannot be deleted")}));
                continue;
            }
            if config.delete_snapshot == Some(true)
                && run.data_lock.is_some()
                && run.expiry_usecs > now
            {
                failed.push(json!({"runId": id, "errorMessage": format!("run {id} is under datalock until its expiry")}));
                continue;
            }
            let run = &mut state.runs[index];
            if let Some(hold) = config.enable_legal_hold {
                run.on_legal_hold = hold;
            }
            if let Some(lock) = &config.data_lock {
                run.data_lock = Some(lock.clone());
            }
            if let Some(days) = config.days_to_keep {
                run.expiry_usecs = run
                    .expiry_usecs
                    .saturating_add(days.saturating_mul(DAY_USECS));
            }
            let expiry = run.expiry_usecs;
            let delete = config.delete_snapshot == Some(true) || expiry <= now;
            if delete {
                run.snapshots_deleted = true;
                state.snapshots.retain(|s| s.run_id != *id);
            } else {
                for snapshot in state.snapshots.iter_mut().filter(|s| s.run_id == *id) {
                    snapshot.expiry_usecs = expiry;
                }
            }
            succeeded.push(json!(id));
        }
        Ok(update_protection_group_run::Response::MultiStatus(typed(
            json!({"successfulRunIds": succeeded, "failedRuns": failed}),
        )?))
    }
}
