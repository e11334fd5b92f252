//! Where things are in this repository.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The workspace root (the parent of `xtask/`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// The vendor specs, `specs/*.yaml`, sorted by name.
pub fn specs() -> Result<Vec<PathBuf>> {
    yaml_files(&root().join("specs"))
}

/// The generator's fixture specs, `codegen/tests/specs/*.yaml`, sorted by name.
pub fn fixture_specs() -> Result<Vec<PathBuf>> {
    let dir = root().join("codegen/tests/specs");
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    yaml_files(&dir)
}

fn yaml_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut specs: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    specs.sort();
    Ok(specs)
}

/// `path` as shown to people: relative to the workspace root when it is inside it.
pub fn display(path: &Path) -> String {
    let root = root();
    path.strip_prefix(&root)
        .unwrap_or(path)
        .display()
        .to_string()
}
