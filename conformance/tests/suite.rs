//! The conformance suite against the embedded emulators, as `cargo xtask conformance` runs it by
//! default: every check must pass (unreached statuses are listed, not failed), and the request
//! and response shapes must match the reviewed snapshots (`cargo insta review` after a change).
//!
//! `CONFORMANCE_VENDOR=lxca` runs one vendor only (while writing scenarios);
//! `CONFORMANCE_VERBOSE=1` prints every result that is not a pass, and the warnings.

use conformance::emulators::Vendor;
use conformance::suite::report::Outcome;
use conformance::suite::{run, Options, Target, TargetKind};

fn vendors() -> Vec<Vendor> {
    match std::env::var("CONFORMANCE_VENDOR") {
        Ok(name) => vec![Vendor::from_name(&name).expect("a vendor name")],
        Err(_) => Vendor::ALL.to_vec(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_suite_passes_against_the_embedded_emulators() {
    let outcome = run(Options {
        targets: vendors()
            .into_iter()
            .map(|vendor| Target {
                vendor,
                kind: TargetKind::Embedded,
                credentials: None,
            })
            .collect(),
        run_id: "test".into(),
        ..Options::default()
    })
    .await
    .unwrap();
    let report = &outcome.report;
    let failures: Vec<String> = report
        .results
        .iter()
        .filter(|r| r.outcome == Outcome::Fail)
        .map(|r| {
            format!(
                "{} {} {}:\n{}\n",
                r.vendor, r.operation_id, r.check, r.detail
            )
        })
        .collect();
    eprintln!("{}", report.summary());
    if std::env::var_os("CONFORMANCE_VERBOSE").is_some() {
        for r in report.results.iter().filter(|r| r.outcome != Outcome::Pass) {
            eprintln!(
                "{} {} {} [{}]: {}",
                r.vendor,
                r.operation_id,
                r.check,
                r.outcome.name(),
                r.detail
            );
        }
        for w in &report.warnings {
            eprintln!("warning {} {}: {}", w.vendor, w.operation_id, w.detail);
        }
    }
    for target in &outcome.targets {
        insta::assert_json_snapshot!(format!("shapes-{}", target.info.vendor), target.shapes);
    }
    assert!(
        failures.is_empty(),
        "{}\n{}",
        report.summary(),
        failures.join("\n")
    );
}
