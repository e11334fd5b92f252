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
    eprintln!(
        "lint: {} spec(s), {errors} error(s), {warnings} warning(s)",
        specs.len()
    );
    Ok(errors == 0)
}

/// Lints one spec file together with `specs/fixtures/<stem>/responses/<operationId>.json`.
pub fn lint_file(path: &Path) -> Result<Vec<Diagnostic>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let name = project::display(path);
    let spec = match codegen::load(&name, &text) {
        Ok(spec) => spec,
        Err(diagnostics) => return Ok(diagnostics),
    };
    let fixtures = read_fixtures(path)?;
    let fixtures: Vec<Fixture<'_>> = fixtures
        .iter()
        .map(|(file, operation_id, text)| Fixture {
            file,
            operation_id,
            text,
        })
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
        let operation_id = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        out.push((project::display(&path), operation_id, text));
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plain `cargo test` fails when a spec stops passing lint, not only `cargo xtask lint`.
    #[test]
    fn every_spec_passes_lint() {
        let specs = project::specs().unwrap();
        assert!(
            specs.len() >= 3,
            "expected the three vendor specs, found {specs:?}"
        );
        let mut errors = Vec::new();
        for spec in &specs {
            errors.extend(
                lint_file(spec)
                    .unwrap()
                    .into_iter()
                    .filter(|d| d.is_error()),
            );
        }
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert!(errors.is_empty(), "lint errors:\n{}", shown.join("\n"));
    }

    #[test]
    fn fixture_problems_are_reported_in_the_fixture_file() {
        let dir = std::env::temp_dir().join(format!("xtask-lint-{}", std::process::id()));
        let responses = dir.join("fixtures/mini/responses");
        std::fs::create_dir_all(&responses).unwrap();
        std::fs::write(
            dir.join("mini.yaml"),
            "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      operationId: GetA\n      responses:\n        '200':\n          description: ok\n          content:\n            application/json:\n              schema:\n                type: object\n                properties:\n                  n: {type: integer}\n",
        )
        .unwrap();
        std::fs::write(responses.join("GetA.json"), "{\n  \"n\": \"seven\"\n}\n").unwrap();
        std::fs::write(responses.join("GetB.json"), "{}").unwrap();
        let found: Vec<String> = lint_file(&dir.join("mini.yaml"))
            .unwrap()
            .iter()
            .map(|d| {
                format!(
                    "{}|{}|{}",
                    d.file.rsplit('/').next().unwrap(),
                    d.line,
                    d.pointer
                )
            })
            .collect();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(found, ["GetA.json|2|/n", "GetB.json|1|"]);
    }
}
