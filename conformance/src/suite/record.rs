//! Recordings: every exchange of a run, redacted, one JSON object per line after a header line;
//! `--replay` serves one as a target.

use serde::{Deserialize, Serialize};

use super::exchange::Exchange;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordingHeader {
    pub vendor: String,
    /// What was recorded (`https://host`, `embedded emulator`).
    pub target: String,
    pub mutations: bool,
    /// The base path the API was served under.
    pub base_path: String,
    /// The run id the recorded run named what it created with; a replay uses it again so that
    /// its scenarios look for the same names.
    #[serde(default)]
    pub run_id: String,
}

#[derive(Debug, Clone)]
pub struct Recording {
    pub header: RecordingHeader,
    pub exchanges: Vec<Exchange>,
}

impl Recording {
    pub fn to_jsonl(&self) -> String {
        let mut out = serde_json::to_string(&self.header).unwrap_or_default();
        out.push('\n');
        for e in &self.exchanges {
            out.push_str(&serde_json::to_string(e).unwrap_or_default());
            out.push('\n');
        }
        out
    }

    /// Reads a recording; `name` is for messages.
    pub fn from_jsonl(text: &str, name: &str) -> anyhow::Result<Recording> {
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        let (_, first) = lines
            .next()
            .ok_or_else(|| anyhow::anyhow!("{name}: empty recording"))?;
        let header: RecordingHeader =
            serde_json::from_str(first).map_err(|e| anyhow::anyhow!("{name}:1: {e}"))?;
        let mut exchanges = Vec::new();
        for (i, line) in lines {
            exchanges.push(
                serde_json::from_str(line).map_err(|e| anyhow::anyhow!("{name}:{}: {e}", i + 1))?,
            );
        }
        Ok(Recording { header, exchanges })
    }
}
