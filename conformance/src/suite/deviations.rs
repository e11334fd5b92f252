//! Known deviations: reviewed differences of a real appliance from the spec, one file per vendor
//! (`conformance/known-deviations/<vendor>.toml`). A failing check that one of them matches is
//! reported as `known-deviation` with its reason, never hidden.
//!
//! ```toml
//! [[deviation]]
//! operationId = "GetBackups"        # or "*"
//! check = "schema"                  # or "*"
//! contains = "/backups/0/size"      # optional: only failures whose detail contains this
//! reason = "LXCA 4.1 answers size as a string; fixed in 4.2 (case 12345)"
//! ```

use serde::Deserialize;

use super::report::{CheckResult, Outcome};

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Deviation {
    #[serde(rename = "operationId")]
    pub operation_id: String,
    pub check: String,
    #[serde(default)]
    pub contains: Option<String>,
    pub reason: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    deviation: Vec<Deviation>,
}

/// Reads a deviations file; `name` is for messages.
pub fn parse(text: &str, name: &str) -> anyhow::Result<Vec<Deviation>> {
    let file: File = toml::from_str(text).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
    for (i, d) in file.deviation.iter().enumerate() {
        if d.reason.trim().is_empty() {
            anyhow::bail!("{name}: deviation {} has no reason", i + 1);
        }
    }
    Ok(file.deviation)
}

/// Marks the failures a deviation accepts.
pub fn apply(results: &mut [CheckResult], deviations: &[Deviation]) {
    for r in results.iter_mut().filter(|r| r.outcome == Outcome::Fail) {
        if let Some(d) = deviations.iter().find(|d| {
            (d.operation_id == "*" || d.operation_id == r.operation_id)
                && (d.check == "*" || d.check == r.check)
                && d.contains
                    .as_ref()
                    .is_none_or(|c| r.detail.contains(c.as_str()))
        }) {
            r.outcome = Outcome::KnownDeviation;
            r.detail = format!("accepted: {}\n{}", d.reason, r.detail);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_matching_deviation_turns_a_failure_into_a_known_deviation() {
        let deviations = parse(
            "[[deviation]]\noperationId = \"GetBackups\"\ncheck = \"schema\"\ncontains = \"/size\"\nreason = \"string sizes\"\n",
            "lxca.toml",
        )
        .unwrap();
        let failure = |op: &str, detail: &str| CheckResult {
            vendor: "lxca".into(),
            operation_id: op.into(),
            check: "schema".into(),
            outcome: Outcome::Fail,
            detail: detail.into(),
        };
        let mut results = vec![
            failure("GetBackups", "at /0/size: not an integer"),
            failure("GetBackups", "at /0/name"),
            failure("GetJobs", "/size"),
        ];
        apply(&mut results, &deviations);
        assert_eq!(results[0].outcome, Outcome::KnownDeviation);
        assert!(results[0].detail.starts_with("accepted: string sizes"));
        assert_eq!(results[1].outcome, Outcome::Fail);
        assert_eq!(results[2].outcome, Outcome::Fail);
        assert!(parse(
            "[[deviation]]\noperationId = \"x\"\ncheck = \"y\"\nreason = \" \"\n",
            "f"
        )
        .is_err());
        assert!(parse("[[deviation]]\nop = 1\n", "f").is_err());
    }
}
