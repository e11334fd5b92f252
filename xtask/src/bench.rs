//! `cargo xtask bench codegen [--skip-progenitor] [--runs N]`: how fast the generator is, and how fast
//! the code it generates type-checks, measured against baselines taken in the same run.
//!
//! Benchmarks, not timed tests: nothing here fails because a target is missed. The run prints a table
//! and writes the same figures into `BENCHMARKS.md`, between the markers below, saying plainly which
//! targets are met and which are not. It exits non-zero only when something could not be measured
//! because it broke (a spec that does not generate, a generated crate that does not compile).
//!
//! Timings of a debug build mean nothing, so a debug build re-runs itself as
//! `cargo run --release -p xtask -- bench ...` (the release build of xtask lands in `target/release/`).
//!
//! Everything downloaded or built lives in `target/bench/` and is reused by later runs:
//! - `npm/`: `npm pack @octokit/openapi` (GitHub's REST description) and its unpacked contents;
//! - `tools/`: `cargo install cargo-progenitor --locked --root target/bench/tools`;
//! - `ours-nexus/`, `progenitor-nexus/`: the two generated crates for `../shared/bench-specs/nexus.json`,
//!   made afresh on every run;
//! - `check-ours/`, `check-progenitor/`: their separate `CARGO_TARGET_DIR`s, so the dependencies are
//!   compiled once and the timed `cargo check` runs measure the generated code itself.

use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context, Result};

use crate::project;

const USAGE: &str = "usage: cargo xtask bench codegen [--skip-progenitor] [--runs N] | \
bench emulator [--help] [OPTIONS] [VENDOR...] | bench conformance [--runs N]";
const BEGIN: &str = "<!-- bench:codegen:begin -->";
const END: &str = "<!-- bench:codegen:end -->";
const NEXUS: &str = "../shared/bench-specs/nexus.json";
const SPECS_TARGET: Duration = Duration::from_millis(500);
const GITHUB_TARGET: Duration = Duration::from_secs(5);
const CHECK_RATIO_TARGET: f64 = 0.5;

pub fn run(args: &[String]) -> Result<bool> {
    let mut skip_progenitor = false;
    let mut runs = 5usize;
    let mut rest = args.iter();
    match rest.next().map(String::as_str) {
        Some("codegen") => {}
        Some("emulator") => return crate::bench_emulator::run(&args[1..]),
        Some("conformance") => return crate::bench_conformance::run(&args[1..]),
        // Started by `bench emulator`, not by people: see `bench_floor`.
        Some("floor-server") => return crate::bench_floor::run(&args[1..]),
        Some(other) => bail!("unknown benchmark `{other}` ({USAGE})"),
        None => bail!("which benchmark? ({USAGE})"),
    }
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--skip-progenitor" => skip_progenitor = true,
            "--runs" => {
                let value = rest
                    .next()
                    .with_context(|| format!("--runs needs a value ({USAGE})"))?;
                runs =
                    value.parse().ok().filter(|&n| n > 0).with_context(|| {
                        format!("--runs wants a positive number, not `{value}`")
                    })?;
            }
            other => bail!("unknown argument `{other}` ({USAGE})"),
        }
    }

    if cfg!(debug_assertions) {
        return rerun_in_release(args);
    }

    let root = project::root();
    let bench_dir = root.join("target/bench");
    std::fs::create_dir_all(&bench_dir)?;
    let command = std::iter::once("cargo run --release -p xtask -- bench".to_string())
        .chain(args.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");

    let load_at_start = load_average();
    let n = count(runs, "run");
    eprintln!("== regenerating specs/*.yaml in process, {n}");
    let specs = bench_specs(runs);
    eprintln!("== GitHub's REST description, {n}");
    let github = bench_github(&bench_dir, runs);
    eprintln!("== cargo check of the generated crates for {NEXUS}, {n} each");
    let nexus = bench_nexus(&root, &bench_dir, runs, skip_progenitor);

    let report = Report {
        date: utc_now(),
        machine: format!("{}; load average at the start: {load_at_start}", machine()),
        command,
        runs,
        specs,
        github,
        nexus,
    };
    let text = report.markdown();
    println!("\n{text}");
    write_benchmarks_md(&root.join("BENCHMARKS.md"), &text)?;
    eprintln!("wrote the figures into BENCHMARKS.md");
    Ok(report.measured_everything())
}

/// Timings of a debug build are meaningless: run the same command from a release build.
pub(crate) fn rerun_in_release(args: &[String]) -> Result<bool> {
    eprintln!(
        "note: this is a debug build; benchmarking from a release build instead:\n  \
         cargo run --release -p xtask -- bench {}",
        args.join(" ")
    );
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(project::root())
        .args(["run", "--release", "--quiet", "-p", "xtask", "--", "bench"])
        .args(args)
        .status()
        .context("running cargo run --release -p xtask")?;
    Ok(status.success())
}

// ---------------------------------------------------------------------------------------------------
// Outcomes and statistics

/// What became of one measurement.
enum Outcome<T> {
    Measured(T),
    /// Not measured for a reason outside the project (no npm, a download failed, asked to skip).
    Skipped(String),
    /// Not measured because something of ours, or of the baseline, broke.
    Failed(String),
}

impl<T> Outcome<T> {
    fn measured(&self) -> Option<&T> {
        match self {
            Outcome::Measured(t) => Some(t),
            _ => None,
        }
    }
}

/// N timings of the same thing.
#[derive(Clone, Default)]
struct Samples(Vec<Duration>);

impl Samples {
    fn sorted(&self) -> Vec<Duration> {
        let mut v = self.0.clone();
        v.sort();
        v
    }

    fn min(&self) -> Duration {
        self.sorted().first().copied().unwrap_or_default()
    }

    fn median(&self) -> Duration {
        let v = self.sorted();
        match v.len() {
            0 => Duration::ZERO,
            n if n % 2 == 1 => v[n / 2],
            n => (v[n / 2 - 1] + v[n / 2]) / 2,
        }
    }
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}

fn yes_no(met: bool) -> &'static str {
    if met {
        "yes"
    } else {
        "**NO**"
    }
}

/// Runs `f`, turning a panic into an error naming it, so one broken input does not end the run.
fn no_panic<T>(what: &str, f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "(no message)".into());
            Err(format!("{what} panicked: {message}"))
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// The in-process pipeline: load → lower → emit (emit includes formatting with prettyplease)

/// One pass of the pipeline over one document, by stage.
#[derive(Default, Clone, Copy)]
struct Pass {
    load: Duration,
    lower: Duration,
    emit: Duration,
    /// `serde_json::from_str` of the document's JSON form: the yardstick, independent of our code.
    parse_baseline: Duration,
    /// CPU time of this thread over load → lower → emit, when the OS tells it: what the pipeline
    /// costs with a core to itself, however busy the machine is.
    cpu: Option<Duration>,
}

impl Pass {
    fn total(&self) -> Duration {
        self.load + self.lower + self.emit
    }

    /// Adds `other` to a sum that started at `Pass::default()`.
    fn add(&mut self, other: Pass) {
        let first = self.total().is_zero();
        self.cpu = match (self.cpu, other.cpu) {
            (Some(a), Some(b)) => Some(a + b),
            (None, b) if first => b,
            _ => None,
        };
        self.load += other.load;
        self.lower += other.lower;
        self.emit += other.emit;
        self.parse_baseline += other.parse_baseline;
    }
}

/// What one document generates, for the record.
#[derive(Default, Clone, Copy)]
struct Size {
    operations: usize,
    types: usize,
    warnings: usize,
    lines: usize,
}

impl Size {
    fn add(&mut self, other: Size) {
        self.operations += other.operations;
        self.types += other.types;
        self.warnings += other.warnings;
        self.lines += other.lines;
    }
}

/// A document read into memory once, outside the timings.
struct Document {
    shown: String,
    text: String,
    /// The same document as JSON text, for the parse baseline (YAML specs are converted once).
    json: String,
}

impl Document {
    fn read(path: &Path) -> Result<Document, String> {
        let shown = project::display(path);
        let text = std::fs::read_to_string(path).map_err(|e| format!("reading {shown}: {e}"))?;
        let json = if shown.ends_with(".json") {
            text.clone()
        } else {
            let source = codegen::source::SourceDocument::parse(&text)
                .map_err(|e| format!("{shown}:{}: {}", e.line, e.message))?;
            serde_json::to_string(&source.value).map_err(|e| e.to_string())?
        };
        Ok(Document { shown, text, json })
    }

    /// Load → lower → emit, timed by stage. The generated files are dropped, never written.
    fn pass(&self) -> Result<(Pass, Size), String> {
        no_panic(&format!("generating from {}", self.shown), || {
            let cpu_start = thread_cpu_time();
            let start = Instant::now();
            let loaded = codegen::load(&self.shown, &self.text).map_err(|diagnostics| {
                let shown: Vec<String> =
                    diagnostics.iter().take(5).map(|d| d.to_string()).collect();
                format!(
                    "{} does not load ({} diagnostics), first:\n{}",
                    self.shown,
                    diagnostics.len(),
                    shown.join("\n")
                )
            })?;
            let load = start.elapsed();
            let start = Instant::now();
            let api = codegen::ir::lower(&loaded);
            let lower = start.elapsed();
            let start = Instant::now();
            let files = codegen::emit::files(&api, &self.shown)
                .map_err(|e| format!("{}: {e}", self.shown))?;
            let emit = start.elapsed();
            let cpu = thread_cpu_time()
                .zip(cpu_start)
                .map(|(end, start)| end.saturating_sub(start));

            let start = Instant::now();
            let parsed: serde_json::Value =
                serde_json::from_str(&self.json).map_err(|e| e.to_string())?;
            let parse_baseline = start.elapsed();
            drop(parsed);

            let size = Size {
                operations: api.operations.len(),
                types: api.types.types.len(),
                warnings: api.warnings.len(),
                lines: files.iter().map(|f| f.contents.lines().count()).sum(),
            };
            Ok((
                Pass {
                    load,
                    lower,
                    emit,
                    parse_baseline,
                    cpu,
                },
                size,
            ))
        })
    }
}

/// The CPU time this thread has run, from Linux's `/proc/thread-self/schedstat` (nanoseconds on the
/// CPU come first); `None` elsewhere.
fn thread_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos = stat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

/// N runs over a set of documents; each run is the sum over the set.
struct PipelineBench {
    what: String,
    totals: Samples,
    /// Per run, by stage.
    passes: Vec<Pass>,
    size: Size,
}

impl PipelineBench {
    fn measure(what: String, documents: &[Document], runs: usize) -> Result<PipelineBench, String> {
        let mut bench = PipelineBench {
            what,
            totals: Samples::default(),
            passes: Vec::new(),
            size: Size::default(),
        };
        for run in 0..runs {
            let mut sum = Pass::default();
            let mut size = Size::default();
            for document in documents {
                let (pass, s) = document.pass()?;
                sum.add(pass);
                size.add(s);
            }
            eprintln!("  run {}: {}", run + 1, ms(sum.total()));
            bench.totals.0.push(sum.total());
            bench.passes.push(sum);
            bench.size = size;
        }
        Ok(bench)
    }

    fn stage_median(&self, stage: impl Fn(&Pass) -> Duration) -> Duration {
        Samples(self.passes.iter().map(stage).collect()).median()
    }

    fn baseline(&self) -> Duration {
        self.stage_median(|p| p.parse_baseline)
    }

    /// The median CPU time of the runs, when every run has one.
    fn cpu_median(&self) -> Option<Duration> {
        let cpu: Option<Vec<Duration>> = self.passes.iter().map(|p| p.cpu).collect();
        cpu.map(|cpu| Samples(cpu).median())
    }
}

fn bench_specs(runs: usize) -> Outcome<PipelineBench> {
    let result = (|| {
        let paths = project::specs().map_err(|e| format!("{e:#}"))?;
        if paths.is_empty() {
            return Err("specs/ holds no *.yaml".to_string());
        }
        let documents = paths
            .iter()
            .map(|p| Document::read(p))
            .collect::<Result<Vec<_>, _>>()?;
        let names: Vec<&str> = documents.iter().map(|d| d.shown.as_str()).collect();
        PipelineBench::measure(
            format!("{} specs ({})", documents.len(), names.join(", ")),
            &documents,
            runs,
        )
    })();
    match result {
        Ok(bench) => Outcome::Measured(bench),
        Err(e) => {
            eprintln!("  failed: {e}");
            Outcome::Failed(e)
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// GitHub's REST description, from the npm registry

struct GithubSource {
    path: PathBuf,
    package: String,
    openapi_version: String,
    note: Option<String>,
}

fn bench_github(bench_dir: &Path, runs: usize) -> Outcome<(GithubSource, PipelineBench)> {
    let source = match fetch_github(&bench_dir.join("npm")) {
        Ok(source) => source,
        Err(reason) => {
            eprintln!("  skipped: {reason}");
            return Outcome::Skipped(reason);
        }
    };
    eprintln!(
        "  {} ({}, OpenAPI {})",
        project::display(&source.path),
        source.package,
        source.openapi_version
    );
    let result = Document::read(&source.path).and_then(|document| {
        let name = source
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        PipelineBench::measure(format!("{name} from {}", source.package), &[document], runs)
    });
    match result {
        Ok(bench) => Outcome::Measured((source, bench)),
        Err(e) => {
            eprintln!("  failed: {e}");
            Outcome::Failed(e)
        }
    }
}

/// `npm pack @octokit/openapi` into `npm_dir` (once), unpacked, and the OpenAPI 3.0 description of
/// api.github.com in it. Errors are reasons to skip.
fn fetch_github(npm_dir: &Path) -> Result<GithubSource, String> {
    std::fs::create_dir_all(npm_dir).map_err(|e| e.to_string())?;
    let tarball = match cached_tarball(npm_dir) {
        Some(tarball) => {
            eprintln!("  using the cached {}", project::display(&tarball));
            tarball
        }
        None => {
            eprintln!("  npm pack @octokit/openapi");
            let output = Command::new("npm")
                .args(["pack", "@octokit/openapi", "--silent", "--pack-destination"])
                .arg(npm_dir)
                .stdin(Stdio::null())
                .output()
                .map_err(|e| format!("npm is not available ({e})"))?;
            if !output.status.success() {
                return Err(format!(
                    "`npm pack @octokit/openapi` failed ({}): {}",
                    output.status,
                    last_lines(&String::from_utf8_lossy(&output.stderr), 5)
                ));
            }
            cached_tarball(npm_dir)
                .ok_or("`npm pack @octokit/openapi` succeeded but left no tarball")?
        }
    };
    let stem = tarball
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("octokit-openapi")
        .to_string();
    let package = stem.replacen("octokit-openapi-", "@octokit/openapi@", 1);
    let unpacked = npm_dir.join(&stem);
    if !unpacked.join("package").is_dir() {
        let partial = npm_dir.join(format!("{stem}.partial"));
        let _ = std::fs::remove_dir_all(&partial);
        std::fs::create_dir_all(&partial).map_err(|e| e.to_string())?;
        let status = Command::new("tar")
            .arg("xzf")
            .arg(&tarball)
            .arg("-C")
            .arg(&partial)
            .status()
            .map_err(|e| format!("tar is not available to unpack the tarball ({e})"))?;
        if !status.success() {
            return Err(format!("tar xzf {} failed ({status})", tarball.display()));
        }
        std::fs::rename(&partial, &unpacked).map_err(|e| e.to_string())?;
    }

    // Candidates: api.github.com*.json, not the dereferenced variants (which inline every $ref).
    let mut candidates = Vec::new();
    collect_files(&unpacked.join("package"), &mut candidates);
    let mut described: Vec<(PathBuf, String)> = candidates
        .into_iter()
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            name.starts_with("api.github.com") && name.ends_with(".json") && !name.contains("deref")
        })
        .filter_map(|p| openapi_version(&p).map(|v| (p, v)))
        .collect();
    described.sort();
    let pick = described
        .iter()
        .find(|(_, v)| v.starts_with("3.0"))
        .map(|(p, v)| (p.clone(), v.clone(), None))
        .or_else(|| {
            described.first().map(|(p, v)| {
                (
                    p.clone(),
                    v.clone(),
                    Some(format!("the package has no OpenAPI 3.0 variant; used {v}")),
                )
            })
        });
    let Some((path, openapi_version, note)) = pick else {
        return Err(format!(
            "{package} holds no api.github.com*.json (looked in {})",
            project::display(&unpacked)
        ));
    };
    Ok(GithubSource {
        path,
        package,
        openapi_version,
        note,
    })
}

fn cached_tarball(npm_dir: &Path) -> Option<PathBuf> {
    let mut tarballs: Vec<PathBuf> = std::fs::read_dir(npm_dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            name.starts_with("octokit-openapi-") && name.ends_with(".tgz")
        })
        .collect();
    tarballs.sort();
    tarballs.pop()
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// The `openapi` field of a JSON description, read from its first kilobytes.
fn openapi_version(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut head = vec![0; 4096];
    let n = std::fs::File::open(path).ok()?.read(&mut head).ok()?;
    let head = String::from_utf8_lossy(&head[..n]);
    let after = &head[head.find("\"openapi\"")? + "\"openapi\"".len()..];
    let value = after
        .trim_start()
        .strip_prefix(':')?
        .trim_start()
        .strip_prefix('"')?;
    Some(value[..value.find('"')?].to_string())
}

// ---------------------------------------------------------------------------------------------------
// nexus: `cargo check` of our crate against progenitor's, for the same document

struct GeneratedCrate {
    label: &'static str,
    dir: PathBuf,
    /// How it was made, for the record.
    made_by: String,
    /// Lines of Rust under src/.
    lines: usize,
    /// Generator warnings (ours) or notes, for the record.
    generator_note: Option<String>,
    errors: usize,
    warnings: usize,
    /// The first errors, verbatim, when it does not compile.
    first_errors: String,
    /// Checks of the whole crate (incremental compilation off): what the target is judged on.
    checks: Samples,
    /// Checks with incremental compilation on, after touching the sources: mostly the cache being
    /// re-validated, shown for information.
    incremental_checks: Samples,
}

struct Nexus {
    ours: Outcome<GeneratedCrate>,
    progenitor: Outcome<GeneratedCrate>,
}

fn bench_nexus(root: &Path, bench_dir: &Path, runs: usize, skip_progenitor: bool) -> Nexus {
    let spec = root.join(NEXUS);
    if !spec.is_file() {
        let reason = format!("{NEXUS} (next to the repository) is missing");
        eprintln!("  skipped: {reason}");
        return Nexus {
            ours: Outcome::Skipped(reason.clone()),
            progenitor: Outcome::Skipped(reason),
        };
    }
    let mut ours = generate_ours(root, bench_dir, &spec).and_then(|c| warm_check(bench_dir, c));
    let mut progenitor = if skip_progenitor {
        Outcome::Skipped("--skip-progenitor".into())
    } else {
        generate_progenitor(root, bench_dir, &spec).and_then(|c| warm_check(bench_dir, c))
    };

    // Interleaved, so both crates see the same machine conditions.
    for run in 0..runs {
        for outcome in [&mut ours, &mut progenitor] {
            let Outcome::Measured(krate) = outcome else {
                continue;
            };
            let timed = timed_check(bench_dir, krate, false)
                .and_then(|full| Ok((full, timed_check(bench_dir, krate, true)?)));
            match timed {
                Ok((full, incremental)) => {
                    eprintln!(
                        "  run {}: {}: {} (incremental: {})",
                        run + 1,
                        krate.label,
                        ms(full),
                        ms(incremental)
                    );
                    krate.checks.0.push(full);
                    krate.incremental_checks.0.push(incremental);
                }
                Err(e) => {
                    eprintln!("  {}: {e}", krate.label);
                    *outcome = Outcome::Failed(e);
                }
            }
        }
    }
    Nexus { ours, progenitor }
}

impl<T> Outcome<T> {
    fn and_then<U>(self, f: impl FnOnce(T) -> Outcome<U>) -> Outcome<U> {
        match self {
            Outcome::Measured(t) => f(t),
            Outcome::Skipped(s) => Outcome::Skipped(s),
            Outcome::Failed(s) => Outcome::Failed(s),
        }
    }
}

/// Our crate, made by this very binary's `generate` command (the code of `cargo xtask generate`).
fn generate_ours(root: &Path, bench_dir: &Path, spec: &Path) -> Outcome<GeneratedCrate> {
    let dir = bench_dir.join("ours-nexus");
    let _ = std::fs::remove_dir_all(&dir);
    let made_by = format!(
        "cargo xtask generate --spec {NEXUS} --out {} --name ours-nexus",
        project::display(&dir)
    );
    eprintln!("  {made_by}");
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => return Outcome::Failed(format!("finding the xtask binary: {e}")),
    };
    let log = bench_dir.join("ours-nexus-generate.log");
    let output = Command::new(exe)
        .current_dir(root)
        .arg("generate")
        .arg("--spec")
        .arg(spec)
        .arg("--out")
        .arg(&dir)
        .args(["--name", "ours-nexus"])
        .stdin(Stdio::null())
        .output();
    let output = match output {
        Ok(output) => output,
        Err(e) => return Outcome::Failed(format!("running {made_by}: {e}")),
    };
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let _ = std::fs::write(&log, &stderr);
    if !output.status.success() {
        return Outcome::Failed(format!(
            "`{made_by}` failed ({}): {}",
            output.status,
            last_lines(&stderr, 10)
        ));
    }
    let warnings = stderr.lines().filter(|l| l.contains(": warning: ")).count();
    // Pin the dependencies to the versions the workspace uses (cargo drops what the crate does not
    // need), so both runs and both machines check against the same dependency graph.
    let _ = std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock"));
    // server.rs, stub.rs and registry.rs sit behind features a default `cargo check` leaves out.
    let gated: usize = ["server.rs", "stub.rs", "registry.rs"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(dir.join("src/generated").join(f)).ok())
        .map(|text| text.lines().count())
        .sum();
    Outcome::Measured(GeneratedCrate {
        label: "ours",
        lines: rust_lines(&dir.join("src")),
        dir,
        made_by,
        generator_note: Some(format!(
            "{gated} of those lines are in server.rs, stub.rs and registry.rs, behind features that \
             a default `cargo check` leaves out; {} (see {})",
            count(warnings, "generator warning"),
            project::display(&log)
        )),
        errors: 0,
        warnings: 0,
        first_errors: String::new(),
        checks: Samples::default(),
        incremental_checks: Samples::default(),
    })
}

/// progenitor's crate, from `cargo-progenitor` installed from crates.io into `target/bench/tools`.
fn generate_progenitor(root: &Path, bench_dir: &Path, spec: &Path) -> Outcome<GeneratedCrate> {
    let tools = bench_dir.join("tools");
    let binary = tools.join("bin/cargo-progenitor");
    if !binary.is_file() {
        eprintln!("  cargo install cargo-progenitor --locked --root target/bench/tools");
        let log = bench_dir.join("install-progenitor.log");
        let output = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .current_dir(root)
            .args(["install", "cargo-progenitor", "--locked", "--root"])
            .arg(&tools)
            .env_remove("CARGO_TARGET_DIR")
            .stdin(Stdio::null())
            .output();
        match output {
            Ok(output) => {
                let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
                let _ = std::fs::write(&log, &stderr);
                if !output.status.success() || !binary.is_file() {
                    return Outcome::Skipped(format!(
                        "`cargo install cargo-progenitor` failed ({}): {}",
                        output.status,
                        last_lines(&stderr, 5)
                    ));
                }
            }
            Err(e) => return Outcome::Skipped(format!("running cargo install: {e}")),
        }
    }
    // `cargo progenitor --version` is the generated crate's version option, so read cargo's record.
    let version = std::fs::read_to_string(tools.join(".crates.toml"))
        .ok()
        .and_then(|record| {
            record
                .lines()
                .find_map(|l| l.trim_start_matches('"').strip_prefix("cargo-progenitor "))
                .and_then(|rest| rest.split_whitespace().next())
                .map(|v| format!("cargo-progenitor {v}"))
        })
        .unwrap_or_else(|| "cargo-progenitor (version unknown)".into());

    let dir = bench_dir.join("progenitor-nexus");
    let _ = std::fs::remove_dir_all(&dir);
    let made_by = format!(
        "target/bench/tools/bin/cargo-progenitor progenitor -i {NEXUS} -o {} -n progenitor-nexus -v 0.1.0",
        project::display(&dir)
    );
    eprintln!("  {made_by}  [{version}]");
    let output = Command::new(&binary)
        .current_dir(root)
        .arg("progenitor")
        .arg("-i")
        .arg(spec)
        .arg("-o")
        .arg(&dir)
        .args(["-n", "progenitor-nexus", "-v", "0.1.0"])
        .stdin(Stdio::null())
        .output();
    let output = match output {
        Ok(output) => output,
        Err(e) => return Outcome::Failed(format!("running cargo-progenitor: {e}")),
    };
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let _ = std::fs::write(bench_dir.join("progenitor-nexus-generate.log"), &stderr);
    if !output.status.success() || !dir.join("Cargo.toml").is_file() {
        return Outcome::Failed(format!(
            "{version} did not generate a crate ({}): {}",
            output.status,
            last_lines(&stderr, 10)
        ));
    }
    // Like the crates `cargo xtask generate` makes: a workspace of its own, not a stray member of
    // this repository's workspace (which cargo refuses to build).
    let manifest = dir.join("Cargo.toml");
    let appended = std::fs::read_to_string(&manifest).and_then(|text| {
        if text.lines().any(|l| l.trim() == "[workspace]") {
            Ok(())
        } else {
            std::fs::write(&manifest, format!("{text}\n[workspace]\n"))
        }
    });
    if let Err(e) = appended {
        return Outcome::Failed(format!("adding [workspace] to {}: {e}", manifest.display()));
    }
    Outcome::Measured(GeneratedCrate {
        label: "progenitor",
        lines: rust_lines(&dir.join("src")),
        dir,
        made_by,
        generator_note: Some(version),
        errors: 0,
        warnings: 0,
        first_errors: String::new(),
        checks: Samples::default(),
        incremental_checks: Samples::default(),
    })
}

/// `cargo check` of a generated crate in its own target directory. Without `incremental`, the
/// compiler's incremental cache is off, so the whole crate is type-checked, as when it is built as
/// a dependency or in CI; with it, a crate whose sources were only touched is mostly re-validated
/// from the cache.
fn check_command(bench_dir: &Path, krate: &GeneratedCrate, incremental: bool) -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command
        .current_dir(&krate.dir)
        .arg("check")
        .env("CARGO_INCREMENTAL", if incremental { "1" } else { "0" })
        .env(
            "CARGO_TARGET_DIR",
            bench_dir.join(format!("check-{}", krate.label)),
        )
        .env("CARGO_TERM_COLOR", "never")
        .stdin(Stdio::null());
    command
}

/// The untimed first `cargo check`: fetches and compiles the dependencies, and counts the generated
/// crate's own errors and warnings.
fn warm_check(bench_dir: &Path, mut krate: GeneratedCrate) -> Outcome<GeneratedCrate> {
    eprintln!(
        "  {}: first cargo check (dependencies; untimed)",
        krate.label
    );
    let output = check_command(bench_dir, &krate, false)
        .args(["--message-format", "json"])
        .output();
    let output = match output {
        Ok(output) => output,
        Err(e) => return Outcome::Failed(format!("running cargo check: {e}")),
    };
    let manifest = std::fs::canonicalize(krate.dir.join("Cargo.toml")).unwrap_or_default();
    let mut rendered = String::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if message["reason"] != "compiler-message"
            || Path::new(message["manifest_path"].as_str().unwrap_or_default()) != manifest
        {
            continue;
        }
        let diagnostic = &message["message"];
        let text = diagnostic["message"].as_str().unwrap_or_default();
        if text.starts_with("aborting due to") || text.ends_with("emitted") {
            continue;
        }
        match diagnostic["level"].as_str() {
            Some("error") => {
                krate.errors += 1;
                if krate.errors <= 3 {
                    rendered.push_str(diagnostic["rendered"].as_str().unwrap_or(text));
                }
            }
            Some("warning") => krate.warnings += 1,
            _ => {}
        }
    }
    let log = bench_dir.join(format!("{}-nexus-check.log", krate.label));
    let _ = std::fs::write(&log, &output.stdout);
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        krate.first_errors = if rendered.is_empty() {
            last_lines(&stderr, 20)
        } else {
            rendered
        };
        let what = if krate.errors == 0 {
            "cargo failed before the compiler reported anything".to_string()
        } else {
            format!(
                "{}, {}",
                count(krate.errors, "error"),
                count(krate.warnings, "warning")
            )
        };
        eprintln!(
            "  {}: cargo check failed ({what}); first:\n{}",
            krate.label, krate.first_errors
        );
        return Outcome::Failed(format!(
            "`cargo check` of {} fails: {what} (made by `{}`; {} lines of Rust; cargo's messages: \
             {})\n{}",
            project::display(&krate.dir),
            krate.made_by,
            krate.lines,
            project::display(&log),
            krate.first_errors.trim_end()
        ));
    }
    eprintln!(
        "  {}: compiles; {} warnings, {} lines of Rust",
        krate.label, krate.warnings, krate.lines
    );
    Outcome::Measured(krate)
}

/// Touches every source file of the crate, then times `cargo check` (dependencies already built).
fn timed_check(
    bench_dir: &Path,
    krate: &GeneratedCrate,
    incremental: bool,
) -> Result<Duration, String> {
    let mut sources = Vec::new();
    collect_files(&krate.dir.join("src"), &mut sources);
    let now = SystemTime::now();
    for source in sources
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
    {
        std::fs::File::options()
            .write(true)
            .open(source)
            .and_then(|f| f.set_modified(now))
            .map_err(|e| format!("touching {}: {e}", source.display()))?;
    }
    let start = Instant::now();
    let output = check_command(bench_dir, krate, incremental)
        .output()
        .map_err(|e| format!("running cargo check: {e}"))?;
    let elapsed = start.elapsed();
    if !output.status.success() {
        return Err(format!(
            "cargo check failed on a timed run: {}",
            last_lines(&String::from_utf8_lossy(&output.stderr), 10)
        ));
    }
    Ok(elapsed)
}

fn rust_lines(dir: &Path) -> usize {
    let mut files = Vec::new();
    collect_files(dir, &mut files);
    files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|text| text.lines().count())
        .sum()
}

fn count(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

// ---------------------------------------------------------------------------------------------------
// The report

struct Report {
    date: String,
    machine: String,
    command: String,
    runs: usize,
    specs: Outcome<PipelineBench>,
    github: Outcome<(GithubSource, PipelineBench)>,
    nexus: Nexus,
}

impl Report {
    fn measured_everything(&self) -> bool {
        !matches!(self.specs, Outcome::Failed(_))
            && !matches!(self.github, Outcome::Failed(_))
            && !matches!(self.nexus.ours, Outcome::Failed(_))
            && !matches!(self.nexus.progenitor, Outcome::Failed(_))
    }

    fn markdown(&self) -> String {
        let mut out = String::new();
        let runs = self.runs;
        let _ = writeln!(out, "### Latest run\n");
        let _ = writeln!(out, "- date: {}", self.date);
        let _ = writeln!(out, "- machine: {}", self.machine);
        let _ = writeln!(out, "- command: `{}`", self.command);
        let _ = writeln!(
            out,
            "- {} of each figure; targets are judged on the median\n",
            count(runs, "timed run")
        );
        let _ = writeln!(
            out,
            "| figure | min | median | baseline in the same run (median) | ratio | target | met |"
        );
        let _ = writeln!(out, "| --- | ---: | ---: | --- | ---: | --- | --- |");

        let mut targets = Vec::new();
        let mut details = Vec::new();

        // 1. The three specs.
        pipeline_row(
            &mut out,
            &mut targets,
            &mut details,
            "regenerate specs/*.yaml in process",
            self.specs.measured().map(|b| (b, "")),
            &self.specs,
            SPECS_TARGET,
        );

        // 2. GitHub.
        let github = self.github.measured().map(|(s, b)| (b, s.package.as_str()));
        pipeline_row(
            &mut out,
            &mut targets,
            &mut details,
            "generate GitHub's REST description in process",
            github,
            &self.github,
            GITHUB_TARGET,
        );
        if let Outcome::Measured((source, _)) = &self.github {
            details.push(format!(
                "GitHub's description: `{}` from `{}` (OpenAPI {}){}",
                source
                    .path
                    .strip_prefix(project::root().join("target/bench/npm"))
                    .unwrap_or(&source.path)
                    .display(),
                source.package,
                source.openapi_version,
                source
                    .note
                    .as_ref()
                    .map(|n| format!("; {n}"))
                    .unwrap_or_default()
            ));
        }

        // 3. nexus.
        let nexus = &self.nexus;
        let ours_target = format!("≤ {CHECK_RATIO_TARGET} × progenitor");
        match (&nexus.ours, &nexus.progenitor) {
            (Outcome::Measured(ours), progenitor) => {
                let (baseline, ratio_cell, met) = match progenitor {
                    Outcome::Measured(p) => {
                        let r = ratio(ours.checks.median(), p.checks.median());
                        let met = r <= CHECK_RATIO_TARGET;
                        targets.push(format!(
                            "our nexus crate checks in ≤ {CHECK_RATIO_TARGET} × progenitor's time: \
                             {r:.2} × — {}",
                            if met { "met" } else { "NOT MET" }
                        ));
                        (
                            format!("progenitor's crate: {}", ms(p.checks.median())),
                            format!("{r:.2} ×"),
                            yes_no(met).to_string(),
                        )
                    }
                    other => {
                        let why = reason(other);
                        targets.push(format!(
                            "our nexus crate checks in ≤ {CHECK_RATIO_TARGET} × progenitor's time: \
                             not judged (progenitor: {why})"
                        ));
                        (
                            format!("progenitor: {why}"),
                            "–".into(),
                            "not judged".into(),
                        )
                    }
                };
                let _ = writeln!(
                    out,
                    "| `cargo check` of our nexus crate (deps warm, whole crate: incremental off) | {} | {} | {baseline} | {ratio_cell} | {ours_target} | {met} |",
                    ms(ours.checks.min()),
                    ms(ours.checks.median()),
                );
                if let Outcome::Measured(p) = progenitor {
                    let _ = writeln!(
                        out,
                        "| `cargo check` of our nexus crate, incremental on, sources touched (for information) | {} | {} | progenitor's crate: {} | {:.2} × | – | – |",
                        ms(ours.incremental_checks.min()),
                        ms(ours.incremental_checks.median()),
                        ms(p.incremental_checks.median()),
                        ratio(ours.incremental_checks.median(), p.incremental_checks.median()),
                    );
                }
            }
            (other, _) => {
                let why = match other {
                    Outcome::Failed(_) => "our crate FAILED, see Details".to_string(),
                    other => reason(other),
                };
                targets.push(format!(
                    "our nexus crate checks in ≤ {CHECK_RATIO_TARGET} × progenitor's time: \
                     not judged (ours: {why})"
                ));
                let _ = writeln!(
                    out,
                    "| `cargo check` of our nexus crate | – | – | {} | – | {ours_target} | not judged: {} |",
                    match &nexus.progenitor {
                        Outcome::Measured(p) => format!("progenitor's crate: {}", ms(p.checks.median())),
                        _ => "progenitor's crate: –".into(),
                    },
                    short_reason(other)
                );
            }
        }
        match &nexus.progenitor {
            Outcome::Measured(p) => {
                let _ = writeln!(
                    out,
                    "| `cargo check` of progenitor's nexus crate (the baseline) | {} | {} | – | 1.00 × | – | – |",
                    ms(p.checks.min()),
                    ms(p.checks.median()),
                );
            }
            other => {
                let _ = writeln!(
                    out,
                    "| `cargo check` of progenitor's nexus crate (the baseline) | – | – | – | – | – | {} |",
                    short_reason(other)
                );
            }
        }
        for krate in [&nexus.ours, &nexus.progenitor] {
            if let Outcome::Measured(k) = krate {
                details.push(format!(
                    "{} nexus crate: `{}`; {} lines of Rust in src/; {}, {} from `cargo check`{}",
                    k.label,
                    k.made_by,
                    k.lines,
                    count(k.errors, "error"),
                    count(k.warnings, "warning"),
                    k.generator_note
                        .as_ref()
                        .map(|n| format!("; {n}"))
                        .unwrap_or_default()
                ));
            }
        }
        for (label, krate) in [("ours", &nexus.ours), ("progenitor", &nexus.progenitor)] {
            match krate {
                Outcome::Skipped(why) => {
                    details.push(format!("{label} nexus crate skipped: {why}"))
                }
                Outcome::Failed(why) => {
                    let (first, rest) = why.split_once('\n').unwrap_or((why, ""));
                    let mut detail = format!("{label} nexus crate FAILED: {first}");
                    if !rest.trim().is_empty() {
                        let _ = write!(detail, "; first errors:\n\n  ```text\n");
                        for line in rest.lines() {
                            let _ = writeln!(detail, "  {line}");
                        }
                        detail.push_str("  ```");
                    }
                    details.push(detail);
                }
                Outcome::Measured(_) => {}
            }
        }

        let _ = writeln!(out, "\nTargets:\n");
        for t in &targets {
            let _ = writeln!(out, "- {t}");
        }
        let _ = writeln!(out, "\nDetails:\n");
        for d in &details {
            let _ = writeln!(out, "- {d}");
        }
        out
    }
}

#[allow(clippy::too_many_arguments)]
fn pipeline_row<T>(
    out: &mut String,
    targets: &mut Vec<String>,
    details: &mut Vec<String>,
    figure: &str,
    bench: Option<(&PipelineBench, &str)>,
    outcome: &Outcome<T>,
    target: Duration,
) {
    let target_text = format!("< {}", ms(target));
    match bench {
        Some((b, _)) => {
            let median = b.totals.median();
            let met = median < target;
            let baseline = b.baseline();
            let _ = writeln!(
                out,
                "| {figure}: {} | {} | {} | `serde_json` parse of the same JSON: {} | {:.0} × | {target_text} | {} |",
                b.what,
                ms(b.totals.min()),
                ms(median),
                ms(baseline),
                ratio(median, baseline),
                yes_no(met)
            );
            let cpu = b
                .cpu_median()
                .map(|cpu| {
                    format!(
                        " (CPU time of the benchmarking thread: median {} = {:.2} × the target; \
                         less sensitive to other work on the machine)",
                        ms(cpu),
                        ratio(cpu, target)
                    )
                })
                .unwrap_or_default();
            targets.push(format!(
                "{figure} {target_text}: median {} = {:.2} × the target — {}{cpu}",
                ms(median),
                ratio(median, target),
                if met { "met" } else { "NOT MET" }
            ));
            details.push(format!(
                "{figure}: {} operations, {} types, {} generator warnings, {} lines generated; \
                 median by stage: load {}, lower {}, emit+format {}",
                b.size.operations,
                b.size.types,
                b.size.warnings,
                b.size.lines,
                ms(b.stage_median(|p| p.load)),
                ms(b.stage_median(|p| p.lower)),
                ms(b.stage_median(|p| p.emit)),
            ));
        }
        None => {
            let why = reason(outcome);
            let _ = writeln!(
                out,
                "| {figure} | – | – | – | – | {target_text} | not judged: {why} |"
            );
            targets.push(format!("{figure} {target_text}: not judged ({why})"));
        }
    }
}

/// For a table cell: skipped or failed, the details being listed below the table.
fn short_reason<T>(outcome: &Outcome<T>) -> &'static str {
    match outcome {
        Outcome::Measured(_) => "measured",
        Outcome::Skipped(_) => "skipped (see below)",
        Outcome::Failed(_) => "**FAILED** (see below)",
    }
}

fn reason<T>(outcome: &Outcome<T>) -> String {
    match outcome {
        Outcome::Measured(_) => "measured".into(),
        Outcome::Skipped(why) => format!("skipped: {}", one_line(why)),
        Outcome::Failed(why) => format!("FAILED: {}", one_line(why)),
    }
}

/// A message fit for a table cell: one line, no pipes.
pub(crate) fn one_line(text: &str) -> String {
    let first = text.lines().next().unwrap_or_default();
    let more = if text.lines().count() > 1 { " …" } else { "" };
    format!("{}{more}", first.replace('|', "\\|"))
}

/// Replaces the section between the markers in BENCHMARKS.md (appends it when the markers are missing).
fn write_benchmarks_md(path: &Path, section: &str) -> Result<()> {
    let old = std::fs::read_to_string(path).unwrap_or_else(|_| "# Benchmarks\n".into());
    let block = format!(
        "{BEGIN}\n<!-- written by `cargo xtask bench codegen`; edits here are overwritten -->\n\n{section}\n{END}"
    );
    let new = match (old.find(BEGIN), old.find(END)) {
        (Some(begin), Some(end)) if begin < end => {
            format!("{}{block}{}", &old[..begin], &old[end + END.len()..])
        }
        _ => format!("{}\n{block}\n", old.trim_end()),
    };
    std::fs::write(path, new).with_context(|| format!("writing {}", path.display()))
}

pub(crate) fn machine() -> String {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let rustc = Command::new("rustc")
        .arg("-V")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "rustc not found".into());
    format!(
        "{cores} cores (nproc), {cpu}, {rustc}; load average at the end: {}",
        load_average()
    )
}

/// The 1, 5 and 15 minute load averages: other work on the machine makes every figure noisier.
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into())
}

/// The current UTC time as `YYYY-MM-DD HH:MM UTC`.
pub(crate) fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Samples;

    #[test]
    fn median_of_odd_and_even_counts() {
        let s = |v: &[u64]| Samples(v.iter().map(|&n| Duration::from_millis(n)).collect());
        assert_eq!(s(&[3, 1, 2]).median(), Duration::from_millis(2));
        assert_eq!(
            s(&[4, 1, 3, 2]).median(),
            Duration::from_millis(2) + Duration::from_micros(500)
        );
        assert_eq!(s(&[4, 1, 3, 2]).min(), Duration::from_millis(1));
    }

    #[test]
    fn section_between_markers_is_replaced() {
        let dir = std::env::temp_dir().join(format!("xtask-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("BENCHMARKS.md");
        std::fs::write(&path, "# B\n\nintro\n\n<!-- bench:codegen:begin -->\nold\n<!-- bench:codegen:end -->\n\ntail\n").unwrap();
        super::write_benchmarks_md(&path, "new figures\n").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# B\n\nintro\n\n<!-- bench:codegen:begin -->"));
        assert!(text.contains("new figures") && !text.contains("old"));
        assert!(text.ends_with("<!-- bench:codegen:end -->\n\ntail\n"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
