//! Source registrations; a registered (physical) source is also the object groups protect.

use ibm_backup_recovery::server::{
    delete_protection_source_registration, get_protection_source_registration,
    get_source_registrations, patch_protection_source_registration,
    refresh_protection_source_by_id, register_protection_source,
    update_protection_source_registration,
};
use serde_json::{json, Map, Value};

use super::{tenant_key, to_map, typed, Failure, Ibm, Object, Owned, State};

/// Fields of a registration that are secrets or request-only: never stored nor answered.
const NOT_STORED: &[&str] = &[
    "encryptionKey",
    "isInternalEncrypted",
    "lastModifiedTimestampUsecs",
];

impl State {
    fn source(&self, tenant: &str, id: i64) -> Result<&Owned, Failure> {
        self.sources
            .get(&id)
            .filter(|s| s.tenant == tenant)
            .ok_or_else(|| Failure::not_found("Protection Source registration", id))
    }

    /// Refuses a name or endpoint another registration of the tenant has.
    fn check_source(
        &self,
        tenant: &str,
        body: &Map<String, Value>,
        except: Option<i64>,
    ) -> Result<(), Failure> {
        let name = body.get("name").and_then(Value::as_str).unwrap_or("");
        let endpoint = super::pointer(body, "/physicalParams/endpoint")
            .and_then(Value::as_str)
            .unwrap_or("");
        for (id, source) in &self.sources {
            if source.tenant != tenant || Some(*id) == except {
                continue;
            }
            if source.str("name") == name {
                return Err(Failure::duplicate("Protection Source", name));
            }
            let theirs =
                super::pointer(&source.value, "/physicalParams/endpoint").and_then(Value::as_str);
            if !endpoint.is_empty() && theirs == Some(endpoint) {
                return Err(Failure::new(
                    409,
                    "KDuplicateError",
                    format!("a Protection Source with endpoint '{endpoint}' is already registered"),
                ));
            }
        }
        if let Some(connection) = body.get("dataSourceConnectionId").and_then(Value::as_str) {
            if self
                .connections
                .get(connection)
                .is_none_or(|c| c.tenant != tenant)
            {
                return Err(Failure::not_found("Data-source connection", connection));
            }
        }
        Ok(())
    }

    fn source_view(&self, id: i64, source: &Owned) -> Value {
        let mut value = source.value.clone();
        if let Some(object) = self.objects.get(&id) {
            value.insert("sourceInfo".into(), self.summary(object));
        }
        Value::Object(value)
    }
}

/// The name a registration is known by: its name, else its endpoint.
fn name_of(body: &Map<String, Value>) -> String {
    body.get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.trim().is_empty())
        .or_else(|| super::pointer(body, "/physicalParams/endpoint").and_then(Value::as_str))
        .unwrap_or("")
        .to_string()
}

impl Ibm {
    /// Registers a source for `tenant`; answers its id (also its object's id).
    pub(super) fn register_source(
        &self,
        tenant: &str,
        mut body: Map<String, Value>,
        size: Option<i64>,
        files: Vec<String>,
    ) -> Result<i64, Failure> {
        for key in NOT_STORED {
            body.remove(*key);
        }
        let environment = body
            .get("environment")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if environment == "kPhysical"
            && super::pointer(&body, "/physicalParams/endpoint")
                .and_then(Value::as_str)
                .is_none_or(|e| e.trim().is_empty())
        {
            return Err(Failure::invalid(
                "physicalParams.endpoint is required for a kPhysical source",
            ));
        }
        let name = name_of(&body);
        if name.trim().is_empty() {
            return Err(Failure::invalid(
                "name or physicalParams.endpoint is required",
            ));
        }
        body.insert("name".into(), json!(name));
        let id = self.next_number();
        let now_ms = self.now_usecs() / 1000;
        let mut state = self.lock();
        state.check_source(tenant, &body, None)?;
        body.insert("id".into(), json!(id));
        body.insert("sourceId".into(), json!(id));
        body.insert("authenticationStatus".into(), json!("Finished"));
        body.insert("registrationTimeMsecs".into(), json!(now_ms));
        body.insert("lastRefreshedTimeMsecs".into(), json!(now_ms));
        state.objects.insert(
            id,
            Object {
                tenant: tenant.to_string(),
                id,
                name,
                source_id: id,
                environment,
                size: size.unwrap_or(10 * 1024 * 1024 * 1024),
                files,
            },
        );
        state.sources.insert(
            id,
            Owned {
                tenant: tenant.to_string(),
                value: body,
            },
        );
        Ok(id)
    }

    pub(super) fn get_source_registrations(
        &self,
        request: get_source_registrations::Request,
    ) -> Result<get_source_registrations::Response, Failure> {
        let tenant = tenant_key(&request.x_ibm_tenant_id);
        let state = self.lock();
        let registrations: Vec<Value> = state
            .sources
            .iter()
            .filter(|(_, s)| s.tenant == tenant)
            .filter(|(id, _)| request.ids.as_ref().is_none_or(|ids| ids.contains(id)))
            .map(|(id, s)| state.source_view(*id, s))
            .collect();
        Ok(get_source_registrations::Response::Ok(typed(
            json!({"registrations": registrations}),
        )?))
    }

    pub(super) fn register_protection_source(
        &self,
        request: register_protection_source::Request,
    ) -> Result<register_protection_source::Response, Failure> {
        let tenant = tenant_key(&request.x_ibm_tenant_id);
        let id = self.register_source(&tenant, to_map(&request.body), None, Vec::new())?;
        let state = self.lock();
        let view = state.source_view(id, state.source(&tenant, id)?);
        Ok(register_protection_source::Response::Created(typed(view)?))
    }

    pub(super) fn get_protection_source_registration(
        &self,
        request: get_protection_source_registration::Request,
    ) -> Result<get_protection_source_registration::Response, Failure> {
        let tenant = tenant_key(&request.x_ibm_tenant_id);
        let state = self.lock();
        let view = state.source_view(request.id, state.source(&tenant, request.id)?);
        Ok(get_protection_source_registration::Response::Ok(typed(
            view,
        )?))
    }

    pub(super) fn update_protection_source_registration(
        &self,
        request: update_protection_source_registration::Request,
    ) -> Result<update_protection_source_registration::Response, Failure> {
        let tenant = tenant_key(&request.x_ibm_tenant_id);
        let mut state = self.lock();
        let old = state.source(&tenant, request.id)?.clone();
        if request.body.environment != old.str("environment") {
            return Err(Failure::invalid(format!(
                "environment {} does not match the registration's {}",
                request.body.environment,
                old.str("environment")
            )));
        }
        let mut body = to_map(&request.body);
        for key in NOT_STORED {
            body.remove(*key);
        }
        let mut merged = old.value.clone();
        for (k, v) in body {
            merged.insert(k, v);
        }
        let name = name_of(&merged);
        merged.insert("name".into(), json!(name));
        state.check_source(&tenant, &merged, Some(request.id))?;
        if let Some(object) = state.objects.get_mut(&request.id) {
            object.name = name;
        }
        let updated = Owned {
            tenant,
            value: merged,
        };
        let view = state.source_view(request.id, &updated);
        state.sources.insert(request.id, updated);
        Ok(update_protection_source_registration::Response::Ok(typed(
            view,
        )?))
    }

    pub(super) fn patch_protection_source_registration(
        &self,
        request: patch_protection_source_registration::Request,
    ) -> Result<patch_protection_source_registration::Response, Failure> {
        let tenant = tenant_key(&request.x_ibm_tenant_id);
        let state = self.lock();
        let source = state.source(&tenant, request.id)?;
        if request.body.environment != source.str("environment") {
            return Err(Failure::invalid(format!(
                "environment {} does not match the registration's {}",
                request.body.environment,
                source.str("environment")
            )));
        }
        let view = state.source_view(request.id, source);
        Ok(patch_protection_source_registration::Response::Ok(typed(
            view,
        )?))
    }

    pub(super) fn delete_protection_source_registration(
        &self,
        request: delete_protection_source_registration::Request,
    ) -> Result<delete_protection_source_registration::Response, Failure> {
        let tenant = tenant_key(&request.x_ibm_tenant_id);
        let mut state = self.lock();
        state.source(&tenant, request.id)?;
        let users: Vec<String> = state
            .groups
            .values()
            .filter(|g| g.tenant == tenant && State::group_objects(&g.value).contains(&request.id))
            .map(|g| g.str("name").to_string())
            .collect();
        if !users.is_empty() {
            return Err(Failure::invalid(format!(
                "Protection Source {} is protected by the Protection Groups {}",
                request.id,
                users.join(", ")
            )));
        }
        state.sources.remove(&request.id);
        state.objects.remove(&request.id);
        Ok(delete_protection_source_registration::Response::NoContent)
    }

    pub(super) fn refresh_protection_source_by_id(
        &self,
        request: refresh_protection_source_by_id::Request,
    ) -> Result<refresh_protection_source_by_id::Response, Failure> {
        let tenant = tenant_key(&request.x_ibm_tenant_id);
        let now_ms = self.now_usecs() / 1000;
        let mut state = self.lock();
        state.source(&tenant, request.id)?;
        if let Some(source) = state.sources.get_mut(&request.id) {
            source
                .value
                .insert("lastRefreshedTimeMsecs".into(), json!(now_ms));
        }
        Ok(refresh_protection_source_by_id::Response::NoContent)
    }
}
