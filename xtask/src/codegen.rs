//! `cargo xtask regenerate [--check]` and `cargo xtask generate`: the IO around `codegen`.
//!
//! Like rust-analyzer's xtask: files are written only when their content changed, `--check` fails
//! naming every stale file and the command that fixes it, and a test runs the check so plain
//! `cargo test` catches generated code that was not regenerated.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::project;

/// Generated files of one spec, ready to be compared or written.
struct Output {
    spec: PathBuf,
    dir: PathBuf,
    files: Vec<codegen::emit::File>,
    warnings: Vec<String>,
}

fn generate_files(spec: &Path, dir: &Path) -> Result<Output> {
    let text =
        std::fs::read_to_string(spec).with_context(|| format!("reading {}", spec.display()))?;
    let shown = project::display(spec);
    let loaded = match codegen::load(&shown, &text) {
        Ok(loaded) => loaded,
        Err(diagnostics) => {
            let lines: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
            bail!("{shown} does not load:\n{}", lines.join("\n"));
        }
    };
    let api = codegen::ir::lower(&loaded);
    let warnings = api
        .warnings
        .iter()
        .map(|w| {
            format!(
                "{shown}:{}: warning: #{}: {}",
                loaded.source.line_of(&w.pointer),
                w.pointer,
                w.message
            )
        })
        .collect();
    let files = codegen::emit::files(&api, &shown).map_err(|e| anyhow::anyhow!("{shown}: {e}"))?;
    Ok(Output {
        spec: spec.to_path_buf(),
        dir: dir.to_path_buf(),
        files,
        warnings,
    })
}

/// Regenerates the checked-in generated code: `generated/<stem>/` for every vendor spec in `specs/`,
/// and `codegen/tests/generated/<stem>/` for every generator fixture spec in `codegen/tests/specs/`.
/// In check mode nothing is written; returns false when anything is stale.
pub fn regenerate(check: bool) -> Result<bool> {
    let mut stale = Vec::new();
    let sets = [
        (project::specs()?, project::root().join("generated")),
        (
            project::fixture_specs()?,
            project::root().join("codegen/tests/generated"),
        ),
    ];
    for (specs, crates) in sets {
        for spec in specs {
            let stem = spec
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_string();
            let crate_dir = crates.join(&stem);
            if !crate_dir.join("Cargo.toml").is_file() {
                bail!(
                    "{} has no crate: create {} (Cargo.toml and src/lib.rs, like generated/lxca/)",
                    project::display(&spec),
                    project::display(&crate_dir)
                );
            }
            let output = generate_files(&spec, &crate_dir.join("src/generated"))?;
            for w in &output.warnings {
                eprintln!("{w}");
            }
            stale.extend(sync(&output, check)?);
        }
    }
    if stale.is_empty() {
        return Ok(true);
    }
    if check {
        eprintln!("generated code is stale:");
        for path in &stale {
            eprintln!("  {}", project::display(path));
        }
        eprintln!("run `cargo xtask regenerate` and commit the result");
        Ok(false)
    } else {
        for path in &stale {
            eprintln!("updated {}", project::display(path));
        }
        Ok(true)
    }
}

/// Brings `output.dir` in line with `output.files`, writing only what changed and removing generated
/// files no spec produces any more. Returns the paths that differed.
fn sync(output: &Output, check: bool) -> Result<Vec<PathBuf>> {
    let mut differing = Vec::new();
    for file in &output.files {
        let path = output.dir.join(&file.name);
        if std::fs::read_to_string(&path).ok().as_deref() == Some(file.contents.as_str()) {
            continue;
        }
        differing.push(path.clone());
        if !check {
            std::fs::create_dir_all(&output.dir)?;
            std::fs::write(&path, &file.contents)
                .with_context(|| format!("writing {}", path.display()))?;
        }
    }
    if output.dir.is_dir() {
        for entry in std::fs::read_dir(&output.dir)? {
            let path = entry?.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            if path.is_file() && !output.files.iter().any(|f| f.name == name) {
                differing.push(path.clone());
                if !check {
                    std::fs::remove_file(&path)?;
                }
            }
        }
    }
    let _ = &output.spec;
    Ok(differing)
}

/// `cargo xtask generate --spec F --out D [--name N]`: a standalone crate for any OpenAPI 3.0 document.
pub fn generate(args: &[String]) -> Result<bool> {
    let mut spec = None;
    let mut out = None;
    let mut name = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .cloned()
                .with_context(|| format!("{arg} needs a value"))
        };
        match arg.as_str() {
            "--spec" => spec = Some(PathBuf::from(value()?)),
            "--out" => out = Some(PathBuf::from(value()?)),
            "--name" => name = Some(value()?),
            other => bail!("unknown argument `{other}` (usage: cargo xtask generate --spec FILE --out DIR [--name CRATE])"),
        }
    }
    let (Some(spec), Some(out)) = (spec, out) else {
        bail!("usage: cargo xtask generate --spec FILE --out DIR [--name CRATE]");
    };
    let name = name.unwrap_or_else(|| {
        spec.file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("api")
            .to_string()
    });
    let crate_name = crate_name(&name);
    let output = generate_files(&spec, &out.join("src/generated"))?;
    for w in &output.warnings {
        eprintln!("{w}");
    }
    std::fs::create_dir_all(out.join("src"))?;
    let out_abs = std::fs::canonicalize(&out)?;
    let runtime = project::root().join("codegen/runtime");
    let runtime = relative(&out_abs, &runtime).unwrap_or(runtime);
    let manifest = format!(
        "# Generated by `cargo xtask generate` from {spec}.\n[package]\nname = \"{crate_name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\n[lib]\ndoctest = false\n\n[features]\ndefault = [\"client\"]\nclient = [\"codegen-runtime/client\"]\nserver = [\"codegen-runtime/server\"]\ntype-registry = []\n\n[dependencies]\ncodegen-runtime = {{ path = \"{runtime}\", default-features = false }}\nserde = {{ version = \"1\", features = [\"derive\"] }}\nserde_json = \"1\"\n\n# A crate of its own, even when generated inside another workspace.\n[workspace]\n",
        spec = spec.display(),
        runtime = runtime.display(),
    );
    std::fs::write(out.join("Cargo.toml"), manifest)?;
    std::fs::write(
        out.join("src/lib.rs"),
        format!(
            "//! Generated by `cargo xtask generate` from {}.\n\n#[rustfmt::skip]\nmod generated;\n\npub use generated::*;\n#[cfg(feature = \"client\")]\npub use generated::client::Client;\n",
            spec.display()
        ),
    )?;
    sync(&output, false)?;
    eprintln!("wrote crate `{crate_name}` to {}", out.display());
    Ok(true)
}

fn crate_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if cleaned.starts_with(|c: char| c.is_ascii_alphabetic()) {
        cleaned
    } else {
        format!("api-{cleaned}")
    }
}

/// `to` relative to `from` when both are absolute.
fn relative(from: &Path, to: &Path) -> Option<PathBuf> {
    let from: Vec<_> = from.components().collect();
    let to_parts: Vec<_> = to.components().collect();
    let common = from
        .iter()
        .zip(&to_parts)
        .take_while(|(a, b)| a == b)
        .count();
    if common == 0 {
        return None;
    }
    let mut out = PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    for part in &to_parts[common..] {
        out.push(part);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    /// Plain `cargo test` fails when checked-in generated code is stale.
    #[test]
    fn generated_code_is_fresh() {
        assert!(
            super::regenerate(true).unwrap(),
            "generated code is stale: run `cargo xtask regenerate`"
        );
    }
}
