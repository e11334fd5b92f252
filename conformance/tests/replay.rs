//! Record and replay: a run's recording, written and read back, served as the target, gives a run
//! with the same verdicts (scenarios that need the emulator itself are skipped on a replay).

use std::collections::BTreeMap;
use std::sync::Arc;

use conformance::emulators::Vendor;
use conformance::suite::record::Recording;
use conformance::suite::report::Outcome;
use conformance::suite::{run, Options, Target, TargetKind};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_replays_to_the_same_verdicts() {
    let recorded = run(Options {
        targets: Vendor::ALL
            .into_iter()
            .map(|vendor| Target {
                vendor,
                kind: TargetKind::Embedded,
                credentials: None,
            })
            .collect(),
        run_id: "rec".into(),
        ..Options::default()
    })
    .await
    .unwrap();
    let mut targets = Vec::new();
    for t in &recorded.targets {
        let text = recorded.redactor.scrub(&t.recording.to_jsonl());
        let back = Recording::from_jsonl(&text, "recording").unwrap();
        assert_eq!(back.exchanges.len(), t.recording.exchanges.len());
        assert!(text.contains("[redacted:"));
        targets.push(Target {
            vendor: Vendor::from_name(&t.info.vendor).unwrap(),
            kind: TargetKind::Replay(Arc::new(back)),
            credentials: None,
        });
    }
    let replayed = run(Options {
        targets,
        run_id: "rec".into(),
        ..Options::default()
    })
    .await
    .unwrap();
    let failures: Vec<String> = replayed
        .report
        .results
        .iter()
        .filter(|r| r.outcome == Outcome::Fail)
        .map(|r| format!("{} {} {}: {}", r.vendor, r.operation_id, r.check, r.detail))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Every check that ran on the replay has the recorded run's verdict.
    let verdicts: BTreeMap<(String, String, String), Outcome> = recorded
        .report
        .results
        .iter()
        .map(|r| {
            (
                (r.vendor.clone(), r.operation_id.clone(), r.check.clone()),
                r.outcome,
            )
        })
        .collect();
    let mut compared = 0;
    for r in &replayed.report.results {
        if r.outcome == Outcome::Pass {
            let key = (r.vendor.clone(), r.operation_id.clone(), r.check.clone());
            assert_eq!(verdicts.get(&key), Some(&Outcome::Pass), "{key:?}");
            compared += 1;
        }
    }
    assert!(
        compared > 500,
        "only {compared} checks passed on the replay"
    );
    assert!(replayed
        .report
        .target
        .iter()
        .all(|t| t.target.starts_with("replay of")));
}
