//! Identifiers for what an emulator creates (sessions, jobs, resources).
//!
//! Tests and `--deterministic` runs need the same ids on every run, so snapshots stay stable:
//! then an id is a function of its kind and a per-kind counter. Otherwise ids are random (UUID v4
//! bits), as an appliance's are, so two emulators never hand out the same id. Each vendor picks
//! the textual [`IdFormat`] its appliance uses.

use std::collections::HashMap;
use std::sync::Mutex;

/// How ids are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdMode {
    /// From the kind and a per-kind counter: the same sequence on every run.
    Deterministic,
    /// Random, UUID v4 style.
    Random,
}

/// How an id is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdFormat {
    /// 32 lowercase hex digits, a UUID without dashes (ZStack).
    Hex32,
    /// `8-4-4-4-12` lowercase hex (IBM, LXCA's uuids).
    Uuid,
    /// A decimal counter per kind, starting at 1 (LXCA job ids); random mode still counts, since
    /// such ids are sequence numbers on the appliance too.
    Counter,
}

/// A source of ids, safe to share between request handlers.
#[derive(Debug)]
pub struct Ids {
    mode: IdMode,
    counters: Mutex<HashMap<String, u64>>,
}

impl Ids {
    /// A source in `mode`.
    pub fn new(mode: IdMode) -> Self {
        Ids {
            mode,
            counters: Mutex::new(HashMap::new()),
        }
    }

    /// The mode.
    pub fn mode(&self) -> IdMode {
        self.mode
    }

    /// The next id of `kind` (`session`, `job`, `backup-storage`, ...), in `format`.
    pub fn next(&self, kind: &str, format: IdFormat) -> String {
        crate::observe::unrepeatable();
        let n = {
            let mut counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
            let n = counters.entry(kind.to_string()).or_insert(0);
            *n += 1;
            *n
        };
        if format == IdFormat::Counter {
            return n.to_string();
        }
        let value = match self.mode {
            // The kind in the high half keeps kinds apart; the counter fills the low half.
            IdMode::Deterministic => ((fnv1a(kind) as u128) << 64) | n as u128,
            IdMode::Random => {
                let mut v: u128 = rand::random();
                // Version 4, variant 10xx.
                v = (v & !(0xf << 76)) | (0x4 << 76);
                v = (v & !(0x3 << 62)) | (0x2 << 62);
                v
            }
        };
        format_id(value, format)
    }
}

/// Writes a 128-bit value as `format` (`Counter` writes the decimal value).
pub fn format_id(value: u128, format: IdFormat) -> String {
    let hex = format!("{value:032x}");
    match format {
        IdFormat::Hex32 => hex,
        IdFormat::Uuid => format!(
            "{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..]
        ),
        IdFormat::Counter => value.to_string(),
    }
}

/// Whether `s` is 32 hex digits (either case): what ZStack accepts as a uuid.
pub fn is_hex32(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// FNV-1a, 64 bit: a stable hash (unlike `std`'s, which may change between releases).
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_ids_repeat_across_runs_and_differ_by_kind() {
        let a = Ids::new(IdMode::Deterministic);
        let b = Ids::new(IdMode::Deterministic);
        let first = a.next("job", IdFormat::Hex32);
        assert_eq!(first, b.next("job", IdFormat::Hex32));
        assert!(is_hex32(&first) && first == first.to_lowercase());
        assert_ne!(first, a.next("job", IdFormat::Hex32));
        assert_ne!(
            a.next("session", IdFormat::Hex32)[..16],
            a.next("job", IdFormat::Hex32)[..16]
        );
        assert_eq!(a.next("task", IdFormat::Counter), "1");
        assert_eq!(a.next("task", IdFormat::Counter), "2");
    }

    #[test]
    fn random_ids_are_uuid_v4_shaped() {
        let ids = Ids::new(IdMode::Random);
        let id = ids.next("job", IdFormat::Uuid);
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
        let many: std::collections::HashSet<String> = (0..1000)
            .map(|_| ids.next("job", IdFormat::Hex32))
            .collect();
        assert_eq!(many.len(), 1000);
    }
}
