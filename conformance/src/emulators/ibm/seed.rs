//! The IBM emulator's seed: API keys, timings, agents and per-tenant sources, policies, groups and
//! connections. The built-in one is `default-seed.yaml` beside this file, which also documents
//! the format.

use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{tenant_key, Ibm, Options, Token};

/// The built-in seed, YAML.
pub const DEFAULT_SEED: &str = include_str!("default-seed.yaml");

/// A seed file.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Seed {
    /// API keys the token endpoint accepts.
    #[serde(default)]
    pub api_keys: Vec<String>,
    /// Durations.
    #[serde(default)]
    pub timing: Timing,
    /// Agent ids.
    #[serde(default)]
    pub agents: Vec<i64>,
    /// The tenants and what each has.
    #[serde(default)]
    pub tenants: Vec<TenantSeed>,
}

/// Durations, in seconds.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Timing {
    /// IAM token lifetime.
    #[serde(default = "d3600")]
    pub token_lifetime_secs: u64,
    /// Time a run stays Accepted.
    #[serde(default = "d2")]
    pub run_accepted_secs: f64,
    /// Time a run runs.
    #[serde(default = "d30")]
    pub run_duration_secs: f64,
    /// Time a recovery stays Accepted.
    #[serde(default = "d1")]
    pub recovery_accepted_secs: f64,
    /// Time a recovery runs.
    #[serde(default = "d20")]
    pub recovery_duration_secs: f64,
    /// Time an upgrade task runs.
    #[serde(default = "d60")]
    pub upgrade_duration_secs: f64,
    /// Size of a download-files recovery's content.
    #[serde(default = "dsize")]
    pub download_size_bytes: u64,
}

fn d1() -> f64 {
    1.0
}
fn d2() -> f64 {
    2.0
}
fn d20() -> f64 {
    20.0
}
fn d30() -> f64 {
    30.0
}
fn d60() -> f64 {
    60.0
}
fn d3600() -> u64 {
    3600
}
fn dsize() -> u64 {
    10_490_000
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            token_lifetime_secs: d3600(),
            run_accepted_secs: d2(),
            run_duration_secs: d30(),
            recovery_accepted_secs: d1(),
            recovery_duration_secs: d20(),
            upgrade_duration_secs: d60(),
            download_size_bytes: dsize(),
        }
    }
}

/// Seconds as a duration (0 for nonsense).
pub(super) fn secs(value: f64) -> Duration {
    Duration::try_from_secs_f64(value).unwrap_or(Duration::ZERO)
}

/// One tenant.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TenantSeed {
    /// The tenant id (`X-IBM-Tenant-Id`).
    pub id: String,
    /// Registered sources.
    #[serde(default)]
    pub sources: Vec<SourceSeed>,
    /// Policies: CreateProtectionPolicy bodies.
    #[serde(default)]
    pub policies: Vec<Map<String, Value>>,
    /// Protection groups.
    #[serde(default)]
    pub protection_groups: Vec<GroupSeed>,
    /// Data-source connections.
    #[serde(default)]
    pub connections: Vec<ConnectionSeed>,
}

/// A registered physical source.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SourceSeed {
    /// Its name.
    pub name: String,
    /// Its address.
    pub endpoint: String,
    /// `kLinux`, `kWindows`...
    #[serde(default)]
    pub host_type: Option<String>,
    /// Its logical size.
    #[serde(default)]
    pub size_bytes: Option<i64>,
    /// Files its snapshots index.
    #[serde(default)]
    pub files: Vec<String>,
}

/// A protection group.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GroupSeed {
    /// Its name.
    pub name: String,
    /// Its policy's name.
    pub policy: String,
    /// The sources it protects, by name.
    #[serde(default)]
    pub objects: Vec<String>,
    /// Its description.
    #[serde(default)]
    pub description: Option<String>,
}

/// A data-source connection.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectionSeed {
    /// Its name.
    pub name: String,
    /// Its connectors' names.
    #[serde(default)]
    pub connectors: Vec<String>,
}

impl Seed {
    /// The built-in seed.
    pub fn builtin() -> Self {
        crate::yaml::from_str(DEFAULT_SEED, "the built-in IBM seed")
            .expect("the built-in IBM seed is valid")
    }
}

impl Ibm {
    /// Fills the state from the seed and the options, through the same code the API uses.
    pub(super) fn load(&self, options: Options) -> Result<()> {
        let Options {
            seed,
            api_key,
            token,
            tenant,
        } = options;
        {
            let mut state = self.lock();
            state.api_keys = seed.api_keys.clone();
            state.api_keys.extend(api_key);
            if let Some(token) = token {
                if token.trim().is_empty() || token.contains(char::is_whitespace) {
                    bail!("--token must be a non-empty word");
                }
                state.tokens.insert(token, Token { expires: None });
            }
            state.agents = seed.agents.clone();
        }
        for (i, tenant_seed) in seed.tenants.iter().enumerate() {
            let id = match (&tenant, i) {
                (Some(t), 0) => t.clone(),
                _ => tenant_seed.id.clone(),
            };
            let key = tenant_key(&id);
            if key.is_empty() {
                bail!("tenants[{i}]: the id is empty");
            }
            if !self.lock().tenants.insert(key.clone()) {
                bail!("tenants[{i}]: tenant {id} is listed twice");
            }
            self.load_tenant(&key, tenant_seed)
                .with_context(|| format!("tenants[{i}] ({id})"))?;
        }
        Ok(())
    }

    fn load_tenant(&self, tenant: &str, seed: &TenantSeed) -> Result<()> {
        let fail = |e: super::Failure| anyhow!("{}", e.message);
        let mut sources = Vec::new();
        for source in &seed.sources {
            let body = json!({
                "environment": "kPhysical",
                "name": source.name,
                "physicalParams": {
                    "endpoint": source.endpoint,
                    "hostType": source.host_type.clone().unwrap_or_else(|| "kLinux".into()),
                    "physicalType": "kHost",
                },
            });
            let id = self
                .register_source(
                    tenant,
                    super::map(body),
                    source.size_bytes,
                    source.files.clone(),
                )
                .map_err(fail)
                .with_context(|| format!("source {}", source.name))?;
            sources.push((source.name.clone(), id));
        }
        let mut policies = Vec::new();
        for (i, policy) in seed.policies.iter().enumerate() {
            let checked: ibm_backup_recovery::types::ProtectionPolicyRequest =
                serde_json::from_value(Value::Object(policy.clone()))
                    .with_context(|| format!("policies[{i}]: not a policy"))?;
            let created = self
                .create_policy_for(tenant, super::to_map(&checked))
                .map_err(fail)
                .with_context(|| format!("policies[{i}]"))?;
            policies.push((checked.name.clone(), created));
        }
        for group in &seed.protection_groups {
            let policy_id = policies
                .iter()
                .find(|(name, _)| *name == group.policy)
                .map(|(_, id)| id.clone())
                .ok_or_else(|| {
                    anyhow!("group {}: no policy is named {}", group.name, group.policy)
                })?;
            let mut objects = Vec::new();
            for name in &group.objects {
                let id = sources
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, id)| *id)
                    .ok_or_else(|| anyhow!("group {}: no source is named {name}", group.name))?;
                objects.push(json!({"id": id, "name": name}));
            }
            let mut body = json!({
                "name": group.name,
                "policyId": policy_id,
                "environment": "kPhysical",
                "priority": "kMedium",
                "qosPolicy": "kBackupHDD",
                "physicalParams": {
                    "protectionType": "kVolume",
                    "volumeProtectionTypeParams": {"objects": objects},
                },
            });
            if let Some(description) = &group.description {
                body["description"] = json!(description);
            }
            self.create_group_for(tenant, super::map(body))
                .map_err(fail)
                .with_context(|| format!("group {}", group.name))?;
        }
        for connection in &seed.connections {
            let id = self
                .create_connection_for(tenant, &connection.name, None)
                .map_err(fail)
                .with_context(|| format!("connection {}", connection.name))?;
            for connector in &connection.connectors {
                self.add_connector(tenant, &id, connector)
                    .map_err(fail)
                    .with_context(|| format!("connector {connector}"))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_seed_loads() {
        let seed = Seed::builtin();
        assert_eq!(seed.api_keys, [super::super::API_KEY]);
        assert_eq!(seed.tenants[0].id, super::super::TENANT);
        assert_eq!(seed.tenants[1].id, super::super::OTHER_TENANT);
        let env = crate::emulators::Environment::for_tests();
        Ibm::new(env, Options::default()).unwrap();
    }

    #[test]
    fn broken_seeds_are_refused() {
        for (yaml, message) in [
            ("colour: red", "unknown field"),
            (
                "tenants: [{id: a, protectionGroups: [{name: g, policy: nope}]}]",
                "no policy is named nope",
            ),
            ("tenants: [{id: a}, {id: a/}]", "listed twice"),
            (
                "tenants: [{id: a, policies: [{name: p, backupPolicy: {regular: 5}}]}]",
                "not a policy",
            ),
            (
                "tenants: [{id: a, policies: [{name: p, backupPolicy: {regular: {}}}, {name: p, backupPolicy: {regular: {}}}]}]",
                "already exists",
            ),
        ] {
            let result = crate::yaml::from_str::<Seed>(yaml, "seed").and_then(|seed| {
                Ibm::new(
                    crate::emulators::Environment::for_tests(),
                    Options {
                        seed,
                        ..Options::default()
                    },
                )
                .map(|_| ())
            });
            let error = format!("{:#}", result.unwrap_err());
            assert!(error.contains(message), "{yaml}: {error}");
        }
    }
}
