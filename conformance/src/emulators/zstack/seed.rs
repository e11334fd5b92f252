//! The ZStack emulator's seed: accounts, timings, zones, images and backup storage. The built-in
//! one is `default-seed.yaml` beside this file, which also documents the format.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use serde_json::{Map, Value};
use zstack::types::BackupStorageInventory;

use crate::ids::is_hex32;

/// The built-in seed, YAML.
pub const DEFAULT_SEED: &str = include_str!("default-seed.yaml");

/// A seed file.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Seed {
    /// Who may log in.
    pub accounts: Vec<AccountSeed>,
    /// Session lifetime after login.
    #[serde(default = "default_session_timeout")]
    pub session_timeout_secs: u64,
    /// Job timings.
    #[serde(default)]
    pub jobs: JobTimes,
    /// Zones (`zone.<field>` conditions).
    #[serde(default)]
    pub zones: Vec<Map<String, Value>>,
    /// Images (`image.<field>` conditions; `backupStorageUuid` places them,
    /// `refusesDeletion` makes a Permissive delete of that storage fail).
    #[serde(default)]
    pub images: Vec<Map<String, Value>>,
    /// Backup storage.
    #[serde(default)]
    pub backup_storages: Vec<StorageSeed>,
}

fn default_session_timeout() -> u64 {
    7200
}

/// An account.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccountSeed {
    /// The account name.
    pub name: String,
    /// The password in clear (clients send its SHA-512).
    pub password: String,
    /// The account uuid.
    pub uuid: String,
}

/// How long jobs take, in seconds (fractions allowed).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JobTimes {
    /// ReconnectBackupStorage.
    #[serde(default = "default_reconnect")]
    pub reconnect_secs: f64,
    /// DeleteBackupStorage.
    #[serde(default = "default_delete")]
    pub delete_secs: f64,
    /// How long a finished job stays queryable.
    #[serde(default = "default_retention")]
    pub retention_secs: f64,
}

fn default_reconnect() -> f64 {
    3.0
}
fn default_delete() -> f64 {
    2.0
}
fn default_retention() -> f64 {
    600.0
}

impl Default for JobTimes {
    fn default() -> Self {
        JobTimes {
            reconnect_secs: default_reconnect(),
            delete_secs: default_delete(),
            retention_secs: default_retention(),
        }
    }
}

fn secs(value: f64) -> Duration {
    Duration::try_from_secs_f64(value).unwrap_or(Duration::ZERO)
}

impl JobTimes {
    /// ReconnectBackupStorage's duration.
    pub fn reconnect(&self) -> Duration {
        secs(self.reconnect_secs)
    }
    /// DeleteBackupStorage's duration.
    pub fn delete(&self) -> Duration {
        secs(self.delete_secs)
    }
    /// The retention of finished jobs.
    pub fn retention(&self) -> Duration {
        secs(self.retention_secs)
    }
}

/// A backup storage.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StorageSeed {
    /// The inventory, as queries return it.
    pub inventory: Map<String, Value>,
    /// Whether reconnecting succeeds.
    #[serde(default = "yes")]
    pub reachable: bool,
}

fn yes() -> bool {
    true
}

/// A seed whose references were checked.
pub(super) struct Checked {
    pub accounts: Vec<AccountSeed>,
    pub zones: Vec<Map<String, Value>>,
    pub images: Vec<Map<String, Value>>,
    pub storages: Vec<(Map<String, Value>, bool)>,
}

impl Seed {
    /// The built-in seed.
    pub fn builtin() -> Self {
        crate::yaml::from_str(DEFAULT_SEED, "the built-in ZStack seed")
            .expect("the built-in ZStack seed is valid")
    }

    /// Checks ids, types and references.
    pub(super) fn check(&self) -> Result<Checked> {
        let mut seen = HashSet::new();
        for account in &self.accounts {
            if !is_hex32(&account.uuid) {
                bail!("account {}: uuid must be 32 hex digits", account.name);
            }
        }
        for (i, storage) in self.backup_storages.iter().enumerate() {
            let uuid = storage
                .inventory
                .get("uuid")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !is_hex32(uuid) {
                bail!("backupStorages[{i}]: inventory.uuid must be 32 hex digits");
            }
            if !seen.insert(uuid.to_string()) {
                bail!("backupStorages[{i}]: uuid {uuid} is used twice");
            }
            let typed: BackupStorageInventory = serde_json::from_value(Value::Object(
                storage.inventory.clone(),
            ))
            .with_context(|| format!("backupStorages[{i}]: not a backup storage inventory"))?;
            if matches!(typed, BackupStorageInventory::Other(_)) {
                bail!("backupStorages[{i}]: type must be ImageStoreBackupStorage or Ceph");
            }
        }
        for (i, image) in self.images.iter().enumerate() {
            let bs = image
                .get("backupStorageUuid")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !seen.contains(bs) {
                bail!("images[{i}]: backupStorageUuid {bs:?} names no backup storage");
            }
        }
        Ok(Checked {
            accounts: self.accounts.clone(),
            zones: self.zones.clone(),
            images: self.images.clone(),
            storages: self
                .backup_storages
                .iter()
                .map(|s| (s.inventory.clone(), s.reachable))
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_seed_has_both_types() {
        let seed = Seed::builtin();
        let checked = seed.check().unwrap();
        let types: Vec<&str> = checked
            .storages
            .iter()
            .map(|(inv, _)| inv["type"].as_str().unwrap())
            .collect();
        assert!(types.contains(&"ImageStoreBackupStorage") && types.contains(&"Ceph"));
        assert_eq!(seed.accounts[0].name, super::super::ACCOUNT_NAME);
        assert_eq!(seed.accounts[0].password, super::super::PASSWORD);
    }

    #[test]
    fn broken_seeds_are_refused() {
        for (yaml, message) in [
            ("accounts: []\nbackupStorages: [{inventory: {uuid: x, type: Ceph}}]", "32 hex"),
            (
                "accounts: []\nbackupStorages: [{inventory: {uuid: 1ab3b836a88342e1bbc1b1a17d092f0f, type: Sftp}}]",
                "ImageStoreBackupStorage or Ceph",
            ),
            (
                "accounts: []\nimages: [{uuid: a, backupStorageUuid: nope}]",
                "names no backup storage",
            ),
            ("accounts: []\ncolour: red", "unknown field"),
        ] {
            let result = crate::yaml::from_str::<Seed>(yaml, "seed").and_then(|s| s.check().map(|_| ()));
            let error = format!("{:#}", result.unwrap_err());
            assert!(error.contains(message), "{yaml}: {error}");
        }
    }
}
