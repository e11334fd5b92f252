//! The suite against emulators served over real sockets, as it runs against an appliance
//! (`--target vendor=URL`): TLS verified unless asked, read-only without mutations, and what a
//! mutating run creates is gone at the end. The emulators run on the real clock with job times cut
//! to fractions of a second, since a live run waits in real time.

use conformance::emulators::{ibm, lxca, zstack, Environment, Vendor};
use conformance::ids::IdMode;
use conformance::serve::{serve, Server, Transport};
use conformance::suite::report::{Outcome, Report};
use conformance::suite::scenarios::Credentials;
use conformance::suite::{run, Options, RunOutcome, Target, TargetKind};

/// Serves `vendor`'s emulator with fast jobs on 127.0.0.1; returns the server and its base URL.
async fn serve_fast(vendor: Vendor) -> (Server, String) {
    serve_fast_in(vendor, Environment::real(IdMode::Deterministic)).await
}

async fn serve_fast_in(vendor: Vendor, env: Environment) -> (Server, String) {
    let (router, transport) = match vendor {
        Vendor::ZStack => {
            let mut options = zstack::Options::default();
            options.seed.jobs.reconnect_secs = 0.2;
            options.seed.jobs.delete_secs = 0.2;
            (
                zstack::ZStack::new(env, options).unwrap().service(),
                Transport::Http,
            )
        }
        Vendor::Lxca => {
            let mut options = lxca::Options::default();
            let jobs = &mut options.seed.jobs;
            jobs.copy_secs = 0.2;
            jobs.move_secs = 0.2;
            jobs.push_secs = 0.4;
            jobs.apply_secs = 0.2;
            (
                lxca::Lxca::new(env, options).unwrap().service(),
                Transport::Https,
            )
        }
        Vendor::IbmBackupRecovery => {
            let mut options = ibm::Options::default();
            let timing = &mut options.seed.timing;
            // Long enough for the cancel scenario to find the run still going.
            timing.run_accepted_secs = 0.5;
            timing.run_duration_secs = 2.0;
            timing.recovery_accepted_secs = 0.1;
            timing.recovery_duration_secs = 0.3;
            timing.upgrade_duration_secs = 0.3;
            (
                ibm::Ibm::new(env, options).unwrap().service(),
                Transport::Https,
            )
        }
    };
    let server = serve(router, "127.0.0.1:0".parse().unwrap(), transport)
        .await
        .unwrap();
    let url = server.url(vendor.base_path());
    (server, url)
}

async fn live_run(
    vendor: Vendor,
    url: &str,
    insecure: bool,
    allow_mutations: bool,
    run_id: &str,
) -> RunOutcome {
    run(Options {
        targets: vec![Target {
            vendor,
            kind: TargetKind::Live {
                url: url.to_string(),
                insecure,
            },
            credentials: Some(Credentials::emulator(vendor)),
        }],
        allow_mutations,
        run_id: run_id.into(),
        poll_interval: Some(std::time::Duration::from_millis(100)),
        ..Options::default()
    })
    .await
    .unwrap()
}

/// A read-only run afterwards lists nothing named with `run_id`: `what` cleaned up after itself.
async fn assert_nothing_left(vendor: Vendor, url: &str, run_id: &str, what: &str) {
    let after = live_run(vendor, url, true, false, "check").await;
    for e in &after.targets[0].unredacted {
        if let Some(r) = &e.response {
            let body = String::from_utf8_lossy(&r.body);
            assert!(
                !body.contains(&format!("conformance-{run_id}")),
                "{vendor:?}: {} {} still lists what {what} created: {body}",
                e.request.method,
                e.request.path
            );
        }
    }
}

fn failures(report: &Report) -> Vec<String> {
    report
        .results
        .iter()
        .filter(|r| r.outcome == Outcome::Fail)
        .map(|r| format!("{} {} {}: {}", r.vendor, r.operation_id, r.check, r.detail))
        .collect()
}

/// Operations a read-only run may send besides reads.
const SAFE: &[&str] = &[
    "LogInByAccount",
    "CreateSession",
    "DeleteSession",
    "SearchObjects",
    "SearchIndexedObjects",
    "GetRestorePointsInTimeRange",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_live_run_sends_no_mutation_and_passes() {
    for vendor in Vendor::ALL {
        let (_server, url) = serve_fast(vendor).await;
        let outcome = live_run(vendor, &url, true, false, "ro").await;
        let report = &outcome.report;
        assert!(
            failures(report).is_empty(),
            "{vendor:?}:\n{}",
            failures(report).join("\n")
        );
        assert!(
            report.results.iter().any(|r| r.outcome == Outcome::Pass),
            "{vendor:?}"
        );
        let spec = conformance::suite::spec::ApiSpec::load(vendor).unwrap();
        for e in &outcome.targets[0].unredacted {
            let path = e
                .request
                .path
                .strip_prefix(vendor.base_path())
                .unwrap_or(&e.request.path);
            let Some((op, _)) = spec.find(&e.request.method, path) else {
                continue;
            };
            assert!(
                op.read_only || SAFE.contains(&op.id.as_str()),
                "{vendor:?}: a read-only run sent {} {}",
                e.request.method,
                e.request.path
            );
        }
        // Mutating scenarios are reported as skipped, with the reason.
        assert!(
            report
                .results
                .iter()
                .any(|r| r.outcome == Outcome::Skip && r.detail.contains("--allow-mutations")),
            "{vendor:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_signed_certificate_is_refused_unless_insecure() {
    let (_server, url) = serve_fast(Vendor::Lxca).await;
    let outcome = live_run(Vendor::Lxca, &url, false, false, "tls").await;
    let all = failures(&outcome.report).join("\n");
    assert!(!all.is_empty());
    assert!(all.to_lowercase().contains("certificate"), "{all}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mutating_live_run_passes_and_leaves_nothing_behind() {
    for vendor in Vendor::ALL {
        let (server, url) = serve_fast(vendor).await;
        let run_id = "cleanup1";
        let outcome = live_run(vendor, &url, true, true, run_id).await;
        assert!(
            failures(&outcome.report).is_empty(),
            "{vendor:?}:\n{}",
            failures(&outcome.report).join("\n")
        );
        // Whatever the run created carried its run id; a read-only run afterwards lists nothing with it.
        assert_nothing_left(vendor, &url, run_id, "the run").await;
        drop(server);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_run_cleans_up_what_it_created() {
    let vendor = Vendor::Lxca;
    let env = Environment::real(IdMode::Deterministic);
    // Polls of the import job hang for a while, so the interruption finds the scenario waiting,
    // after it created its job and file, whatever the machine's speed.
    env.faults
        .add(
            "GetJob",
            conformance::faults::FaultRule {
                latency_ms: Some(5_000),
                ..Default::default()
            },
        )
        .unwrap();
    let (_server, url) = serve_fast_in(vendor, env.clone()).await;
    let (cancel, cancelled) = tokio::sync::watch::channel(false);
    let run_id = "interrupted1";
    let options = Options {
        targets: vec![Target {
            vendor,
            kind: TargetKind::Live {
                url: url.clone(),
                insecure: true,
            },
            credentials: Some(Credentials::emulator(vendor)),
        }],
        allow_mutations: true,
        run_id: run_id.into(),
        poll_interval: Some(std::time::Duration::from_millis(100)),
        cancel: Some(cancelled),
        only: Some("os-image-import".into()),
        ..Options::default()
    };
    let running = tokio::spawn(run(options));
    // Interrupt once the scenario has created its import job and file, as Ctrl-C would: it creates
    // them first, then waits for the import to end.
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    cancel.send(true).expect("the run is still going");
    let outcome = running.await.unwrap().unwrap();
    env.faults.clear();
    let report = &outcome.report;
    // It had created something: a file uploaded into an import job; cleanup deleted the image.
    let sent = |method: &str, prefix: &str| {
        outcome.targets[0].unredacted.iter().any(|e| {
            e.request.method == method && e.request.path.starts_with(prefix) && e.response.is_some()
        })
    };
    assert!(
        sent("POST", "/osImages"),
        "the import job was created before the interruption"
    );
    // The scenario running at the interruption stopped there (a failure: the run did not finish).
    let stopped: Vec<_> = report
        .results
        .iter()
        .filter(|r| {
            r.outcome == Outcome::Fail && r.detail.contains("the scenario stopped: interrupted")
        })
        .collect();
    assert_eq!(stopped.len(), 1, "{}", report.summary());
    eprintln!("interrupted in {}", stopped[0].check);
    assert_nothing_left(vendor, &url, run_id, "the interrupted run").await;
}
