//! The operations: `zstack::server::Api` for [`ZStack`].

use std::sync::Arc;

use codegen_runtime::server::Reply;
use codegen_runtime::Secret;
use serde_json::{Map, Value};
use sha2::{Digest, Sha512};
use zstack::server::{
    delete_backup_storage, get_api_job, get_backup_storage, log_in_by_account,
    query_backup_storage, reconnect_backup_storage,
};
use zstack::types::{
    ApiJobLocation, ApiJobResult, BackupStorageInventory, BackupStorageQueryReply,
    DeleteBackupStorageDeleteMode, ErrorEnvelope, LogInByAccountResponse, SessionInventory,
};

use super::query::{self, Field, Kind, Query, QueryError, Queryable};
use super::{
    error, format_date, invalid_argument, lock, not_found, operation_failed, parse_date,
    with_cause, Denied, Session, State, Storage, ZStack,
};
use crate::ids::IdFormat;
use crate::jobs::{Effect, Ending, JobError, JobPlan, JobState};

/// The inventory fields that can be queried, sorted by or selected, with their kinds.
const OWN_FIELDS: &[(&str, Kind)] = &[
    ("uuid", Kind::Text),
    ("name", Kind::Text),
    ("description", Kind::Text),
    ("url", Kind::Text),
    ("totalCapacity", Kind::Number),
    ("availableCapacity", Kind::Number),
    ("type", Kind::Text),
    ("state", Kind::Text),
    ("status", Kind::Text),
    ("createDate", Kind::Date),
    ("lastOpDate", Kind::Date),
    ("attachedZoneUuids", Kind::Text),
    // ImageStore
    ("hostname", Kind::Text),
    ("username", Kind::Text),
    ("sshPort", Kind::Number),
    // Ceph
    ("fsid", Kind::Text),
    ("poolName", Kind::Text),
    ("poolAvailableCapacity", Kind::Number),
    ("poolUsedCapacity", Kind::Number),
    ("poolReplicatedSize", Kind::Number),
    ("mons", Kind::Object),
];

const ZONE_FIELDS: &[(&str, Kind)] = &[
    ("uuid", Kind::Text),
    ("name", Kind::Text),
    ("description", Kind::Text),
    ("state", Kind::Text),
    ("type", Kind::Text),
    ("createDate", Kind::Date),
    ("lastOpDate", Kind::Date),
];

const IMAGE_FIELDS: &[(&str, Kind)] = &[
    ("uuid", Kind::Text),
    ("name", Kind::Text),
    ("description", Kind::Text),
    ("status", Kind::Text),
    ("state", Kind::Text),
    ("format", Kind::Text),
    ("mediaType", Kind::Text),
    ("platform", Kind::Text),
    ("size", Kind::Number),
    ("createDate", Kind::Date),
    ("lastOpDate", Kind::Date),
];

/// The monitors' fields; `sshPassword` is a secret and cannot be queried.
const MON_FIELDS: &[(&str, Kind)] = &[
    ("monUuid", Kind::Text),
    ("hostname", Kind::Text),
    ("monAddr", Kind::Text),
    ("monPort", Kind::Number),
    ("sshUsername", Kind::Text),
    ("sshPort", Kind::Number),
    ("status", Kind::Text),
    ("createDate", Kind::Date),
    ("lastOpDate", Kind::Date),
];

fn kind_in(fields: &[(&str, Kind)], name: &str) -> Option<Kind> {
    fields.iter().find(|(n, _)| *n == name).map(|(_, k)| *k)
}

/// Backup storage as a queryable table, with zones, images and Ceph monitors across tables.
struct Tables<'a> {
    zones: &'a [Map<String, Value>],
    images: &'a [Map<String, Value>],
}

fn values_of(value: Option<&Value>) -> Vec<Value> {
    match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(other) => vec![other.clone()],
    }
}

impl Queryable for Tables<'_> {
    fn kind(&self, field: &Field) -> Option<Kind> {
        match field {
            Field::Own(name) => kind_in(OWN_FIELDS, name),
            Field::Related(table, name) => match table.as_str() {
                "zone" => kind_in(ZONE_FIELDS, name),
                "image" => kind_in(IMAGE_FIELDS, name),
                "mons" | "mon" => kind_in(MON_FIELDS, name),
                _ => None,
            },
        }
    }

    fn values(&self, row: &Map<String, Value>, field: &Field) -> Vec<Value> {
        match field {
            Field::Own(name) => values_of(row.get(name)),
            Field::Related(table, name) => match table.as_str() {
                "zone" => {
                    let attached = values_of(row.get("attachedZoneUuids"));
                    self.zones
                        .iter()
                        .filter(|z| z.get("uuid").is_some_and(|u| attached.contains(u)))
                        .flat_map(|z| values_of(z.get(name)))
                        .collect()
                }
                "image" => self
                    .images
                    .iter()
                    .filter(|i| i.get("backupStorageUuid") == row.get("uuid"))
                    .flat_map(|i| values_of(i.get(name)))
                    .collect(),
                _ => values_of(row.get("mons"))
                    .iter()
                    .flat_map(|m| values_of(m.get(name)))
                    .collect(),
            },
        }
    }

    fn parse_date(&self, text: &str) -> Option<i64> {
        parse_date(text)
    }
}

fn typed(inventory: Map<String, Value>) -> BackupStorageInventory {
    let value = Value::Object(inventory);
    serde_json::from_value(value.clone()).unwrap_or(BackupStorageInventory::Other(value))
}

fn sha512_hex(text: &str) -> String {
    hex::encode(Sha512::digest(text.as_bytes()))
}

/// Turns a refused `Authorization` into the operation's response.
fn deny<R>(
    denied: Denied,
    bad_request: fn(String) -> R,
    unavailable: fn(ErrorEnvelope) -> R,
) -> Reply<R> {
    match denied {
        Denied::BadRequest(message) => bad_request(message).into(),
        Denied::InvalidSession(envelope) => unavailable(envelope).into(),
    }
}

impl ZStack {
    fn run_query(&self, query: &Query) -> Result<BackupStorageQueryReply, QueryError> {
        self.jobs.settle();
        let state = self.lock();
        let tables = Tables {
            zones: &state.zones,
            images: &state.images,
        };
        let rows = state.storages.iter().collect();
        let found = query::select(query, rows, |s| &s.inventory, &tables)?;
        Ok(BackupStorageQueryReply {
            inventories: found.page.map(|page| {
                page.into_iter()
                    .map(|storage| match &query.fields {
                        None => self.answer(storage),
                        Some(fields) => typed(query::project(&storage.inventory, fields)),
                    })
                    .collect()
            }),
            total: found.total,
            success: Some(true),
        })
    }

    /// A whole inventory as answered: what [`typed`] makes of it, remembered while the inventory
    /// does not change.
    fn answer(&self, storage: &Storage) -> BackupStorageInventory {
        self.storage_answers
            .get(storage.uuid(), &storage.inventory, || {
                typed(storage.inventory.clone())
            })
    }

    /// The answer for a call whose `X-Job-UUID` names an existing job: that job's location
    /// again when it is the same API on the same resource (a retried call), `SYS.1007` otherwise.
    /// `None` when the call starts a new job. Asked before the call changes anything.
    fn existing_job(
        &self,
        headers: &axum::http::HeaderMap,
        operation: &'static str,
        target: &str,
        job_uuid: Option<&str>,
    ) -> Option<Result<ApiJobLocation, ErrorEnvelope>> {
        let id = job_uuid?.to_ascii_lowercase();
        let existing = self.jobs.get(&id)?;
        Some(if existing.kind == format!("{operation}:{target}") {
            Ok(ApiJobLocation {
                location: self.location(headers, &id),
            })
        } else {
            Err(invalid_argument(format!(
                "the job uuid[{id}] in the header[X-Job-UUID] is used by another API call"
            )))
        })
    }

    /// Starts the job of `operation` on the backup storage `target`, and answers its location.
    fn start_job(
        &self,
        headers: &axum::http::HeaderMap,
        operation: &'static str,
        target: &str,
        job_uuid: Option<&str>,
        duration: std::time::Duration,
        effect: Effect<ApiJobResult, ErrorEnvelope>,
    ) -> Result<ApiJobLocation, ErrorEnvelope> {
        let kind = format!("{operation}:{target}");
        let id = match job_uuid {
            Some(id) => id.to_ascii_lowercase(),
            None => self.env.ids.next("api-job", IdFormat::Hex32),
        };
        let fail_at = self.env.faults.job_fail_at(operation).map(|pct| {
            (
                pct,
                operation_failed(format!("{operation} failed at {pct}% (an injected fault)")),
            )
        });
        let plan = JobPlan {
            pending: std::time::Duration::ZERO,
            duration,
            fail_at,
        };
        match self.jobs.start(id.clone(), kind, None, plan, effect) {
            Ok(_) => Ok(ApiJobLocation {
                location: self.location(headers, &id),
            }),
            // Two calls with the same X-Job-UUID at once: the second one lost the race.
            Err(JobError::Duplicate) => self
                .existing_job(headers, operation, target, Some(&id))
                .unwrap_or_else(|| Err(operation_failed("the job has just expired".into()))),
            Err(other) => Err(operation_failed(other.to_string())),
        }
    }
}

fn accepted<R>(location: ApiJobLocation, variant: fn(ApiJobLocation) -> R) -> Reply<R> {
    let header = location.location.clone();
    Reply::from(variant(location)).header("Location", &header)
}

impl zstack::server::Api for ZStack {
    async fn log_in_by_account(
        &self,
        request: log_in_by_account::Request,
    ) -> Reply<log_in_by_account::Response> {
        use log_in_by_account::Response;
        let login = &request.body.log_in_by_account;
        let now = self.env.clock.now();
        let mut state = self.lock();
        let account = state
            .accounts
            .iter()
            .find(|a| {
                a.name == login.account_name
                    && sha512_hex(&a.password).eq_ignore_ascii_case(login.password.expose())
            })
            .cloned();
        let Some(account) = account else {
            return Response::ServiceUnavailable(error(
                "ID.1000",
                "Unable to authenticate a user",
                "wrong account name or password".into(),
            ))
            .into();
        };
        // Forget expired sessions here, so that logins in a loop do not grow the table forever.
        state
            .sessions
            .retain(|_, s| s.expires.is_none_or(|at| now < at));
        let uuid = self.env.ids.next("session", IdFormat::Hex32);
        let expires = now + self.session_timeout;
        state.sessions.insert(
            uuid.clone(),
            Session {
                account_uuid: account.uuid.clone(),
                expires: Some(expires),
            },
        );
        Response::Ok(LogInByAccountResponse {
            inventory: SessionInventory {
                uuid: Secret::new(uuid),
                account_uuid: Some(account.uuid.clone()),
                user_uuid: Some(account.uuid),
                expired_date: Some(format_date(expires)),
                create_date: Some(format_date(now)),
            },
        })
        .into()
    }

    async fn query_backup_storage(
        &self,
        request: query_backup_storage::Request,
    ) -> Reply<query_backup_storage::Response> {
        use query_backup_storage::Response;
        if let Err(denied) = self.authenticate(&request.headers) {
            return deny(denied, Response::BadRequest, Response::ServiceUnavailable);
        }
        let query = Query {
            conditions: request.q.unwrap_or_default(),
            limit: request.limit,
            start: request.start,
            count: request.count.unwrap_or(false),
            reply_with_count: request.reply_with_count.unwrap_or(false),
            sort: request.sort,
            fields: request.fields,
        };
        match self.run_query(&query) {
            Ok(reply) => Response::Ok(reply).into(),
            Err(QueryError::RestLayer(message)) => Response::BadRequest(message).into(),
            Err(QueryError::InvalidArgument(details)) => {
                Response::ServiceUnavailable(invalid_argument(details)).into()
            }
        }
    }

    async fn get_backup_storage(
        &self,
        request: get_backup_storage::Request,
    ) -> Reply<get_backup_storage::Response> {
        use get_backup_storage::Response;
        if let Err(denied) = self.authenticate(&request.headers) {
            return deny(denied, Response::BadRequest, Response::ServiceUnavailable);
        }
        self.jobs.settle();
        let state = self.lock();
        let inventories = state
            .storages
            .iter()
            .filter(|s| s.uuid() == request.uuid)
            .map(|s| self.answer(s))
            .collect();
        Response::Ok(BackupStorageQueryReply {
            inventories: Some(inventories),
            total: None,
            success: Some(true),
        })
        .into()
    }

    async fn delete_backup_storage(
        &self,
        request: delete_backup_storage::Request,
    ) -> Reply<delete_backup_storage::Response> {
        use delete_backup_storage::Response;
        if let Err(denied) = self.authenticate(&request.headers) {
            return deny(denied, Response::BadRequest, Response::ServiceUnavailable);
        }
        let enforcing = match request.delete_mode {
            None | Some(DeleteBackupStorageDeleteMode::Permissive) => false,
            Some(DeleteBackupStorageDeleteMode::Enforcing) => true,
            Some(other) => {
                return Response::ServiceUnavailable(invalid_argument(format!(
                    "invalid value[{other}] of field[deleteMode], valid values are [Permissive, Enforcing]"
                )))
                .into()
            }
        };
        let (operation, job_uuid) = ("DeleteBackupStorage", request.x_job_uuid.as_deref());
        if let Some(answer) =
            self.existing_job(&request.headers, operation, &request.uuid, job_uuid)
        {
            return match answer {
                Ok(location) => accepted(location, Response::Accepted),
                Err(envelope) => Response::ServiceUnavailable(envelope).into(),
            };
        }
        self.jobs.settle();
        let exists = self
            .lock()
            .storages
            .iter()
            .any(|s| s.uuid() == request.uuid);
        // An unknown storage fails its job at once, with SYS.1003.
        let duration = if exists {
            self.timing.delete()
        } else {
            std::time::Duration::ZERO
        };
        let state = Arc::clone(&self.state);
        let uuid = request.uuid.clone();
        let effect: Effect<ApiJobResult, ErrorEnvelope> = Box::new(move |ending| match ending {
            Ending::Completed => delete(&mut lock(&state), &uuid, enforcing),
            Ending::Failed(e) => Err(e),
            Ending::Cancelled => Err(operation_failed("cancelled".into())),
        });
        match self.start_job(
            &request.headers,
            operation,
            &request.uuid,
            job_uuid,
            duration,
            effect,
        ) {
            Ok(location) => accepted(location, Response::Accepted),
            Err(envelope) => Response::ServiceUnavailable(envelope).into(),
        }
    }

    async fn reconnect_backup_storage(
        &self,
        request: reconnect_backup_storage::Request,
    ) -> Reply<reconnect_backup_storage::Response> {
        use reconnect_backup_storage::Response;
        if let Err(denied) = self.authenticate(&request.headers) {
            return deny(denied, Response::BadRequest, Response::ServiceUnavailable);
        }
        let (operation, job_uuid) = ("ReconnectBackupStorage", request.x_job_uuid.as_deref());
        if let Some(answer) =
            self.existing_job(&request.headers, operation, &request.uuid, job_uuid)
        {
            return match answer {
                Ok(location) => accepted(location, Response::Accepted),
                Err(envelope) => Response::ServiceUnavailable(envelope).into(),
            };
        }
        self.jobs.settle();
        let now = self.env.clock.now();
        let exists = {
            let mut state = self.lock();
            match state.storages.iter_mut().find(|s| s.uuid() == request.uuid) {
                Some(storage) => {
                    storage.set_status("Connecting", now);
                    true
                }
                None => false,
            }
        };
        let duration = if exists {
            self.timing.reconnect()
        } else {
            std::time::Duration::ZERO
        };
        let state = Arc::clone(&self.state);
        let clock = self.env.clock.clone();
        let uuid = request.uuid.clone();
        let effect: Effect<ApiJobResult, ErrorEnvelope> = Box::new(move |ending| {
            let mut state = lock(&state);
            let now = clock.now();
            let Some(storage) = state.storages.iter_mut().find(|s| s.uuid() == uuid) else {
                return Err(not_found(&uuid));
            };
            match ending {
                Ending::Completed if storage.reachable => {
                    storage.set_status("Connected", now);
                    Ok(ApiJobResult {
                        inventory: Some(typed(storage.inventory.clone())),
                    })
                }
                Ending::Completed => {
                    storage.set_status("Disconnected", now);
                    let host = storage
                        .inventory
                        .get("hostname")
                        .and_then(Value::as_str)
                        .unwrap_or("the backup storage host")
                        .to_string();
                    Err(with_cause(
                        operation_failed(format!(
                            "failed to reconnect the backup storage[uuid:{uuid}]"
                        )),
                        error(
                            "SYS.1001",
                            "A message or a operation timeout",
                            format!("{host} did not answer within 30s"),
                        ),
                    ))
                }
                Ending::Failed(e) => {
                    storage.set_status("Disconnected", now);
                    Err(e)
                }
                Ending::Cancelled => {
                    storage.set_status("Disconnected", now);
                    Err(operation_failed("cancelled".into()))
                }
            }
        });
        match self.start_job(
            &request.headers,
            operation,
            &request.uuid,
            job_uuid,
            duration,
            effect,
        ) {
            Ok(location) => accepted(location, Response::Accepted),
            Err(envelope) => Response::ServiceUnavailable(envelope).into(),
        }
    }

    async fn get_api_job(&self, request: get_api_job::Request) -> Reply<get_api_job::Response> {
        use get_api_job::Response;
        match self.jobs.get(&request.uuid.to_ascii_lowercase()) {
            None => Response::NotFound("the job has been expired".into()).into(),
            Some(job) => match job.state {
                JobState::Pending | JobState::Running | JobState::Paused => {
                    Response::Accepted.into()
                }
                JobState::Succeeded(result) => Response::Ok(result).into(),
                JobState::Failed(envelope) => Response::ServiceUnavailable(envelope).into(),
                JobState::Cancelled => {
                    Response::ServiceUnavailable(operation_failed("the job was cancelled".into()))
                        .into()
                }
            },
        }
    }
}

/// Deletes backup storage `uuid`: Permissive asks the images on it first and fails if one
/// refuses; Enforcing deletes anyway, images included.
fn delete(state: &mut State, uuid: &str, enforcing: bool) -> Result<ApiJobResult, ErrorEnvelope> {
    let Some(index) = state.storages.iter().position(|s| s.uuid() == uuid) else {
        return Err(not_found(uuid));
    };
    let on_storage = |image: &Map<String, Value>| {
        image.get("backupStorageUuid").and_then(Value::as_str) == Some(uuid)
    };
    if !enforcing {
        let refusal = state
            .images
            .iter()
            .filter(|i| on_storage(i))
            .find_map(|image| {
                let reason = image.get("refusesDeletion")?.as_str()?;
                Some(format!(
                    "image[uuid:{}, name:{}] refuses: {reason}",
                    image.get("uuid").and_then(Value::as_str).unwrap_or(""),
                    image.get("name").and_then(Value::as_str).unwrap_or("")
                ))
            });
        if let Some(refusal) = refusal {
            return Err(with_cause(
                operation_failed(format!(
                    "cannot delete the backup storage[uuid:{uuid}] in Permissive mode; use Enforcing to delete it anyway"
                )),
                operation_failed(refusal),
            ));
        }
    }
    state.storages.remove(index);
    state.images.retain(|image| !on_storage(image));
    Ok(ApiJobResult::default())
}
