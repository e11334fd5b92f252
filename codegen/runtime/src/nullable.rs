//! Serde support for optional *and* nullable fields, `Option<Option<T>>`: absent (`None`), present
//! as `null` (`Some(None)`) and present with a value (`Some(Some(v))`) are three different things to
//! an API (leave a setting alone, clear it, set it). Plain serde folds the first two together.
//!
//! Generated structs use it as
//! `#[serde(default, skip_serializing_if = "Option::is_none", with = "::codegen_runtime::nullable")]`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Serializes `Some(None)` as `null` and `Some(Some(v))` as `v` (`None` is skipped by the field's
/// `skip_serializing_if`).
pub fn serialize<T: Serialize, S: Serializer>(
    value: &Option<Option<T>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(inner) => inner.serialize(serializer),
        None => serializer.serialize_none(),
    }
}

/// Called only when the field is present: `null` becomes `Some(None)`.
pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Patch {
        #[serde(default, skip_serializing_if = "Option::is_none", with = "super")]
        name: Option<Option<String>>,
    }

    #[test]
    fn absent_null_and_value_stay_distinct() {
        for (json, value) in [
            ("{}", Patch { name: None }),
            (r#"{"name":null}"#, Patch { name: Some(None) }),
            (
                r#"{"name":"x"}"#,
                Patch {
                    name: Some(Some("x".into())),
                },
            ),
        ] {
            assert_eq!(serde_json::from_str::<Patch>(json).unwrap(), value);
            assert_eq!(serde_json::to_string(&value).unwrap(), json);
        }
    }
}
