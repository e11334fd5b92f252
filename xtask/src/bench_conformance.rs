//! `cargo xtask bench conformance`: the wall time of `cargo xtask conformance` against the embedded
//! emulators, after the build, as a user runs it (the debug binary `cargo xtask` builds), and in a
//! release build for comparison. The baseline, measured in the same run, is the same command with
//! every scenario deselected (`--only` matching none): process start, loading the three specs,
//! building the emulators and writing the reports, with no exchange. The figures go into
//! `BENCHMARKS.md` between the markers below.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::project;

const BEGIN: &str = "<!-- bench:conformance:begin -->";
const END: &str = "<!-- bench:conformance:end -->";
const USAGE: &str = "usage: cargo xtask bench conformance [--runs N]";
/// The target for the whole suite after the build.
const TARGET: Duration = Duration::from_secs(10);

pub fn run(args: &[String]) -> Result<bool> {
    let mut runs = 5usize;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--runs" => {
                let value = iter.next().context("--runs needs a value")?;
                runs =
                    value.parse().ok().filter(|n| *n > 0).with_context(|| {
                        format!("--runs wants a positive number, not `{value}`")
                    })?;
            }
            other => bail!("unknown argument `{other}` ({USAGE})"),
        }
    }
    let root = project::root();
    let mut rows = Vec::new();
    for (profile, flag) in [("debug", None), ("release", Some("--release"))] {
        eprintln!("building xtask ({profile})");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = Command::new(cargo);
        build
            .current_dir(&root)
            .args(["build", "--quiet", "-p", "xtask"]);
        if let Some(flag) = flag {
            build.arg(flag);
        }
        if !build.status().context("cargo build -p xtask")?.success() {
            bail!("cargo build -p xtask ({profile}) failed");
        }
        let binary = target_dir(&root).join(profile).join("xtask");
        let full = time(&binary, &root, &[], runs)?;
        let empty = time(
            &binary,
            &root,
            &["--only", "no-scenario-has-this-name"],
            runs,
        )?;
        rows.push((profile, full, empty));
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut text = String::new();
    text.push_str("## Conformance suite: wall time\n\n");
    text.push_str(&format!(
        "Command: `cargo xtask bench conformance --runs {runs}`. Each figure is the median of {runs} runs of \
`xtask conformance` against the three embedded emulators, after the build, on this machine ({} cores, load {} \
at the end). The baseline is the same command with every scenario deselected: process start, the three specs \
loaded, the emulators built, the reports written, no exchange.\n\n",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        load.split_whitespace().next().unwrap_or("?"),
    ));
    text.push_str("| build | whole suite | baseline (no scenario) | suite / baseline | suite / 10 s target |\n");
    text.push_str("| --- | --- | --- | --- | --- |\n");
    let mut met = true;
    for (profile, full, empty) in &rows {
        let ratio = full.as_secs_f64() / empty.as_secs_f64().max(1e-9);
        let of_target = full.as_secs_f64() / TARGET.as_secs_f64();
        if *profile == "debug" && full > &TARGET {
            met = false;
        }
        text.push_str(&format!(
            "| {profile}{} | {:.2} s | {:.2} s | {ratio:.1}× | {of_target:.2}× |\n",
            if *profile == "debug" {
                " (what `cargo xtask conformance` runs)"
            } else {
                ""
            },
            full.as_secs_f64(),
            empty.as_secs_f64(),
        ));
    }
    text.push_str(&format!(
        "\nTarget: the whole suite in at most 10 s after the build: {}.\n",
        if met { "met" } else { "NOT met" }
    ));
    print!("{text}");
    write_section(&root.join("BENCHMARKS.md"), &text)?;
    eprintln!("wrote the figures into BENCHMARKS.md");
    Ok(true)
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

/// The median wall time of `runs` runs of `binary conformance <extra>`; a failing run stops it.
fn time(binary: &Path, root: &Path, extra: &[&str], runs: usize) -> Result<Duration> {
    let report_dir = target_dir(root).join("bench/conformance-report");
    let mut times = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let output = Command::new(binary)
            .current_dir(root)
            .arg("conformance")
            .args(extra)
            .arg("--report-dir")
            .arg(&report_dir)
            .output()
            .with_context(|| format!("running {}", binary.display()))?;
        let elapsed = started.elapsed();
        if !output.status.success() && extra.is_empty() {
            bail!(
                "the suite failed; fix it before timing it:\n{}",
                String::from_utf8_lossy(&output.stdout)
            );
        }
        times.push(elapsed);
    }
    times.sort();
    Ok(times[times.len() / 2])
}

fn write_section(path: &Path, section: &str) -> Result<()> {
    let old = std::fs::read_to_string(path).unwrap_or_else(|_| "# Benchmarks\n".into());
    let block = format!(
        "{BEGIN}\n<!-- written by `cargo xtask bench conformance`; edits here are overwritten -->\n\n{section}\n{END}"
    );
    let new = match (old.find(BEGIN), old.find(END)) {
        (Some(begin), Some(end)) if begin < end => {
            format!("{}{block}{}", &old[..begin], &old[end + END.len()..])
        }
        _ => format!("{}\n\n{block}\n", old.trim_end()),
    };
    std::fs::write(path, new).with_context(|| format!("writing {}", path.display()))
}
