//! Initial state: from a YAML file (`--seed state.yaml`), or the emulator's built-in default.
//!
//! Each emulator defines its own seed type (a `serde::Deserialize` struct) and ships its default
//! as a YAML file in its module, so the default is also the documentation of the format: copy it,
//! change it, pass it with `--seed`. The caller (xtask) reads the file; this crate gets its text.

use anyhow::Result;
use serde::de::DeserializeOwned;

use crate::emulators::Source;

/// The seed in `source`, or `default_yaml` (the emulator's built-in seed) when there is none.
pub fn load<T: DeserializeOwned>(source: Option<&Source>, default_yaml: &str) -> Result<T> {
    match source {
        Some(source) => crate::yaml::from_str(&source.text, &source.name),
        None => crate::yaml::from_str(default_yaml, "the built-in seed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Seed {
        names: Vec<String>,
    }

    #[test]
    fn a_file_replaces_the_default() {
        let default: Seed = load(None, "names: [a, b]").unwrap();
        assert_eq!(default.names, ["a", "b"]);
        let file = Source {
            name: "state.yaml".into(),
            text: "names: [c]".into(),
        };
        let loaded: Seed = load(Some(&file), "names: [a, b]").unwrap();
        assert_eq!(loaded.names, ["c"]);
        let broken = Source {
            name: "state.yaml".into(),
            text: "names: 5".into(),
        };
        let error = format!(
            "{:#}",
            load::<Seed>(Some(&broken), "names: []").unwrap_err()
        );
        assert!(error.contains("state.yaml"), "{error}");
    }
}
