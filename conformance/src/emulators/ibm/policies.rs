//! Protection policies.

use ibm_backup_recovery::server::{
    create_protection_policy, delete_protection_policy, get_protection_policies,
    get_protection_policy_by_id, update_protection_policy,
};
use ibm_backup_recovery::types::ProtectionPolicyResponse;
use serde_json::{json, Map, Value};

use super::{tenant_key, to_map, typed, Failure, Ibm, Owned, State};

impl State {
    /// The tenant's policy `id`, or 404.
    fn policy(&self, tenant: &str, id: &str) -> Result<&Owned, Failure> {
        self.policies
            .get(id)
            .filter(|p| p.tenant == tenant)
            .ok_or_else(|| Failure::not_found("Protection Policy", id))
    }

    fn policy_name_taken(&self, tenant: &str, name: &str, except: Option<&str>) -> bool {
        self.policies.iter().any(|(id, p)| {
            p.tenant == tenant && p.str("name") == name && Some(id.as_str()) != except
        })
    }

    /// A policy as answered, with its usage counted.
    fn policy_view(&self, id: &str, policy: &Owned) -> Value {
        let groups: Vec<&Owned> = self
            .groups
            .values()
            .filter(|g| g.tenant == policy.tenant && g.str("policyId") == id)
            .collect();
        let objects: usize = groups
            .iter()
            .map(|g| State::group_objects(&g.value).len())
            .sum();
        let mut value = policy.value.clone();
        value.insert("numProtectionGroups".into(), json!(groups.len()));
        value.insert("numProtectedObjects".into(), json!(objects));
        Value::Object(value)
    }
}

impl Ibm {
    /// Creates a policy for `tenant` from a request body; answers its id.
    pub(super) fn create_policy_for(
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
        if state.policy_name_taken(tenant, &name, None) {
            return Err(Failure::duplicate("Protection Policy", &name));
        }
        body.insert("id".into(), json!(id));
        body.insert("isUsable".into(), json!(true));
        body.insert("isReplicated".into(), json!(false));
        body.insert("version".into(), json!(1));
        body.insert("lastModificationTimeUsecs".into(), json!(now));
        state.policies.insert(
            id.clone(),
            Owned {
                tenant: tenant.to_string(),
                value: body,
            },
        );
        Ok(id)
    }

    pub(super) fn get_protection_policies(
        &self,
        request: get_protection_policies::Request,
    ) -> Result<get_protection_policies::Response, Failure> {
        let tenant = tenant_key(&request.x_ibm_tenant_id);
        let state = self.lock();
        let policies: Vec<Value> = super::ordered(&state.policies)
            .into_iter()
            .filter(|(_, p)| p.tenant == tenant)
            .filter(|(id, _)| request.ids.as_ref().is_none_or(|ids| ids.contains(id)))
            .filter(|(_, p)| {
                request
                    .policy_names
                    .as_ref()
                    .is_none_or(|names| names.iter().any(|n| n == p.str("name")))
            })
            .map(|(id, p)| state.policy_view(id, p))
            .collect();
        Ok(get_protection_policies::Response::Ok(typed(
            json!({ "policies": policies }),
        )?))
    }

    pub(super) fn create_protection_policy(
        &self,
        request: create_protection_policy::Request,
    ) -> Result<create_protection_policy::Response, Failure> {
        let tenant = tenant_key(&request.x_ibm_tenant_id);
        let id = self.create_policy_for(&tenant, to_map(&request.body))?;
        let state = self.lock();
        let view = state.policy_view(&id, state.policy(&tenant, &id)?);
        Ok(create_protection_policy::Response::Created(typed::<
            ProtectionPolicyResponse,
        >(view)?))
    }

    pub(super) fn get_protection_policy_by_id(
        &self,
        request: get_protection_policy_by_id::Request,
    ) -> Result<get_protection_policy_by_id::Response, Failure> {
        let tenant = tenant_key(&request.x_ibm_tenant_id);
        let state = self.lock();
        let view = state.policy_view(&request.id, state.policy(&tenant, &request.id)?);
        Ok(get_protection_policy_by_id::Response::Ok(typed(view)?))
    }

    pub(super) fn update_protection_policy(
        &self,
        request: update_protection_policy::Request,
    ) -> Result<update_protection_policy::Response, Failure> {
        let tenant = tenant_key(&request.x_ibm_tenant_id);
        let now = self.now_usecs();
        let mut state = self.lock();
        let old = state.policy(&tenant, &request.id)?.clone();
        let name = request.body.name.clone();
        if name.trim().is_empty() {
            return Err(Failure::invalid("name must not be empty"));
        }
        if state.policy_name_taken(&tenant, &name, Some(&request.id)) {
            return Err(Failure::duplicate("Protection Policy", &name));
        }
        let mut value = to_map(&request.body);
        let version = old
            .value
            .get("version")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        value.insert("id".into(), json!(request.id));
        value.insert("isUsable".into(), json!(true));
        value.insert("isReplicated".into(), json!(false));
        value.insert("version".into(), json!(version + 1));
        value.insert("lastModificationTimeUsecs".into(), json!(now));
        let updated = Owned { tenant, value };
        let view = state.policy_view(&request.id, &updated);
        state.policies.insert(request.id.clone(), updated);
        Ok(update_protection_policy::Response::Ok(typed(view)?))
    }

    pub(super) fn delete_protection_policy(
        &self,
        request: delete_protection_policy::Request,
    ) -> Result<delete_protection_policy::Response, Failure> {
        let tenant = tenant_key(&request.x_ibm_tenant_id);
        let mut state = self.lock();
        state.policy(&tenant, &request.id)?;
        let users: Vec<String> = state
            .groups
            .values()
            .filter(|g| g.tenant == tenant && g.str("policyId") == request.id)
            .map(|g| g.str("name").to_string())
            .collect();
        if !users.is_empty() {
            return Err(Failure::invalid(format!(
                "Protection Policy {} is used by the Protection Groups {}",
                request.id,
                users.join(", ")
            )));
        }
        state.policies.remove(&request.id);
        Ok(delete_protection_policy::Response::NoContent)
    }
}
