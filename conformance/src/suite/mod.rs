//! The conformance suite: scenarios drive the generated clients against a target through a
//! recording tap; the checks then read what crossed it.
//!
//! - [`spec`]: the operations, schemas and `x-job`s of each vendor's spec.
//! - [`tap`] and [`exchange`]: the recording forwarder and what it records.
//! - [`scenarios`]: per vendor, what the suite does.
//! - [`checks`], [`jobs`], [`probes`]: what must hold (statuses, schemas, drift, shapes, job
//!   transitions, auth refusals, injected faults).
//! - [`redact`]: secrets out of everything written.
//! - [`report`], [`record`], [`deviations`]: outputs and reviewed inputs.
//!
//! `run` takes a set of targets and runs them concurrently; the CLI (`cargo xtask conformance`)
//! does the file IO around it.

pub mod checks;
pub mod deviations;
pub mod exchange;
pub mod jobs;
pub mod probes;
pub mod record;
pub mod redact;
pub mod report;
pub mod scenarios;
mod schema_walk;
pub mod shape;
pub mod spec;
pub mod tap;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::emulators::{self, Environment, Vendor};
use crate::serve::Transport;
use deviations::Deviation;
use exchange::Log;
use record::{Recording, RecordingHeader};
use redact::Redactor;
use report::{CheckResult, Outcome, Report, TargetInfo, Warning};
use scenarios::{Credentials, Ctx, EmulatorHandle, Pace};
use spec::ApiSpec;
use tap::{Tap, TapOptions, Upstream};

/// What to run against.
#[derive(Debug, Clone)]
pub enum TargetKind {
    /// The vendor's emulator, in-process: virtual clock, deterministic ids.
    Embedded,
    /// A live appliance (or an emulator served by `cargo xtask emulate`) at `url`, the API's
    /// base URL (`https://host`, `http://host:8080/zstack`).
    Live { url: String, insecure: bool },
    /// A recording, served as the target.
    Replay(Arc<Recording>),
}

#[derive(Debug, Clone)]
pub struct Target {
    pub vendor: Vendor,
    pub kind: TargetKind,
    /// `None`: the emulator's fixed credentials.
    pub credentials: Option<Credentials>,
}

/// How to run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub targets: Vec<Target>,
    /// Let scenarios that change state run on live targets.
    pub allow_mutations: bool,
    /// Reviewed shapes per vendor (the insta snapshot's content).
    pub snapshots: BTreeMap<Vendor, Value>,
    /// Known deviations per vendor (applied to live and replayed targets).
    pub deviations: BTreeMap<Vendor, Vec<Deviation>>,
    /// Tags what a run creates.
    pub run_id: String,
    /// At most this many requests per second reach a live appliance.
    pub rate_limit: Option<f64>,
    /// On live targets, the time between polls of a job, overriding the scenarios' own.
    pub poll_interval: Option<Duration>,
    /// Only scenarios whose name contains this.
    pub only: Option<String>,
    /// Progress lines on stderr.
    pub progress: bool,
    /// Flips to true on Ctrl-C: the run stops, cleans up what it created, and reports.
    pub cancel: Option<tokio::sync::watch::Receiver<bool>>,
}

/// One target's results.
#[derive(Clone)]
pub struct TargetOutcome {
    pub info: TargetInfo,
    pub results: Vec<CheckResult>,
    pub warnings: Vec<Warning>,
    /// The shapes seen (the snapshot's content).
    pub shapes: Value,
    /// Every exchange, redacted.
    pub recording: Recording,
    /// Every exchange as sent, credentials included: in memory only, for tests that check
    /// that none of it reaches an output. Never write it.
    pub unredacted: Vec<exchange::Exchange>,
}

#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub report: Report,
    pub targets: Vec<TargetOutcome>,
    /// Scrubs every secret the run saw: pass any text the caller writes through it.
    pub redactor: Arc<Redactor>,
}

impl std::fmt::Debug for TargetOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TargetOutcome")
            .field("info", &self.info)
            .field("results", &self.results.len())
            .field("warnings", &self.warnings.len())
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Redactor")
    }
}

/// Runs every target concurrently.
pub async fn run(options: Options) -> anyhow::Result<RunOutcome> {
    let started = Instant::now();
    let redactor = Arc::new(Redactor::default());
    let options = Arc::new(options);
    let mut tasks = Vec::new();
    for target in options.targets.clone() {
        let options = options.clone();
        let redactor = redactor.clone();
        tasks.push(tokio::spawn(async move {
            run_target(target, &options, &redactor).await
        }));
    }
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(
            task.await
                .map_err(|e| anyhow::anyhow!("a target's run panicked: {e}"))??,
        );
    }
    let mut report = Report {
        elapsed_ms: started.elapsed().as_millis() as u64,
        ..Report::default()
    };
    for o in &outcomes {
        report.target.push(o.info.clone());
        report.results.extend(o.results.iter().cloned());
        report.warnings.extend(o.warnings.iter().cloned());
    }
    // Anything the checks quoted (bodies, paths) goes through the scrubber once more.
    for r in &mut report.results {
        r.detail = redactor.scrub(&r.detail);
    }
    for w in &mut report.warnings {
        w.detail = redactor.scrub(&w.detail);
    }
    Ok(RunOutcome {
        report,
        targets: outcomes,
        redactor,
    })
}

/// `[lxca] [######--------------] 3/10 copy-backup`: the terminal's progress on live runs (one
/// line per scenario, so that several targets running at once stay readable).
fn progress_line(vendor: &str, done: usize, total: usize, scenario: &str) -> String {
    const WIDTH: usize = 20;
    let filled = (done * WIDTH).checked_div(total).unwrap_or(WIDTH);
    format!(
        "[{vendor}] [{}{}] {}/{total} {scenario}",
        "#".repeat(filled),
        "-".repeat(WIDTH - filled),
        done + 1
    )
}

/// Operations a read-only run may still call: logins and reads sent with POST.
fn safe_without_mutations(vendor: Vendor, operation_id: &str) -> bool {
    let safe: &[&str] = match vendor {
        Vendor::ZStack => &["LogInByAccount"],
        Vendor::Lxca => &["CreateSession", "DeleteSession"],
        Vendor::IbmBackupRecovery => &[
            "SearchObjects",
            "SearchIndexedObjects",
            "GetRestorePointsInTimeRange",
        ],
    };
    safe.contains(&operation_id)
}

struct Prepared {
    upstream: Upstream,
    emulator: Option<EmulatorHandle>,
    pace: Pace,
    live: bool,
    description: String,
    base_path: String,
    job_deadline: Duration,
}

/// The vendor's emulator with its built-in seed; credentials given with the target replace the
/// seed's first user's (and the second user's), so a test can plant its own secrets.
fn embedded_service(
    target: &Target,
    env: &Environment,
) -> anyhow::Result<emulators::front::Application> {
    use emulators::{ibm, lxca, zstack};
    Ok(match (target.vendor, &target.credentials) {
        (Vendor::ZStack, credentials) => {
            let mut options = zstack::Options::default();
            if let Some(Credentials::ZStack { account, password }) = credentials {
                let first = &mut options.seed.accounts[0];
                first.name = account.clone();
                first.password = password.clone();
            }
            zstack::ZStack::new(env.clone(), options)?.service()
        }
        (Vendor::Lxca, credentials) => {
            let mut options = lxca::Options {
                transport: Transport::Http,
                ..Default::default()
            };
            if let Some(Credentials::Lxca {
                user,
                password,
                second,
            }) = credentials
            {
                options.seed.users[0].name = user.clone();
                options.seed.users[0].password = password.clone();
                if let (Some((name, password)), Some(seed)) =
                    (second, options.seed.users.get_mut(1))
                {
                    seed.name = name.clone();
                    seed.password = password.clone();
                }
            }
            lxca::Lxca::new(env.clone(), options)?.service()
        }
        (Vendor::IbmBackupRecovery, credentials) => {
            let mut options = ibm::Options::default();
            if let Some(Credentials::Ibm {
                api_key, tenant, ..
            }) = credentials
            {
                options.api_key = Some(api_key.clone());
                options.tenant = Some(tenant.clone());
            }
            ibm::Ibm::new(env.clone(), options)?.service()
        }
    })
}

fn prepare(target: &Target) -> anyhow::Result<Prepared> {
    match &target.kind {
        TargetKind::Embedded => {
            let env = Environment::for_tests();
            let service = embedded_service(target, &env)?;
            Ok(Prepared {
                upstream: Upstream::Emulator(service),
                emulator: Some(EmulatorHandle {
                    clock: env.clock.clone(),
                    faults: env.faults.clone(),
                }),
                pace: Pace::Virtual(env.clock.clone()),
                live: false,
                description: "embedded emulator".into(),
                base_path: target.vendor.base_path().into(),
                job_deadline: Duration::from_secs(3600),
            })
        }
        TargetKind::Live { url, insecure } => {
            let parsed = url::Url::parse(url)
                .map_err(|e| anyhow::anyhow!("--target {}={url}: {e}", target.vendor.name()))?;
            let origin = parsed.origin().ascii_serialization();
            let client = reqwest::Client::builder()
                .danger_accept_invalid_certs(*insecure)
                .timeout(Duration::from_secs(120))
                .redirect(reqwest::redirect::Policy::none())
                .build()?;
            // IBM's IAM goes through the tap too, so that its exchanges are recorded.
            let elsewhere = match &target.credentials {
                Some(Credentials::Ibm {
                    iam_url: Some(iam), ..
                }) => vec![(emulators::ibm::TOKEN_PATH.to_string(), iam.clone())],
                _ => Vec::new(),
            };
            Ok(Prepared {
                upstream: Upstream::Remote {
                    origin,
                    client,
                    elsewhere,
                },
                emulator: None,
                pace: Pace::Real,
                live: true,
                description: url.clone(),
                base_path: parsed.path().trim_end_matches('/').to_string(),
                job_deadline: Duration::from_secs(900),
            })
        }
        TargetKind::Replay(recording) => Ok(Prepared {
            upstream: Upstream::Replay(Arc::new(tap::Replay::new(
                recording.exchanges.iter().filter_map(|e| {
                    e.response
                        .clone()
                        .map(|r| (e.scenario.clone(), e.request.clone(), r))
                }),
            ))),
            emulator: None,
            pace: Pace::Instant,
            live: true,
            description: format!("replay of {}", recording.header.target),
            base_path: recording.header.base_path.clone(),
            // Nothing waits on a replay, and a recorded job may have needed many polls; a job whose
            // recording never ends gives up after this many intervals' worth of instant polls.
            job_deadline: Duration::from_secs(6 * 3600),
        }),
    }
}

async fn run_target(
    target: Target,
    options: &Options,
    redactor: &Arc<Redactor>,
) -> anyhow::Result<TargetOutcome> {
    let vendor = target.vendor;
    let mut spec = ApiSpec::load(vendor)?;
    let prepared = prepare(&target)?;
    spec.base_path = prepared.base_path.clone();
    let spec = Arc::new(spec);
    let warm = {
        let spec = spec.clone();
        tokio::task::spawn_blocking(move || spec.warm_up())
    };
    let mutations = match &target.kind {
        TargetKind::Embedded => true,
        TargetKind::Live { .. } => options.allow_mutations,
        TargetKind::Replay(r) => r.header.mutations,
    };
    let credentials = target
        .credentials
        .clone()
        .unwrap_or_else(|| Credentials::emulator(vendor));
    redactor.ignore_words(&spec.doc);
    for secret in credentials.secrets() {
        redactor.learn(&secret);
    }
    let log = Log::new();
    let guard: Option<tap::Guard> = if prepared.live
        && !mutations
        && !matches!(target.kind, TargetKind::Replay(_))
    {
        let spec = spec.clone();
        Some(Arc::new(move |request: &exchange::RecordedRequest| {
            if request.path == emulators::ibm::TOKEN_PATH {
                return Ok(());
            }
            match spec.find(
                &request.method,
                &redact::relative_path(&spec, &request.path),
            ) {
                Some((op, _)) if op.read_only || safe_without_mutations(spec.vendor, &op.id) => {
                    Ok(())
                }
                Some((op, _)) => Err(format!(
                    "{} changes state; the run is read-only (--allow-mutations)",
                    op.id
                )),
                None => Err(format!(
                    "{} {} is not an operation of the spec",
                    request.method, request.path
                )),
            }
        }))
    } else {
        None
    };
    let tap = Tap::start(
        prepared.upstream.clone(),
        log.clone(),
        TapOptions {
            guard,
            min_interval: match (&target.kind, options.rate_limit) {
                (TargetKind::Live { .. }, Some(rate)) if rate > 0.0 => {
                    Some(Duration::from_secs_f64(1.0 / rate))
                }
                _ => None,
            },
        },
    )
    .await?;
    let mut credentials = credentials;
    if let Credentials::Ibm { iam_url, .. } = &mut credentials {
        // Through the tap: the emulator serves IAM itself; a live target's IAM URL is where the
        // tap sends it (see `prepare`); a replay answers from the recording.
        *iam_url = Some(format!("{}{}", tap.origin, emulators::ibm::TOKEN_PATH));
    }
    let mut info = TargetInfo {
        vendor: vendor.name().into(),
        target: prepared.description.clone(),
        mutations: prepared.live && mutations,
        phases_ms: BTreeMap::new(),
    };
    let phase = Instant::now();
    let mut results: Vec<CheckResult> = Vec::new();
    let mut skipped: BTreeMap<String, String> = BTreeMap::new();
    let all = scenarios::all(vendor);
    let total = all.len();
    let mut cancelled = false;
    for (i, scenario) in all.into_iter().enumerate() {
        let name = format!("scenario {}", scenario.name);
        let skip =
            |why: &str, results: &mut Vec<CheckResult>, skipped: &mut BTreeMap<String, String>| {
                for op in scenario.operations {
                    results.push(CheckResult {
                        vendor: vendor.name().into(),
                        operation_id: op.to_string(),
                        check: name.clone(),
                        outcome: Outcome::Skip,
                        detail: why.to_string(),
                    });
                    skipped
                        .entry(op.to_string())
                        .or_insert_with(|| format!("{} skipped: {why}", scenario.name));
                }
            };
        if options
            .only
            .as_ref()
            .is_some_and(|o| !scenario.name.contains(o.as_str()))
        {
            skip("not selected (--only)", &mut results, &mut skipped);
            continue;
        }
        if cancelled || options.cancel.as_ref().is_some_and(|c| *c.borrow()) {
            cancelled = true;
            skip("the run was interrupted", &mut results, &mut skipped);
            continue;
        }
        if scenario.emulator_only && prepared.emulator.is_none() {
            skip(
                "needs the embedded emulator (faults or time travel)",
                &mut results,
                &mut skipped,
            );
            continue;
        }
        if scenario.mutates && !mutations {
            skip(
                "changes state; the run is read-only (pass --allow-mutations)",
                &mut results,
                &mut skipped,
            );
            continue;
        }
        if options.progress {
            eprintln!("{}", progress_line(vendor.name(), i, total, scenario.name));
        }
        log.set_scenario(scenario.name);
        let mut ctx = Ctx {
            vendor,
            base_url: format!("{}{}", tap.origin, prepared.base_path),
            origin: tap.origin.clone(),
            credentials: credentials.clone(),
            run_id: match &target.kind {
                TargetKind::Replay(r) if !r.header.run_id.is_empty() => r.header.run_id.clone(),
                _ => options.run_id.clone(),
            },
            emulator: prepared.emulator.clone(),
            pace: prepared.pace.clone(),
            job_deadline: prepared.job_deadline,
            insecure: matches!(target.kind, TargetKind::Live { insecure: true, .. }),
            poll_interval: if matches!(target.kind, TargetKind::Live { .. }) {
                options.poll_interval
            } else {
                None
            },
            spec: spec.clone(),
            log: log.clone(),
            start: log.len(),
            findings: Vec::new(),
            cleanups: Vec::new(),
        };
        let limit = if prepared.live {
            Duration::from_secs(1800)
        } else {
            Duration::from_secs(120)
        };
        let outcome = {
            let run = (scenario.run)(&mut ctx);
            let mut cancel = options.cancel.clone();
            tokio::select! {
                r = tokio::time::timeout(limit, run) => match r {
                    Ok(r) => r,
                    Err(_) => Err(anyhow::anyhow!("timed out after {} s", limit.as_secs())),
                },
                _ = async {
                    match cancel.as_mut() {
                        Some(c) => { let _ = c.wait_for(|v| *v).await; }
                        None => std::future::pending::<()>().await,
                    }
                } => {
                    cancelled = true;
                    Err(anyhow::anyhow!("interrupted"))
                }
            }
        };
        // Clean up whatever happened, last created first.
        let mut cleanup_errors = Vec::new();
        while let Some((what, cleanup)) = ctx.cleanups.pop() {
            if let Err(e) = cleanup().await {
                cleanup_errors.push(format!("cleanup {what}: {e:#}"));
            }
        }
        let mut by_op: BTreeMap<String, Vec<&scenarios::Finding>> = BTreeMap::new();
        for f in &ctx.findings {
            by_op.entry(f.operation_id.clone()).or_default().push(f);
        }
        let first_op = scenario
            .operations
            .first()
            .copied()
            .unwrap_or("(scenario)")
            .to_string();
        if (outcome.is_err() || !cleanup_errors.is_empty()) && !by_op.contains_key(&first_op) {
            by_op.insert(first_op.clone(), Vec::new());
        }
        for (op, findings) in by_op {
            let mut failed = findings.iter().any(|f| !f.ok);
            let mut detail: Vec<String> = findings
                .iter()
                .map(|f| {
                    if f.ok {
                        format!("✓ {}", f.what)
                    } else {
                        format!("✗ {}: {}", f.what, f.detail)
                    }
                })
                .collect();
            if op == first_op {
                if let Err(e) = &outcome {
                    failed = true;
                    detail.insert(0, format!("the scenario stopped: {e:#}"));
                }
                if !cleanup_errors.is_empty() {
                    failed = true;
                    detail.extend(cleanup_errors.iter().cloned());
                }
            }
            results.push(CheckResult {
                vendor: vendor.name().into(),
                operation_id: op,
                check: name.clone(),
                outcome: if failed { Outcome::Fail } else { Outcome::Pass },
                detail: detail.join("\n"),
            });
        }
    }
    info.phases_ms
        .insert("scenarios".into(), phase.elapsed().as_millis() as u64);
    let phase = Instant::now();
    // Probes.
    let may_send =
        |op: &spec::Operation| mutations || op.read_only || safe_without_mutations(vendor, &op.id);
    if !cancelled {
        let recorded = match &target.kind {
            TargetKind::Replay(recording) => Some(recording.exchanges.as_slice()),
            _ => None,
        };
        results.extend(probes::auth(&spec, &log, &tap.origin, may_send, recorded).await);
        if let Some(emulator) = &prepared.emulator {
            probes::faults(&spec, &log, &tap.origin, &emulator.faults).await;
        }
    }
    drop(tap);
    info.phases_ms
        .insert("probes".into(), phase.elapsed().as_millis() as u64);
    let phase = Instant::now();
    let _ = warm.await;
    let exchanges = log.snapshot();
    for e in &exchanges {
        redactor.learn_exchange(&spec, e);
    }
    let analysis = checks::analyze(&spec, &exchanges, &skipped);
    results.extend(analysis.results);
    results.extend(jobs::check(&spec, &exchanges, &skipped));
    results.extend(checks::compare_shapes(
        vendor.name(),
        &analysis.shapes,
        options.snapshots.get(&vendor),
    ));
    if !matches!(target.kind, TargetKind::Embedded) {
        if let Some(deviations) = options.deviations.get(&vendor) {
            deviations::apply(&mut results, deviations);
        }
    }
    results.sort_by(|a, b| (&a.operation_id, &a.check).cmp(&(&b.operation_id, &b.check)));
    info.phases_ms
        .insert("checks".into(), phase.elapsed().as_millis() as u64);
    let recording = Recording {
        header: RecordingHeader {
            vendor: vendor.name().into(),
            target: prepared.description.clone(),
            mutations,
            base_path: prepared.base_path.clone(),
            run_id: match &target.kind {
                TargetKind::Replay(r) => r.header.run_id.clone(),
                _ => options.run_id.clone(),
            },
        },
        exchanges: exchanges
            .iter()
            .map(|e| redactor.redact_exchange(&spec, e))
            .collect(),
    };
    let unredacted = exchanges;
    Ok(TargetOutcome {
        info,
        results,
        warnings: analysis.warnings,
        shapes: analysis.shapes,
        recording,
        unredacted,
    })
}
