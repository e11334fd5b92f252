//! JUnit XML: one test suite per vendor, one test case per operation and check.

use super::{escape, Outcome, Report};

pub fn junit(report: &Report) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let failures = report
        .results
        .iter()
        .filter(|r| r.outcome == Outcome::Fail)
        .count();
    out.push_str(&format!(
        "<testsuites name=\"conformance\" tests=\"{}\" failures=\"{failures}\" time=\"{:.3}\">\n",
        report.results.len(),
        report.elapsed_ms as f64 / 1000.0
    ));
    for info in &report.target {
        let results: Vec<_> = report
            .results
            .iter()
            .filter(|r| r.vendor == info.vendor)
            .collect();
        let count = |o: Outcome| results.iter().filter(|r| r.outcome == o).count();
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\">\n",
            escape(&info.vendor),
            results.len(),
            count(Outcome::Fail),
            count(Outcome::Skip) + count(Outcome::Unreached) + count(Outcome::KnownDeviation)
        ));
        out.push_str(&format!(
            "    <properties><property name=\"target\" value=\"{}\"/></properties>\n",
            escape(&info.target)
        ));
        for r in results {
            out.push_str(&format!(
                "    <testcase classname=\"{}.{}\" name=\"{}\"",
                escape(&r.vendor),
                escape(&r.operation_id),
                escape(&r.check)
            ));
            match r.outcome {
                Outcome::Pass => out.push_str("/>\n"),
                Outcome::Fail => out.push_str(&format!(
                    ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>\n",
                    escape(r.detail.lines().next().unwrap_or("")),
                    escape(&r.detail)
                )),
                other => out.push_str(&format!(
                    ">\n      <skipped message=\"{}: {}\"/>\n    </testcase>\n",
                    other.name(),
                    escape(r.detail.lines().next().unwrap_or(""))
                )),
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}
