//! Source registrations, data-source connections and their connectors.

use anyhow::{anyhow, Context as _, Result};
use ibm_backup_recovery::client as api;
use ibm_backup_recovery::Client;
use serde_json::{json, Value};

use super::{
    body, client, create_group, create_policy, duplicate, failed, invalid, json_of, not_found,
    strings, Ctx, Scenario, UNKNOWN_ID, UNKNOWN_NUMBER,
};

pub(super) fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "sources-list",
            operations: &["GetSourceRegistrations", "GetProtectionSourceRegistration"],
            mutates: false,
            emulator_only: false,
            run: |ctx| Box::pin(sources_list(ctx)),
        },
        Scenario {
            name: "sources-crud",
            operations: &[
                "RegisterProtectionSource",
                "GetProtectionSourceRegistration",
                "GetSourceRegistrations",
                "UpdateProtectionSourceRegistration",
                "PatchProtectionSourceRegistration",
                "RefreshProtectionSourceByID",
                "DeleteProtectionSourceRegistration",
            ],
            mutates: true,
            emulator_only: false,
            run: |ctx| Box::pin(sources_crud(ctx)),
        },
        Scenario {
            name: "connections",
            operations: &[
                "CreateDataSourceConnection",
                "GetDataSourceConnections",
                "PatchDataSourceConnection",
                "GenerateDataSourceConnectionRegistrationToken",
                "DeleteDataSourceConnection",
            ],
            mutates: true,
            emulator_only: false,
            run: |ctx| Box::pin(connections(ctx)),
        },
        Scenario {
            name: "connectors",
            operations: &[
                "GetDataSourceConnectors",
                "GetConnectorMetadata",
                "PatchDataSourceConnector",
                "DeleteDataSourceConnector",
            ],
            mutates: true,
            emulator_only: false,
            run: |ctx| Box::pin(connectors(ctx)),
        },
        Scenario {
            // Connectors cannot be created through the API: deleting one is for the emulator.
            name: "connector-delete",
            operations: &["DeleteDataSourceConnector", "GetDataSourceConnectors"],
            mutates: true,
            emulator_only: true,
            run: |ctx| Box::pin(connector_delete(ctx)),
        },
    ]
}

async fn registrations(client: &Client) -> Result<Value> {
    let api::get_source_registrations::Success::Ok(listed) = client
        .get_source_registrations(&Default::default())
        .await
        .map_err(failed("GetSourceRegistrations"))?;
    Ok(json_of(&listed))
}

async fn sources_list(ctx: &mut Ctx) -> Result<()> {
    let client = client(ctx)?;
    let all = registrations(&client).await?;
    let ids = strings(&all, "/registrations", "/id");
    ctx.check(
        "GetSourceRegistrations",
        "the tenant lists its source registrations",
        !ids.is_empty(),
        &all,
    );
    let first = all
        .pointer("/registrations/0")
        .cloned()
        .context("no registration to read")?;
    let id = first["id"].as_i64().context("a numeric registration id")?;
    let api::get_protection_source_registration::Success::Ok(one) = client
        .get_protection_source_registration(id, &Default::default())
        .await
        .map_err(failed("GetProtectionSourceRegistration"))?;
    let one = json_of(&one);
    ctx.check(
        "GetProtectionSourceRegistration",
        "reading a listed registration answers it, without its encryption key",
        one["id"] == first["id"]
            && one["environment"] == first["environment"]
            && one.get("encryptionKey").is_none(),
        &one,
    );
    let api::get_source_registrations::Success::Ok(by_id) = client
        .get_source_registrations(&api::get_source_registrations::Options {
            ids: Some(vec![id]),
            ..Default::default()
        })
        .await
        .map_err(failed("GetSourceRegistrations"))?;
    let by_id = json_of(&by_id);
    ctx.check(
        "GetSourceRegistrations",
        "ids= lists exactly that registration",
        strings(&by_id, "/registrations", "/id") == [id.to_string()],
        &by_id,
    );
    let _ = client
        .get_protection_source_registration(UNKNOWN_NUMBER, &Default::default())
        .await;
    not_found(
        ctx,
        "GetProtectionSourceRegistration",
        "an unknown registration answers 404",
    );
    Ok(())
}

fn physical(name: &str, endpoint: &str) -> Value {
    json!({
        "environment": "kPhysical",
        "name": name,
        "physicalParams": {"endpoint": endpoint, "hostType": "kLinux", "physicalType": "kHost"},
    })
}

/// Registers a source, removed when the scenario ends; answers its id.
async fn register(ctx: &mut Ctx, client: &Client, request: Value) -> Result<i64> {
    let api::register_protection_source::Success::Created(created) = client
        .register_protection_source(&body(request), &Default::default())
        .await
        .map_err(failed("RegisterProtectionSource"))?;
    let id = created.id.context("the registration has no id")?;
    let cleanup = client.clone();
    ctx.on_cleanup(&format!("unregister source {id}"), move || {
        Box::pin(async move {
            match cleanup
                .delete_protection_source_registration(id, &Default::default())
                .await
            {
                Ok(_) => Ok(()),
                Err(e) if e.status() == Some(404) => Ok(()),
                Err(e) => Err(anyhow!("{e}")),
            }
        })
    });
    Ok(id)
}

async fn sources_crud(ctx: &mut Ctx) -> Result<()> {
    let client = client(ctx)?;
    let name = ctx.name("source");
    let endpoint = format!("{}.invalid", ctx.name("host"));
    let mut request = physical(&name, &endpoint);
    request["encryptionKey"] = json!("conformance-not-stored");
    let id = register(ctx, &client, request).await?;
    ctx.expect_status(
        "RegisterProtectionSource",
        "registering a new source answers 201",
        201,
    );
    let api::get_protection_source_registration::Success::Ok(read) = client
        .get_protection_source_registration(id, &Default::default())
        .await
        .map_err(failed("GetProtectionSourceRegistration"))?;
    let read = json_of(&read);
    ctx.check(
        "GetProtectionSourceRegistration",
        "the new registration reads back with its endpoint, not its encryption key",
        read["name"] == name.as_str()
            && read.pointer("/physicalParams/endpoint") == Some(&json!(endpoint))
            && read.get("encryptionKey").is_none(),
        &read,
    );
    let listed = registrations(&client).await?;
    ctx.check(
        "GetSourceRegistrations",
        "the new registration is listed",
        strings(&listed, "/registrations", "/id").contains(&id.to_string()),
        "",
    );

    let _ = client
        .register_protection_source(
            &body(physical(&name, &format!("other-{endpoint}"))),
            &Default::default(),
        )
        .await;
    duplicate(
        ctx,
        "RegisterProtectionSource",
        "a second source of the same name answers 409",
    );
    let _ = client
        .register_protection_source(
            &body(physical(&ctx.name("source-same-host"), &endpoint)),
            &Default::default(),
        )
        .await;
    duplicate(
        ctx,
        "RegisterProtectionSource",
        "a second source at the same endpoint answers 409",
    );
    let _ = client
        .register_protection_source(
            &body(json!({"environment": "kPhysical", "name": ctx.name("source-nowhere")})),
            &Default::default(),
        )
        .await;
    invalid(
        ctx,
        "RegisterProtectionSource",
        "a physical source without an endpoint answers 400",
    );
    let mut via = physical(&ctx.name("source-via"), &format!("via-{endpoint}"));
    via["dataSourceConnectionId"] = json!(UNKNOWN_ID);
    let _ = client
        .register_protection_source(&body(via), &Default::default())
        .await;
    not_found(
        ctx,
        "RegisterProtectionSource",
        "an unknown data-source connection answers 404",
    );

    // Update (PUT) renames; a name another source has is a duplicate.
    let other_name = ctx.name("source-other");
    let other = register(
        ctx,
        &client,
        physical(&other_name, &format!("other-{endpoint}")),
    )
    .await?;
    let renamed = ctx.name("source-renamed");
    let api::update_protection_source_registration::Success::Ok(updated) = client
        .update_protection_source_registration(
            id,
            &body(physical(&renamed, &endpoint)),
            &Default::default(),
        )
        .await
        .map_err(failed("UpdateProtectionSourceRegistration"))?;
    let updated = json_of(&updated);
    ctx.check(
        "UpdateProtectionSourceRegistration",
        "the update answers the registration renamed",
        updated["name"] == renamed.as_str() && updated["id"] == json!(id),
        &updated,
    );
    let _ = client
        .update_protection_source_registration(
            id,
            &body(physical(&other_name, &endpoint)),
            &Default::default(),
        )
        .await;
    duplicate(
        ctx,
        "UpdateProtectionSourceRegistration",
        "renaming onto another source's name answers 409",
    );
    let _ = client
        .update_protection_source_registration(
            id,
            &body(json!({"environment": "kSQL", "name": renamed})),
            &Default::default(),
        )
        .await;
    invalid(
        ctx,
        "UpdateProtectionSourceRegistration",
        "changing the environment answers 400",
    );
    let _ = client
        .update_protection_source_registration(
            UNKNOWN_NUMBER,
            &body(physical(&ctx.name("ghost"), "ghost.invalid")),
            &Default::default(),
        )
        .await;
    not_found(
        ctx,
        "UpdateProtectionSourceRegistration",
        "updating an unknown registration answers 404",
    );

    // Patch.
    let api::patch_protection_source_registration::Success::Ok(patched) = client
        .patch_protection_source_registration(
            id,
            &body(json!({"environment": "kPhysical"})),
            &Default::default(),
        )
        .await
        .map_err(failed("PatchProtectionSourceRegistration"))?;
    let patched = json_of(&patched);
    ctx.check(
        "PatchProtectionSourceRegistration",
        "the patch answers the registration",
        patched["id"] == json!(id) && patched["name"] == renamed.as_str(),
        &patched,
    );
    let _ = client
        .patch_protection_source_registration(
            id,
            &body(json!({"environment": "kSQL"})),
            &Default::default(),
        )
        .await;
    invalid(
        ctx,
        "PatchProtectionSourceRegistration",
        "patching another environment answers 400",
    );
    let _ = client
        .patch_protection_source_registration(
            UNKNOWN_NUMBER,
            &body(json!({"environment": "kPhysical"})),
            &Default::default(),
        )
        .await;
    not_found(
        ctx,
        "PatchProtectionSourceRegistration",
        "patching an unknown registration answers 404",
    );

    // Refresh.
    client
        .refresh_protection_source_by_id(id, &Default::default())
        .await
        .map_err(failed("RefreshProtectionSourceByID"))?;
    ctx.expect_status(
        "RefreshProtectionSourceByID",
        "refreshing a source answers 204",
        204,
    );
    let _ = client
        .refresh_protection_source_by_id(UNKNOWN_NUMBER, &Default::default())
        .await;
    not_found(
        ctx,
        "RefreshProtectionSourceByID",
        "refreshing an unknown source answers 404",
    );

    // A protected source cannot be unregistered.
    let policy_name = ctx.name("source-policy");
    let policy = create_policy(ctx, &client, &policy_name).await?;
    let group_name = ctx.name("source-group");
    let group = create_group(ctx, &client, &group_name, &policy, &[id]).await?;
    let _ = client
        .delete_protection_source_registration(id, &Default::default())
        .await;
    invalid(
        ctx,
        "DeleteProtectionSourceRegistration",
        "unregistering a protected source answers 400",
    );
    client
        .delete_protection_group(&group, &Default::default())
        .await
        .map_err(failed("DeleteProtectionGroup"))?;

    // Unregister, once.
    for source in [other, id] {
        client
            .delete_protection_source_registration(source, &Default::default())
            .await
            .map_err(failed("DeleteProtectionSourceRegistration"))?;
        ctx.expect_status(
            "DeleteProtectionSourceRegistration",
            "unregistering a source answers 204",
            204,
        );
    }
    let _ = client
        .delete_protection_source_registration(id, &Default::default())
        .await;
    not_found(
        ctx,
        "DeleteProtectionSourceRegistration",
        "unregistering it again answers 404",
    );
    let _ = client
        .get_protection_source_registration(id, &Default::default())
        .await;
    not_found(
        ctx,
        "GetProtectionSourceRegistration",
        "an unregistered source answers 404",
    );
    let listed = registrations(&client).await?;
    ctx.check(
        "GetSourceRegistrations",
        "unregistered sources are no longer listed",
        !strings(&listed, "/registrations", "/id")
            .iter()
            .any(|s| *s == id.to_string() || *s == other.to_string()),
        "",
    );
    Ok(())
}

async fn connections_list(
    client: &Client,
    options: &api::get_data_source_connections::Options,
) -> Result<Value> {
    let api::get_data_source_connections::Success::Ok(listed) = client
        .get_data_source_connections(options)
        .await
        .map_err(failed("GetDataSourceConnections"))?;
    Ok(json_of(&listed))
}

/// Creates a connection, removed when the scenario ends; answers its id.
async fn create_connection(ctx: &mut Ctx, client: &Client, name: &str) -> Result<String> {
    let api::create_data_source_connection::Success::Created(created) = client
        .create_data_source_connection(
            &body(json!({"connectionName": name, "connectionEnvType": "kPhysical"})),
            &Default::default(),
        )
        .await
        .map_err(failed("CreateDataSourceConnection"))?;
    let id = json_of(&created)["connectionId"]
        .as_str()
        .context("the connection has no id")?
        .to_string();
    let cleanup = client.clone();
    let connection = id.clone();
    ctx.on_cleanup(&format!("delete connection {id}"), move || {
        Box::pin(async move {
            match cleanup
                .delete_data_source_connection(&connection, &Default::default())
                .await
            {
                Ok(_) => Ok(()),
                Err(e) if e.status() == Some(404) => Ok(()),
                Err(e) => Err(anyhow!("{e}")),
            }
        })
    });
    Ok(id)
}

async fn connections(ctx: &mut Ctx) -> Result<()> {
    let client = client(ctx)?;
    let name = ctx.name("connection");
    let id = create_connection(ctx, &client, &name).await?;
    ctx.expect_status(
        "CreateDataSourceConnection",
        "a new connection answers 201",
        201,
    );
    let listed = connections_list(
        &client,
        &api::get_data_source_connections::Options {
            connection_names: Some(vec![name.clone()]),
            ..Default::default()
        },
    )
    .await?;
    ctx.check(
        "GetDataSourceConnections",
        "the new connection is found by its name",
        strings(&listed, "/connections", "/connectionId") == [id.clone()],
        &listed,
    );
    let all = connections_list(&client, &Default::default()).await?;
    ctx.check(
        "GetDataSourceConnections",
        "the new connection is in the full list",
        strings(&all, "/connections", "/connectionId").contains(&id),
        "",
    );
    let _ = client
        .create_data_source_connection(&body(json!({"connectionName": name})), &Default::default())
        .await;
    duplicate(
        ctx,
        "CreateDataSourceConnection",
        "a second connection of the same name answers 409",
    );
    let _ = client
        .create_data_source_connection(&body(json!({"connectionName": " "})), &Default::default())
        .await;
    invalid(
        ctx,
        "CreateDataSourceConnection",
        "a blank name answers 400",
    );

    // Rename.
    let other_name = ctx.name("connection-other");
    let other = create_connection(ctx, &client, &other_name).await?;
    let renamed = ctx.name("connection-renamed");
    let api::patch_data_source_connection::Success::Ok(patched) = client
        .patch_data_source_connection(
            &id,
            &body(json!({"connectionName": renamed})),
            &Default::default(),
        )
        .await
        .map_err(failed("PatchDataSourceConnection"))?;
    let patched = json_of(&patched);
    ctx.check(
        "PatchDataSourceConnection",
        "the patch answers the connection renamed",
        patched["connectionName"] == renamed.as_str() && patched["connectionId"] == id.as_str(),
        &patched,
    );
    let _ = client
        .patch_data_source_connection(
            &id,
            &body(json!({"connectionName": other_name})),
            &Default::default(),
        )
        .await;
    duplicate(
        ctx,
        "PatchDataSourceConnection",
        "renaming onto another connection's name answers 409",
    );
    let _ = client
        .patch_data_source_connection(
            &id,
            &body(json!({"connectionName": ""})),
            &Default::default(),
        )
        .await;
    invalid(ctx, "PatchDataSourceConnection", "a blank name answers 400");
    let _ = client
        .patch_data_source_connection(
            UNKNOWN_ID,
            &body(json!({"connectionName": ctx.name("ghost")})),
            &Default::default(),
        )
        .await;
    not_found(
        ctx,
        "PatchDataSourceConnection",
        "renaming an unknown connection answers 404",
    );

    // Registration tokens: a new one each time.
    let mut tokens = Vec::new();
    for _ in 0..2 {
        let api::generate_data_source_connection_registration_token::Success::Ok(token) = client
            .generate_data_source_connection_registration_token(&id, &Default::default())
            .await
            .map_err(failed("GenerateDataSourceConnectionRegistrationToken"))?;
        tokens.push(token.expose().to_string());
    }
    ctx.check(
        "GenerateDataSourceConnectionRegistrationToken",
        "each registration token is new and not empty",
        !tokens[0].is_empty() && tokens[0] != tokens[1],
        format!("{} tokens", tokens.len()),
    );
    let _ = client
        .generate_data_source_connection_registration_token(UNKNOWN_ID, &Default::default())
        .await;
    not_found(
        ctx,
        "GenerateDataSourceConnectionRegistrationToken",
        "a token for an unknown connection answers 404",
    );

    // A connection sources use cannot go.
    let mut source = physical(
        &ctx.name("connected-source"),
        &format!("{}.invalid", ctx.name("connected-host")),
    );
    source["dataSourceConnectionId"] = json!(id);
    let source = register(ctx, &client, source).await?;
    let _ = client
        .delete_data_source_connection(&id, &Default::default())
        .await;
    invalid(
        ctx,
        "DeleteDataSourceConnection",
        "deleting a connection a source uses answers 400",
    );
    client
        .delete_protection_source_registration(source, &Default::default())
        .await
        .map_err(failed("DeleteProtectionSourceRegistration"))?;

    for connection in [&other, &id] {
        client
            .delete_data_source_connection(connection, &Default::default())
            .await
            .map_err(failed("DeleteDataSourceConnection"))?;
        ctx.expect_status(
            "DeleteDataSourceConnection",
            "deleting a connection answers 204",
            204,
        );
    }
    let _ = client
        .delete_data_source_connection(&id, &Default::default())
        .await;
    not_found(
        ctx,
        "DeleteDataSourceConnection",
        "deleting it again answers 404",
    );
    let all = connections_list(&client, &Default::default()).await?;
    ctx.check(
        "GetDataSourceConnections",
        "deleted connections are no longer listed",
        !strings(&all, "/connections", "/connectionId")
            .iter()
            .any(|c| *c == id || *c == other),
        "",
    );
    Ok(())
}

async fn connectors_list(
    client: &Client,
    options: &api::get_data_source_connectors::Options,
) -> Result<Value> {
    let api::get_data_source_connectors::Success::Ok(listed) = client
        .get_data_source_connectors(options)
        .await
        .map_err(failed("GetDataSourceConnectors"))?;
    Ok(json_of(&listed))
}

async fn connectors(ctx: &mut Ctx) -> Result<()> {
    let client = client(ctx)?;
    let api::get_connector_metadata::Success::Ok(metadata) = client
        .get_connector_metadata(&Default::default())
        .await
        .map_err(failed("GetConnectorMetadata"))?;
    let metadata = json_of(&metadata);
    ctx.check(
        "GetConnectorMetadata",
        "the metadata lists connector images with their URLs",
        !strings(
            &metadata,
            "/connectorImageMetadata/connectorImageFileList",
            "/url",
        )
        .is_empty(),
        &metadata,
    );
    let all = connectors_list(&client, &Default::default()).await?;
    let first = all
        .pointer("/connectors/0")
        .cloned()
        .context("the tenant has no connector")?;
    let id = first["connectorId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let name = first["connectorName"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if let Some(connection) = first["connectionId"].as_str() {
        let of = connectors_list(
            &client,
            &api::get_data_source_connectors::Options {
                connection_id: Some(connection.to_string()),
                ..Default::default()
            },
        )
        .await?;
        ctx.check(
            "GetDataSourceConnectors",
            "connectionId= lists that connection's connectors",
            strings(&of, "/connectors", "/connectorId").contains(&id)
                && strings(&of, "/connectors", "/connectionId")
                    .iter()
                    .all(|c| c == connection),
            &of,
        );
    }
    let by_id = connectors_list(
        &client,
        &api::get_data_source_connectors::Options {
            connector_ids: Some(vec![id.clone()]),
            ..Default::default()
        },
    )
    .await?;
    ctx.check(
        "GetDataSourceConnectors",
        "connectorIds= lists exactly that connector",
        strings(&by_id, "/connectors", "/connectorId") == [id.clone()],
        &by_id,
    );

    // Rename, and back when the scenario ends.
    let cleanup = client.clone();
    let (restore_id, restore_name) = (id.clone(), name.clone());
    ctx.on_cleanup(&format!("rename connector {id} back"), move || {
        Box::pin(async move {
            cleanup
                .patch_data_source_connector(
                    &restore_id,
                    &body(json!({"connectorName": restore_name})),
                    &Default::default(),
                )
                .await
                .map(|_| ())
                .map_err(|e| anyhow!("{e}"))
        })
    });
    let renamed = ctx.name("connector");
    let api::patch_data_source_connector::Success::Ok(patched) = client
        .patch_data_source_connector(
            &id,
            &body(json!({"connectorName": renamed})),
            &Default::default(),
        )
        .await
        .map_err(failed("PatchDataSourceConnector"))?;
    let patched = json_of(&patched);
    ctx.check(
        "PatchDataSourceConnector",
        "the patch answers the connector renamed",
        patched["connectorName"] == renamed.as_str() && patched["connectorId"] == id.as_str(),
        &patched,
    );
    let listed = connectors_list(
        &client,
        &api::get_data_source_connectors::Options {
            connector_names: Some(vec![renamed.clone()]),
            ..Default::default()
        },
    )
    .await?;
    ctx.check(
        "GetDataSourceConnectors",
        "the connector is found by its new name",
        strings(&listed, "/connectors", "/connectorId") == [id.clone()],
        &listed,
    );
    if let Some(other) = all
        .pointer("/connectors/1/connectorName")
        .and_then(Value::as_str)
    {
        let _ = client
            .patch_data_source_connector(
                &id,
                &body(json!({"connectorName": other})),
                &Default::default(),
            )
            .await;
        duplicate(
            ctx,
            "PatchDataSourceConnector",
            "renaming onto another connector's name answers 409",
        );
    }
    let _ = client
        .patch_data_source_connector(
            &id,
            &body(json!({"connectorName": " "})),
            &Default::default(),
        )
        .await;
    invalid(ctx, "PatchDataSourceConnector", "a blank name answers 400");
    let _ = client
        .patch_data_source_connector(
            UNKNOWN_ID,
            &body(json!({"connectorName": ctx.name("ghost")})),
            &Default::default(),
        )
        .await;
    not_found(
        ctx,
        "PatchDataSourceConnector",
        "renaming an unknown connector answers 404",
    );
    let _ = client
        .delete_data_source_connector(UNKNOWN_ID, &Default::default())
        .await;
    not_found(
        ctx,
        "DeleteDataSourceConnector",
        "deleting an unknown connector answers 404",
    );
    Ok(())
}

async fn connector_delete(ctx: &mut Ctx) -> Result<()> {
    let client = client(ctx)?;
    let all = connectors_list(&client, &Default::default()).await?;
    let ids = strings(&all, "/connectors", "/connectorId");
    let id = ids.last().cloned().context("the tenant has no connector")?;
    client
        .delete_data_source_connector(&id, &Default::default())
        .await
        .map_err(failed("DeleteDataSourceConnector"))?;
    ctx.expect_status(
        "DeleteDataSourceConnector",
        "deleting a connector answers 204",
        204,
    );
    let left = connectors_list(&client, &Default::default()).await?;
    ctx.check(
        "GetDataSourceConnectors",
        "a deleted connector is no longer listed",
        !strings(&left, "/connectors", "/connectorId").contains(&id)
            && strings(&left, "/connectors", "/connectorId").len() + 1 == ids.len(),
        &left,
    );
    let _ = client
        .delete_data_source_connector(&id, &Default::default())
        .await;
    not_found(
        ctx,
        "DeleteDataSourceConnector",
        "deleting it again answers 404",
    );
    Ok(())
}
