//! `cargo xtask lint`: load every spec, run codegen's lint with the spec's fixtures, print sorted
//! diagnostics, fail on any error.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use codegen::lint::Fixture;
use codegen::Diagnostic;

use crate::project;

pub fn run(args: &[String]) -> Result<bool> {
    let specs: Vec<PathBuf> = if args.is_empty() {
        project::specs()?
    } else {
        args.iter().map(PathBuf::from).collect()
    };
    let mut diagnostics = Vec::new();
    for spec in &specs {
        diagnostics.extend(lint_file(spec)?);
    }
    codegen::diagnostic::sort(&mut diagnostics);
    for d in &diagnostics {
        println!("{d}");
    }
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    eprintln!("lint: {} spec(s), {errors} error(s), {warnings} warning(s)", specs.len());
    Ok(errors == 0)
}

/// Lints one spec file together with `specs/fixtures/<stem>/responses/<operationId>.json`.
pub fn lint_file(path: &Path) -> Result<Vec<Diagnostic>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let name = project::display(path);
    let spec = match codegen::load(&name, &text) {
        Ok(spec) => spec,
        Err(diagnostics) => return Ok(diagnostics),
    };
    let fixtures = read_fixtures(path)?;
    let fixtures: Vec<Fixture<'_>> = fixtures
        .iter()
        .map(|(file, operation_id, text)| Fixture { file, operation_id, text })
        .collect();
    Ok(codegen::lint::lint(&spec, &fixtures))
}

fn read_fixtures(spec: &Path) -> Result<Vec<(String, String, String)>> {
    let Some(stem) = spec.file_stem().and_then(|s| s.to_str()) else {
        return Ok(Vec::new());
    };
    let dir = spec.with_file_name("fixtures").join(stem).join("responses");
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let operation_id = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        out.push((project::display(&path), operation_id, text));
    }
    out.sort();
    Ok(out)
}
