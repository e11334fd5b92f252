//! Recoveries and their downloads.

use std::sync::Arc;

use axum::body::Body;
use ibm_backup_recovery::server::{
    create_download_files_and_folders_recovery, create_recovery, download_files_from_recovery,
    get_recoveries, get_recovery_by_id,
};
use serde_json::{json, Map, Value};

use super::seed::secs;
use super::{
    chunk, run_status, tenant_key, to_map, typed, Failure, Ibm, Recovery, Snapshot, State,
};
use crate::jobs::{Effect, Ending, JobPlan, JobState, JobView};

fn recovery_job(id: &str) -> String {
    format!("recovery:{id}")
}

impl State {
    /// The tenant's snapshot `id`, or 404.
    pub(super) fn snapshot(&self, tenant: &str, id: &str) -> Result<&Snapshot, Failure> {
        self.snapshots
            .iter()
            .find(|s| s.id == id && s.tenant == tenant)
            .ok_or_else(|| Failure::not_found("Snapshot", id))
    }

    fn recovery(&self, tenant: &str, id: &str) -> Result<&Recovery, Failure> {
        self.recoveries
            .get(id)
            .filter(|r| r.tenant == tenant)
            .ok_or_else(|| Failure::not_found("Recovery", id))
    }

    /// A recovery's object entry, filled in from its snapshot.
    fn recover_object(&self, tenant: &str, object: &Value) -> Result<Value, Failure> {
        let mut object = object.as_object().cloned().unwrap_or_default();
        let snapshot_id = object
            .get("snapshotId")
            .and_then(Value::as_str)
            .ok_or_else(|| Failure::invalid("each object needs a snapshotId"))?
            .to_string();
        let snapshot = self.snapshot(tenant, &snapshot_id)?;
        let group_name = self
            .groups
            .get(&snapshot.group_id)
            .map(|g| g.str("name").to_string())
            .unwrap_or_default();
        object.insert("protectionGroupId".into(), json!(snapshot.group_id));
        object.insert("protectionGroupName".into(), json!(group_name));
        object.insert(
            "snapshotCreationTimeUsecs".into(),
            json!(snapshot.timestamp_usecs),
        );
        object.insert("snapshotTargetType".into(), json!("Local"));
        if let Some(o) = self.objects.get(&snapshot.object_id) {
            object.insert("objectInfo".into(), self.summary(o));
        }
        Ok(Value::Object(object))
    }

    fn recovery_view(
        &self,
        id: &str,
        recovery: &Recovery,
        job: Option<&JobView<(), String>>,
    ) -> Value {
        let mut value = recovery.value.clone();
        let status = job.map(|j| run_status(&j.state)).unwrap_or("Succeeded");
        value.insert("status".into(), json!(status));
        if let Some(start) = job.and_then(|j| j.started_at) {
            value.insert("startTimeUsecs".into(), json!(super::usecs(start)));
        }
        if let Some(end) = job.and_then(|j| j.finished_at) {
            value.insert("endTimeUsecs".into(), json!(super::usecs(end)));
        }
        if let Some(JobState::Failed(message)) = job.map(|j| &j.state) {
            value.insert("messages".into(), json!([message]));
        }
        let object_status = match status {
            "Succeeded" => "Succeeded",
            "Failed" => "Failed",
            "Canceled" => "Canceled",
            "Accepted" => "Accepted",
            _ => "Running",
        };
        if let Some(Value::Array(objects)) = value
            .get_mut("physicalParams")
            .and_then(|p| p.get_mut("objects"))
        {
            for object in objects.iter_mut().filter_map(Value::as_object_mut) {
                object.insert("status".into(), json!(object_status));
                object.insert("progressTaskId".into(), json!(format!("progress-{id}")));
            }
        }
        Value::Object(value)
    }
}

impl Ibm {
    /// Stores a recovery and starts its job.
    fn start_recovery(
        &self,
        tenant: &str,
        operation: &str,
        mut value: Map<String, Value>,
        files: Vec<String>,
    ) -> Result<Value, Failure> {
        let id = self.next_entity_id();
        let now = self.now_usecs();
        value.insert("id".into(), json!(id));
        value.insert("startTimeUsecs".into(), json!(now));
        value.insert("progressTaskId".into(), json!(format!("progress-{id}")));
        value.insert("creationInfo".into(), json!({"userName": "emulator"}));
        value.insert("canTearDown".into(), json!(false));
        value.insert("isParentRecovery".into(), json!(false));
        value.insert("isMultiStageRestore".into(), json!(false));
        value.insert("messages".into(), json!([]));
        self.lock().recoveries.insert(
            id.clone(),
            Recovery {
                tenant: tenant.to_string(),
                value,
                files,
            },
        );
        let fail_at = self.env.faults.job_fail_at(operation).map(|pct| {
            (
                pct,
                format!("the recovery failed at {pct}% (an injected fault)"),
            )
        });
        let plan = JobPlan {
            pending: secs(self.timing.recovery_accepted_secs),
            duration: secs(self.timing.recovery_duration_secs),
            fail_at,
        };
        let state = Arc::clone(&self.state);
        let recovery = id.clone();
        let effect: Effect<(), String> = Box::new(move |ending| match ending {
            Ending::Completed => {
                if super::lock(&state).recoveries.contains_key(&recovery) {
                    Ok(())
                } else {
                    Err("the recovery is gone".into())
                }
            }
            Ending::Failed(e) => Err(e),
            Ending::Cancelled => Err("the recovery was canceled".into()),
        });
        let job = self
            .jobs
            .start(
                recovery_job(&id),
                "recovery",
                Some(tenant.to_string()),
                plan,
                effect,
            )
            .map_err(|e| Failure::internal(e.to_string()))?;
        let state = self.lock();
        let recovery = state.recovery(tenant, &id)?;
        Ok(state.recovery_view(&id, recovery, Some(&job)))
    }

    pub(super) fn create_recovery(
        &self,
        request: create_recovery::Request,
    ) -> Result<create_recovery::Response, Failure> {
        let tenant = tenant_key(&request.x_ibm_tenant_id);
        let mut body = to_map(&request.body);
        if request.body.name.trim().is_empty() {
            return Err(Failure::invalid("name must not be empty"));
        }
        let action = {
            let state = self.lock();
            let Some(params) = body
                .get_mut("physicalParams")
                .and_then(Value::as_object_mut)
            else {
                return Err(Failure::invalid(format!(
                    "snapshotEnvironment {} needs physicalParams (the emulator recovers physical objects)",
                    request.body.snapshot_environment
                )));
            };
            let objects = params
                .get("objects")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if objects.is_empty() {
                return Err(Failure::invalid("physicalParams.objects must not be empty"));
            }
            let filled: Vec<Value> = objects
                .iter()
                .map(|o| state.recover_object(&tenant, o))
                .collect::<Result<_, _>>()?;
            params.insert("objects".into(), Value::Array(filled));
            params
                .get("recoveryAction")
                .and_then(Value::as_str)
                .unwrap_or("RecoverPhysicalVolumes")
                .to_string()
        };
        body.insert("recoveryAction".into(), json!(action));
        let view = self.start_recovery(&tenant, "CreateRecovery", body, Vec::new())?;
        Ok(create_recovery::Response::Created(typed(view)?))
    }

    pub(super) fn create_download_files_and_folders_recovery(
        &self,
        request: create_download_files_and_folders_recovery::Request,
    ) -> Result<create_download_files_and_folders_recovery::Response, Failure> {
        let tenant = tenant_key(&request.x_ibm_tenant_id);
        let body = &request.body;
        if body.name.trim().is_empty() {
            return Err(Failure::invalid("name must not be empty"));
        }
        if body.files_and_folders.is_empty() {
            return Err(Failure::invalid("filesAndFolders must not be empty"));
        }
        let (object, environment, files) = {
            let state = self.lock();
            let object = state.recover_object(
                &tenant,
                &serde_json::to_value(&body.object).unwrap_or_default(),
            )?;
            let snapshot_id = object["snapshotId"].as_str().unwrap_or("");
            let snapshot = state.snapshot(&tenant, snapshot_id)?;
            let source = state.objects.get(&snapshot.object_id);
            let indexed: Vec<String> = source.map(|o| o.files.clone()).unwrap_or_default();
            let mut files = Vec::new();
            for entry in &body.files_and_folders {
                let path = entry.absolute_path.clone();
                let dir = format!("{}/", path.trim_end_matches('/'));
                let matching: Vec<&String> = indexed
                    .iter()
                    .filter(|f| {
                        **f == path || (entry.is_directory == Some(true) && f.starts_with(&dir))
                    })
                    .collect();
                if matching.is_empty() {
                    return Err(Failure::not_found("File", &path));
                }
                files.extend(matching.into_iter().cloned());
            }
            let environment = source
                .map(|o| o.environment.clone())
                .unwrap_or_else(|| "kPhysical".into());
            (object, environment, files)
        };
        let value = super::map(json!({
            "name": body.name,
            "snapshotEnvironment": environment,
            "recoveryAction": "DownloadFilesAndFolders",
            "physicalParams": {
                "objects": [object],
                "recoveryAction": "DownloadFilesAndFolders",
            },
        }));
        let view = self.start_recovery(
            &tenant,
            "CreateDownloadFilesAndFoldersRecovery",
            value,
            files,
        )?;
        Ok(create_download_files_and_folders_recovery::Response::Created(typed(view)?))
    }

    pub(super) fn get_recoveries(
        &self,
        request: get_recoveries::Request,
    ) -> Result<get_recoveries::Response, Failure> {
        let tenant = tenant_key(&request.x_ibm_tenant_id);
        let views = self.job_views();
        let state = self.lock();
        let statuses: Option<Vec<String>> = request
            .status
            .as_ref()
            .map(|s| s.iter().map(|v| v.to_string()).collect());
        let actions: Option<Vec<String>> = request
            .recovery_actions
            .as_ref()
            .map(|s| s.iter().map(|v| v.to_string()).collect());
        let environments: Option<Vec<String>> = request
            .snapshot_environments
            .as_ref()
            .map(|s| s.iter().map(|v| v.to_string()).collect());
        let recoveries: Vec<Value> = if request.return_only_child_recoveries == Some(true) {
            Vec::new() // the emulator's recoveries have no children
        } else {
            super::ordered(&state.recoveries)
                .into_iter()
                .filter(|(_, r)| r.tenant == tenant)
                .filter(|(id, _)| request.ids.as_ref().is_none_or(|ids| ids.contains(id)))
                .map(|(id, r)| state.recovery_view(id, r, views.get(&recovery_job(id))))
                .filter(|v| {
                    let start = v["startTimeUsecs"].as_i64().unwrap_or(0);
                    request.start_time_usecs.is_none_or(|t| start >= t)
                        && request.end_time_usecs.is_none_or(|t| start <= t)
                })
                .filter(|v| {
                    let matches = |list: &Option<Vec<String>>, key: &str| {
                        list.as_ref()
                            .is_none_or(|l| l.iter().any(|x| Some(x.as_str()) == v[key].as_str()))
                    };
                    matches(&statuses, "status")
                        && matches(&actions, "recoveryAction")
                        && matches(&environments, "snapshotEnvironment")
                })
                .collect()
        };
        Ok(get_recoveries::Response::Ok(typed(
            json!({"recoveries": recoveries}),
        )?))
    }

    pub(super) fn get_recovery_by_id(
        &self,
        request: get_recovery_by_id::Request,
    ) -> Result<get_recovery_by_id::Response, Failure> {
        let tenant = tenant_key(&request.x_ibm_tenant_id);
        let views = self.job_views();
        let state = self.lock();
        let recovery = state.recovery(&tenant, &request.id)?;
        let view =
            state.recovery_view(&request.id, recovery, views.get(&recovery_job(&request.id)));
        Ok(get_recovery_by_id::Response::Ok(typed(view)?))
    }

    pub(super) fn download_files_from_recovery(
        &self,
        request: download_files_from_recovery::Request,
    ) -> Result<download_files_from_recovery::Response, Failure> {
        let tenant = tenant_key(&request.x_ibm_tenant_id);
        let job = self.jobs.get(&recovery_job(&request.id));
        let state = self.lock();
        let recovery = state.recovery(&tenant, &request.id)?;
        if recovery.value.get("recoveryAction").and_then(Value::as_str)
            != Some("DownloadFilesAndFolders")
        {
            return Err(Failure::invalid(format!(
                "Recovery {} is not a download files and folders recovery",
                request.id
            )));
        }
        let status = job
            .as_ref()
            .map(|j| run_status(&j.state))
            .unwrap_or("Succeeded");
        if status != "Succeeded" {
            return Err(Failure::invalid(format!(
                "Recovery {} is {status}: its files can be downloaded once it succeeded",
                request.id
            )));
        }
        let bytes = match request.file_type.as_deref() {
            Some("success_files_list") => {
                let list = recovery.files.join("\n").into_bytes();
                // Checks offset and length as for the content, then cuts the list the same way.
                let wanted = chunk("", list.len() as u64, request.start_offset, request.length)?;
                let start = (request.start_offset.unwrap_or(0) as usize).min(list.len());
                list[start..start + wanted.len()].to_vec()
            }
            Some("error") => Vec::new(),
            Some(other) => {
                return Err(Failure::invalid(format!(
                    "fileType {other} is not one of error, success_files_list"
                )))
            }
            None => chunk(
                &request.id,
                self.timing.download_size_bytes,
                request.start_offset,
                request.length,
            )?,
        };
        Ok(download_files_from_recovery::Response::Ok(Body::from(
            bytes,
        )))
    }
}
