//! The report as markdown (ready to paste as a pull-request comment) or as JSON (for tools).
//!
//! Markdown groups a change made in a shared schema once, listing the operations it reaches, and puts
//! long lists (generated items, documentation edits) in collapsed `<details>` blocks, cut at a length
//! that keeps the comment under GitHub's size limit; the JSON output is never cut.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::{json, Value};

use super::compare::Change;
use super::public_api::Item;
use super::{CrateApi, Report, SpecReport, SpecStatus};

/// Rows of one table, and lines of one collapsed list, shown at most.
const MAX_ROWS: usize = 200;
/// Operations named in one grouped row.
const MAX_OPERATIONS: usize = 8;

fn status_text(status: SpecStatus) -> &'static str {
    match status {
        SpecStatus::Unchanged => "unchanged",
        SpecStatus::Changed => "changed",
        SpecStatus::Added => "added",
        SpecStatus::Removed => "removed",
        SpecStatus::NotCompared => "not compared",
    }
}

/// `1 edit`, `2 edits`.
fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn api_summary(api: &Option<CrateApi>) -> String {
    match api {
        None => "—".to_string(),
        Some(CrateApi::Diff(d)) if d.is_empty() => "no change".to_string(),
        Some(CrateApi::Diff(d)) => format!(
            "+{} −{} ~{}",
            d.added.len(),
            d.removed.len(),
            d.changed.len()
        ),
        Some(CrateApi::Added(n)) => format!("new crate, {n} items"),
        Some(CrateApi::Removed(n)) => format!("crate removed, {n} items"),
        Some(CrateApi::Failed(_)) => "generator failed".to_string(),
    }
}

/// The markdown report.
pub fn markdown(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## API review: `{}` → {}\n",
        report.base,
        if report.head == "working tree" {
            "working tree".to_string()
        } else {
            format!("`{}`", report.head)
        }
    );
    let touched: Vec<&SpecReport> = report
        .specs
        .iter()
        .filter(|s| s.status != SpecStatus::Unchanged)
        .collect();
    let breaking = report.breaking();
    if touched.is_empty() {
        let _ = writeln!(
            out,
            "No spec changed ({} specs compared).",
            report.specs.len()
        );
        return out;
    }
    let headline = if breaking > 0 {
        format!("**{breaking} breaking** of {} changes", report.changes())
    } else {
        format!("**No breaking change** ({} changes)", report.changes())
    };
    let _ = writeln!(
        out,
        "{headline} in {} of {} specs.\n",
        touched.len(),
        report.specs.len()
    );
    let _ = writeln!(
        out,
        "| spec | status | changes | breaking | documentation edits | generated public API |\n| --- | --- | --- | --- | --- | --- |"
    );
    for s in &report.specs {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} |",
            s.stem,
            status_text(s.status),
            s.changes.len(),
            s.breaking(),
            s.prose.len(),
            api_summary(&s.api)
        );
    }
    for s in touched {
        spec_section(&mut out, s);
    }
    let _ = writeln!(
        out,
        "\n<sub>Breaking for *clients*: programs built on the client generated from the base spec. \
         Breaking for *appliances*: appliances that passed the base spec's conformance suite. \
         Rules: `cargo xtask diff --rules`.</sub>"
    );
    out
}

fn spec_section(out: &mut String, s: &SpecReport) {
    let _ = writeln!(
        out,
        "\n### `{}` (specs/{}): {}\n",
        s.stem,
        s.file,
        status_text(s.status)
    );
    if !s.problems.is_empty() {
        let _ = writeln!(out, "Not compared:\n\n```text");
        for p in &s.problems {
            let _ = writeln!(out, "{p}");
        }
        let _ = writeln!(out, "```");
        return;
    }
    let (breaking, other): (Vec<&Change>, Vec<&Change>) =
        s.changes.iter().partition(|c| c.breaking());
    if !breaking.is_empty() {
        let _ = writeln!(out, "#### Breaking\n");
        change_table(out, &breaking);
    }
    if !other.is_empty() {
        let _ = writeln!(out, "\n#### Not breaking\n");
        change_table(out, &other);
    }
    if s.changes.is_empty() {
        let _ = writeln!(out, "No API change.");
    }
    match &s.api {
        Some(CrateApi::Diff(d)) if !d.is_empty() => {
            let _ = writeln!(
                out,
                "\n#### Generated public API of `{}`: {} added, {} removed, {} changed\n",
                s.stem,
                d.added.len(),
                d.removed.len(),
                d.changed.len()
            );
            if !d.removed.is_empty() || !d.changed.is_empty() {
                let _ = writeln!(
                    out,
                    "User code that names a removed or changed item may stop compiling.\n"
                );
            }
            let mut lines: Vec<String> = Vec::new();
            lines.extend(d.removed.iter().map(|i| format!("- {}", i.line())));
            for (before, after) in &d.changed {
                lines.push(format!("- {}", before.line()));
                lines.push(format!("+ {}", after.line()));
            }
            lines.extend(d.added.iter().map(|i: &Item| format!("+ {}", i.line())));
            details(out, &count(lines.len(), "line"), "diff", &lines);
        }
        Some(CrateApi::Diff(_)) => {
            let _ = writeln!(out, "\nGenerated public API of `{}`: no change.", s.stem);
        }
        Some(CrateApi::Failed(e)) => {
            let _ = writeln!(
                out,
                "\nGenerated public API of `{}`: not compared, {}",
                s.stem,
                cell(e)
            );
        }
        Some(other) => {
            let _ = writeln!(
                out,
                "\nGenerated public API of `{}`: {}.",
                s.stem,
                api_summary(&Some(other.clone()))
            );
        }
        None => {}
    }
    if !s.prose.is_empty() {
        let _ = writeln!(out, "\n#### Documentation-only edits (never breaking)\n");
        let lines: Vec<String> = s
            .prose
            .iter()
            .map(|c| format!("{} {}", c.subject, c.detail))
            .collect();
        details(out, &count(lines.len(), "edit"), "text", &lines);
    }
}

/// A table of changes; the same change reached through several operations is one row.
fn change_table(out: &mut String, changes: &[&Change]) {
    let mut groups: BTreeMap<(&str, &str, &str, &str), Vec<&str>> = BTreeMap::new();
    let mut order = Vec::new();
    for c in changes {
        let key = (
            c.rule.id,
            c.place.as_str(),
            c.subject.as_str(),
            c.detail.as_str(),
        );
        let operations = groups.entry(key).or_insert_with(|| {
            order.push(key);
            Vec::new()
        });
        if let Some(op) = &c.operation {
            operations.push(op);
        }
    }
    let _ = writeln!(
        out,
        "| change | operation | where | what | breaks | why |\n| --- | --- | --- | --- | --- | --- |"
    );
    for key in order.iter().take(MAX_ROWS) {
        let (id, place, subject, detail) = *key;
        let rule = super::rules::rule(id);
        let ops = &groups[key];
        let mut operations = ops
            .iter()
            .take(MAX_OPERATIONS)
            .map(|o| format!("`{o}`"))
            .collect::<Vec<_>>()
            .join(", ");
        if ops.len() > MAX_OPERATIONS {
            let _ = write!(operations, " and {} more", ops.len() - MAX_OPERATIONS);
        }
        if ops.is_empty() {
            operations = "(document)".to_string();
        }
        let what = match (subject.is_empty(), detail.is_empty()) {
            (false, false) => format!("`{subject}`: {detail}"),
            (false, true) => format!("`{subject}`"),
            (true, false) => detail.to_string(),
            (true, true) => String::new(),
        };
        let breaks = match (rule.client, rule.appliance) {
            (true, true) => "clients, appliances",
            (true, false) => "clients",
            (false, true) => "appliances",
            (false, false) => "—",
        };
        let _ = writeln!(
            out,
            "| `{id}` | {} | {} | {} | {breaks} | {} |",
            operations,
            cell(place),
            cell(&what),
            cell(rule.why)
        );
    }
    if order.len() > MAX_ROWS {
        let _ = writeln!(
            out,
            "\n{} more rows: see `cargo xtask diff --format json`.",
            order.len() - MAX_ROWS
        );
    }
}

fn details(out: &mut String, summary: &str, language: &str, lines: &[String]) {
    let _ = writeln!(
        out,
        "<details><summary>{summary}</summary>\n\n```{language}"
    );
    for line in lines.iter().take(MAX_ROWS) {
        let _ = writeln!(out, "{line}");
    }
    if lines.len() > MAX_ROWS {
        let _ = writeln!(
            out,
            "… {} more: see `cargo xtask diff --format json`",
            lines.len() - MAX_ROWS
        );
    }
    let _ = writeln!(out, "```\n\n</details>");
}

fn change_json(c: &Change) -> Value {
    json!({
        "rule": c.rule.id,
        "breaking": c.breaking(),
        "breaks_clients": c.rule.client,
        "breaks_appliances": c.rule.appliance,
        "operation": c.operation,
        "place": c.place,
        "subject": c.subject,
        "detail": c.detail,
        "why": c.rule.why,
    })
}

/// The JSON report: everything, uncut.
pub fn json(report: &Report) -> Value {
    let specs: Vec<Value> = report
        .specs
        .iter()
        .map(|s| {
            let api = match &s.api {
                None => Value::Null,
                Some(CrateApi::Diff(d)) => json!({
                    "added": d.added.iter().map(Item::line).collect::<Vec<_>>(),
                    "removed": d.removed.iter().map(Item::line).collect::<Vec<_>>(),
                    "changed": d.changed.iter().map(|(a, b)| json!({"before": a.line(), "after": b.line()})).collect::<Vec<_>>(),
                }),
                Some(CrateApi::Added(n)) => json!({ "crate_added": { "items": n } }),
                Some(CrateApi::Removed(n)) => json!({ "crate_removed": { "items": n } }),
                Some(CrateApi::Failed(e)) => json!({ "error": e }),
            };
            json!({
                "file": format!("specs/{}", s.file),
                "crate": s.stem,
                "status": status_text(s.status),
                "breaking": s.breaking(),
                "problems": s.problems,
                "changes": s.changes.iter().map(change_json).collect::<Vec<_>>(),
                "prose": s.prose.iter().map(|c| json!({"pointer": c.subject, "detail": c.detail})).collect::<Vec<_>>(),
                "public_api": api,
            })
        })
        .collect();
    json!({
        "base": report.base,
        "head": report.head,
        "summary": {
            "changes": report.changes(),
            "breaking": report.breaking(),
            "not_compared": report.specs.iter().filter(|s| s.status == SpecStatus::NotCompared).count(),
        },
        "specs": specs,
    })
}
