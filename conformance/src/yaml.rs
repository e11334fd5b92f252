//! Reading the emulators' YAML files (`--seed`, `--faults`) into serde types.
//!
//! YAML is read with `yaml-rust2` (already the workspace's YAML parser) and turned into
//! `serde_json::Value`, so every file format is a plain `serde::Deserialize` type and the same
//! structure can be written as JSON.

use anyhow::{anyhow, bail, Context, Result};
use serde::de::DeserializeOwned;
use serde_json::{Map, Number, Value};
use yaml_rust2::{Yaml, YamlLoader};

/// Parses one YAML document into `T`; `what` names the file in errors.
pub fn from_str<T: DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    let docs = YamlLoader::load_from_str(text).with_context(|| format!("{what}: invalid YAML"))?;
    let value = match docs.into_iter().next() {
        Some(doc) => to_json(doc).with_context(|| what.to_string())?,
        None => Value::Object(Map::new()),
    };
    serde_path_to_error(value).with_context(|| what.to_string())
}

fn serde_path_to_error<T: DeserializeOwned>(value: Value) -> Result<T> {
    serde_json::from_value(value).map_err(|e| anyhow!("{e}"))
}

/// YAML to JSON: mappings need string (or scalar) keys; aliases are resolved by the loader.
pub fn to_json(yaml: Yaml) -> Result<Value> {
    Ok(match yaml {
        Yaml::Null | Yaml::BadValue => Value::Null,
        Yaml::Boolean(b) => Value::Bool(b),
        Yaml::Integer(i) => Value::Number(i.into()),
        Yaml::Real(text) => {
            let f: f64 = text
                .parse()
                .map_err(|_| anyhow!("invalid number `{text}`"))?;
            Number::from_f64(f)
                .map(Value::Number)
                .ok_or_else(|| anyhow!("number `{text}` is not finite"))?
        }
        Yaml::String(s) => Value::String(s),
        Yaml::Array(items) => Value::Array(items.into_iter().map(to_json).collect::<Result<_>>()?),
        Yaml::Hash(map) => {
            let mut object = Map::new();
            for (k, v) in map {
                let key = match k {
                    Yaml::String(s) => s,
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::Boolean(b) => b.to_string(),
                    Yaml::Real(r) => r,
                    other => bail!("unsupported mapping key {other:?}"),
                };
                object.insert(key, to_json(v)?);
            }
            Value::Object(object)
        }
        Yaml::Alias(_) => bail!("unresolved YAML alias"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_becomes_json() {
        let v: Value = from_str("a: 1\nb: [x, 2.5, true, null]\nc: {d: e}\n", "t").unwrap();
        assert_eq!(
            v,
            serde_json::json!({"a": 1, "b": ["x", 2.5, true, null], "c": {"d": "e"}})
        );
        let empty: Value = from_str("", "t").unwrap();
        assert_eq!(empty, serde_json::json!({}));
        assert!(from_str::<Value>("a: [", "t").is_err());
    }
}
