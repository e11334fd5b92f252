//! `cargo xtask conformance`: the conformance suite (`conformance::suite`) against the embedded
//! emulators (the default), live appliances (`--target vendor=URL`) or recordings (`--replay`),
//! writing `report.json`, `junit.xml` and `report.html`.
//!
//! This file does the IO: credentials from the environment, snapshots and known deviations from
//! the repository, reports and recordings to disk, Ctrl-C.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use conformance::emulators::Vendor;
use conformance::suite::record::Recording;
use conformance::suite::scenarios::Credentials;
use conformance::suite::{self, report, Options, RunOutcome, Target, TargetKind};
use serde_json::Value;

use crate::project;

pub const USAGE: &str = "\
usage: cargo xtask conformance [--vendor V]... [--target VENDOR=URL]... [--insecure]
           [--allow-mutations] [--report-dir DIR] [--record DIR] [--replay DIR]
           [--only NAME] [--rate N] [--poll-interval S] [--run-id ID]

  no --target / --replay     every vendor's embedded emulator (virtual clock, deterministic ids)
  --vendor V                 only these vendors (lxca, ibm-backup-recovery, zstack)
  --target VENDOR=URL        a live appliance; credentials from the environment:
                               lxca: LXCA_USER, LXCA_PASSWORD (LXCA_USER2, LXCA_PASSWORD2: a second user)
                               zstack: ZSTACK_ACCOUNT, ZSTACK_PASSWORD
                               ibm-backup-recovery: IBM_API_KEY, IBM_TENANT_ID, IBM_IAM_URL
                                 (default https://iam.cloud.ibm.com/identity/token), IBM_OTHER_TENANT_ID
  --insecure                 accept a live target's self-signed certificate
  --allow-mutations          let scenarios that change state run on live targets (read-only otherwise);
                             what they create is named conformance-<run id>-... and removed at the end
  --report-dir DIR           where report.json, junit.xml, report.html go (default target/conformance)
  --record DIR               store every exchange, redacted, as DIR/<vendor>.jsonl
  --replay DIR               serve DIR/<vendor>.jsonl recordings as the targets
  --only NAME                only scenarios whose name contains NAME
  --rate N                   at most N requests per second to a live target (default 10)
  --poll-interval S          seconds between polls of a job on a live target (default: each scenario's)
  --run-id ID                tags what the run creates (default: from the time)
";

#[derive(Debug, Default, PartialEq)]
struct Args {
    vendors: Vec<Vendor>,
    targets: Vec<(Vendor, String)>,
    insecure: bool,
    allow_mutations: bool,
    report_dir: Option<PathBuf>,
    record: Option<PathBuf>,
    replay: Option<PathBuf>,
    only: Option<String>,
    rate: Option<f64>,
    run_id: Option<String>,
    poll_interval: Option<Duration>,
}

fn vendor(name: &str) -> Result<Vendor> {
    Vendor::from_name(name).ok_or_else(|| {
        anyhow!("unknown vendor `{name}` (lxca, ibm-backup-recovery, zstack)\n\n{USAGE}")
    })
}

fn parse(args: &[String]) -> Result<Args> {
    let mut parsed = Args::default();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let mut value = |name: &str| {
            iter.next()
                .cloned()
                .ok_or_else(|| anyhow!("{name} needs a value\n\n{USAGE}"))
        };
        match arg.as_str() {
            "--vendor" => parsed.vendors.push(vendor(&value("--vendor")?)?),
            "--target" => {
                let text = value("--target")?;
                let (name, url) = text
                    .split_once('=')
                    .ok_or_else(|| anyhow!("--target takes VENDOR=URL, got `{text}`"))?;
                let v = vendor(name)?;
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    bail!("--target {name}={url}: the URL must start with http:// or https://");
                }
                if parsed.targets.iter().any(|(t, _)| *t == v) {
                    bail!("--target {name} is given twice");
                }
                parsed
                    .targets
                    .push((v, url.trim_end_matches('/').to_string()));
            }
            "--insecure" => parsed.insecure = true,
            "--allow-mutations" => parsed.allow_mutations = true,
            "--report-dir" => parsed.report_dir = Some(value("--report-dir")?.into()),
            "--record" => parsed.record = Some(value("--record")?.into()),
            "--replay" => parsed.replay = Some(value("--replay")?.into()),
            "--only" => parsed.only = Some(value("--only")?),
            "--rate" => {
                let text = value("--rate")?;
                let rate: f64 = text
                    .parse()
                    .ok()
                    .filter(|r: &f64| *r > 0.0)
                    .ok_or_else(|| anyhow!("--rate {text}: not a positive number"))?;
                parsed.rate = Some(rate);
            }
            "--poll-interval" => {
                let text = value("--poll-interval")?;
                let secs: f64 = text
                    .parse()
                    .ok()
                    .filter(|s: &f64| *s > 0.0 && *s < 3600.0)
                    .ok_or_else(|| anyhow!("--poll-interval {text}: seconds, more than 0"))?;
                parsed.poll_interval = Some(Duration::from_secs_f64(secs));
            }
            "--run-id" => {
                let id = value("--run-id")?;
                if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                    bail!("--run-id {id}: letters, digits and dashes only");
                }
                parsed.run_id = Some(id);
            }
            "-h" | "--help" => bail!("{USAGE}"),
            other => bail!("unknown option `{other}`\n\n{USAGE}"),
        }
    }
    if parsed.replay.is_some() && !parsed.targets.is_empty() {
        bail!("--replay and --target exclude each other");
    }
    Ok(parsed)
}

fn env(name: &str) -> Result<String> {
    std::env::var(name).map_err(|_| anyhow!("{name} is not set (needed by --target)"))
}

fn live_credentials(vendor: Vendor) -> Result<Credentials> {
    Ok(match vendor {
        Vendor::Lxca => Credentials::Lxca {
            user: env("LXCA_USER")?,
            password: env("LXCA_PASSWORD")?,
            second: match (std::env::var("LXCA_USER2"), std::env::var("LXCA_PASSWORD2")) {
                (Ok(u), Ok(p)) => Some((u, p)),
                _ => None,
            },
        },
        Vendor::ZStack => Credentials::ZStack {
            account: env("ZSTACK_ACCOUNT")?,
            password: env("ZSTACK_PASSWORD")?,
        },
        Vendor::IbmBackupRecovery => Credentials::Ibm {
            api_key: env("IBM_API_KEY")?,
            tenant: env("IBM_TENANT_ID")?,
            iam_url: Some(
                std::env::var("IBM_IAM_URL")
                    .unwrap_or_else(|_| "https://iam.cloud.ibm.com/identity/token".into()),
            ),
            other_tenant: std::env::var("IBM_OTHER_TENANT_ID").ok(),
        },
    })
}

/// The reviewed shapes: the JSON body of `conformance/tests/snapshots/suite__shapes-<vendor>.snap`.
pub fn snapshot(root: &Path, vendor: Vendor) -> Result<Option<Value>> {
    let path = root.join(format!(
        "conformance/tests/snapshots/suite__shapes-{}.snap",
        vendor.name()
    ));
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    // An insta snapshot: a `---` delimited header, then the content.
    let body = text
        .splitn(3, "---\n")
        .nth(2)
        .ok_or_else(|| anyhow!("{}: not an insta snapshot", path.display()))?;
    serde_json::from_str(body)
        .map(Some)
        .with_context(|| format!("{}: the snapshot is not JSON", path.display()))
}

fn deviations(root: &Path, vendor: Vendor) -> Result<Vec<suite::deviations::Deviation>> {
    let path = root.join(format!(
        "conformance/known-deviations/{}.toml",
        vendor.name()
    ));
    match std::fs::read_to_string(&path) {
        Ok(text) => suite::deviations::parse(&text, &path.display().to_string()),
        Err(_) => Ok(Vec::new()),
    }
}

fn options(args: &Args, root: &Path) -> Result<Options> {
    let mut targets = Vec::new();
    if let Some(dir) = &args.replay {
        let selected = |v: Vendor| args.vendors.is_empty() || args.vendors.contains(&v);
        for v in Vendor::ALL.into_iter().filter(|v| selected(*v)) {
            let path = dir.join(format!("{}.jsonl", v.name()));
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let recording = Recording::from_jsonl(&text, &path.display().to_string())?;
            targets.push(Target {
                vendor: v,
                kind: TargetKind::Replay(std::sync::Arc::new(recording)),
                credentials: None,
            });
        }
        if targets.is_empty() {
            bail!("{}: no <vendor>.jsonl recording", dir.display());
        }
    } else if !args.targets.is_empty() {
        for (v, url) in &args.targets {
            targets.push(Target {
                vendor: *v,
                kind: TargetKind::Live {
                    url: url.clone(),
                    insecure: args.insecure,
                },
                credentials: Some(live_credentials(*v)?),
            });
        }
    } else {
        let vendors = if args.vendors.is_empty() {
            Vendor::ALL.to_vec()
        } else {
            args.vendors.clone()
        };
        for v in vendors {
            targets.push(Target {
                vendor: v,
                kind: TargetKind::Embedded,
                credentials: None,
            });
        }
    }
    let mut snapshots = BTreeMap::new();
    let mut known = BTreeMap::new();
    for t in &targets {
        if let Some(s) = snapshot(root, t.vendor)? {
            snapshots.insert(t.vendor, s);
        }
        known.insert(t.vendor, deviations(root, t.vendor)?);
    }
    let live = targets
        .iter()
        .any(|t| matches!(t.kind, TargetKind::Live { .. }));
    Ok(Options {
        targets,
        allow_mutations: args.allow_mutations,
        snapshots,
        deviations: known,
        run_id: args.run_id.clone().unwrap_or_else(|| {
            let secs = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            format!("{secs:x}")
        }),
        rate_limit: live.then_some(args.rate.unwrap_or(10.0)),
        only: args.only.clone(),
        poll_interval: args.poll_interval,
        progress: live,
        cancel: None,
    })
}

/// Writes the reports (and recordings) of `outcome`; every text goes through the run's scrubber.
pub fn write_outputs(outcome: &RunOutcome, report_dir: &Path, record: Option<&Path>) -> Result<()> {
    std::fs::create_dir_all(report_dir)
        .with_context(|| format!("creating {}", report_dir.display()))?;
    let scrub = |text: String| outcome.redactor.scrub(&text);
    let files = [
        (
            "report.json",
            serde_json::to_string_pretty(&outcome.report)? + "\n",
        ),
        ("junit.xml", report::junit(&outcome.report)),
        ("report.html", report::html(&outcome.report)),
    ];
    for (name, text) in files {
        let path = report_dir.join(name);
        std::fs::write(&path, scrub(text))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(dir) = record {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        for t in &outcome.targets {
            let path = dir.join(format!("{}.jsonl", t.info.vendor));
            std::fs::write(&path, scrub(t.recording.to_jsonl()))
                .with_context(|| format!("writing {}", path.display()))?;
        }
    }
    Ok(())
}

pub fn run(args: &[String]) -> Result<bool> {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        print!("{USAGE}");
        return Ok(true);
    }
    let args = parse(args)?;
    let root = project::root();
    let mut options = options(&args, &root)?;
    let (cancel_tx, cancel_rx) = tokio::sync::watch::channel(false);
    options.cancel = Some(cancel_rx);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let outcome = runtime.block_on(async move {
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("interrupted: cleaning up what the run created, then reporting (Ctrl-C again to abandon)");
                let _ = cancel_tx.send(true);
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(130);
                }
            }
        });
        suite::run(options).await
    })?;
    runtime.shutdown_timeout(Duration::from_secs(1));
    let report_dir = args
        .report_dir
        .clone()
        .unwrap_or_else(|| root.join("target/conformance"));
    write_outputs(&outcome, &report_dir, args.record.as_deref())?;
    print!("{}", outcome.report.summary());
    for t in &outcome.report.target {
        println!("{}: {}", t.vendor, t.target);
    }
    println!(
        "{} checks in {:.1} s; reports in {}",
        outcome.report.results.len(),
        outcome.report.elapsed_ms as f64 / 1000.0,
        report_dir.display()
    );
    if let Some(dir) = &args.record {
        println!("recordings in {}", dir.display());
    }
    Ok(!outcome.report.failed())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Result<Args> {
        parse(
            &text
                .split_whitespace()
                .map(String::from)
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn options_parse_and_mistakes_are_named() {
        let a = args("--target lxca=https://10.0.0.1/ --target zstack=http://h:8080/zstack --insecure --allow-mutations --rate 2.5 --run-id r1").unwrap();
        assert_eq!(
            a.targets,
            vec![
                (Vendor::Lxca, "https://10.0.0.1".to_string()),
                (Vendor::ZStack, "http://h:8080/zstack".to_string())
            ]
        );
        assert!(a.insecure && a.allow_mutations);
        assert_eq!((a.rate, a.run_id.as_deref()), (Some(2.5), Some("r1")));
        assert_eq!(args("").unwrap(), Args::default());
        for (line, message) in [
            ("--target lxca", "VENDOR=URL"),
            ("--target vmware=https://h", "unknown vendor"),
            ("--target lxca=h", "http:// or https://"),
            ("--target lxca=https://a --target lxca=https://b", "twice"),
            ("--rate 0", "positive"),
            ("--run-id a/b", "letters"),
            ("--replay d --target lxca=https://h", "exclude"),
            ("--verbose", "unknown option"),
        ] {
            let error = args(line).unwrap_err().to_string();
            assert!(error.contains(message), "{line}: {error}");
        }
    }

    #[test]
    fn live_credentials_name_the_missing_variable() {
        // Variables this test controls alone: no other test reads them.
        std::env::remove_var("ZSTACK_ACCOUNT");
        let error = live_credentials(Vendor::ZStack).unwrap_err().to_string();
        assert!(error.contains("ZSTACK_ACCOUNT"), "{error}");
    }
}

/// Plants known secrets (every vendor's credentials), runs the suite against the embedded
/// emulators, writes every output (reports, recordings, the shapes the snapshots hold), and
/// looks for every secret the run handled in all of them.
#[cfg(test)]
mod secrets {
    use std::collections::BTreeSet;

    use base64::Engine as _;
    use conformance::suite::exchange::Exchange;
    use conformance::suite::spec::ApiSpec;

    use super::*;

    const PLANTED: &[&str] = &[
        "Planted-LXCA-pw-7731",
        "Planted-LXCA-second-pw-2290",
        "Planted-ZStack-pw-5518",
        "planted-ibm-api-key-90210",
    ];

    fn planted_targets() -> Vec<Target> {
        vec![
            Target {
                vendor: Vendor::Lxca,
                kind: TargetKind::Embedded,
                credentials: Some(Credentials::Lxca {
                    user: "PLANTUSER".into(),
                    password: PLANTED[0].into(),
                    second: Some(("PLANTUSER2".into(), PLANTED[1].into())),
                }),
            },
            Target {
                vendor: Vendor::ZStack,
                kind: TargetKind::Embedded,
                credentials: Some(Credentials::ZStack {
                    account: "admin".into(),
                    password: PLANTED[2].into(),
                }),
            },
            Target {
                vendor: Vendor::IbmBackupRecovery,
                kind: TargetKind::Embedded,
                credentials: Some(Credentials::Ibm {
                    api_key: PLANTED[3].into(),
                    tenant: conformance::emulators::ibm::TENANT.into(),
                    iam_url: None,
                    other_tenant: Some(conformance::emulators::ibm::OTHER_TENANT.into()),
                }),
            },
        ]
    }

    /// Secret values in `raw` where its shape says `<redacted>` (what the spec marks secret).
    fn marked(raw: &Value, shape: &Value, out: &mut BTreeSet<String>) {
        match (raw, shape) {
            (Value::String(s), Value::String(t)) if t == "<redacted>" => {
                out.insert(s.clone());
            }
            (Value::Object(r), Value::Object(s)) => {
                for (k, v) in r {
                    if let Some(sv) = s.get(k) {
                        marked(v, sv, out);
                    }
                }
            }
            (Value::Array(r), Value::Array(s)) => {
                for v in r {
                    for sv in s {
                        marked(v, sv, out);
                    }
                }
            }
            _ => {}
        }
    }

    /// Every secret an exchange carried, found independently of the suite's redactor.
    fn secrets_of(spec: &ApiSpec, e: &Exchange, out: &mut BTreeSet<String>) {
        let mut headers: Vec<&(String, String)> = e.request.headers.iter().collect();
        if let Some(r) = &e.response {
            headers.extend(r.headers.iter());
        }
        for (name, value) in headers {
            match name.to_ascii_lowercase().as_str() {
                "authorization" => {
                    let (scheme, credential) = value.split_once(' ').unwrap_or(("", value));
                    out.insert(credential.to_string());
                    if scheme.eq_ignore_ascii_case("basic") {
                        let decoded = base64::engine::general_purpose::STANDARD
                            .decode(credential)
                            .unwrap();
                        let decoded = String::from_utf8(decoded).unwrap();
                        out.insert(decoded.split_once(':').unwrap().1.to_string());
                    }
                }
                "cookie" | "set-cookie" => {
                    for pair in value.split(';') {
                        if let Some((n, v)) = pair.split_once('=') {
                            let n = n.trim().to_ascii_lowercase();
                            if !["path", "domain", "expires", "max-age", "samesite"]
                                .contains(&n.as_str())
                            {
                                out.insert(v.to_string());
                            }
                        }
                    }
                }
                "x-csrf-token" => {
                    out.insert(value.clone());
                }
                _ => {}
            }
        }
        let path = e
            .request
            .path
            .strip_prefix(spec.base_path.as_str())
            .unwrap_or(&e.request.path);
        let Some((op, _)) = spec.find(&e.request.method, path) else {
            return;
        };
        let content_type = e.request.header("content-type").unwrap_or("").to_string();
        if let Ok(body) = serde_json::from_slice::<Value>(&e.request.body) {
            let schema = spec
                .request_schema(op, &content_type)
                .and_then(|p| spec.doc.pointer(&p));
            marked(
                &body,
                &conformance::suite::shape::shape(spec, schema, &body),
                out,
            );
        }
        if let Some(r) = &e.response {
            if let Some(body) = r.json() {
                let schema = spec
                    .response_schema(op, r.status, r.header("content-type").unwrap_or(""))
                    .and_then(|p| spec.doc.pointer(&p));
                marked(
                    &body,
                    &conformance::suite::shape::shape(spec, schema, &body),
                    out,
                );
                for key in ["access_token", "refresh_token"] {
                    if let Some(Value::String(t)) = body.get(key) {
                        out.insert(t.clone());
                    }
                }
            }
        }
    }

    #[test]
    fn no_secret_reaches_a_report_recording_or_snapshot() {
        let root = project::root();
        let dir = std::env::temp_dir().join(format!("conformance-secrets-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let options = Options {
            targets: planted_targets(),
            run_id: "secrets".into(),
            ..Options::default()
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        let outcome = runtime.block_on(suite::run(options)).unwrap();
        write_outputs(&outcome, &dir.join("report"), Some(&dir.join("record"))).unwrap();
        let mut secrets: BTreeSet<String> = PLANTED.iter().map(|s| s.to_string()).collect();
        for t in &outcome.targets {
            let vendor = Vendor::from_name(&t.info.vendor).unwrap();
            let spec = ApiSpec::load(vendor).unwrap();
            for e in &t.unredacted {
                secrets_of(&spec, e, &mut secrets);
            }
            // What `cargo insta` would store for this run.
            std::fs::write(
                dir.join(format!("shapes-{}.json", t.info.vendor)),
                serde_json::to_string_pretty(&t.shapes).unwrap(),
            )
            .unwrap();
        }
        // Short values are words (a seed's ssh password `password`, a scenario's deliberately
        // wrong CSRF token) that legitimately appear as member names; issued secrets are long.
        secrets.retain(|s| s.len() >= 12 && !s.contains("[redacted"));
        // The run must have handled secrets beyond the planted ones: sessions, tokens, CSRF.
        assert!(
            secrets.len() > PLANTED.len() + 3,
            "{} secrets found",
            secrets.len()
        );
        let mut outputs = Vec::new();
        let mut stack = vec![dir.clone()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    outputs.push(path);
                }
            }
        }
        for snapshot in std::fs::read_dir(root.join("conformance/tests/snapshots")).unwrap() {
            outputs.push(snapshot.unwrap().path());
        }
        assert!(outputs.len() >= 9, "{outputs:?}");
        let mut leaks = Vec::new();
        for path in &outputs {
            let text = String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned();
            for secret in &secrets {
                if text.contains(secret.as_str()) {
                    leaks.push(format!("{}: {secret}", path.display()));
                }
            }
        }
        let recording = std::fs::read_to_string(dir.join("record/lxca.jsonl")).unwrap();
        assert!(recording.contains("[redacted:"), "the recording redacts");
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            leaks.is_empty(),
            "secrets in outputs:\n{}",
            leaks.join("\n")
        );
    }
}
