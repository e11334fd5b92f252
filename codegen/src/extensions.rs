//! The vendor extensions our specs declare (`x-job`, `x-validation-error`, ...), as typed values.
//!
//! `specs/README.md` is the prose contract; these types are its machine form. Lint reads them to check
//! that every name they hold exists; the generator and the emulators read them to act.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// `x-job`: the operation starts work that finishes later.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Job {
    pub handle: JobHandle,
    pub poll: OperationParameter,
    pub state: JobState,
    pub states: JobStates,
    #[serde(default, deserialize_with = "string_list_map")]
    pub transitions: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub cancel: Option<OperationParameter>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobHandle {
    #[serde(deserialize_with = "stringish")]
    pub status: String,
    #[serde(rename = "in")]
    pub location: HandleLocation,
    #[serde(default)]
    pub pointer: Option<String>,
    #[serde(default)]
    pub header: Option<String>,
    #[serde(default)]
    pub format: HandleFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HandleLocation {
    Body,
    Header,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HandleFormat {
    /// The handle is the value to pass to the poll operation's parameter.
    #[default]
    Id,
    /// The handle is a URL whose path ends with the poll operation's path.
    Url,
}

/// An operation and the parameter of it that receives a job handle.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OperationParameter {
    pub operation_id: String,
    pub parameter: String,
    /// Other parameters of that operation, filled from the starting request's parameters
    /// (`{poll parameter: starting request parameter}`), for polls that need more than the handle.
    #[serde(default)]
    pub from_request: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobState {
    #[serde(rename = "in")]
    pub location: StateLocation,
    #[serde(default)]
    pub pointer: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StateLocation {
    /// A field of the poll response body.
    Body,
    /// The HTTP status of the poll response.
    Status,
}

/// Every state of a job, grouped by meaning.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobStates {
    #[serde(deserialize_with = "string_list")]
    pub running: Vec<String>,
    #[serde(deserialize_with = "string_list")]
    pub succeeded: Vec<String>,
    #[serde(deserialize_with = "string_list")]
    pub failed: Vec<String>,
    #[serde(default, deserialize_with = "string_list")]
    pub cancelled: Vec<String>,
    #[serde(default, deserialize_with = "string_list")]
    pub expired: Vec<String>,
}

/// What a state means to someone waiting for the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StateMeaning {
    Running,
    Succeeded,
    Failed,
    Cancelled,
    Expired,
}

impl JobStates {
    /// Every state with its meaning, in declaration order.
    pub fn all(&self) -> Vec<(&str, StateMeaning)> {
        let groups = [
            (&self.running, StateMeaning::Running),
            (&self.succeeded, StateMeaning::Succeeded),
            (&self.failed, StateMeaning::Failed),
            (&self.cancelled, StateMeaning::Cancelled),
            (&self.expired, StateMeaning::Expired),
        ];
        groups
            .into_iter()
            .flat_map(|(states, meaning)| states.iter().map(move |s| (s.as_str(), meaning)))
            .collect()
    }

    pub fn meaning(&self, state: &str) -> Option<StateMeaning> {
        self.all()
            .into_iter()
            .find(|(s, _)| *s == state)
            .map(|(_, m)| m)
    }
}

/// One rule of `x-validation-error`: how the vendor answers a request that fails validation.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ValidationErrorRule {
    #[serde(default)]
    pub when: Vec<RequestPart>,
    #[serde(deserialize_with = "stringish")]
    pub status: String,
    pub content_type: String,
    pub template: Value,
}

impl ValidationErrorRule {
    pub fn applies_to(&self, part: RequestPart) -> bool {
        self.when.is_empty() || self.when.contains(&part)
    }

    /// The template with `{message}` replaced in every string.
    pub fn render(&self, message: &str) -> Value {
        fn fill(v: &Value, message: &str) -> Value {
            match v {
                Value::String(s) => Value::String(s.replace("{message}", message)),
                Value::Array(items) => {
                    Value::Array(items.iter().map(|i| fill(i, message)).collect())
                }
                Value::Object(map) => Value::Object(
                    map.iter()
                        .map(|(k, v)| (k.clone(), fill(v, message)))
                        .collect(),
                ),
                other => other.clone(),
            }
        }
        fill(&self.template, message)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestPart {
    Path,
    Query,
    Header,
    Cookie,
    Body,
}

/// Reads an extension value at `pointer` into `T`, or says what is wrong with it and where.
pub fn parse<T: serde::de::DeserializeOwned>(value: &Value) -> Result<T, (String, String)> {
    serde_path_to_error::deserialize::<_, T>(value).map_err(|e| {
        let mut pointer = String::new();
        for segment in e.path().iter() {
            match segment {
                serde_path_to_error::Segment::Seq { index } => {
                    pointer.push_str(&format!("/{index}"))
                }
                serde_path_to_error::Segment::Map { key } => {
                    pointer = crate::source::push_token(&pointer, key)
                }
                _ => {}
            }
        }
        (pointer, e.inner().to_string())
    })
}

/// Status codes and states may be written unquoted in YAML (`503`); they are strings here.
fn stringish<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!(
            "expected a string, found {other}"
        ))),
    }
}

fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let values = Vec::<Value>::deserialize(d)?;
    values
        .into_iter()
        .map(|v| match v {
            Value::String(s) => Ok(s),
            Value::Number(n) => Ok(n.to_string()),
            other => Err(serde::de::Error::custom(format!(
                "expected a string, found {other}"
            ))),
        })
        .collect()
}

fn string_list_map<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    struct List(#[serde(deserialize_with = "string_list")] Vec<String>);
    let map = BTreeMap::<String, List>::deserialize(d)?;
    Ok(map.into_iter().map(|(k, List(v))| (k, v)).collect())
}
