//! One request and its answer, as the tap saw them on the wire, and the log of a run's exchanges.
//!
//! Exchanges hold credentials as sent (the auth checks re-send requests without them); everything
//! that leaves the process goes through [`crate::suite::redact::Redactor`] first.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// A request as sent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RecordedRequest {
    pub method: String,
    /// The path as sent, base path included (`/zstack/v1/backup-storage`).
    pub path: String,
    /// The raw query string, without `?`; empty when there is none.
    #[serde(default)]
    pub query: String,
    /// Headers in the order sent; names lower-case.
    pub headers: Vec<(String, String)>,
    #[serde(with = "body_text")]
    pub body: Bytes,
}

/// An answer as received.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RecordedResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    #[serde(with = "body_text")]
    pub body: Bytes,
}

impl RecordedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// The query's pairs, percent-decoded.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .into_owned()
            .collect()
    }
}

impl RecordedResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// The body as JSON, when it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        if self.body.is_empty() {
            return None;
        }
        serde_json::from_slice(&self.body).ok()
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// A request, its answer (`None`: no answer: the connection failed), and where it came from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Exchange {
    /// Order in the run, from 0.
    pub seq: usize,
    /// The scenario that sent it (`auth` for the auth checks' requests).
    pub scenario: String,
    pub request: RecordedRequest,
    pub response: Option<RecordedResponse>,
    /// What went wrong when there is no answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(with = "millis")]
    pub elapsed: Duration,
}

/// The exchanges of one target's run, in order, and the scenario now running.
#[derive(Debug, Default)]
pub struct Log {
    inner: Mutex<LogInner>,
}

#[derive(Debug, Default)]
struct LogInner {
    scenario: String,
    exchanges: Vec<Exchange>,
}

impl Log {
    pub fn new() -> Arc<Log> {
        Arc::new(Log::default())
    }

    /// Exchanges from now on belong to `scenario`.
    pub fn set_scenario(&self, scenario: &str) {
        self.inner.lock().unwrap().scenario = scenario.to_string();
    }

    /// The scenario now running.
    pub fn scenario(&self) -> String {
        self.inner.lock().unwrap().scenario.clone()
    }

    pub fn push(
        &self,
        request: RecordedRequest,
        response: Result<RecordedResponse, String>,
        elapsed: Duration,
    ) {
        let mut inner = self.inner.lock().unwrap();
        let seq = inner.exchanges.len();
        let scenario = inner.scenario.clone();
        let (response, error) = match response {
            Ok(r) => (Some(r), None),
            Err(e) => (None, Some(e)),
        };
        inner.exchanges.push(Exchange {
            seq,
            scenario,
            request,
            response,
            error,
            elapsed,
        });
    }

    pub fn len(&self) -> usize {
        self.inner.lock().unwrap().exchanges.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every exchange so far.
    pub fn snapshot(&self) -> Vec<Exchange> {
        self.inner.lock().unwrap().exchanges.clone()
    }

    /// The last exchange from `start` on that `matches`.
    pub fn last_since(
        &self,
        start: usize,
        matches: impl Fn(&Exchange) -> bool,
    ) -> Option<Exchange> {
        let inner = self.inner.lock().unwrap();
        inner.exchanges[start.min(inner.exchanges.len())..]
            .iter()
            .rev()
            .find(|e| matches(e))
            .cloned()
    }

    /// The exchanges from `start` on.
    pub fn since(&self, start: usize) -> Vec<Exchange> {
        self.inner.lock().unwrap().exchanges[start..].to_vec()
    }
}

/// Bodies are stored as UTF-8 text when they are text, else as `base64:<...>`.
mod body_text {
    use base64::Engine;
    use bytes::Bytes;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(body: &Bytes, s: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(body) {
            Ok(text) if !text.starts_with("base64:") => s.serialize_str(text),
            _ => s.serialize_str(&format!(
                "base64:{}",
                base64::engine::general_purpose::STANDARD.encode(body)
            )),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
        let text = String::deserialize(d)?;
        match text.strip_prefix("base64:") {
            Some(encoded) => base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map(Bytes::from)
                .map_err(serde::de::Error::custom),
            None => Ok(Bytes::from(text)),
        }
    }
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}
