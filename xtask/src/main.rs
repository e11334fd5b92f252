//! `cargo xtask`: every task of this repository that does IO (reading specs, writing generated code,
//! running checks). The libraries it drives stay pure.

mod bench;
mod bench_conformance;
mod bench_emulator;
mod bench_floor;
mod codegen;
mod conformance_cli;
mod diff;
mod emulate;
mod emulate_log;
mod lint;
mod project;

use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  conformance [--target VENDOR=URL]... [--allow-mutations] [--report-dir DIR] [--record DIR] [--replay DIR] ...
                              the conformance suite: the embedded emulators by default, or live appliances;
                              writes report.json, junit.xml, report.html (`conformance --help`)
  lint [SPEC...]              check every spec in specs/ (or the given files) and its fixtures
  regenerate [--check]        regenerate generated/<vendor>/src/generated/ from specs/ (--check: fail if stale)
  generate --spec F --out D [--name N]
                              generate a standalone crate for any OpenAPI 3.0 document
  bench codegen [--skip-progenitor] [--runs N]
                              time the generator and `cargo check` of its output (release build;
                              writes the figures into BENCHMARKS.md)
  bench emulator [--runs N] [--seconds S] [--connections N] [--skip-prism] [VENDOR...]
                              requests/s, p50/p99 latency and peak RSS of the emulators over loopback,
                              against Prism's mock server (release build; writes BENCHMARKS.md)
  bench conformance [--runs N]
                              wall time of `xtask conformance` against the embedded emulators, debug and
                              release, against a run with no scenario (writes BENCHMARKS.md)
  diff <BASE> [--head REF] [--format markdown|json] [--fail-on-breaking]
                              API changes of specs/ since BASE, classified (breaking or not), and the
                              generated public API difference; `diff --rules` lists the rules
  emulate <lxca|ibm-backup-recovery|zstack> [--port N] [--http|--tls] [--seed F] [--faults F]
          [--deterministic] [--session <32-hex>]
                              serve an emulated appliance until Ctrl-C, logging every request
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("lint") => lint::run(&args[1..]),
        Some("regenerate") => match &args[1..] {
            [] => codegen::regenerate(false),
            [flag] if flag == "--check" => codegen::regenerate(true),
            _ => Err(anyhow::anyhow!("usage: cargo xtask regenerate [--check]")),
        },
        Some("generate") => codegen::generate(&args[1..]),
        Some("bench") => bench::run(&args[1..]),
        Some("diff") => diff::run(&args[1..]),
        Some("emulate") => emulate::run(&args[1..]),
        Some("conformance") => conformance_cli::run(&args[1..]),
        Some("-h" | "--help" | "help") => {
            print!("{USAGE}");
            Ok(true)
        }
        Some(other) => Err(anyhow::anyhow!("unknown command `{other}`\n\n{USAGE}")),
        None => Err(anyhow::anyhow!("no command given\n\n{USAGE}")),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
