//! What a run found, and its three renderings: `report.json` (machines), `junit.xml` (CI),
//! `report.html` (people); plus the terminal summary.

mod html;
mod junit;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use html::html;
pub use junit::junit;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Pass,
    Fail,
    Skip,
    KnownDeviation,
    Unreached,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Skip => "skip",
            Outcome::KnownDeviation => "known-deviation",
            Outcome::Unreached => "unreached",
        }
    }
}

/// One check of one operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckResult {
    pub vendor: String,
    pub operation_id: String,
    pub check: String,
    pub outcome: Outcome,
    pub detail: String,
}

/// Something worth a look that does not fail the run: undocumented members (drift).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Warning {
    pub vendor: String,
    pub operation_id: String,
    pub kind: String,
    pub detail: String,
}

/// What each vendor was run against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetInfo {
    pub vendor: String,
    /// `embedded emulator`, `https://host`, `replay of DIR`.
    pub target: String,
    pub mutations: bool,
    /// Wall time of the run's phases, in milliseconds: `scenarios`, `probes`, `checks`.
    #[serde(default)]
    pub phases_ms: std::collections::BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub target: Vec<TargetInfo>,
    pub results: Vec<CheckResult>,
    #[serde(default)]
    pub warnings: Vec<Warning>,
    /// Wall time of the run, in milliseconds.
    #[serde(default)]
    pub elapsed_ms: u64,
}

impl Report {
    pub fn failed(&self) -> bool {
        self.results.iter().any(|r| r.outcome == Outcome::Fail)
    }

    /// Outcome counts per vendor.
    pub fn counts(&self) -> BTreeMap<String, BTreeMap<Outcome, usize>> {
        let mut counts: BTreeMap<String, BTreeMap<Outcome, usize>> = BTreeMap::new();
        for r in &self.results {
            *counts
                .entry(r.vendor.clone())
                .or_default()
                .entry(r.outcome)
                .or_default() += 1;
        }
        counts
    }

    /// The terminal's closing table, then every failure.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let outcomes = [
            Outcome::Pass,
            Outcome::Fail,
            Outcome::Skip,
            Outcome::KnownDeviation,
            Outcome::Unreached,
        ];
        out.push_str(&format!(
            "{:<22} {:>6} {:>6} {:>6} {:>16} {:>10} {:>9}\n",
            "vendor", "pass", "fail", "skip", "known-deviation", "unreached", "warnings"
        ));
        let counts = self.counts();
        for info in &self.target {
            let c = counts.get(&info.vendor).cloned().unwrap_or_default();
            let get = |o: Outcome| c.get(&o).copied().unwrap_or(0);
            let warnings = self
                .warnings
                .iter()
                .filter(|w| w.vendor == info.vendor)
                .count();
            out.push_str(&format!(
                "{:<22} {:>6} {:>6} {:>6} {:>16} {:>10} {:>9}\n",
                info.vendor,
                get(outcomes[0]),
                get(outcomes[1]),
                get(outcomes[2]),
                get(outcomes[3]),
                get(outcomes[4]),
                warnings
            ));
        }
        let failures: Vec<&CheckResult> = self
            .results
            .iter()
            .filter(|r| r.outcome == Outcome::Fail)
            .collect();
        if !failures.is_empty() {
            out.push_str(&format!("\n{} failed:\n", failures.len()));
            for f in failures {
                let first = f.detail.lines().next().unwrap_or("");
                out.push_str(&format!(
                    "  {} {} {}: {first}\n",
                    f.vendor, f.operation_id, f.check
                ));
            }
        }
        out
    }
}

/// Escapes text for XML and HTML.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // XML 1.0 forbids most control characters even escaped.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}
