//! The LXCA emulator's seed: users, timings, backups, the updates repository and the OS images
//! repository. The built-in one is `default-seed.yaml` beside this file, which also documents
//! the format.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::{bail, Result};
use serde::Deserialize;

/// The built-in seed, YAML.
pub const DEFAULT_SEED: &str = include_str!("default-seed.yaml");

/// A seed file.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Seed {
    /// Who may log in.
    pub users: Vec<UserSeed>,
    /// Inactivity timeout of sessions, in minutes.
    #[serde(default = "default_inactivity")]
    pub session_inactivity_minutes: u64,
    /// Job timings.
    #[serde(default)]
    pub jobs: JobTimes,
    /// The largest upload, in bytes.
    #[serde(default = "default_upload_limit")]
    pub upload_limit_bytes: u64,
    /// GET /aicc's `appliance`.
    #[serde(default)]
    pub appliance: serde_json::Map<String, serde_json::Value>,
    /// Configured remote shares (mount points).
    #[serde(default)]
    pub remote_shares: Vec<String>,
    /// Addresses a push reaches.
    #[serde(default)]
    pub reachable_appliances: Vec<String>,
    /// Backups.
    #[serde(default)]
    pub backups: Vec<BackupSeed>,
    /// The updates repository.
    #[serde(default)]
    pub updates: UpdatesSeed,
    /// The OS images repository.
    #[serde(default)]
    pub os_images: Vec<OsImageSeed>,
}

fn default_inactivity() -> u64 {
    1440
}

fn default_upload_limit() -> u64 {
    16 * 1024 * 1024 * 1024
}

/// A user.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserSeed {
    /// The user name (`UserId`).
    pub name: String,
    /// The password.
    pub password: String,
}

/// Job durations, in seconds.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JobTimes {
    /// Copying a backup.
    #[serde(default = "d20")]
    pub copy_secs: f64,
    /// Moving a backup.
    #[serde(default = "d20")]
    pub move_secs: f64,
    /// Pushing a backup.
    #[serde(default = "d60")]
    pub push_secs: f64,
    /// Where a push to an unreachable address fails.
    #[serde(default = "d10u")]
    pub push_fail_at_percent: u8,
    /// Applying an update.
    #[serde(default = "d30")]
    pub apply_secs: f64,
    /// Acquiring updates.
    #[serde(default = "d10")]
    pub acquire_secs: f64,
    /// Refreshing the catalogue.
    #[serde(default = "d5")]
    pub refresh_secs: f64,
    /// How long a finished job stays listed.
    #[serde(default = "d86400")]
    pub retention_secs: f64,
}

fn d5() -> f64 {
    5.0
}
fn d10() -> f64 {
    10.0
}
fn d10u() -> u8 {
    10
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
fn d86400() -> f64 {
    86_400.0
}

impl Default for JobTimes {
    fn default() -> Self {
        JobTimes {
            copy_secs: d20(),
            move_secs: d20(),
            push_secs: d60(),
            push_fail_at_percent: d10u(),
            apply_secs: d30(),
            acquire_secs: d10(),
            refresh_secs: d5(),
            retention_secs: d86400(),
        }
    }
}

/// Seconds (fractions allowed) as a duration; negative or invalid values are zero.
pub fn secs(value: f64) -> Duration {
    Duration::try_from_secs_f64(value).unwrap_or(Duration::ZERO)
}

/// A backup, as GET /managementServer/data lists it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BackupSeed {
    /// Its UUID.
    pub uuid: String,
    /// Its file name.
    pub filename: String,
    /// `internal` or a remote share's mount point.
    pub location: String,
    /// When it was made.
    #[serde(default)]
    pub backup_date: Option<String>,
    /// Who made it.
    #[serde(default)]
    pub backup_requested_by: Option<String>,
    /// Its size, in bytes (a string, as LXCA writes it).
    #[serde(default)]
    pub size: Option<String>,
    /// Its checksum.
    #[serde(default)]
    pub checksum: Option<String>,
    /// Managed chassis.
    #[serde(default)]
    pub chassis: Option<String>,
    /// DHCP mode.
    #[serde(default)]
    pub dhcp: Option<bool>,
    /// eth0's IPv4 address.
    #[serde(default, rename = "eth0IPv4")]
    pub eth0_ipv4: Option<String>,
    /// Firmware size.
    #[serde(default)]
    pub firmware: Option<String>,
}

/// The updates repository.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdatesSeed {
    /// The running version.
    #[serde(default)]
    pub current_version: String,
    /// The import directory.
    #[serde(default)]
    pub import_dir: String,
    /// The allotted size.
    #[serde(default)]
    pub allotment_bytes: i64,
    /// When the last update was applied.
    #[serde(default)]
    pub updated_date: String,
    /// Applied updates (UpdateHistoryEntry objects).
    #[serde(default)]
    pub history: Vec<serde_json::Map<String, serde_json::Value>>,
    /// Packages.
    #[serde(default)]
    pub packages: Vec<PackageSeed>,
}

/// An update package.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PackageSeed {
    /// Its fix id.
    pub fixid: String,
    /// Its readable name.
    #[serde(default)]
    pub readable_name: String,
    /// Its version.
    #[serde(default)]
    pub version: String,
    /// Its build number.
    #[serde(default)]
    pub build_number: String,
    /// Its build type.
    #[serde(default)]
    pub build_type: String,
    /// Its component.
    #[serde(default)]
    pub comp: String,
    /// Its release date.
    #[serde(default)]
    pub releasedate: String,
    /// Its severity.
    #[serde(default)]
    pub severity: i64,
    /// Its size.
    #[serde(default)]
    pub totalsize: i64,
    /// Whether its payload is in the repository.
    #[serde(default)]
    pub downloaded: bool,
    /// The readme (empty: none).
    #[serde(default)]
    pub readme: String,
    /// The change history (empty: none).
    #[serde(default)]
    pub change_history: String,
}

/// A file of the OS images repository.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OsImageSeed {
    /// Its id.
    pub id: String,
    /// Its file name.
    pub name: String,
    /// Its imageType (OS, BOOT, DUD...).
    #[serde(rename = "type")]
    pub kind: String,
    /// The operating system.
    #[serde(default)]
    pub os: String,
    /// The release.
    #[serde(default)]
    pub osrelease: String,
    /// Size in bytes.
    #[serde(default)]
    pub size: i64,
    /// Description.
    #[serde(default)]
    pub description: String,
}

/// The image types an upload may name.
pub const IMAGE_TYPES: &[&str] = &[
    "BUNDLE",
    "BUNDLESIG",
    "BOOT",
    "CONFIG",
    "CUSTOM_CONFIG",
    "DUD",
    "OS",
    "OSPROFILE",
    "SCRIPT",
    "SOFTWARE",
    "UNATTEND",
];

impl Seed {
    /// The built-in seed.
    pub fn builtin() -> Self {
        crate::yaml::from_str(DEFAULT_SEED, "the built-in LXCA seed")
            .expect("the built-in LXCA seed is valid")
    }

    /// Checks names and references.
    pub fn check(&self) -> Result<()> {
        let mut names = HashSet::new();
        for user in &self.users {
            if user.name.is_empty() || !user.name.bytes().all(|b| b.is_ascii_graphic()) {
                bail!("users: {:?} is not a usable user name", user.name);
            }
            if !names.insert(user.name.to_ascii_lowercase()) {
                bail!("users: {} is listed twice", user.name);
            }
        }
        let mut uuids = HashSet::new();
        for (i, backup) in self.backups.iter().enumerate() {
            if !uuids.insert(backup.uuid.clone()) {
                bail!("backups[{i}]: uuid {} is used twice", backup.uuid);
            }
            if backup.location != "internal" && !self.remote_shares.contains(&backup.location) {
                bail!(
                    "backups[{i}]: location {:?} is neither `internal` nor a remote share",
                    backup.location
                );
            }
        }
        let mut fixids = HashSet::new();
        for (i, package) in self.updates.packages.iter().enumerate() {
            if !fixids.insert(package.fixid.clone()) {
                bail!(
                    "updates.packages[{i}]: fixid {} is used twice",
                    package.fixid
                );
            }
        }
        let mut ids = HashSet::new();
        for (i, image) in self.os_images.iter().enumerate() {
            if !IMAGE_TYPES.contains(&image.kind.as_str()) {
                bail!("osImages[{i}]: type {:?} is not an imageType", image.kind);
            }
            if !ids.insert(image.id.clone()) {
                bail!("osImages[{i}]: id {} is used twice", image.id);
            }
        }
        if self.jobs.push_fail_at_percent > 100 {
            bail!("jobs.pushFailAtPercent is a percentage (0-100)");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_seed_is_valid_and_has_two_users() {
        let seed = Seed::builtin();
        seed.check().unwrap();
        assert_eq!(seed.users[0].name, super::super::USER);
        assert_eq!(seed.users[0].password, super::super::PASSWORD);
        assert!(seed.users.len() >= 2);
    }

    #[test]
    fn broken_seeds_are_refused() {
        for (yaml, message) in [
            (
                "users: [{name: a, password: b}, {name: A, password: c}]",
                "twice",
            ),
            (
                "users: []\nbackups: [{uuid: u, filename: f, location: /nowhere}]",
                "remote share",
            ),
            (
                "users: []\nosImages: [{id: i, name: n, type: FLOPPY}]",
                "imageType",
            ),
            ("users: []\ncolour: red", "unknown field"),
        ] {
            let result =
                crate::yaml::from_str::<Seed>(yaml, "seed").and_then(|s| s.check().map(|_| ()));
            let error = format!("{:#}", result.unwrap_err());
            assert!(error.contains(message), "{yaml}: {error}");
        }
    }
}
