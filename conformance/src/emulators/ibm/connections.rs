//! Data-source connections and connectors.

use codegen_runtime::Secret;
use ibm_backup_recovery::server::{
    create_data_source_connection, delete_data_source_connection, delete_data_source_connector,
    generate_data_source_connection_registration_token, get_connector_metadata,
    get_data_source_connections, get_data_source_connectors, patch_data_source_connection,
    patch_data_source_connector,
};
use serde_json::{json, Value};

use super::{tenant_key, typed, Failure, Ibm, Owned, State};
use crate::ids::IdFormat;

impl State {
    fn connection(&self, tenant: &str, id: &str) -> Result<&Owned, Failure> {
        self.connections
            .get(id)
            .filter(|c| c.tenant == tenant)
            .ok_or_else(|| Failure::not_found("Data-source connection", id))
    }

    fn connector(&self, tenant: &str, id: &str) -> Result<&Owned, Failure> {
        self.connectors
            .get(id)
            .filter(|c| c.tenant == tenant)
            .ok_or_else(|| Failure::not_found("Data-source connector", id))
    }

    fn connection_view(&self, id: &str, connection: &Owned) -> Value {
        let mut value = connection.value.clone();
        let connectors: Vec<&String> = self
            .connectors
            .iter()
            .filter(|(_, c)| c.str("connectionId") == id)
            .map(|(cid, _)| cid)
            .collect();
        value.insert("connectorIds".into(), json!(connectors));
        Value::Object(value)
    }
}

impl Ibm {
    /// Creates a connection for `tenant`; answers its id.
    pub(super) fn create_connection_for(
        &self,
        tenant: &str,
        name: &str,
        env_type: Option<&str>,
    ) -> Result<String, Failure> {
        if name.trim().is_empty() {
            return Err(Failure::invalid("connectionName must not be empty"));
        }
        let id = self.next_number().to_string();
        let mut state = self.lock();
        if state
            .connections
            .values()
            .any(|c| c.tenant == tenant && c.str("connectionName") == name)
        {
            return Err(Failure::duplicate("Data-source connection", name));
        }
        let mut value = json!({
            "connectionId": id,
            "connectionName": name,
            "tenantId": format!("{tenant}/"),
        });
        if let Some(env) = env_type {
            value["connectionEnvType"] = json!(env);
        }
        state.connections.insert(
            id.clone(),
            Owned {
                tenant: tenant.to_string(),
                value: super::map(value),
            },
        );
        Ok(id)
    }

    /// Adds a connector (as if a connector VM had registered with the connection's token).
    pub(super) fn add_connector(
        &self,
        tenant: &str,
        connection: &str,
        name: &str,
    ) -> Result<String, Failure> {
        let id = self.next_number().to_string();
        let now = self.now_usecs();
        let mut state = self.lock();
        state.connection(tenant, connection)?;
        if state
            .connectors
            .values()
            .any(|c| c.tenant == tenant && c.str("connectorName") == name)
        {
            return Err(Failure::duplicate("Data-source connector", name));
        }
        let n = state.connectors.len() as u8;
        let value = json!({
            "connectorId": id,
            "connectorName": name,
            "connectionId": connection,
            "clusterSideIp": format!("10.100.0.{}", 10 + n),
            "tenantSideIp": format!("192.168.10.{}", 10 + n),
            "softwareVersion": "7.2.2",
            "connectivityStatus": {
                "isConnected": true,
                "lastConnectedTimestampSecs": now / 1_000_000,
                "message": "Connected",
            },
            "upgradeStatus": {
                "status": "NotStarted",
                "lastStatusFetchedTimestampMsecs": now / 1000,
            },
        });
        state.connectors.insert(
            id.clone(),
            Owned {
                tenant: tenant.to_string(),
                value: super::map(value),
            },
        );
        Ok(id)
    }

    pub(super) fn get_data_source_connections(
        &self,
        request: get_data_source_connections::Request,
    ) -> Result<get_data_source_connections::Response, Failure> {
        let tenant = tenant_key(&request.x_ibm_tenant_id);
        let state = self.lock();
        let connections: Vec<Value> = super::ordered(&state.connections)
            .into_iter()
            .filter(|(_, c)| c.tenant == tenant)
            .filter(|(id, _)| {
                request
                    .connection_ids
                    .as_ref()
                    .is_none_or(|ids| ids.contains(id))
            })
            .filter(|(_, c)| {
                request
                    .connection_names
                    .as_ref()
                    .is_none_or(|names| names.iter().any(|n| n == c.str("connectionName")))
            })
            .map(|(id, c)| state.connection_view(id, c))
            .collect();
        Ok(get_data_source_connections::Response::Ok(typed(
            json!({"connections": connections}),
        )?))
    }

    pub(super) fn create_data_source_connection(
        &self,
        request: create_data_source_connection::Request,
    ) -> Result<create_data_source_connection::Response, Failure> {
        let tenant = tenant_key(&request.x_ibm_tenant_id);
        let id = self.create_connection_for(
            &tenant,
            &request.body.connection_name,
            request.body.connection_env_type.as_deref(),
        )?;
        let state = self.lock();
        let view = state.connection_view(&id, state.connection(&tenant, &id)?);
        Ok(create_data_source_connection::Response::Created(typed(
            view,
        )?))
    }

    pub(super) fn delete_data_source_connection(
        &self,
        request: delete_data_source_connection::Request,
    ) -> Result<delete_data_source_connection::Response, Failure> {
        let tenant = tenant_key(&request.x_ibm_tenant_id);
        let mut state = self.lock();
        state.connection(&tenant, &request.connection_id)?;
        let users: Vec<String> = state
            .sources
            .values()
            .filter(|s| {
                s.tenant == tenant && s.str("dataSourceConnectionId") == request.connection_id
            })
            .map(|s| s.str("name").to_string())
            .collect();
        if !users.is_empty() {
            return Err(Failure::invalid(format!(
                "connection {} is used by the sources {}",
                request.connection_id,
                users.join(", ")
            )));
        }
        state.connections.remove(&request.connection_id);
        let id = request.connection_id.clone();
        state.connectors.retain(|_, c| c.str("connectionId") != id);
        Ok(delete_data_source_connection::Response::NoContent)
    }

    pub(super) fn patch_data_source_connection(
        &self,
        request: patch_data_source_connection::Request,
    ) -> Result<patch_data_source_connection::Response, Failure> {
        let tenant = tenant_key(&request.x_ibm_tenant_id);
        let name = request.body.connection_name.clone();
        if name.trim().is_empty() {
            return Err(Failure::invalid("connectionName must not be empty"));
        }
        let mut state = self.lock();
        state.connection(&tenant, &request.connection_id)?;
        if state.connections.iter().any(|(id, c)| {
            c.tenant == tenant && c.str("connectionName") == name && *id != request.connection_id
        }) {
            return Err(Failure::duplicate("Data-source connection", &name));
        }
        if let Some(connection) = state.connections.get_mut(&request.connection_id) {
            connection
                .value
                .insert("connectionName".into(), json!(name));
        }
        let view = state.connection_view(
            &request.connection_id,
            state.connection(&tenant, &request.connection_id)?,
        );
        Ok(patch_data_source_connection::Response::Ok(typed(view)?))
    }

    pub(super) fn generate_data_source_connection_registration_token(
        &self,
        request: generate_data_source_connection_registration_token::Request,
    ) -> Result<generate_data_source_connection_registration_token::Response, Failure> {
        let tenant = tenant_key(&request.x_ibm_tenant_id);
        let token = format!(
            "dsc-{}",
            self.env.ids.next("registration-token", IdFormat::Hex32)
        );
        let mut state = self.lock();
        state.connection(&tenant, &request.connection_id)?;
        if let Some(connection) = state.connections.get_mut(&request.connection_id) {
            connection
                .value
                .insert("registrationToken".into(), json!(token));
        }
        Ok(generate_data_source_connection_registration_token::Response::Ok(Secret::new(token)))
    }

    pub(super) fn get_data_source_connectors(
        &self,
        request: get_data_source_connectors::Request,
    ) -> Result<get_data_source_connectors::Response, Failure> {
        let tenant = tenant_key(&request.x_ibm_tenant_id);
        let state = self.lock();
        let connectors: Vec<Value> = super::ordered(&state.connectors)
            .into_iter()
            .filter(|(_, c)| c.tenant == tenant)
            .filter(|(id, _)| {
                request
                    .connector_ids
                    .as_ref()
                    .is_none_or(|ids| ids.contains(id))
            })
            .filter(|(_, c)| {
                request
                    .connector_names
                    .as_ref()
                    .is_none_or(|names| names.iter().any(|n| n == c.str("connectorName")))
            })
            .filter(|(_, c)| {
                request
                    .connection_id
                    .as_ref()
                    .is_none_or(|id| id == c.str("connectionId"))
            })
            .map(|(_, c)| Value::Object(c.value.clone()))
            .collect();
        Ok(get_data_source_connectors::Response::Ok(typed(
            json!({"connectors": connectors}),
        )?))
    }

    pub(super) fn get_connector_metadata(
        &self,
        _request: get_connector_metadata::Request,
    ) -> Result<get_connector_metadata::Response, Failure> {
        Ok(get_connector_metadata::Response::Ok(typed(json!({
            "connectorImageMetadata": {"connectorImageFileList": [
                {"imageType": "VSI", "url": "https://downloads.emulator.invalid/connector/ibm-connector-7.2.2.qcow2"},
                {"imageType": "VMware", "url": "https://downloads.emulator.invalid/connector/ibm-connector-7.2.2.ova"},
            ]},
        }))?))
    }

    pub(super) fn delete_data_source_connector(
        &self,
        request: delete_data_source_connector::Request,
    ) -> Result<delete_data_source_connector::Response, Failure> {
        let tenant = tenant_key(&request.x_ibm_tenant_id);
        let mut state = self.lock();
        state.connector(&tenant, &request.connector_id)?;
        state.connectors.remove(&request.connector_id);
        Ok(delete_data_source_connector::Response::NoContent)
    }

    pub(super) fn patch_data_source_connector(
        &self,
        request: patch_data_source_connector::Request,
    ) -> Result<patch_data_source_connector::Response, Failure> {
        let tenant = tenant_key(&request.x_ibm_tenant_id);
        let mut state = self.lock();
        state.connector(&tenant, &request.connector_id)?;
        if let Some(name) = &request.body.connector_name {
            if name.trim().is_empty() {
                return Err(Failure::invalid("connectorName must not be empty"));
            }
            if state.connectors.iter().any(|(id, c)| {
                c.tenant == tenant && c.str("connectorName") == name && *id != request.connector_id
            }) {
                return Err(Failure::duplicate("Data-source connector", name));
            }
            if let Some(connector) = state.connectors.get_mut(&request.connector_id) {
                connector.value.insert("connectorName".into(), json!(name));
            }
        }
        let view = Value::Object(
            state
                .connector(&tenant, &request.connector_id)?
                .value
                .clone(),
        );
        Ok(patch_data_source_connector::Response::Ok(typed(view)?))
    }
}
