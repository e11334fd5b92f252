//! `report.html`: per vendor, a matrix of operations × checks coloured by outcome, failing
//! details inline, then the warnings. One self-contained file, no scripts.

use std::collections::{BTreeMap, BTreeSet};

use super::{escape, CheckResult, Outcome, Report};

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}\
table{border-collapse:collapse;margin-bottom:2em;font-size:13px}\
th,td{border:1px solid #ccc;padding:3px 6px;vertical-align:top}\
th{background:#f4f4f4;position:sticky;top:0}\
td.pass{background:#d8f5d8}td.fail{background:#f9caca}td.skip{background:#eee;color:#666}\
td.known-deviation{background:#fde9b5}td.unreached{background:#e3e3fb}\
td.none{background:#fff}details{max-width:60em}pre{white-space:pre-wrap;font-size:12px}\
.legend span{padding:2px 8px;margin-right:6px;border:1px solid #ccc}";

/// Checks shown as columns, in this order; `status NNN` checks are folded into one column.
fn column_of(check: &str) -> String {
    if check.starts_with("status ") {
        "documented statuses".to_string()
    } else if let Some(rest) = check.strip_prefix("scenario ") {
        let _ = rest;
        "scenarios".to_string()
    } else {
        check.to_string()
    }
}

pub fn html(report: &Report) -> String {
    let mut out = String::new();
    out.push_str(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Conformance report</title>",
    );
    out.push_str(&format!(
        "<style>{STYLE}</style></head><body>\n<h1>Conformance report</h1>\n"
    ));
    out.push_str("<p class=\"legend\">");
    for o in [
        Outcome::Pass,
        Outcome::Fail,
        Outcome::Skip,
        Outcome::KnownDeviation,
        Outcome::Unreached,
    ] {
        out.push_str(&format!(
            "<span class=\"{0}\" style=\"display:inline-block\"><b>{0}</b></span>",
            o.name()
        ));
    }
    out.push_str(&format!(
        "</p><p>{} checks in {:.1} s.</p>\n",
        report.results.len(),
        report.elapsed_ms as f64 / 1000.0
    ));
    out.push_str("<pre>");
    out.push_str(&escape(&report.summary()));
    out.push_str("</pre>\n");
    for info in &report.target {
        out.push_str(&format!(
            "<h2>{} <small>({}{})</small></h2>\n",
            escape(&info.vendor),
            escape(&info.target),
            if info.mutations {
                ", mutations allowed"
            } else {
                ""
            }
        ));
        let results: Vec<&CheckResult> = report
            .results
            .iter()
            .filter(|r| r.vendor == info.vendor)
            .collect();
        let columns: BTreeSet<String> = results.iter().map(|r| column_of(&r.check)).collect();
        let mut rows: BTreeMap<&str, BTreeMap<String, Vec<&CheckResult>>> = BTreeMap::new();
        for r in &results {
            rows.entry(r.operation_id.as_str())
                .or_default()
                .entry(column_of(&r.check))
                .or_default()
                .push(r);
        }
        out.push_str("<table><tr><th>operation</th>");
        for c in &columns {
            out.push_str(&format!("<th>{}</th>", escape(c)));
        }
        out.push_str("</tr>\n");
        for (op, cells) in &rows {
            out.push_str(&format!("<tr><td><code>{}</code></td>", escape(op)));
            for c in &columns {
                match cells.get(c) {
                    None => out.push_str("<td class=\"none\"></td>"),
                    Some(list) => {
                        let worst = list
                            .iter()
                            .map(|r| r.outcome)
                            .max_by_key(|o| severity(*o))
                            .unwrap_or(Outcome::Pass);
                        out.push_str(&format!("<td class=\"{}\">", worst.name()));
                        out.push_str(&cell(list));
                        out.push_str("</td>");
                    }
                }
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</table>\n");
        let warnings: Vec<_> = report
            .warnings
            .iter()
            .filter(|w| w.vendor == info.vendor)
            .collect();
        if !warnings.is_empty() {
            out.push_str(&format!("<h3>Warnings ({})</h3><ul>\n", warnings.len()));
            for w in warnings {
                out.push_str(&format!(
                    "<li><code>{}</code> {}: {}</li>\n",
                    escape(&w.operation_id),
                    escape(&w.kind),
                    escape(&w.detail)
                ));
            }
            out.push_str("</ul>\n");
        }
    }
    out.push_str("</body></html>\n");
    out
}

fn severity(o: Outcome) -> u8 {
    match o {
        Outcome::Pass => 0,
        Outcome::Skip => 1,
        Outcome::Unreached => 2,
        Outcome::KnownDeviation => 3,
        Outcome::Fail => 4,
    }
}

fn cell(list: &[&CheckResult]) -> String {
    let mut out = String::new();
    for r in list {
        let label = if list.len() > 1 || r.check.starts_with("status ") {
            format!(
                "{} ",
                r.check
                    .trim_start_matches("status ")
                    .trim_start_matches("scenario ")
            )
        } else {
            String::new()
        };
        match r.outcome {
            Outcome::Pass if r.detail.is_empty() => {
                out.push_str(&format!("{}{}<br>", escape(&label), "✓"))
            }
            Outcome::Pass => out.push_str(&format!(
                "<details><summary>{}✓</summary><pre>{}</pre></details>",
                escape(&label),
                escape(&r.detail)
            )),
            other => out.push_str(&format!(
                "<details{}><summary>{}{}</summary><pre>{}</pre></details>",
                if other == Outcome::Fail { " open" } else { "" },
                escape(&label),
                other.name(),
                escape(&r.detail)
            )),
        }
    }
    out
}
