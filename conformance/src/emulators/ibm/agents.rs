//! Agent downloads and agent upgrade tasks.

use std::time::Duration;

use axum::body::Body;
use ibm_backup_recovery::server::{create_upgrade_task, download_agent, get_upgrade_tasks};
use serde_json::{json, Value};

use super::seed::secs;
use super::{tenant_key, to_map, typed, Failure, Ibm, UpgradeTask};
use crate::jobs::{Effect, Ending, JobPlan, JobState, JobView};

fn upgrade_job(id: i64) -> String {
    format!("upgrade:{id}")
}

fn task_view(task: &UpgradeTask, job: Option<&JobView<(), String>>) -> Value {
    let mut value = task.value.clone();
    let status = match job.map(|j| &j.state) {
        Some(JobState::Pending) => "Scheduled",
        Some(JobState::Running | JobState::Paused) => "Running",
        Some(JobState::Failed(_)) => "Failed",
        Some(JobState::Cancelled) => "Canceled",
        _ => "Succeeded",
    };
    value.insert("status".into(), json!(status));
    let start = job.and_then(|j| j.started_at).map(super::usecs);
    let end = job.and_then(|j| j.finished_at).map(super::usecs);
    if let Some(start) = start {
        value.insert("startTimeUsecs".into(), json!(start));
    }
    if let Some(end) = end {
        value.insert("endTimeUsecs".into(), json!(end));
    }
    if let Some(JobState::Failed(message)) = job.map(|j| &j.state) {
        value.insert(
            "error".into(),
            json!({"errorCode": "KInternalError", "message": message}),
        );
    }
    let agents: Vec<Value> = value
        .get("agentIDs")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|id| {
            let mut info = json!({
                "name": format!("agent-{id}"),
                "previousSoftwareVersion": "7.1.2",
                "status": status,
            });
            if let Some(start) = start {
                info["startTimeUsecs"] = json!(start);
            }
            if let Some(end) = end {
                info["endTimeUsecs"] = json!(end);
            }
            json!({"id": id, "info": info})
        })
        .collect();
    value.insert("agents".into(), Value::Array(agents));
    Value::Object(value)
}

impl Ibm {
    pub(super) fn download_agent(
        &self,
        request: download_agent::Request,
    ) -> Result<download_agent::Response, Failure> {
        let platform = request.body.platform.to_string();
        let package = request
            .body
            .linux_params
            .as_ref()
            .and_then(|p| serde_json::to_value(p).ok())
            .and_then(|p| {
                p.get("packageType")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            });
        let installer = match platform.as_str() {
            "kWindows" => "# IBM Backup and Recovery agent installer (emulated): Windows x64 .exe\n".to_string(),
            "kLinux" => format!(
                "#!/bin/sh\n# IBM Backup and Recovery agent installer (emulated): Linux, package {}\nexit 0\n",
                package.as_deref().unwrap_or("kScript")
            ),
            other => {
                return Err(Failure::invalid(format!(
                    "platform {other} is not one of kWindows, kLinux"
                )))
            }
        };
        Ok(download_agent::Response::Ok(Body::from(installer)))
    }

    pub(super) fn get_upgrade_tasks(
        &self,
        request: get_upgrade_tasks::Request,
    ) -> Result<get_upgrade_tasks::Response, Failure> {
        let tenant = tenant_key(&request.x_ibm_tenant_id);
        let views = self.job_views();
        let state = self.lock();
        let tasks: Vec<Value> = state
            .upgrade_tasks
            .iter()
            .filter(|(_, t)| t.tenant == tenant)
            .filter(|(id, _)| request.ids.as_ref().is_none_or(|ids| ids.contains(id)))
            .map(|(id, t)| task_view(t, views.get(&upgrade_job(*id))))
            .collect();
        Ok(get_upgrade_tasks::Response::Ok(typed(
            json!({"tasks": tasks}),
        )?))
    }

    pub(super) fn create_upgrade_task(
        &self,
        request: create_upgrade_task::Request,
    ) -> Result<create_upgrade_task::Response, Failure> {
        let tenant = tenant_key(&request.x_ibm_tenant_id);
        let body = &request.body;
        let agents = body.agent_i_ds.clone().unwrap_or_default();
        if agents.is_empty() {
            return Err(Failure::invalid("agentIDs must name at least one agent"));
        }
        let now = self.now_usecs();
        let id = self.next_number();
        {
            let mut state = self.lock();
            if let Some(unknown) = agents.iter().find(|a| !state.agents.contains(a)) {
                return Err(Failure::not_found("Agent", unknown));
            }
            if let Some(retry) = body.retry_task_id {
                if state
                    .upgrade_tasks
                    .get(&retry)
                    .is_none_or(|t| t.tenant != tenant)
                {
                    return Err(Failure::not_found("Upgrade task", retry));
                }
            }
            let mut value = to_map(body);
            value.insert("id".into(), json!(id));
            value.insert("type".into(), json!("Manual"));
            value.insert("clusterVersion".into(), json!("7.2.2"));
            value.insert("isRetryable".into(), json!(false));
            if !value.contains_key("name") {
                value.insert("name".into(), json!(format!("upgrade-task-{id}")));
            }
            if let Some(retry) = body.retry_task_id {
                value.insert("retriedTaskID".into(), json!(retry));
            }
            value.remove("retryTaskId");
            state.upgrade_tasks.insert(
                id,
                UpgradeTask {
                    tenant: tenant.clone(),
                    value,
                },
            );
        }
        let wait = body
            .schedule_time_usecs
            .map(|at| Duration::from_micros(at.saturating_sub(now).max(0) as u64))
            .unwrap_or_default();
        let plan = JobPlan {
            pending: wait,
            duration: secs(self.timing.upgrade_duration_secs),
            fail_at: self.env.faults.job_fail_at("CreateUpgradeTask").map(|pct| {
                (
                    pct,
                    format!("the upgrade failed at {pct}% (an injected fault)"),
                )
            }),
        };
        let effect: Effect<(), String> = Box::new(|ending| match ending {
            Ending::Completed => Ok(()),
            Ending::Failed(e) => Err(e),
            Ending::Cancelled => Err("canceled".into()),
        });
        let job = self
            .jobs
            .start(upgrade_job(id), "upgrade", Some(tenant), plan, effect)
            .map_err(|e| Failure::internal(e.to_string()))?;
        let state = self.lock();
        let task = state
            .upgrade_tasks
            .get(&id)
            .ok_or_else(|| Failure::internal("the task vanished"))?;
        Ok(create_upgrade_task::Response::Created(typed(task_view(
            task,
            Some(&job),
        ))?))
    }
}
