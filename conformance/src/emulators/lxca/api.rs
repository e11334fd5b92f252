//! The operations: `lxca::server::Api` for [`Lxca`].

use std::net::IpAddr;

use codegen_runtime::server::Reply;
use lxca::server::{
    apply_updates, cancel_job, cancel_tasks, create_os_image_import_job, create_session,
    delete_job, delete_os_images, delete_session, delete_tasks, delete_updates, get_aicc,
    get_backups, get_job, get_jobs, get_os_images, get_tasks, get_tasks_by_ids, get_updates,
    get_updates_repository, import_backup, import_os_image_file, import_update_files,
    manage_backup, manage_updates,
};
use lxca::types;
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};

use super::upload::{self, FormError};
use super::{
    bad_request, conflict, error, header_safe, lock, not_found_error, precondition,
    success_messages, Denied, Lxca, OsImage, Principal, Waiting, WaitingKind,
};
use crate::ids::IdFormat;
use crate::jobs::{Effect, Ending, JobError};

/// Our own JSON into a generated type; the shapes are the emulator's, so failure is a bug.
fn typed<T: DeserializeOwned>(value: Value) -> T {
    match serde_json::from_value(value.clone()) {
        Ok(v) => v,
        Err(e) => panic!(
            "the emulator built an invalid {}: {e}: {value}",
            std::any::type_name::<T>()
        ),
    }
}

/// Authenticates or answers the operation's 401/403.
macro_rules! authenticate {
    ($self:ident, $request:ident, $op:ident) => {
        match $self.authenticate(&$request.headers) {
            Ok(principal) => principal,
            Err(Denied::Unauthorized(e)) => return $op::Response::Unauthorized(e).into(),
            Err(Denied::Forbidden(e)) => return $op::Response::Forbidden(e).into(),
        }
    };
}

fn success(extra: Value) -> Value {
    let mut base = json!({"result": "success", "messages": []});
    if let (Value::Object(base), Value::Object(extra)) = (&mut base, extra) {
        base.extend(extra);
    }
    base
}

/// The effect of a job that only has to finish.
fn nothing() -> Effect<(), String> {
    Box::new(|ending| match ending {
        Ending::Completed => Ok(()),
        Ending::Failed(e) => Err(e),
        Ending::Cancelled => Err("cancelled".into()),
    })
}

/// Extensions each imageType accepts (the upload's table).
fn extensions(kind: &str) -> &'static [&'static str] {
    match kind {
        "BOOT" | "BUNDLE" => &[".zip"],
        "BUNDLESIG" => &[".asc"],
        "CONFIG" | "CUSTOM_CONFIG" => &[".json"],
        "DUD" => &[".iso", ".rpm", ".zip"],
        "OS" => &[".iso"],
        "OSPROFILE" => &[".tar.gz"],
        "SCRIPT" => &[".sh", ".pm", ".pl", ".py", ".cmd", ".ps1"],
        "SOFTWARE" => &[".tar.gz", ".zip"],
        "UNATTEND" => &[".ks", ".xml"],
        _ => &[],
    }
}

/// The file name without its (known) extension: the id of an imported file.
fn stem(name: &str) -> String {
    for ext in [
        ".tar.gz", ".iso", ".zip", ".rpm", ".asc", ".json", ".xml", ".tgz", ".chg", ".txt",
    ] {
        if let Some(s) = name.strip_suffix(ext) {
            if !s.is_empty() {
                return s.to_string();
            }
        }
    }
    name.rsplit_once('.')
        .map(|(s, _)| s)
        .filter(|s| !s.is_empty())
        .unwrap_or(name)
        .to_string()
}

impl Lxca {
    fn package_json(&self, package: &super::seed::PackageSeed) -> Value {
        json!({
            "applyable": if package.downloaded { "true" } else { "false" },
            "buildNumber": package.build_number,
            "buildType": package.build_type,
            "change": if package.change_history.is_empty() { "false" } else { "true" },
            "comp": package.comp,
            "downloadedsize": if package.downloaded { package.totalsize } else { 0 },
            "errorMsg": "",
            "fixid": package.fixid,
            "latest": "false",
            "name": "",
            "origin": format!("{}.xml", package.fixid),
            "payload": if package.downloaded { "true" } else { "false" },
            "payloadFilename": if package.downloaded { format!("{}.tgz", package.fixid) } else { String::new() },
            "percentage": if package.downloaded { 100 } else { 0 },
            "readableName": package.readable_name,
            "readme": if package.readme.is_empty() { "false" } else { "true" },
            "releasedate": package.releasedate,
            "severity": package.severity,
            "state": if package.downloaded { "Downloaded" } else { "NotDownloaded" },
            "supportDownload": "true",
            "totalsize": package.totalsize,
            "version": package.version,
        })
    }
}

impl lxca::server::Api for Lxca {
    async fn create_session(
        &self,
        request: create_session::Request,
    ) -> Reply<create_session::Response> {
        let Some(user) = self.check_password(&request.body.user_id, request.body.password.expose())
        else {
            return create_session::Response::Unauthorized(error(
                "FQXHMSE0001J",
                "The user name or password is not valid.",
                "The user cannot be authenticated.",
                "Log in with a valid user name and password.",
            ))
            .into();
        };
        let (id, csrf) = self.open_session(&user);
        let now = self.now();
        let minutes = self.inactivity.as_secs() / 60;
        let body: types::SessionResponse = typed(json!({
            "response": {
                "pwChangeRequired": false,
                "session": {
                    "id": id,
                    "csrf": csrf,
                    "UserId": user,
                    "inactivityTimeout": minutes,
                    "authenticationServer": "local",
                    "created": self.timestamp(now),
                }
            },
            "result": "success",
            "messages": [{
                "id": "FQHMSE",
                "text": "The request completed successfully.",
                "explanation": "",
                "recovery": {"text": "Information only. No action is required.", "URL": ""}
            }]
        }));
        let mut reply = Reply::from(create_session::Response::Ok(body))
            .header("set-cookie", &self.cookie("JSESSIONID", &id, true))
            .header("set-cookie", &self.cookie("csrf", &csrf, false))
            .header(
                "set-cookie",
                &self.cookie("inactivityTimeout", &minutes.to_string(), false),
            );
        if header_safe(&user) {
            reply = reply.header("set-cookie", &self.cookie("user", &user, false));
        }
        reply
    }

    async fn delete_session(
        &self,
        request: delete_session::Request,
    ) -> Reply<delete_session::Response> {
        let principal = authenticate!(self, request, delete_session);
        if let Some(id) = &principal.session {
            self.lock().sessions.remove(id);
        }
        let body: types::StatusResponse =
            typed(json!({"result": "success", "messages": success_messages()}));
        let mut reply = Reply::from(delete_session::Response::Ok(body));
        for name in ["JSESSIONID", "csrf"] {
            reply = reply.header("set-cookie", &format!("{name}=; Path=/; Max-Age=0"));
        }
        reply
    }

    async fn get_aicc(&self, request: get_aicc::Request) -> Reply<get_aicc::Response> {
        authenticate!(self, request, get_aicc);
        let appliance = Value::Object(self.lock().appliance.clone());
        get_aicc::Response::Ok(typed(json!({
            "appliance": appliance,
            "appliance_states": [
                {"description": "Halt the appliance", "runlevel": 0},
                {"description": "Reboot the appliance", "runlevel": 6}
            ]
        })))
        .into()
    }

    async fn get_backups(&self, request: get_backups::Request) -> Reply<get_backups::Response> {
        authenticate!(self, request, get_backups);
        self.jobs.settle();
        // Each backup read as the list's item type, remembered while it does not change: the
        // same as reading `{"backups": [...]}` as a whole.
        let backups: Vec<types::Backup> = self
            .lock()
            .backups
            .iter()
            .map(|b| {
                let key = b.get("uuid").and_then(Value::as_str).unwrap_or("");
                self.backup_answers
                    .get(key, b, || typed(Value::Object(b.clone())))
            })
            .collect();
        get_backups::Response::Ok(types::BackupList {
            backups: Some(backups),
        })
        .into()
    }

    async fn manage_backup(
        &self,
        request: manage_backup::Request,
    ) -> Reply<manage_backup::Response> {
        let who = authenticate!(self, request, manage_backup);
        self.jobs.settle();
        let started = match request.body {
            // The generated decoder tries the oneOf variants in order and its enums are open,
            // so a push arrives as CopyOrMove with operation `push` (the schema check before it
            // has already ensured the body is a valid push).
            types::ManageBackupRequest::CopyOrMoveBackupRequest(body)
                if body.operation.as_str() == "push" =>
            {
                self.push_backup(&who, &body.uuid, &body.destination)
            }
            types::ManageBackupRequest::CopyOrMoveBackupRequest(body) => {
                let moving = body.operation.as_str() == "move";
                self.copy_backup(&who, &body.uuid, &body.destination, moving)
            }
            types::ManageBackupRequest::PushBackupRequest(body) => {
                self.push_backup(&who, &body.uuid, &body.destination)
            }
            types::ManageBackupRequest::CancelPushRequest(_) => {
                let push = self.lock().push_job.clone();
                let cancelled = push.map(|id| self.cancel_job_as(&id, &who.user));
                return match cancelled {
                    Some(Ok(())) => {
                        self.lock().push_job = None;
                        manage_backup::Response::Ok(typed(
                            json!({"result": "success", "message": []}),
                        ))
                        .into()
                    }
                    _ => manage_backup::Response::BadRequest(bad_request(
                        "No push operation is in progress.".into(),
                    ))
                    .into(),
                };
            }
        };
        match started {
            Ok(id) => manage_backup::Response::Ok(typed(
                json!({"jobId": id, "result": "success", "message": []}),
            ))
            .into(),
            Err(e) => manage_backup::Response::BadRequest(e).into(),
        }
    }

    async fn import_backup(
        &self,
        request: import_backup::Request,
    ) -> Reply<import_backup::Response> {
        let who = authenticate!(self, request, import_backup);
        let ok = || -> Reply<import_backup::Response> {
            import_backup::Response::Ok(typed(
                json!({"result": "success", "messages": success_messages()}),
            ))
            .into()
        };
        match (request.action.as_str(), request.body) {
            ("import", import_backup::Body::Multipart(raw)) => {
                let form = upload::read::<()>(
                    &request.headers,
                    raw.body,
                    &["uploadedfile"],
                    |_, _| Ok(()),
                )
                .await;
                let form = match form {
                    Ok(form) => form,
                    Err(e) => return import_backup::Response::BadRequest(form_error(e)).into(),
                };
                let Some(file) = form.files.first() else {
                    return import_backup::Response::BadRequest(bad_request(
                        "The multipart body has no part `uploadedfile`.".into(),
                    ))
                    .into();
                };
                let uuid = self.env.ids.next("backup", IdFormat::Uuid);
                let date = self.timestamp(self.now());
                self.lock().backups.push(
                    json!({
                        "uuid": uuid,
                        "filename": file.name,
                        "location": "internal",
                        "backupDate": date,
                        "backupRequestedBy": who.user,
                        "size": file.size.to_string(),
                        "checksum": file.sha256,
                        "processed": false,
                    })
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
                );
                ok()
            }
            ("process", import_backup::Body::Json(body)) => {
                if body.passphrase.expose().is_empty() {
                    return import_backup::Response::BadRequest(bad_request(
                        "The passphrase is empty.".into(),
                    ))
                    .into();
                }
                let mut state = self.lock();
                let pending = state
                    .backups
                    .iter_mut()
                    .rev()
                    .find(|b| b.get("processed") == Some(&Value::Bool(false)));
                match pending {
                    Some(backup) => {
                        backup.insert("processed".into(), Value::Bool(true));
                        drop(state);
                        ok()
                    }
                    None => import_backup::Response::BadRequest(bad_request(
                        "No imported or pushed backup waits to be processed.".into(),
                    ))
                    .into(),
                }
            }
            (action, _) => import_backup::Response::BadRequest(bad_request(format!(
                "action={action} needs a {} body.",
                if action == "import" {
                    "multipart/form-data"
                } else {
                    "application/json"
                }
            )))
            .into(),
        }
    }

    async fn get_updates_repository(
        &self,
        request: get_updates_repository::Request,
    ) -> Reply<get_updates_repository::Response> {
        authenticate!(self, request, get_updates_repository);
        self.jobs.settle();
        let key = request.key.as_ref().map(|k| k.as_str().to_string());
        let state = self.lock();
        let u = &state.updates;
        let all = json!({
            "currentVersion": u.current_version,
            "history": u.history,
            "importDir": u.import_dir,
            "size": {"allotment": u.allotment},
            "updatedDate": u.updated_date,
            "updates": u.packages.iter().map(|p| self.package_json(p)).collect::<Vec<_>>(),
        });
        let body = match key.as_deref() {
            None | Some("all") => all,
            Some(k) => json!({ k: all[k].clone() }),
        };
        drop(state);
        get_updates_repository::Response::Ok(typed(body)).into()
    }

    async fn apply_updates(
        &self,
        request: apply_updates::Request,
    ) -> Reply<apply_updates::Response> {
        let who = authenticate!(self, request, apply_updates);
        self.jobs.settle();
        let fixid = request.body.fixids.first().cloned().unwrap_or_default();
        let package = self
            .lock()
            .updates
            .packages
            .iter()
            .find(|p| p.fixid == fixid)
            .cloned();
        let Some(package) = package else {
            return apply_updates::Response::BadRequest(bad_request(format!(
                "The update {fixid} is not in the management-server updates repository."
            )))
            .into();
        };
        if !package.downloaded {
            return apply_updates::Response::BadRequest(bad_request(format!(
                "The update {fixid} cannot be applied: its payload has not been acquired."
            )))
            .into();
        }
        let state = self.state.clone();
        let clock = self.env.clock.clone();
        let effect: Effect<(), String> = Box::new(move |ending| match ending {
            Ending::Completed => {
                let mut s = lock(&state);
                let date = super::iso(clock.now());
                s.updates.current_version = package.version.clone();
                s.updates.updated_date = date.clone();
                s.updates.history.push(
                    json!({
                        "buildNumber": package.build_number,
                        "dateApplied": date,
                        "description": package.readable_name,
                        "fileName": package.fixid,
                        "flavor": "update",
                        "version": package.version,
                    })
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
                );
                Ok(())
            }
            Ending::Failed(e) => Err(e),
            Ending::Cancelled => Err("cancelled".into()),
        });
        let started = self.start_job(
            "ApplyUpdates",
            &who.user,
            &format!("Apply management-server update {fixid}"),
            &fixid,
            &[
                "Validate the update",
                "Install the update",
                "Restart services",
            ],
            super::seed::secs(self.timing.apply_secs),
            None,
            effect,
        );
        match started {
            Ok(id) => apply_updates::Response::Ok(typed(success(json!({ "jobid": id })))).into(),
            Err(e) => apply_updates::Response::InternalServerError(internal(e)).into(),
        }
    }

    async fn manage_updates(
        &self,
        request: manage_updates::Request,
    ) -> Reply<manage_updates::Response> {
        let who = authenticate!(self, request, manage_updates);
        self.jobs.settle();
        let action = request.action.as_str().to_string();
        let started = match (action.as_str(), request.body) {
            ("refresh", types::ManageUpdatesRequest::RefreshUpdatesRequest(_)) => self.start_job(
                "ManageUpdates",
                &who.user,
                "Refresh the management-server updates catalogue",
                "lxca",
                &["Download the catalogue", "Read the catalogue"],
                super::seed::secs(self.timing.refresh_secs),
                None,
                nothing(),
            ),
            ("acquire", types::ManageUpdatesRequest::AcquireUpdatesRequest(body)) => {
                let ids: Vec<String> = body
                    .fixids
                    .iter()
                    .flat_map(|f| f.split(','))
                    .map(|f| f.trim().to_string())
                    .filter(|f| !f.is_empty())
                    .collect();
                let unknown: Vec<&String> = {
                    let state = self.lock();
                    ids.iter()
                        .filter(|id| !state.updates.packages.iter().any(|p| &p.fixid == *id))
                        .collect()
                };
                if ids.is_empty() || !unknown.is_empty() {
                    let names: Vec<&str> = unknown.iter().map(|s| s.as_str()).collect();
                    return manage_updates::Response::BadRequest(bad_request(format!(
                        "Unknown update ids: {}.",
                        names.join(",")
                    )))
                    .into();
                }
                let state = self.state.clone();
                let acquired = ids.clone();
                let effect: Effect<(), String> = Box::new(move |ending| match ending {
                    Ending::Completed => {
                        for p in lock(&state).updates.packages.iter_mut() {
                            if acquired.contains(&p.fixid) {
                                p.downloaded = true;
                            }
                        }
                        Ok(())
                    }
                    Ending::Failed(e) => Err(e),
                    Ending::Cancelled => Err("cancelled".into()),
                });
                self.start_job(
                    "ManageUpdates",
                    &who.user,
                    "Acquire management-server updates",
                    &ids.join(","),
                    &["Download the updates", "Verify the updates"],
                    super::seed::secs(self.timing.acquire_secs),
                    None,
                    effect,
                )
            }
            ("import", types::ManageUpdatesRequest::ImportUpdatesRequest(body)) => {
                let size = body
                    .files
                    .as_ref()
                    .map(|files| files.iter().filter_map(|f| f.size).sum::<i64>())
                    .or(body.size)
                    .unwrap_or(0);
                if let Some(bad) = body
                    .files
                    .iter()
                    .flatten()
                    .find(|f| !upload::safe_file_name(&f.name))
                {
                    return manage_updates::Response::BadRequest(bad_request(format!(
                        "The file name {:?} is not valid.",
                        bad.name
                    )))
                    .into();
                }
                let id = self.env.ids.next("job", IdFormat::Counter);
                self.register_job(
                    &id,
                    &who.user,
                    "Import management-server updates",
                    "lxca",
                    &["Upload the files", "Import the updates"],
                );
                self.lock().waiting.insert(
                    id.clone(),
                    Waiting {
                        kind: WaitingKind::Updates,
                        owner: who.user.clone(),
                        file_size: u64::try_from(size).ok(),
                        uploading: false,
                    },
                );
                Ok(id)
            }
            (action, _) => {
                return manage_updates::Response::BadRequest(bad_request(format!(
                    "The body does not match action={action}."
                )))
                .into()
            }
        };
        match started {
            Ok(id) => manage_updates::Response::Ok(typed(success(json!({ "jobid": id })))).into(),
            Err(e) => manage_updates::Response::InternalServerError(internal(e)).into(),
        }
    }

    async fn get_updates(&self, request: get_updates::Request) -> Reply<get_updates::Response> {
        authenticate!(self, request, get_updates);
        if request.key.is_some() && request.filetype.is_some() {
            return get_updates::Response::BadRequest(bad_request(
                "Specify key or filetype, not both.".into(),
            ))
            .into();
        }
        self.jobs.settle();
        let ids: Vec<String> = request
            .fix_id_list
            .iter()
            .flat_map(|f| f.split(','))
            .map(|f| f.trim().to_string())
            .filter(|f| !f.is_empty())
            .collect();
        let state = self.lock();
        let known: Vec<super::seed::PackageSeed> = ids
            .iter()
            .filter_map(|id| {
                state
                    .updates
                    .packages
                    .iter()
                    .find(|p| &p.fixid == id)
                    .cloned()
            })
            .collect();
        let unknown: Vec<&str> = ids
            .iter()
            .filter(|id| !known.iter().any(|p| &&p.fixid == id))
            .map(String::as_str)
            .collect();
        drop(state);
        if let Some(filetype) = &request.filetype {
            let field = filetype.as_str();
            let Some(package) = known.first() else {
                return get_updates::Response::BadRequest(bad_request(format!(
                    "The update {} is not in the management-server updates repository.",
                    ids.first().map(String::as_str).unwrap_or("")
                )))
                .into();
            };
            let text = if field == "readme" {
                &package.readme
            } else {
                &package.change_history
            };
            if text.is_empty() {
                return get_updates::Response::BadRequest(bad_request(format!(
                    "The update {} has no {field} file.",
                    package.fixid
                )))
                .into();
            }
            let file: types::UpdateFile = typed(json!({
                "field": field,
                "fixid": package.fixid,
                "status": {
                    "result": "informational",
                    "messages": [{"id": "FQXHMUP2500I", "text": "Repository operation completed successfully."}],
                    "value": text,
                },
            }));
            return get_updates::Response::Ok(types::GetUpdatesResponse::UpdateFile(file)).into();
        }
        let status = if unknown.is_empty() {
            json!({"result": "informational", "messages": [{"id": "FQXHMUP2500I", "text": "Repository operation completed successfully."}]})
        } else {
            json!({"result": "warning", "messages": [{
                "id": "FQXHMUP2501W",
                "text": format!("These updates are not in the repository: {}.", unknown.join(",")),
            }]})
        };
        let all = json!({
            "actions": [{"action": "acquire"}, {"action": "apply"}, {"action": "delete"}],
            "filetypes": ["change", "readme"],
            "keys": [{"key": "actions"}, {"key": "update"}, {"key": "filetypes"}, {"key": "keys"}],
            "status": status,
            "update": known.iter().map(|p| self.package_json(p)).collect::<Vec<_>>(),
        });
        let body = match request.key.as_ref().map(|k| k.as_str()) {
            None | Some("all") => all,
            Some(k) => json!({ k: all[k].clone(), "status": all["status"].clone() }),
        };
        get_updates::Response::Ok(types::GetUpdatesResponse::UpdateInfo(typed(body))).into()
    }

    async fn delete_updates(
        &self,
        request: delete_updates::Request,
    ) -> Reply<delete_updates::Response> {
        authenticate!(self, request, delete_updates);
        self.jobs.settle();
        let ids: Vec<String> = request
            .fix_id_list
            .iter()
            .flat_map(|f| f.split(','))
            .map(|f| f.trim().to_string())
            .collect();
        let mut state = self.lock();
        let unknown: Vec<&str> = ids
            .iter()
            .filter(|id| !state.updates.packages.iter().any(|p| &&p.fixid == id))
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            return delete_updates::Response::BadRequest(bad_request(format!(
                "These updates are not in the repository: {}.",
                unknown.join(",")
            )))
            .into();
        }
        state.updates.packages.retain(|p| !ids.contains(&p.fixid));
        delete_updates::Response::Ok.into()
    }

    async fn import_update_files(
        &self,
        request: import_update_files::Request,
    ) -> Reply<import_update_files::Response> {
        let who = authenticate!(self, request, import_update_files);
        let waiting = self.lock().waiting.get(&request.jobid).cloned();
        match waiting {
            Some(Waiting {
                kind: WaitingKind::Updates,
                owner,
                ..
            }) if owner != who.user => {
                return import_update_files::Response::Forbidden(not_owner(&request.jobid)).into()
            }
            Some(Waiting {
                kind: WaitingKind::Updates,
                ..
            }) => {}
            _ => {
                return import_update_files::Response::BadRequest(bad_request(format!(
                    "No update import job {} waits for files.",
                    request.jobid
                )))
                .into()
            }
        }
        let Some(_claim) = self.claim(&request.jobid) else {
            return import_update_files::Response::BadRequest(bad_request(format!(
                "Files are being uploaded into the job {} already.",
                request.jobid
            )))
            .into();
        };
        let form = upload::read::<()>(
            &request.headers,
            request.body.body,
            &["uploadedfile[]", "uploadedfiles[]", "uploadedfile"],
            |_, _| Ok(()),
        )
        .await;
        let form = match form {
            Ok(form) if !form.files.is_empty() => form,
            Ok(_) => {
                return import_update_files::Response::BadRequest(bad_request(
                    "The multipart body has no part `uploadedfile[]`.".into(),
                ))
                .into()
            }
            Err(e) => return import_update_files::Response::BadRequest(form_error(e)).into(),
        };
        let fixid = form
            .files
            .iter()
            .find(|f| f.name.ends_with(".xml"))
            .or(form.files.first())
            .map(|f| stem(&f.name))
            .unwrap_or_default();
        let text_of = |ext: &str| -> String {
            form.files
                .iter()
                .find(|f| f.name.ends_with(ext))
                .and_then(|f| f.small.as_ref())
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default()
        };
        let package = super::seed::PackageSeed {
            fixid: fixid.clone(),
            readable_name: fixid.clone(),
            version: String::new(),
            build_number: String::new(),
            build_type: "production".into(),
            comp: "LXCA".into(),
            releasedate: String::new(),
            severity: 0,
            totalsize: form.files.iter().map(|f| f.size as i64).sum(),
            downloaded: form.files.iter().any(|f| f.name.ends_with(".tgz")),
            readme: text_of(".txt"),
            change_history: text_of(".chg"),
        };
        {
            let mut state = self.lock();
            state.updates.packages.retain(|p| p.fixid != fixid);
            state.updates.packages.push(package);
            if let Some(meta) = state.job_meta.get_mut(&request.jobid) {
                meta.resource = fixid;
            }
        }
        self.finish_waiting(&request.jobid, None);
        import_update_files::Response::Ok(typed(
            json!({"result": "success", "messages": success_messages()}),
        ))
        .into()
    }

    async fn get_os_images(
        &self,
        request: get_os_images::Request,
    ) -> Reply<get_os_images::Response> {
        authenticate!(self, request, get_os_images);
        let state = self.lock();
        let boot: Vec<Value> = state
            .os_images
            .iter()
            .filter(|i| i.kind == "BOOT")
            .filter(|i| request.id.as_ref().is_none_or(|ids| ids.contains(&i.id)))
            .map(|i| {
                json!({
                    "id": i.id, "name": i.name, "description": i.description,
                    "os": i.os, "osrelease": i.osrelease, "size": i.size, "bundleId": "",
                })
            })
            .collect();
        get_os_images::Response::Ok(typed(json!({ "bootFiles": boot }))).into()
    }

    async fn create_os_image_import_job(
        &self,
        request: create_os_image_import_job::Request,
    ) -> Reply<create_os_image_import_job::Response> {
        let who = authenticate!(self, request, create_os_image_import_job);
        let kind = request
            .image_type
            .as_ref()
            .map(|t| t.as_str().to_string())
            .unwrap_or_else(|| "OS".into());
        if !super::seed::IMAGE_TYPES.contains(&kind.as_str()) {
            return create_os_image_import_job::Response::BadRequest(bad_request(format!(
                "imageType {kind} is not supported."
            )))
            .into();
        }
        let size = match &request.body.file_size {
            None => None,
            Some(types::CreateOsImageImportJobRequestFileSize::V0(n)) => u64::try_from(*n).ok(),
            Some(types::CreateOsImageImportJobRequestFileSize::V1(s)) => s.parse::<u64>().ok(),
        };
        if size.is_some_and(|n| n > self.upload_limit) {
            return create_os_image_import_job::Response::BadRequest(bad_request(format!(
                "fileSize is larger than the repository accepts ({} bytes).",
                self.upload_limit
            )))
            .into();
        }
        let id = self.env.ids.next("job", IdFormat::Counter);
        self.register_job(
            &id,
            &who.user,
            &format!("Import {kind} file into the OS images repository"),
            "osImages",
            &["Upload the file", "Verify and import the file"],
        );
        self.lock().waiting.insert(
            id.clone(),
            Waiting {
                kind: WaitingKind::OsImage(kind),
                owner: who.user.clone(),
                file_size: size,
                uploading: false,
            },
        );
        create_os_image_import_job::Response::Ok(typed(success(json!({ "jobId": id })))).into()
    }

    async fn delete_os_images(
        &self,
        request: delete_os_images::Request,
    ) -> Reply<delete_os_images::Response> {
        authenticate!(self, request, delete_os_images);
        let mut state = self.lock();
        let unknown: Vec<&str> = request
            .id_list
            .iter()
            .filter(|id| !state.os_images.iter().any(|i| &&i.id == id))
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            return delete_os_images::Response::PreconditionFailed(precondition(format!(
                "These ids are not in the OS images repository: {}.",
                unknown.join(",")
            )))
            .into();
        }
        state.os_images.retain(|i| !request.id_list.contains(&i.id));
        delete_os_images::Response::NoContent.into()
    }

    async fn import_os_image_file(
        &self,
        request: import_os_image_file::Request,
    ) -> Reply<import_os_image_file::Response> {
        use import_os_image_file::Response as R;
        let who = authenticate!(self, request, import_os_image_file);
        let job = request.job_id.clone();
        let waiting = self.lock().waiting.get(&job).cloned();
        let job_kind = match waiting {
            Some(Waiting { owner, .. }) if owner != who.user => {
                return R::Forbidden(not_owner(&job)).into()
            }
            Some(Waiting {
                kind: WaitingKind::OsImage(kind),
                file_size,
                ..
            }) => (kind, file_size),
            Some(_) | None => {
                let known = self.job_info(&job).is_some();
                return if known {
                    R::Conflict(conflict(format!(
                        "The job {job} is not an OS image import job waiting for its file."
                    )))
                    .into()
                } else {
                    R::PreconditionFailed(precondition(format!(
                        "No OS image import job {job} exists; create one with POST /osImages."
                    )))
                    .into()
                };
            }
        };
        let kind = match &request.image_type {
            Some(t) if t.as_str() != job_kind.0 => {
                return R::PreconditionFailed(precondition(format!(
                    "imageType {} does not match the import job's imageType {}.",
                    t.as_str(),
                    job_kind.0
                )))
                .into()
            }
            _ => job_kind.0.clone(),
        };
        let os = request.os.clone().unwrap_or_default();
        let osrelease = request.osrelease.clone().unwrap_or_default();
        let needs_os = [
            "BOOT",
            "CONFIG",
            "CUSTOM_CONFIG",
            "DUD",
            "SCRIPT",
            "SOFTWARE",
            "UNATTEND",
        ];
        if needs_os.contains(&kind.as_str()) && os.is_empty() {
            return R::PreconditionFailed(precondition(format!(
                "os is required when imageType is {kind}."
            )))
            .into();
        }
        if ["BOOT", "DUD"].contains(&kind.as_str()) && osrelease.is_empty() {
            return R::PreconditionFailed(precondition(format!(
                "osrelease is required when imageType is {kind}."
            )))
            .into();
        }
        let image_name = request.image_name.clone().unwrap_or_default();
        if kind == "DUD" {
            let exists = self
                .lock()
                .os_images
                .iter()
                .any(|i| i.kind == "OS" && (i.id == image_name || i.name == image_name));
            if !exists {
                return R::PreconditionFailed(precondition(format!(
                    "imageName {image_name:?} names no OS image of the repository; a device driver is added to an existing OS image."
                )))
                .into();
            }
        }
        let raw = match request.body {
            import_os_image_file::Body::Json(body) => {
                return R::PreconditionFailed(precondition(format!(
                    "No remote file server profile has id {:?}.",
                    body.server_id
                )))
                .into()
            }
            import_os_image_file::Body::Multipart(raw) => raw,
        };
        let Some(_claim) = self.claim(&job) else {
            return R::Conflict(conflict(format!(
                "A file is being uploaded into the job {job} already."
            )))
            .into();
        };
        let allowed = extensions(&kind);
        let form = upload::read(&request.headers, raw.body, &["uploadedfile"], |_, name| {
            let lower = name.to_ascii_lowercase();
            if !allowed.iter().any(|ext| lower.ends_with(ext)) {
                return Err(R::PreconditionFailed(precondition(format!(
                    "{name} is not a {kind} file; {kind} files end with {}.",
                    allowed.join(", ")
                ))));
            }
            let duplicate = self
                .lock()
                .os_images
                .iter()
                .any(|i| i.kind == kind && i.name == name);
            if duplicate {
                return Err(R::Conflict(conflict(format!(
                    "{name} is already in the OS images repository."
                ))));
            }
            Ok(())
        })
        .await;
        let form = match form {
            Ok(form) => form,
            Err(FormError::Refused(response)) => return response.into(),
            Err(FormError::BadFileName(name)) => {
                return R::PreconditionFailed(precondition(format!(
                    "The file name {name:?} is not valid: it must be a plain file name."
                )))
                .into()
            }
            Err(FormError::Malformed(message)) => {
                return R::PreconditionFailed(precondition(message)).into()
            }
        };
        let Some(file) = form.files.first() else {
            return R::PreconditionFailed(precondition(
                "The multipart body has no part `uploadedfile`.".into(),
            ))
            .into();
        };
        let checksum = (form.field("checksumType"), form.field("checksumValue"));
        let expected = match checksum {
            (None, None) => None,
            (Some(t), Some(v)) if !v.is_empty() => {
                let actual = match t.to_ascii_uppercase().replace('-', "").as_str() {
                    "MD5" => &file.md5,
                    "SHA1" => &file.sha1,
                    "SHA256" => &file.sha256,
                    other => {
                        return R::PreconditionFailed(precondition(format!(
                            "checksumType {other} is not supported (MD5, SHA1, SHA256)."
                        )))
                        .into()
                    }
                };
                Some(actual.eq_ignore_ascii_case(v.trim()))
            }
            _ => {
                return R::PreconditionFailed(precondition(
                    "checksumType and checksumValue go together.".into(),
                ))
                .into()
            }
        };
        if expected == Some(false) {
            let failure = error(
                "FQXHMFC0001M",
                "The checksum of the imported ISO image does not match the provided checksum file.",
                "This issue can occur because of network issues or because the wrong checksum file is in the directory.",
                "Make sure that the checksum file matches the ISO image and attempt the operation again. If the problem persists, contact Support.",
            );
            self.finish_waiting(&job, Some(failure.messages[0].text.clone()));
            return R::InternalServerError(failure).into();
        }
        let _declared = job_kind.1;
        let fileid = {
            let mut state = self.lock();
            let base = stem(&file.name);
            let mut id = base.clone();
            let mut n = 1;
            while state.os_images.iter().any(|i| i.id == id) {
                n += 1;
                id = format!("{base}-{n}");
            }
            state.os_images.push(OsImage {
                id: id.clone(),
                name: file.name.clone(),
                kind: kind.clone(),
                os,
                osrelease,
                size: file.size as i64,
                description: request.description.clone().unwrap_or_default(),
                image_name,
                checksums: Some((file.md5.clone(), file.sha1.clone(), file.sha256.clone())),
            });
            if let Some(meta) = state.job_meta.get_mut(&job) {
                meta.resource = id.clone();
            }
            file.name.clone()
        };
        self.finish_waiting(&job, None);
        R::Created(typed(
            json!({"result": "success", "fileid": fileid, "messages": []}),
        ))
        .into()
    }

    async fn get_tasks(&self, request: get_tasks::Request) -> Reply<get_tasks::Response> {
        authenticate!(self, request, get_tasks);
        let compact = request.compact.unwrap_or(false);
        let tasks = self
            .job_infos()
            .iter()
            .map(|i| typed(i.task(compact)))
            .collect();
        get_tasks::Response::Ok(tasks).into()
    }

    async fn cancel_tasks(&self, request: cancel_tasks::Request) -> Reply<cancel_tasks::Response> {
        let who = authenticate!(self, request, cancel_tasks);
        let infos = self.job_infos();
        let unknown: Vec<&str> = request
            .body
            .list
            .iter()
            .filter(|id| !infos.iter().any(|i| &&i.id == id))
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            return cancel_tasks::Response::PreconditionFailed(precondition(format!(
                "No job has these ids: {}.",
                unknown.join(",")
            )))
            .into();
        }
        for id in &request.body.list {
            // A job that has finished stays as it is.
            let _ = self.cancel_job_as(id, &who.user);
        }
        cancel_tasks::Response::Ok.into()
    }

    async fn get_tasks_by_ids(
        &self,
        request: get_tasks_by_ids::Request,
    ) -> Reply<get_tasks_by_ids::Response> {
        authenticate!(self, request, get_tasks_by_ids);
        let compact = request.compact.unwrap_or(false);
        let infos = self.job_infos();
        let mut tasks = Vec::new();
        for id in request.job_list.iter().flat_map(|i| i.split(',')) {
            match infos.iter().find(|i| i.id == id.trim()) {
                Some(info) => tasks.push(typed(info.task(compact))),
                None => {
                    return get_tasks_by_ids::Response::NotFound(not_found_error(format!(
                        "No job has id {id}."
                    )))
                    .into()
                }
            }
        }
        get_tasks_by_ids::Response::Ok(tasks).into()
    }

    async fn delete_tasks(&self, request: delete_tasks::Request) -> Reply<delete_tasks::Response> {
        authenticate!(self, request, delete_tasks);
        match self.delete_jobs(&request.job_list) {
            Ok(()) => delete_tasks::Response::Ok.into(),
            Err(DeleteError::Unknown(id)) => {
                delete_tasks::Response::NotFound(not_found_error(format!("No job has id {id}.")))
                    .into()
            }
            Err(DeleteError::Unfinished(id)) => delete_tasks::Response::BadRequest(bad_request(
                format!("The job {id} has not finished; cancel it first."),
            ))
            .into(),
        }
    }

    async fn get_jobs(&self, request: get_jobs::Request) -> Reply<get_jobs::Response> {
        authenticate!(self, request, get_jobs);
        let state = request.state.as_ref().map(|s| s.as_str().to_string());
        let jobs = self
            .job_infos()
            .into_iter()
            .filter(|i| state.as_deref().is_none_or(|s| s == i.state))
            .filter(|i| request.uuid.as_deref().is_none_or(|u| u == i.meta.resource))
            .map(|i| typed(i.job()))
            .collect();
        get_jobs::Response::Ok(jobs).into()
    }

    async fn get_job(&self, request: get_job::Request) -> Reply<get_job::Response> {
        authenticate!(self, request, get_job);
        let Some(info) = self.job_info(&request.id) else {
            return get_job::Response::NotFound(not_found_error(format!(
                "No job has id {}.",
                request.id
            )))
            .into();
        };
        let mut job = info.job();
        if let Value::Object(map) = &mut job {
            let keep = |k: &str| k == "id" || k == "status";
            if let Some(include) = &request.include_attributes {
                map.retain(|k, _| keep(k) || include.iter().any(|i| i == k));
            }
            if let Some(exclude) = &request.exclude_attributes {
                map.retain(|k, _| keep(k) || !exclude.iter().any(|e| e == k));
            }
        }
        get_job::Response::Ok(typed(job)).into()
    }

    async fn cancel_job(&self, request: cancel_job::Request) -> Reply<cancel_job::Response> {
        let who = authenticate!(self, request, cancel_job);
        if self.job_info(&request.id).is_none() {
            return cancel_job::Response::NotFound(not_found_error(format!(
                "No job has id {}.",
                request.id
            )))
            .into();
        }
        match self.cancel_job_as(&request.id, &who.user) {
            Ok(()) => {
                let mut state = self.lock();
                if state.push_job.as_deref() == Some(request.id.as_str()) {
                    state.push_job = None;
                }
                drop(state);
                Reply::from(cancel_job::Response::Ok)
                    .header("location", &format!("/jobs/{}", request.id))
            }
            Err(JobError::NotFound) => cancel_job::Response::NotFound(not_found_error(format!(
                "No job has id {}.",
                request.id
            )))
            .into(),
            Err(_) => cancel_job::Response::Conflict(conflict(format!(
                "The job {} has finished; it cannot be cancelled.",
                request.id
            )))
            .into(),
        }
    }

    async fn delete_job(&self, request: delete_job::Request) -> Reply<delete_job::Response> {
        authenticate!(self, request, delete_job);
        match self.delete_jobs(std::slice::from_ref(&request.id)) {
            Ok(()) => delete_job::Response::Ok.into(),
            Err(DeleteError::Unknown(id)) => {
                delete_job::Response::NotFound(not_found_error(format!("No job has id {id}.")))
                    .into()
            }
            Err(DeleteError::Unfinished(id)) => delete_job::Response::Conflict(conflict(format!(
                "The job {id} has not finished; cancel it first."
            )))
            .into(),
        }
    }
}

enum DeleteError {
    Unknown(String),
    Unfinished(String),
}

fn not_owner(job: &str) -> types::Error {
    error(
        "FQXHMCP0403J",
        &format!("Only the user that created the job {job} may import files with it."),
        "The job was created by another user.",
        "Create an import job as this user and use its job ID.",
    )
}

fn internal(message: String) -> types::Error {
    error(
        "FQXHMCP0500J",
        &message,
        "An internal error occurred.",
        "Attempt the operation again. If the problem persists, contact Support.",
    )
}

fn form_error(e: FormError<()>) -> types::Error {
    match e {
        FormError::Malformed(m) => bad_request(m),
        FormError::BadFileName(n) => bad_request(format!(
            "The file name {n:?} is not valid: it must be a plain file name."
        )),
        FormError::Refused(()) => bad_request("The file was refused.".into()),
    }
}

impl Lxca {
    fn delete_jobs(&self, ids: &[String]) -> Result<(), DeleteError> {
        let infos = self.job_infos();
        let ids: Vec<&str> = ids
            .iter()
            .flat_map(|i| i.split(','))
            .map(str::trim)
            .collect();
        for id in &ids {
            match infos.iter().find(|i| i.id == *id) {
                None => return Err(DeleteError::Unknown(id.to_string())),
                Some(i) if !i.terminal => return Err(DeleteError::Unfinished(id.to_string())),
                Some(_) => {}
            }
        }
        let mut state = self.lock();
        for id in ids {
            state.deleted.insert(id.to_string());
        }
        Ok(())
    }

    fn copy_backup(
        &self,
        who: &Principal,
        uuid: &str,
        destination: &str,
        moving: bool,
    ) -> Result<String, types::Error> {
        let original = {
            let state = self.lock();
            let original = state
                .backups
                .iter()
                .find(|b| b.get("uuid").and_then(Value::as_str) == Some(uuid))
                .cloned()
                .ok_or_else(|| bad_request(format!("No backup has uuid {uuid}.")))?;
            if destination != "internal" && !state.remote_shares.iter().any(|s| s == destination) {
                return Err(bad_request(format!(
                    "{destination} is not a remote share configured on this management server."
                )));
            }
            original
        };
        if original.get("location").and_then(Value::as_str) == Some(destination) {
            return Err(bad_request(format!(
                "The backup {uuid} is already in {destination}."
            )));
        }
        let new_uuid = self.env.ids.next("backup", IdFormat::Uuid);
        let state = self.state.clone();
        let source = uuid.to_string();
        let target = destination.to_string();
        let effect: Effect<(), String> =
            Box::new(move |ending| match ending {
                Ending::Completed => {
                    let mut s = lock(&state);
                    let Some(at) = s.backups.iter().position(|b| {
                        b.get("uuid").and_then(Value::as_str) == Some(source.as_str())
                    }) else {
                        return Err(format!("The backup {source} no longer exists."));
                    };
                    let mut copy: Map<String, Value> = s.backups[at].clone();
                    copy.insert("uuid".into(), json!(new_uuid));
                    copy.insert("location".into(), json!(target));
                    if moving {
                        s.backups.remove(at);
                    }
                    s.backups.push(copy);
                    Ok(())
                }
                Ending::Failed(e) => Err(e),
                Ending::Cancelled => Err("cancelled".into()),
            });
        let (verb, secs) = if moving {
            ("Move", self.timing.move_secs)
        } else {
            ("Copy", self.timing.copy_secs)
        };
        let mut children = vec!["Copy the backup file", "Verify the copy"];
        if moving {
            children.push("Delete the original");
        }
        self.start_job(
            "ManageBackup",
            &who.user,
            &format!("{verb} backup {uuid} to {destination}"),
            uuid,
            &children,
            super::seed::secs(secs),
            None,
            effect,
        )
        .map_err(internal)
    }

    fn push_backup(
        &self,
        who: &Principal,
        uuid: &str,
        destination: &str,
    ) -> Result<String, types::Error> {
        let address: IpAddr = destination.trim().parse().map_err(|_| {
            bad_request(format!(
                "{destination} is not an IP address of a management server."
            ))
        })?;
        let reachable = {
            let state = self.lock();
            if !state
                .backups
                .iter()
                .any(|b| b.get("uuid").and_then(Value::as_str) == Some(uuid))
            {
                return Err(bad_request(format!("No backup has uuid {uuid}.")));
            }
            state
                .reachable
                .iter()
                .any(|r| r.parse::<IpAddr>().ok() == Some(address))
        };
        // Bound first: a guard in the `if let` would live through the block (and `job_info`
        // locks the state again).
        let running = self.lock().push_job.clone();
        if let Some(running) = running {
            let busy = self.job_info(&running).is_some_and(|i| !i.terminal);
            if busy {
                return Err(bad_request(format!(
                    "A push is already in progress (job {running}); cancel it or wait."
                )));
            }
        }
        let fail_at = (!reachable).then(|| {
            (
                self.timing.push_fail_at_percent,
                format!("FQXHMBR0113M: The management server at {address} cannot be reached."),
            )
        });
        let id = self
            .start_job(
                "ManageBackup",
                &who.user,
                &format!("Push backup {uuid} to {address}"),
                uuid,
                &[
                    "Connect to the target management server",
                    "Transfer the backup",
                    "Verify the transfer",
                ],
                super::seed::secs(self.timing.push_secs),
                fail_at,
                nothing(),
            )
            .map_err(internal)?;
        self.lock().push_job = Some(id.clone());
        Ok(id)
    }
}
