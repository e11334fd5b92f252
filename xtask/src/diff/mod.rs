//! `cargo xtask diff <base-ref> [--head <ref>] [--format markdown|json] [--fail-on-breaking]`: what a
//! change to `specs/` does to the API, for review.
//!
//! A reviewer of a spec change sees a YAML diff and a large generated-code diff; this command says
//! what they mean. For every spec in `specs/` at two revisions (the head defaults to the working
//! tree), it lists the API changes, each classified as breaking or not for users of the generated
//! client and for appliances checked by the conformance suite, with the rule that made the call
//! (`rules.rs`); documentation-only edits (`prose.rs`); and what was added, removed or changed in the
//! generated crate's public API (`public_api.rs`).
//!
//! The modules, one concept each:
//! - `revision.rs`: the spec files of a git ref or of the working tree;
//! - `model.rs`: a spec's JSON value as a normalized API model, `$ref`s resolved;
//! - `compare.rs`: two models to classified changes; `rules.rs`: the classification table;
//! - `prose.rs`: documentation-only edits;
//! - `public_api.rs`: the generated crates' public items and their difference;
//! - `render.rs`: markdown (a pull-request comment) and JSON (for tools).
//!
//! A spec that does not load at one revision is reported with the loader's diagnostics, which name
//! the revision and the file (`HEAD~1:specs/lxca.yaml:12: error: ...`), and is not compared. The exit
//! code is non-zero when a head spec does not load, and with `--fail-on-breaking` when anything is
//! breaking or could not be compared.

mod compare;
mod model;
mod prose;
mod public_api;
mod render;
mod revision;
mod rules;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};

pub use compare::Change;
use public_api::ApiDiff;
pub use revision::Revision;

const USAGE: &str = "usage: cargo xtask diff <base-ref> [--head <ref>] [--format markdown|json] \
                     [--fail-on-breaking] [--repo DIR]\n       cargo xtask diff --rules";

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Json,
}

/// What happened to one spec between the two revisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecStatus {
    Unchanged,
    Changed,
    Added,
    Removed,
    /// One side does not load (see `problems`); nothing was compared.
    NotCompared,
}

/// The public API difference of a spec's generated crate.
#[derive(Debug, Clone)]
pub enum CrateApi {
    Diff(ApiDiff),
    /// A new crate with this many public items.
    Added(usize),
    /// A crate that disappears with this many public items.
    Removed(usize),
    /// The generator failed on one side.
    Failed(String),
}

/// The review of one spec.
#[derive(Debug, Clone)]
pub struct SpecReport {
    /// `lxca.yaml`.
    pub file: String,
    /// `lxca`: the crate name.
    pub stem: String,
    pub status: SpecStatus,
    /// API changes, document-level first, then by operation.
    pub changes: Vec<Change>,
    /// Documentation-only edits.
    pub prose: Vec<Change>,
    /// Why the spec could not be compared: diagnostics naming the revision and file.
    pub problems: Vec<String>,
    /// True when a problem is in the head revision (the change under review is broken).
    pub head_broken: bool,
    pub api: Option<CrateApi>,
}

impl SpecReport {
    pub fn breaking(&self) -> usize {
        self.changes.iter().filter(|c| c.breaking()).count()
    }
}

/// The whole review.
#[derive(Debug, Clone)]
pub struct Report {
    pub base: String,
    pub head: String,
    pub specs: Vec<SpecReport>,
}

impl Report {
    pub fn breaking(&self) -> usize {
        self.specs.iter().map(SpecReport::breaking).sum()
    }

    pub fn changes(&self) -> usize {
        self.specs.iter().map(|s| s.changes.len()).sum()
    }
}

struct Args {
    base: Revision,
    head: Revision,
    format: Format,
    fail_on_breaking: bool,
    repo: PathBuf,
}

fn parse_args(args: &[String]) -> Result<Option<Args>> {
    let mut base = None;
    let mut head = Revision::WorkingTree;
    let mut format = Format::Markdown;
    let mut fail_on_breaking = false;
    let mut repo = crate::project::root();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .cloned()
                .with_context(|| format!("{arg} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--rules" => return Ok(None),
            "--head" => head = Revision::Git(value()?),
            "--format" => {
                format = match value()?.as_str() {
                    "markdown" | "md" => Format::Markdown,
                    "json" => Format::Json,
                    other => bail!("unknown format `{other}` (markdown or json)"),
                }
            }
            "--fail-on-breaking" => fail_on_breaking = true,
            "--repo" => repo = PathBuf::from(value()?),
            flag if flag.starts_with('-') => bail!("unknown argument `{flag}`\n{USAGE}"),
            r if base.is_none() => base = Some(Revision::Git(r.to_string())),
            extra => bail!("unexpected argument `{extra}`\n{USAGE}"),
        }
    }
    let Some(base) = base else {
        bail!("no base revision given\n{USAGE}");
    };
    Ok(Some(Args {
        base,
        head,
        format,
        fail_on_breaking,
        repo,
    }))
}

/// Runs the command. Returns false when the exit code must be non-zero.
pub fn run(args: &[String]) -> Result<bool> {
    let Some(args) = parse_args(args)? else {
        print!("{}", rules::markdown_table());
        return Ok(true);
    };
    let base_specs = revision::specs(&args.repo, &args.base)?;
    let head_specs = revision::specs(&args.repo, &args.head)?;
    let names: BTreeSet<&String> = base_specs.keys().chain(head_specs.keys()).collect();
    let specs = names
        .into_iter()
        .map(|name| {
            review_spec(
                name,
                (&args.base, base_specs.get(name)),
                (&args.head, head_specs.get(name)),
            )
        })
        .collect();
    let report = Report {
        base: args.base.label(),
        head: args.head.label(),
        specs,
    };
    match args.format {
        Format::Markdown => print!("{}", render::markdown(&report)),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&render::json(&report)).expect("JSON values serialize")
        ),
    }
    let not_compared = report
        .specs
        .iter()
        .filter(|s| s.status == SpecStatus::NotCompared)
        .count();
    eprintln!(
        "cargo xtask diff {} → {}: {} changes, {} breaking, {} specs not compared",
        report.base,
        report.head,
        report.changes(),
        report.breaking(),
        not_compared
    );
    for spec in report.specs.iter().filter(|s| !s.problems.is_empty()) {
        for problem in &spec.problems {
            eprintln!("{problem}");
        }
    }
    let head_broken = report.specs.iter().any(|s| s.head_broken);
    if head_broken {
        eprintln!("failing: a spec does not load at the head revision");
    }
    let failed = args.fail_on_breaking && (report.breaking() > 0 || not_compared > 0);
    if failed {
        eprintln!(
            "failing (--fail-on-breaking): breaking changes, or specs that could not be compared"
        );
    }
    Ok(!head_broken && !failed)
}

/// A revision and the spec's text there (absent when the file does not exist at that revision).
type SpecAt<'a> = (&'a Revision, Option<&'a Result<String, String>>);

/// Loads a spec's text; on failure, the problems as lines naming the revision and file.
fn load(
    revision: &Revision,
    name: &str,
    text: &Result<String, String>,
) -> Result<codegen::Spec, Vec<String>> {
    let label = revision.file_label(name);
    let text = text
        .as_ref()
        .map_err(|e| vec![format!("{label}: error: {e}")])?;
    codegen::load(&label, text).map_err(|diagnostics| {
        let mut lines = vec![format!(
            "{label} does not load at {}, so it was not compared:",
            revision.label()
        )];
        lines.extend(diagnostics.iter().map(ToString::to_string));
        lines
    })
}

/// Compares one spec file between the two revisions.
pub fn review_spec(name: &str, base: SpecAt, head: SpecAt) -> SpecReport {
    let stem = name.strip_suffix(".yaml").unwrap_or(name).to_string();
    let mut report = SpecReport {
        file: name.to_string(),
        stem: stem.clone(),
        status: SpecStatus::Unchanged,
        changes: Vec::new(),
        prose: Vec::new(),
        problems: Vec::new(),
        head_broken: false,
        api: None,
    };
    if let (Some(a), Some(b)) = (base.1, head.1) {
        if a == b {
            return report;
        }
    }
    let loaded_base = base.1.map(|t| load(base.0, name, t));
    let loaded_head = head.1.map(|t| load(head.0, name, t));
    for (loaded, is_head) in [(&loaded_base, false), (&loaded_head, true)] {
        if let Some(Err(problems)) = loaded {
            report.problems.extend(problems.iter().cloned());
            report.status = SpecStatus::NotCompared;
            report.head_broken |= is_head;
        }
    }
    if report.status == SpecStatus::NotCompared {
        return report;
    }
    // The generated code is compared as `cargo xtask regenerate` writes it: named after the
    // working-tree path, so both sides have the same header.
    let items = |spec: &codegen::Spec| {
        let mut spec = spec.clone();
        spec.file = format!("specs/{name}");
        public_api::items_of_spec(&stem, &spec)
    };
    match (loaded_base, loaded_head) {
        (Some(Ok(old)), Some(Ok(new))) => {
            report.status = SpecStatus::Changed;
            let (a, b) = (
                model::ApiModel::build(old.value()),
                model::ApiModel::build(new.value()),
            );
            report.changes = compare::compare(&a, &b);
            report.prose = prose::changes(old.value(), new.value());
            report.api = Some(match (items(&old), items(&new)) {
                (Ok(x), Ok(y)) => CrateApi::Diff(public_api::diff(&x, &y)),
                (Err(e), _) => CrateApi::Failed(format!("{}: {e}", base.0.label())),
                (_, Err(e)) => CrateApi::Failed(format!("{}: {e}", head.0.label())),
            });
        }
        (None, Some(Ok(new))) => {
            report.status = SpecStatus::Added;
            report.changes = whole_spec(&new, "spec-added", "operation-added");
            report.api = Some(match items(&new) {
                Ok(x) => CrateApi::Added(x.len()),
                Err(e) => CrateApi::Failed(e),
            });
        }
        (Some(Ok(old)), None) => {
            report.status = SpecStatus::Removed;
            report.changes = whole_spec(&old, "spec-removed", "operation-removed");
            report.api = Some(match items(&old) {
                Ok(x) => CrateApi::Removed(x.len()),
                Err(e) => CrateApi::Failed(e),
            });
        }
        _ => {}
    }
    report
}

/// A spec added or removed as a whole: one change for the spec, one per operation.
fn whole_spec(spec: &codegen::Spec, spec_rule: &str, operation_rule: &str) -> Vec<Change> {
    let model = model::ApiModel::build(spec.value());
    let mut changes = vec![Change {
        rule: rules::rule(spec_rule),
        operation: None,
        place: "spec".to_string(),
        subject: String::new(),
        detail: format!("{} operations", model.operations.len()),
    }];
    for (id, op) in &model.operations {
        changes.push(Change {
            rule: rules::rule(operation_rule),
            operation: Some(id.clone()),
            place: String::new(),
            subject: String::new(),
            detail: format!("{} {}", op.method, op.path),
        });
    }
    changes
}
