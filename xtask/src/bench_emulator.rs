//! `cargo xtask bench emulator [--runs N] [--seconds S] [--job-seconds S] [--connections N]
//! [--client-threads N] [--skip-prism] [VENDOR...]`: how many requests per second the emulators
//! answer over loopback, with what latency, in how much memory, against Prism's mock server
//! (`@stoplight/prism-cli`) serving the same spec, measured in the same run.
//!
//! A benchmark, not a timed test: a missed target is reported plainly, not an error. The run prints
//! the figures and writes them into `BENCHMARKS.md` between the markers below. It exits non-zero only
//! when one of our emulators could not be measured (it did not start, or a request failed outright).
//!
//! Each emulator is its own process: this (release) binary's `emulate <vendor> --port P
//! --deterministic --http` with the fixed credentials, plain HTTP so that TLS does not dominate, its
//! per-request log lines going to /dev/null. The load generator is in this process: N keep-alive
//! HTTP/1.1 connections (hyper), each sending one request after the other for a fixed time; every
//! latency is recorded and the percentiles are read from the sorted sample. Peak RSS is the server
//! process's `VmHWM` from `/proc/<pid>/status`. Every process started here is stopped by its id by a
//! guard, also on error or panic.
//!
//! After each run of ours, the same emulator runs again with `--no-replay` (GETs only), so the GET
//! is also measured computed afresh each time rather than replayed; then the floor is measured the
//! same way: a bare hyper server (`bench_floor`) sending our GET answer, which says what any server must spend per request on this machine with
//! this load generator, so that our figures can be read against what is possible here.
//!
//! Prism is installed once into `target/bench/prism/` with npm and reused.

use std::fmt::Write as _;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;

use crate::bench::{load_average, machine, one_line, rerun_in_release, utc_now};
use crate::project;

const USAGE: &str = "usage: cargo xtask bench emulator [--runs N] [--seconds S] [--job-seconds S] \
[--connections N] [--client-threads N] [--skip-prism] [zstack|lxca|ibm-backup-recovery...]";
const BEGIN: &str = "<!-- bench:emulator:begin -->";
const END: &str = "<!-- bench:emulator:end -->";
const PRISM_VERSION: &str = "5.16.0";
const GET_TARGET_RPS: f64 = 50_000.0;
const P99_TARGET: Duration = Duration::from_millis(5);
const RSS_TARGET_KB: u64 = 50 * 1024;
const WARM_UP: Duration = Duration::from_secs(1);
/// ZStack's pre-created session (`--session`).
const ZSTACK_SESSION: &str = "0123456789abcdef0123456789abcdef";
/// IBM's pre-issued bearer token (`--token`).
const IBM_TOKEN: &str = "bench-token";
/// `USERID:PASSW0RD`, base64.
const LXCA_BASIC: &str = "VVNFUklEOlBBU1NXMFJE";

// ---------------------------------------------------------------------------------------------------
// The command line

#[derive(Debug, Clone, PartialEq)]
struct Options {
    runs: usize,
    seconds: Duration,
    job_seconds: Duration,
    connections: usize,
    client_threads: usize,
    skip_prism: bool,
    vendors: Vec<&'static str>,
}

const VENDORS: [&str; 3] = ["zstack", "lxca", "ibm-backup-recovery"];

fn parse(args: &[String]) -> Result<Options> {
    let mut options = Options {
        runs: 3,
        seconds: Duration::from_secs(5),
        job_seconds: Duration::from_secs(2),
        connections: 32,
        client_threads: 1,
        skip_prism: false,
        vendors: Vec::new(),
    };
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let mut number = |name: &str| -> Result<u64> {
            let value = rest
                .next()
                .with_context(|| format!("{name} needs a value ({USAGE})"))?;
            value
                .parse::<u64>()
                .ok()
                .filter(|&n| n > 0)
                .with_context(|| format!("{name} wants a positive number, not `{value}`"))
        };
        match arg.as_str() {
            "--runs" => options.runs = number("--runs")? as usize,
            "--seconds" => options.seconds = Duration::from_secs(number("--seconds")?),
            "--job-seconds" => options.job_seconds = Duration::from_secs(number("--job-seconds")?),
            "--connections" => options.connections = number("--connections")? as usize,
            "--client-threads" => options.client_threads = number("--client-threads")? as usize,
            "--skip-prism" => options.skip_prism = true,
            vendor => match VENDORS.iter().find(|v| **v == vendor) {
                Some(v) if !options.vendors.contains(v) => options.vendors.push(v),
                Some(_) => {}
                None => bail!("unknown argument `{vendor}` ({USAGE})"),
            },
        }
    }
    if options.vendors.is_empty() {
        options.vendors = VENDORS.to_vec();
    }
    Ok(options)
}

// ---------------------------------------------------------------------------------------------------
// What is sent to each vendor

/// One request, sent over and over.
#[derive(Debug, Clone)]
struct Call {
    method: Method,
    /// The path and query under the emulator's root (with the spec's base path).
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Option<&'static str>,
}

struct Scenario {
    vendor: &'static str,
    /// `emulate` options after the vendor, apart from the port.
    emulate_flags: Vec<String>,
    /// The spec's server path, which Prism does not serve under (it serves the `paths` at its root).
    base_path: &'static str,
    get: Call,
    get_label: &'static str,
    job_label: &'static str,
}

fn header(name: &'static str, value: &str) -> (&'static str, String) {
    (name, value.to_string())
}

fn scenario(vendor: &'static str, bench_dir: &Path) -> Result<Scenario> {
    Ok(match vendor {
        "zstack" => Scenario {
            vendor,
            emulate_flags: vec!["--session".into(), ZSTACK_SESSION.into()],
            base_path: "/zstack",
            get: Call {
                method: Method::GET,
                path: "/zstack/v1/backup-storage".into(),
                headers: vec![header("authorization", &format!("OAuth {ZSTACK_SESSION}"))],
                body: None,
            },
            get_label: "`GET /zstack/v1/backup-storage` (QueryBackupStorage, 3 storages), session header",
            job_label: "`PUT /zstack/v1/backup-storage/{uuid}/actions` `reconnectBackupStorage` (202 + location; a 3 s job each)",
        },
        "lxca" => Scenario {
            vendor,
            emulate_flags: vec![],
            base_path: "",
            get: Call {
                method: Method::GET,
                path: "/managementServer/data".into(),
                headers: vec![header("authorization", &format!("Basic {LXCA_BASIC}"))],
                body: None,
            },
            get_label: "`GET /managementServer/data` (GetBackups, 2 backups), HTTP Basic",
            job_label: "`PUT /managementServer/data` copy of a backup to the remote share (a 20 s job each)",
        },
        "ibm-backup-recovery" => {
            // The built-in seed with runs that end at once, so that `POST .../runs` can be repeated
            // on one protection group (a group with a run in progress answers 409).
            let seed_text = std::fs::read_to_string(
                project::root().join("conformance/src/emulators/ibm/default-seed.yaml"),
            )
            .context("reading the IBM emulator's built-in seed")?;
            let seed = instant_runs_seed(&seed_text)?;
            let path = bench_dir.join("ibm-seed-instant-runs.yaml");
            std::fs::write(&path, seed).with_context(|| format!("writing {}", path.display()))?;
            Scenario {
                vendor,
                emulate_flags: vec![
                    "--token".into(),
                    IBM_TOKEN.into(),
                    "--seed".into(),
                    path.display().to_string(),
                ],
                base_path: "/v2",
                get: Call {
                    method: Method::GET,
                    path: "/v2/data-protect/protection-groups".into(),
                    headers: ibm_headers(),
                    body: None,
                },
                get_label: "`GET /v2/data-protect/protection-groups` (2 groups), bearer token and tenant header",
                job_label: "`POST /v2/data-protect/protection-groups/{id}/runs` `kRegular` (202; runs end at once in the bench's seed)",
            }
        }
        other => bail!("no scenario for `{other}`"),
    })
}

fn ibm_headers() -> Vec<(&'static str, String)> {
    vec![
        header("authorization", &format!("Bearer {IBM_TOKEN}")),
        header("x-ibm-tenant-id", "tenant-a/"),
    ]
}

/// The IBM seed with `runAcceptedSecs` and `runDurationSecs` set to 0.
fn instant_runs_seed(seed: &str) -> Result<String> {
    let mut out = String::new();
    let mut replaced = 0;
    for line in seed.lines() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        match ["runAcceptedSecs:", "runDurationSecs:"]
            .iter()
            .find(|key| trimmed.starts_with(**key))
        {
            Some(key) => {
                replaced += 1;
                let _ = writeln!(out, "{indent}{key} 0");
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    if replaced != 2 {
        bail!("the IBM seed's timing block has changed: runAcceptedSecs/runDurationSecs not found");
    }
    Ok(out)
}

/// The job start, which needs an id the running emulator knows.
async fn job_call(scenario: &Scenario, addr: SocketAddr, prefix: &str) -> Result<Call, String> {
    let strip = |path: &str| format!("{prefix}{}", &path[scenario.base_path.len()..]);
    Ok(match scenario.vendor {
        "zstack" => Call {
            method: Method::PUT,
            path: strip("/zstack/v1/backup-storage/1ab3b836a88342e1bbc1b1a17d092f0f/actions"),
            headers: vec![
                header("authorization", &format!("OAuth {ZSTACK_SESSION}")),
                header("content-type", "application/json"),
            ],
            body: Some(r#"{"reconnectBackupStorage":{}}"#),
        },
        "lxca" => Call {
            method: Method::PUT,
            path: strip("/managementServer/data"),
            headers: vec![
                header("authorization", &format!("Basic {LXCA_BASIC}")),
                header("content-type", "application/json"),
            ],
            body: Some(
                r#"{"action":"start","destination":"/mnt/my_remote_share","operation":"copy","uuid":"4edf27ff-08d1-49b5-b7f3-7e8edc4fd278"}"#,
            ),
        },
        "ibm-backup-recovery" => {
            // The first protection group's id, from the list.
            let get = Call {
                path: strip(&scenario.get.path),
                ..scenario.get.clone()
            };
            let (status, body) = once(addr, &get).await?;
            if !status.is_success() {
                return Err(format!("listing protection groups answered {status}"));
            }
            let value: serde_json::Value = serde_json::from_slice(&body)
                .map_err(|e| format!("the protection groups list is not JSON: {e}"))?;
            let id = value
                .pointer("/protectionGroups/0/id")
                .and_then(|v| v.as_str())
                .ok_or("the protection groups list has no /protectionGroups/0/id")?;
            let mut headers = ibm_headers();
            headers.push(header("content-type", "application/json"));
            Call {
                method: Method::POST,
                path: strip(&format!("/v2/data-protect/protection-groups/{id}/runs")),
                headers,
                body: Some(r#"{"runType":"kRegular"}"#),
            }
        }
        other => return Err(format!("no job start for `{other}`")),
    })
}

// ---------------------------------------------------------------------------------------------------
// Processes

/// A process started here, stopped by its id when dropped (also on error or panic).
struct Process {
    child: Child,
    label: String,
}

impl Process {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Some(status)` once it has exited.
    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.exited().is_none() {
            // SIGKILL to this very child; nothing else is signalled.
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        eprintln!("  stopped {} (pid {})", self.label, self.child.id());
    }
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// `VmHWM` (peak resident set) and `VmRSS` of a process, in kB, from `/proc/<pid>/status`.
fn memory_kb(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some((status_kb(&status, "VmHWM")?, status_kb(&status, "VmRSS")?))
}

/// The CPU time a process has used (user + system), from `/proc/<pid>/stat`.
fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let ticks = stat_cpu_ticks(&stat)?;
    // USER_HZ, 100 on every Linux this runs on (it is fixed by the kernel's ABI for /proc).
    Some(Duration::from_millis(ticks * 10))
}

/// utime + stime, in clock ticks, from a `/proc/<pid>/stat` line (fields 14 and 15; the command
/// name in parentheses may hold spaces, so fields are counted after its closing parenthesis).
fn stat_cpu_ticks(stat: &str) -> Option<u64> {
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// A `Key:   1234 kB` line of `/proc/<pid>/status`.
fn status_kb(status: &str, key: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        if name.trim() != key {
            return None;
        }
        let mut words = value.split_whitespace();
        let number = words.next()?.parse().ok()?;
        match words.next() {
            Some("kB") | None => Some(number),
            Some(_) => None,
        }
    })
}

// ---------------------------------------------------------------------------------------------------
// The load generator

fn build_request(call: &Call, host: &str) -> Request<Full<Bytes>> {
    let mut builder = Request::builder()
        .method(call.method.clone())
        .uri(call.path.as_str())
        .header("host", host)
        .header("accept", "application/json");
    for (name, value) in &call.headers {
        builder = builder.header(*name, value.as_str());
    }
    builder
        .body(Full::new(Bytes::from_static(
            call.body.unwrap_or_default().as_bytes(),
        )))
        .expect("a valid request")
}

async fn connect(
    addr: SocketAddr,
) -> Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>, String> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connecting to {addr}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake with {addr}: {e}"))?;
    tokio::spawn(connection);
    Ok(sender)
}

/// One request on a fresh connection: the status and the body.
async fn once(addr: SocketAddr, call: &Call) -> Result<(hyper::StatusCode, Bytes), String> {
    let mut sender = connect(addr).await?;
    let response = sender
        .send_request(build_request(call, &addr.to_string()))
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, body))
}

/// What one load phase saw.
#[derive(Debug, Default, Clone)]
struct Load {
    /// Latencies of the answered requests, in microseconds, sorted.
    latencies_us: Vec<u32>,
    elapsed: Duration,
    /// Answers that were not 2xx, by status.
    non_2xx: std::collections::BTreeMap<u16, usize>,
    /// Requests that got no answer (connection errors), with the first message.
    failures: usize,
    first_failure: Option<String>,
}

impl Load {
    fn requests_per_second(&self) -> f64 {
        self.latencies_us.len() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn percentile(&self, p: f64) -> Duration {
        Duration::from_micros(u64::from(percentile(&self.latencies_us, p)))
    }

    fn errors(&self) -> usize {
        self.non_2xx.values().sum::<usize>() + self.failures
    }

    fn errors_text(&self) -> String {
        if self.errors() == 0 {
            return "0".into();
        }
        let mut parts: Vec<String> = self
            .non_2xx
            .iter()
            .map(|(status, n)| format!("{n} × {status}"))
            .collect();
        if self.failures > 0 {
            parts.push(format!(
                "{} without an answer ({})",
                self.failures,
                self.first_failure.as_deref().unwrap_or("?")
            ));
        }
        parts.join(", ")
    }
}

/// The nearest-rank percentile of a sorted sample (0 for an empty one).
fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// `connections` keep-alive connections, each sending `call` one request after the other for
/// `duration`.
///
/// The requests are written as prepared bytes and the answers read by [`read_answer`], as `wrk`
/// does, rather than through hyper's client: the load generator shares the machine's two cores
/// with the server, and hyper's client cost as much CPU per request as the bare server
/// (`bench_floor`) itself, so the server got a third less of the machine than it could.
async fn drive(addr: SocketAddr, call: &Call, connections: usize, duration: Duration) -> Load {
    let request: Arc<[u8]> = encode_request(call, &addr.to_string()).into();
    let start = Instant::now();
    let deadline = start + duration;
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let request = request.clone();
            tokio::spawn(async move {
                let mut load = Load::default();
                let mut stream: Option<tokio::net::TcpStream> = None;
                let mut buffer = Vec::with_capacity(16 * 1024);
                while Instant::now() < deadline {
                    let s = match &mut stream {
                        Some(s) => s,
                        None => match tokio::net::TcpStream::connect(addr).await {
                            Ok(s) => {
                                let _ = s.set_nodelay(true);
                                buffer.clear();
                                stream.insert(s)
                            }
                            Err(e) => {
                                load.failures += 1;
                                load.first_failure
                                    .get_or_insert(format!("connecting to {addr}: {e}"));
                                tokio::time::sleep(Duration::from_millis(10)).await;
                                continue;
                            }
                        },
                    };
                    let sent = Instant::now();
                    let answer = async {
                        tokio::io::AsyncWriteExt::write_all(s, &request)
                            .await
                            .map_err(|e| format!("sending: {e}"))?;
                        read_answer(s, &mut buffer).await
                    }
                    .await;
                    let took = sent.elapsed();
                    match answer {
                        Ok(answer) => {
                            load.latencies_us
                                .push(took.as_micros().min(u128::from(u32::MAX)) as u32);
                            if !(200..300).contains(&answer.status) {
                                *load.non_2xx.entry(answer.status).or_default() += 1;
                            }
                            if answer.close {
                                stream = None;
                            }
                        }
                        Err(e) => {
                            load.failures += 1;
                            load.first_failure.get_or_insert(e);
                            stream = None;
                        }
                    }
                }
                load
            })
        })
        .collect();
    let mut total = Load::default();
    for task in tasks {
        if let Ok(load) = task.await {
            total.latencies_us.extend(load.latencies_us);
            for (status, n) in load.non_2xx {
                *total.non_2xx.entry(status).or_default() += n;
            }
            total.failures += load.failures;
            if total.first_failure.is_none() {
                total.first_failure = load.first_failure;
            }
        }
    }
    total.elapsed = start.elapsed();
    total.latencies_us.sort_unstable();
    total
}

/// `call` as HTTP/1.1 bytes, with the same headers as [`build_request`].
fn encode_request(call: &Call, host: &str) -> Vec<u8> {
    let mut out = format!(
        "{} {} HTTP/1.1\r\nhost: {host}\r\naccept: application/json\r\n",
        call.method, call.path
    );
    for (name, value) in &call.headers {
        let _ = write!(out, "{name}: {value}\r\n");
    }
    let body = call.body.unwrap_or_default();
    if !body.is_empty() || call.method != Method::GET {
        let _ = write!(out, "content-length: {}\r\n", body.len());
    }
    out.push_str("\r\n");
    out.push_str(body);
    out.into_bytes()
}

/// What [`read_answer`] read.
#[derive(Debug, PartialEq)]
struct Answer {
    status: u16,
    /// The server closes the connection after it.
    close: bool,
}

/// Reads one whole answer (head and body: `Content-Length`, chunked, or up to the end of the
/// stream) from `stream`; `buffer` keeps what was read past it.
async fn read_answer<R: tokio::io::AsyncRead + Unpin>(
    stream: &mut R,
    buffer: &mut Vec<u8>,
) -> Result<Answer, String> {
    use tokio::io::AsyncReadExt as _;
    let mut ended = false;
    loop {
        match parse_answer(buffer, ended)? {
            Some((answer, used)) => {
                buffer.drain(..used);
                return Ok(answer);
            }
            None if ended => return Err("the connection closed mid-answer".into()),
            None => {
                if buffer.capacity() - buffer.len() < 4096 {
                    buffer.reserve(16 * 1024);
                }
                let n = stream
                    .read_buf(buffer)
                    .await
                    .map_err(|e| format!("receiving: {e}"))?;
                ended = n == 0;
            }
        }
    }
}

/// One whole answer at the start of `bytes`, and how many bytes it takes; `None` while more is
/// needed. `ended`: nothing more will come (a body without a length ends there).
fn parse_answer(bytes: &[u8], ended: bool) -> Result<Option<(Answer, usize)>, String> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut head = httparse::Response::new(&mut headers);
    let head_len = match head.parse(bytes) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(format!("a malformed answer: {e}")),
    };
    let status = head.code.unwrap_or(0);
    let header = |name: &str| {
        head.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_ascii_lowercase())
    };
    let mut close =
        header("connection").is_some_and(|v| v.contains("close")) || head.version == Some(0);
    let body = &bytes[head_len..];
    let body_len = if status == 204 || status == 304 || (100..200).contains(&status) {
        Some(0)
    } else if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        chunked_length(body)?
    } else if let Some(length) = header("content-length") {
        let length: usize = length
            .parse()
            .map_err(|_| format!("a malformed Content-Length: {length}"))?;
        (body.len() >= length).then_some(length)
    } else {
        // No length: the body runs to the end of the stream.
        close = true;
        ended.then_some(body.len())
    };
    Ok(body_len.map(|n| (Answer { status, close }, head_len + n)))
}

/// How many bytes a whole chunked body takes at the start of `body` (its trailer included), or
/// `None` while more is needed.
fn chunked_length(body: &[u8]) -> Result<Option<usize>, String> {
    let mut at = 0;
    loop {
        let Some(line_end) = find(&body[at..], b"\r\n") else {
            return Ok(None);
        };
        let line = String::from_utf8_lossy(&body[at..at + line_end]);
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("a malformed chunk size: {size_text}"))?;
        at += line_end + 2;
        if size == 0 {
            // Trailer fields, then an empty line.
            loop {
                let Some(end) = find(&body[at..], b"\r\n") else {
                    return Ok(None);
                };
                at += end + 2;
                if end == 0 {
                    return Ok(Some(at));
                }
            }
        }
        if body.len() < at + size + 2 {
            return Ok(None);
        }
        at += size + 2;
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

// ---------------------------------------------------------------------------------------------------
// One server, measured

/// What one run of one server gave.
#[derive(Debug, Clone)]
struct Measured {
    get: Load,
    job: Load,
    /// The server process's CPU time during the measured GETs.
    get_cpu: Option<Duration>,
    /// The bench process's (the load generator's) CPU time during the measured GETs.
    client_cpu: Option<Duration>,
    /// `VmHWM` after the GETs, kB.
    peak_after_get_kb: Option<u64>,
    /// `VmHWM` after the job starts too, kB.
    peak_after_jobs_kb: Option<u64>,
    rss_after_jobs_kb: Option<u64>,
}

enum Server {
    Ours,
    /// Ours with `--no-replay`: every GET answer computed afresh, GETs only.
    Computing,
    Prism(PathBuf),
    /// `bench floor-server` answering the emulator's own GET answer, read from this file
    /// (`bench_floor`).
    Floor(PathBuf),
}

/// Where a run of our emulator leaves its GET answer, for the floor to send.
fn answer_file(bench_dir: &Path, vendor: &str) -> PathBuf {
    bench_dir.join(format!("{vendor}-get-answer.json"))
}

/// Starts the server, waits until it answers the GET, drives it, stops it.
fn measure(
    runtime: &tokio::runtime::Runtime,
    server: &Server,
    scenario: &Scenario,
    options: &Options,
    bench_dir: &Path,
) -> Result<Measured, String> {
    let port = free_port().map_err(|e| format!("{e:#}"))?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let (mut process, prefix, log) = match server {
        Server::Ours | Server::Computing => {
            let log = bench_dir.join(format!("{}-emulator.stderr", scenario.vendor));
            let mut args: Vec<std::ffi::OsString> = ["emulate", scenario.vendor, "--port"]
                .into_iter()
                .map(Into::into)
                .collect();
            args.push(port.to_string().into());
            args.extend(["--deterministic", "--http"].map(Into::into));
            args.extend(scenario.emulate_flags.iter().map(Into::into));
            if let Server::Computing = server {
                args.push("--no-replay".into());
            }
            let child = start_this_binary(&args, &log, "the emulator")?;
            (
                Process {
                    child,
                    label: format!("the {} emulator", scenario.vendor),
                },
                scenario.base_path.to_string(),
                log,
            )
        }
        Server::Prism(prism) => {
            let log = bench_dir.join(format!("{}-prism.log", scenario.vendor));
            let spec = project::root().join(format!("specs/{}.yaml", scenario.vendor));
            let out = file(&log)?;
            let err = out.try_clone().map_err(|e| e.to_string())?;
            let child = Command::new(prism)
                .current_dir(project::root())
                .arg("mock")
                .arg(&spec)
                .args(["-h", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .spawn()
                .map_err(|e| format!("starting Prism: {e}"))?;
            (
                Process {
                    child,
                    label: format!("Prism on specs/{}.yaml", scenario.vendor),
                },
                String::new(),
                log,
            )
        }
        Server::Floor(answer) => {
            let log = bench_dir.join(format!("{}-floor.stderr", scenario.vendor));
            let args: Vec<std::ffi::OsString> = vec![
                "bench".into(),
                "floor-server".into(),
                "--port".into(),
                port.to_string().into(),
                "--body".into(),
                answer.into(),
            ];
            let child = start_this_binary(&args, &log, "the floor server")?;
            (
                Process {
                    child,
                    label: format!("the floor server ({})", scenario.vendor),
                },
                scenario.base_path.to_string(),
                log,
            )
        }
    };
    let strip = |call: &Call| Call {
        path: format!("{prefix}{}", &call.path[scenario.base_path.len()..]),
        ..call.clone()
    };
    let get = strip(&scenario.get);

    // Wait until it answers the GET with a 2xx (Prism takes seconds to load a spec).
    let started = Instant::now();
    loop {
        if let Some(status) = process.exited() {
            return Err(format!(
                "exited ({status}) before answering: {}",
                last_lines(&std::fs::read_to_string(&log).unwrap_or_default(), 3)
            ));
        }
        match runtime.block_on(once(addr, &get)) {
            Ok((status, body)) if status.is_success() => {
                if let Server::Ours = server {
                    std::fs::write(answer_file(bench_dir, scenario.vendor), &body)
                        .map_err(|e| format!("keeping the GET answer for the floor: {e}"))?;
                }
                break;
            }
            Ok((status, body)) if started.elapsed() > Duration::from_secs(2) => {
                return Err(format!(
                    "answers the GET with {status}: {}",
                    one_line(&String::from_utf8_lossy(&body[..body.len().min(200)]))
                ));
            }
            _ if started.elapsed() > Duration::from_secs(90) => {
                return Err(format!(
                    "did not answer within 90 s: {}",
                    last_lines(&std::fs::read_to_string(&log).unwrap_or_default(), 3)
                ));
            }
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    // The floor starts no jobs: it has none; the computing run measures GETs only.
    let job = match server {
        Server::Floor(_) | Server::Computing => None,
        _ => Some(runtime.block_on(job_call(scenario, addr, &prefix))?),
    };

    runtime.block_on(drive(addr, &get, options.connections, WARM_UP));
    let cpu_before = (cpu_time(process.pid()), cpu_time(std::process::id()));
    let get_load = runtime.block_on(drive(addr, &get, options.connections, options.seconds));
    let cpu_after = (cpu_time(process.pid()), cpu_time(std::process::id()));
    let peak_after_get_kb = memory_kb(process.pid()).map(|(hwm, _)| hwm);
    let job_load = match &job {
        Some(job) => runtime.block_on(drive(addr, job, options.connections, options.job_seconds)),
        None => Load::default(),
    };
    let memory = memory_kb(process.pid());
    if let Some(status) = process.exited() {
        return Err(format!(
            "exited ({status}) under load: {}",
            last_lines(&std::fs::read_to_string(&log).unwrap_or_default(), 3)
        ));
    }
    drop(process);
    Ok(Measured {
        get_cpu: cpu_after
            .0
            .zip(cpu_before.0)
            .map(|(a, b)| a.saturating_sub(b)),
        client_cpu: cpu_after
            .1
            .zip(cpu_before.1)
            .map(|(a, b)| a.saturating_sub(b)),
        get: get_load,
        job: job_load,
        peak_after_get_kb,
        peak_after_jobs_kb: memory.map(|(hwm, _)| hwm),
        rss_after_jobs_kb: memory.map(|(_, rss)| rss),
    })
}

/// `jobs 21,019/s p99 6.68 ms errors 0`, or `no job starts` (the floor starts none).
fn jobs_summary(job: &Load) -> String {
    if job.latencies_us.is_empty() && job.errors() == 0 {
        return "no job starts".into();
    }
    format!(
        "jobs {}/s p99 {} errors {}",
        rps(job.requests_per_second()),
        us(job.percentile(99.0)),
        job.errors_text()
    )
}

/// This very binary with `args`, from the workspace root, its errors to `log`.
fn start_this_binary(args: &[std::ffi::OsString], log: &Path, what: &str) -> Result<Child, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    Command::new(exe)
        .current_dir(project::root())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(file(log)?)
        .spawn()
        .map_err(|e| format!("starting {what}: {e}"))
}

fn file(path: &Path) -> Result<std::fs::File, String> {
    std::fs::File::create(path).map_err(|e| format!("creating {}: {e}", path.display()))
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" / ")
}

/// `npm install --prefix target/bench/prism @stoplight/prism-cli@VERSION` (once); the `prism`
/// executable. Errors are reasons to skip the baseline.
fn install_prism(bench_dir: &Path) -> Result<PathBuf, String> {
    let prefix = bench_dir.join("prism");
    let prism = prefix.join("node_modules/.bin/prism");
    let installed = prefix.join("node_modules/@stoplight/prism-cli/package.json");
    let version_ok = std::fs::read_to_string(&installed)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .is_some_and(|v| v["version"] == PRISM_VERSION);
    if prism.exists() && version_ok {
        return Ok(prism);
    }
    eprintln!("  npm install --prefix target/bench/prism @stoplight/prism-cli@{PRISM_VERSION}");
    std::fs::create_dir_all(&prefix).map_err(|e| e.to_string())?;
    let output = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--prefix"])
        .arg(&prefix)
        .arg(format!("@stoplight/prism-cli@{PRISM_VERSION}"))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("npm is not available ({e})"))?;
    if !output.status.success() || !prism.exists() {
        return Err(format!(
            "`npm install @stoplight/prism-cli@{PRISM_VERSION}` failed ({}): {}",
            output.status,
            last_lines(&String::from_utf8_lossy(&output.stderr), 3)
        ));
    }
    Ok(prism)
}

// ---------------------------------------------------------------------------------------------------
// The run

struct VendorResult {
    scenario: Scenario,
    ours: Vec<Result<Measured, String>>,
    /// Ours with every answer computed (`--no-replay`).
    computing: Vec<Result<Measured, String>>,
    /// The bare hyper server sending our answer (`bench_floor`): what the machine allows at best.
    floor: Vec<Result<Measured, String>>,
    /// Our GET answer, which the floor sends.
    answer_file: PathBuf,
    /// `Err` for the whole baseline when Prism is skipped or could not be installed.
    prism: Result<Vec<Result<Measured, String>>, String>,
}

pub fn run(args: &[String]) -> Result<bool> {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return Ok(true);
    }
    let options = parse(args)?;
    if cfg!(debug_assertions) {
        let mut all = vec!["emulator".to_string()];
        all.extend(args.iter().cloned());
        return rerun_in_release(&all);
    }
    let root = project::root();
    let bench_dir = root.join("target/bench/emulator");
    std::fs::create_dir_all(&bench_dir)?;
    let command = std::iter::once("cargo run --release -p xtask -- bench emulator".to_string())
        .chain(args.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");
    let load_at_start = load_average();

    let prism = if options.skip_prism {
        Err("skipped (--skip-prism)".to_string())
    } else {
        install_prism(&root.join("target/bench")).inspect_err(|e| eprintln!("  Prism: {e}"))
    };
    // One thread: the connections' tasks run on the thread that waits for them, with no
    // hand-over between threads.
    let runtime = if options.client_threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(options.client_threads);
        builder
    }
    .enable_all()
    .build()
    .context("starting the load generator's runtime")?;

    let mut results = Vec::new();
    for vendor in &options.vendors {
        let scenario = scenario(vendor, &bench_dir)?;
        let mut ours = Vec::new();
        let mut computing = Vec::new();
        let mut floor = Vec::new();
        let mut baseline = prism.as_ref().map(|_| Vec::new()).map_err(Clone::clone);
        for run in 1..=options.runs {
            eprintln!("== {vendor}, run {run} of {}: our emulator", options.runs);
            let measured = measure(&runtime, &Server::Ours, &scenario, &options, &bench_dir);
            report_progress(&measured);
            let answered = measured.is_ok();
            ours.push(measured);
            if answered {
                eprintln!(
                    "== {vendor}, run {run} of {}: our emulator, every answer computed",
                    options.runs
                );
                let measured = measure(
                    &runtime,
                    &Server::Computing,
                    &scenario,
                    &options,
                    &bench_dir,
                );
                report_progress(&measured);
                computing.push(measured);
                eprintln!("== {vendor}, run {run} of {}: the floor", options.runs);
                let answer = answer_file(&bench_dir, vendor);
                let measured = measure(
                    &runtime,
                    &Server::Floor(answer),
                    &scenario,
                    &options,
                    &bench_dir,
                );
                report_progress(&measured);
                floor.push(measured);
            }
            if let (Ok(prism), Ok(runs)) = (&prism, &mut baseline) {
                eprintln!("== {vendor}, run {run} of {}: Prism", options.runs);
                let measured = measure(
                    &runtime,
                    &Server::Prism(prism.clone()),
                    &scenario,
                    &options,
                    &bench_dir,
                );
                report_progress(&measured);
                runs.push(measured);
            }
        }
        results.push(VendorResult {
            answer_file: answer_file(&bench_dir, vendor),
            scenario,
            ours,
            computing,
            floor,
            prism: baseline,
        });
    }
    drop(runtime);

    let report = Report {
        date: utc_now(),
        machine: format!("{}; load average at the start: {load_at_start}", machine()),
        command,
        options,
        results,
    };
    let text = report.markdown();
    println!("\n{text}");
    write_section(&root.join("BENCHMARKS.md"), &text)?;
    eprintln!("wrote the figures into BENCHMARKS.md");
    Ok(report.measured_everything())
}

fn report_progress(measured: &Result<Measured, String>) {
    match measured {
        Ok(m) => eprintln!(
            "  GET: {:.0}/s, p50 {}, p99 {}, errors {}; {}; peak RSS {}",
            m.get.requests_per_second(),
            us(m.get.percentile(50.0)),
            us(m.get.percentile(99.0)),
            m.get.errors_text(),
            jobs_summary(&m.job),
            mb(m.peak_after_jobs_kb),
        ),
        Err(e) => eprintln!("  not measured: {e}"),
    }
}

// ---------------------------------------------------------------------------------------------------
// The report

struct Report {
    date: String,
    machine: String,
    command: String,
    options: Options,
    results: Vec<VendorResult>,
}

/// The median of some numbers (the mean of the middle two for an even count).
fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    })
}

/// Medians over the measured runs of one server.
struct Medians {
    get_rps: f64,
    get_p50: Duration,
    get_p99: Duration,
    get_errors: usize,
    job_rps: f64,
    job_p50: Duration,
    job_p99: Duration,
    job_errors: usize,
    peak_after_get_kb: Option<u64>,
    peak_after_jobs_kb: Option<u64>,
    /// The server's CPU time per measured GET, microseconds.
    server_cpu_per_get_us: Option<f64>,
    /// The load generator's.
    client_cpu_per_get_us: Option<f64>,
}

fn medians(runs: &[Result<Measured, String>]) -> Option<Medians> {
    let ok: Vec<&Measured> = runs.iter().filter_map(|r| r.as_ref().ok()).collect();
    if ok.is_empty() {
        return None;
    }
    let of = |f: &dyn Fn(&Measured) -> f64| median(ok.iter().map(|m| f(m)).collect());
    let dur = |f: &dyn Fn(&Measured) -> Duration| {
        Duration::from_secs_f64(of(&|m| f(m).as_secs_f64()).unwrap_or(0.0))
    };
    let kb = |f: &dyn Fn(&Measured) -> Option<u64>| {
        let values: Vec<f64> = ok.iter().filter_map(|m| f(m)).map(|v| v as f64).collect();
        median(values).map(|v| v as u64)
    };
    Some(Medians {
        get_rps: of(&|m| m.get.requests_per_second()).unwrap_or(0.0),
        get_p50: dur(&|m| m.get.percentile(50.0)),
        get_p99: dur(&|m| m.get.percentile(99.0)),
        get_errors: ok.iter().map(|m| m.get.errors()).sum(),
        job_rps: of(&|m| m.job.requests_per_second()).unwrap_or(0.0),
        job_p50: dur(&|m| m.job.percentile(50.0)),
        job_p99: dur(&|m| m.job.percentile(99.0)),
        job_errors: ok.iter().map(|m| m.job.errors()).sum(),
        peak_after_get_kb: kb(&|m| m.peak_after_get_kb),
        peak_after_jobs_kb: kb(&|m| m.peak_after_jobs_kb),
        server_cpu_per_get_us: median(
            ok.iter()
                .filter_map(|m| cpu_per_request_us(m.get_cpu, &m.get))
                .collect(),
        ),
        client_cpu_per_get_us: median(
            ok.iter()
                .filter_map(|m| cpu_per_request_us(m.client_cpu, &m.get))
                .collect(),
        ),
    })
}

fn us(d: Duration) -> String {
    let micros = d.as_micros();
    if micros >= 10_000 {
        format!("{:.1} ms", d.as_secs_f64() * 1e3)
    } else if micros >= 1000 {
        format!("{:.2} ms", d.as_secs_f64() * 1e3)
    } else {
        format!("{micros} µs")
    }
}

/// CPU microseconds per request, whole, or a dash when not measured.
fn cpu(us: Option<f64>) -> String {
    us.map(|us| format!("{us:.0} µs"))
        .unwrap_or_else(|| "–".into())
}

fn mb(kb: Option<u64>) -> String {
    kb.map(|kb| format!("{:.1} MB", kb as f64 / 1024.0))
        .unwrap_or_else(|| "–".into())
}

fn rps(r: f64) -> String {
    let digits: Vec<char> = (r.round() as u64).to_string().chars().collect();
    let groups: Vec<String> = digits
        .rchunks(3)
        .rev()
        .map(|g| g.iter().collect())
        .collect();
    groups.join(",")
}

fn yes_no(met: bool) -> &'static str {
    if met {
        "yes"
    } else {
        "**no**"
    }
}

impl Report {
    fn measured_everything(&self) -> bool {
        self.results
            .iter()
            .all(|r| r.ours.iter().chain(&r.computing).all(|m| m.is_ok()))
    }

    fn markdown(&self) -> String {
        let o = &self.options;
        let mut out = String::new();
        let _ = writeln!(out, "### Latest run\n");
        let _ = writeln!(out, "- date: {}", self.date);
        let _ = writeln!(out, "- machine: {}", self.machine);
        let _ = writeln!(out, "- command: `{}`", self.command);
        let _ = writeln!(
            out,
            "- load: {} keep-alive HTTP/1.1 connections from {} load-generator thread(s) in the bench's \
             own process (each writes its request as prepared bytes and reads the whole answer with a \
             minimal parser, as `wrk` does), over loopback; plain HTTP (`--http`), so TLS is not measured; {} s of GETs \
             and {} s of job starts per run, after 1 s of GETs not measured; the load generator shares \
             the machine's {} with the server it drives, and the emulator logs every request (to \
             /dev/null here) as `cargo xtask emulate` does",
            o.connections,
            o.client_threads,
            o.seconds.as_secs(),
            o.job_seconds.as_secs(),
            std::thread::available_parallelism()
                .map(|n| format!("{} cores", n.get()))
                .unwrap_or_else(|_| "cores".into()),
        );
        let _ = writeln!(
            out,
            "- {} runs per server, ours, the floor and Prism's in turn; each figure is the median over the \
             runs, and the targets are judged on it\n",
            o.runs
        );

        let _ = writeln!(out, "#### A typical GET\n");
        let _ = writeln!(
            out,
            "| vendor | request | ours: requests/s | p50 | p99 | non-2xx or failed | Prism: requests/s | p50 | p99 | non-2xx or failed | ours / Prism requests/s | Prism p99 / ours | ≥ 50,000/s | p99 < 5 ms |"
        );
        let _ = writeln!(
            out,
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |"
        );
        let mut targets = Vec::new();
        let mut details = Vec::new();
        for r in &self.results {
            let v = r.scenario.vendor;
            let ours = medians(&r.ours);
            let prism = r.prism.as_ref().map(|runs| (medians(runs), runs));
            let (prism_cells, ratio_cells) = match (&ours, &prism) {
                (_, Err(why)) => (
                    format!("{} | – | – | –", one_line(why)),
                    "– | –".to_string(),
                ),
                (_, Ok((None, runs))) => (
                    format!("could not be measured: {} | – | – | –", first_error(runs)),
                    "– | –".to_string(),
                ),
                (Some(ours), Ok((Some(p), _))) => (
                    format!(
                        "{} | {} | {} | {}",
                        rps(p.get_rps),
                        us(p.get_p50),
                        us(p.get_p99),
                        p.get_errors
                    ),
                    format!(
                        "{:.1} × | {:.1} ×",
                        ours.get_rps / p.get_rps.max(1e-9),
                        p.get_p99.as_secs_f64() / ours.get_p99.as_secs_f64().max(1e-9)
                    ),
                ),
                (None, Ok((Some(p), _))) => (
                    format!(
                        "{} | {} | {} | {}",
                        rps(p.get_rps),
                        us(p.get_p50),
                        us(p.get_p99),
                        p.get_errors
                    ),
                    "– | –".to_string(),
                ),
            };
            match &ours {
                Some(m) => {
                    let rps_met = m.get_rps >= GET_TARGET_RPS;
                    let p99_met = m.get_p99 < P99_TARGET;
                    let _ = writeln!(
                        out,
                        "| {v} | {} | {} | {} | {} | {} | {prism_cells} | {ratio_cells} | {} | {} |",
                        r.scenario.get_label,
                        rps(m.get_rps),
                        us(m.get_p50),
                        us(m.get_p99),
                        m.get_errors,
                        yes_no(rps_met),
                        yes_no(p99_met)
                    );
                    let cpu = match (m.server_cpu_per_get_us, m.client_cpu_per_get_us) {
                        (Some(server), Some(client)) => format!(
                            "; CPU per GET: the emulator {server:.0} µs, the load generator \
                             {client:.0} µs (so the emulator alone on both cores would answer \
                             about {} GET/s, an estimate)",
                            rps(2e6 / server.max(1e-3))
                        ),
                        _ => String::new(),
                    };
                    targets.push(format!(
                        "{v}: GET {} requests/s (target ≥ 50,000: {}), p99 {} (target < 5 ms: {}), \
                         peak RSS {} (target < 50 MB: {}){cpu}",
                        rps(m.get_rps),
                        if rps_met { "met" } else { "NOT MET" },
                        us(m.get_p99),
                        if p99_met { "met" } else { "NOT MET" },
                        mb(m.peak_after_get_kb),
                        match m.peak_after_get_kb {
                            Some(kb) if kb < RSS_TARGET_KB => "met",
                            Some(_) => "NOT MET",
                            None => "not measured",
                        }
                    ));
                }
                None => {
                    let _ = writeln!(
                        out,
                        "| {v} | {} | **not measured**: {} | – | – | – | {prism_cells} | {ratio_cells} | not judged | not judged |",
                        r.scenario.get_label,
                        first_error(&r.ours)
                    );
                    targets.push(format!(
                        "{v}: not judged, our emulator could not be measured"
                    ));
                }
            }
        }

        let _ = writeln!(
            out,
            "\n#### The floor: a bare hyper server sending the same answer\n\n\
             What any HTTP server must spend per request on this machine, with this load generator: \
             `bench floor-server` (`xtask/src/bench_floor.rs`) accepts, parses the request head and \
             writes a fixed answer (our emulator's own GET answer, the same bytes) on the same tokio \
             runtime and hyper settings as `cargo xtask emulate`, and does nothing else. Measured in \
             the same run, right after each run of ours.\n"
        );
        let _ = writeln!(
            out,
            "| vendor | answer | floor: requests/s | p50 | p99 | CPU per GET: floor server | ours | load generator (floor) | ours / floor requests/s |"
        );
        let _ = writeln!(
            out,
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        );
        for r in &self.results {
            let v = r.scenario.vendor;
            let answer = std::fs::metadata(&r.answer_file)
                .map(|m| format!("{} bytes", m.len()))
                .unwrap_or_else(|_| "–".into());
            match (medians(&r.floor), medians(&r.ours)) {
                (Some(f), ours) => {
                    let _ = writeln!(
                        out,
                        "| {v} | {answer} | {} | {} | {} | {} | {} | {} | {} |",
                        rps(f.get_rps),
                        us(f.get_p50),
                        us(f.get_p99),
                        cpu(f.server_cpu_per_get_us),
                        cpu(ours.as_ref().and_then(|o| o.server_cpu_per_get_us)),
                        cpu(f.client_cpu_per_get_us),
                        ours.as_ref()
                            .map(|o| format!("{:.2} ×", o.get_rps / f.get_rps.max(1e-9)))
                            .unwrap_or_else(|| "–".into()),
                    );
                }
                (None, _) => {
                    let _ = writeln!(
                        out,
                        "| {v} | {answer} | not measured: {} | – | – | – | – | – | – |",
                        first_error(&r.floor)
                    );
                }
            }
        }

        let _ = writeln!(
            out,
            "\n#### The same GET with every answer computed\n\n\
             The GET above asks again and again for state that does not change, as a polling \
             client does, so our emulator answers it by replaying the answer it computed first \
             (`conformance/src/emulators/replay.rs`). Here the same emulator runs with \
             `--no-replay`, in the same run right after ours: each answer is built from the state, \
             serialized and sent, which is what a GET costs after each change.\n"
        );
        let _ = writeln!(
            out,
            "| vendor | computed: requests/s | p50 | p99 | CPU per GET: server | load generator | replayed / computed requests/s |"
        );
        let _ = writeln!(out, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        for r in &self.results {
            let v = r.scenario.vendor;
            match (medians(&r.computing), medians(&r.ours)) {
                (Some(c), ours) => {
                    let _ = writeln!(
                        out,
                        "| {v} | {} | {} | {} | {} | {} | {} |",
                        rps(c.get_rps),
                        us(c.get_p50),
                        us(c.get_p99),
                        cpu(c.server_cpu_per_get_us),
                        cpu(c.client_cpu_per_get_us),
                        ours.as_ref()
                            .map(|o| format!("{:.2} ×", o.get_rps / c.get_rps.max(1e-9)))
                            .unwrap_or_else(|| "–".into()),
                    );
                }
                (None, _) => {
                    let _ = writeln!(
                        out,
                        "| {v} | not measured: {} | – | – | – | – | – |",
                        first_error(&r.computing)
                    );
                }
            }
        }

        let _ = writeln!(out, "\n#### A job start\n");
        let _ = writeln!(
            out,
            "| vendor | request | ours: starts/s | p50 | p99 | non-2xx or failed | Prism: starts/s | p50 | p99 | non-2xx or failed | ours / Prism starts/s |"
        );
        let _ = writeln!(
            out,
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        );
        for r in &self.results {
            let v = r.scenario.vendor;
            let ours = medians(&r.ours);
            let prism = r.prism.as_ref().map(|runs| medians(runs));
            let ours_cells = ours
                .as_ref()
                .map(|m| {
                    format!(
                        "{} | {} | {} | {}",
                        rps(m.job_rps),
                        us(m.job_p50),
                        us(m.job_p99),
                        m.job_errors
                    )
                })
                .unwrap_or_else(|| "not measured | – | – | –".into());
            let (prism_cells, ratio) = match (&ours, &prism) {
                (_, Err(why)) => (format!("{} | – | – | –", one_line(why)), "–".into()),
                (_, Ok(None)) => ("not measured | – | – | –".into(), "–".into()),
                (o, Ok(Some(p))) => (
                    format!(
                        "{} | {} | {} | {}",
                        rps(p.job_rps),
                        us(p.job_p50),
                        us(p.job_p99),
                        p.job_errors
                    ),
                    o.as_ref()
                        .map(|o| format!("{:.1} ×", o.job_rps / p.job_rps.max(1e-9)))
                        .unwrap_or_else(|| "–".into()),
                ),
            };
            let _ = writeln!(
                out,
                "| {v} | {} | {ours_cells} | {prism_cells} | {ratio} |",
                r.scenario.job_label
            );
        }

        let _ = writeln!(out, "\n#### Peak RSS of the server process (`VmHWM`)\n");
        let _ = writeln!(
            out,
            "| vendor | ours after the GETs | ours after the job starts too | Prism after the GETs | Prism / ours (after the GETs) | < 50 MB |"
        );
        let _ = writeln!(out, "| --- | ---: | ---: | ---: | ---: | --- |");
        for r in &self.results {
            let ours = medians(&r.ours);
            let prism = r.prism.as_ref().ok().and_then(|runs| medians(runs));
            let after_get = ours.as_ref().and_then(|m| m.peak_after_get_kb);
            let prism_kb = prism.as_ref().and_then(|p| p.peak_after_get_kb);
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                r.scenario.vendor,
                mb(after_get),
                mb(ours.as_ref().and_then(|m| m.peak_after_jobs_kb)),
                mb(prism_kb),
                match (after_get, prism_kb) {
                    (Some(o), Some(p)) => format!("{:.1} ×", p as f64 / o.max(1) as f64),
                    _ => "–".into(),
                },
                match after_get {
                    Some(kb) => yes_no(kb < RSS_TARGET_KB),
                    None => "not judged",
                }
            );
        }

        for r in &self.results {
            for (who, runs) in [
                ("ours", Some(&r.ours)),
                ("ours, every answer computed", Some(&r.computing)),
                ("the floor", Some(&r.floor)),
                ("Prism", r.prism.as_ref().ok()),
            ] {
                let Some(runs) = runs else { continue };
                let per_run: Vec<String> = runs
                    .iter()
                    .map(|m| match m {
                        Ok(m) => format!(
                            "GET {}/s p50 {} p99 {} errors {} (CPU per GET: server {}, load generator {}), {}, peak {} (RSS at the end {})",
                            rps(m.get.requests_per_second()),
                            us(m.get.percentile(50.0)),
                            us(m.get.percentile(99.0)),
                            m.get.errors_text(),
                            per_request(m.get_cpu, &m.get),
                            per_request(m.client_cpu, &m.get),
                            jobs_summary(&m.job),
                            mb(m.peak_after_jobs_kb),
                            mb(m.rss_after_jobs_kb),
                        ),
                        Err(e) => format!("not measured: {}", one_line(e)),
                    })
                    .collect();
                details.push(format!(
                    "{} {who}, per run: {}",
                    r.scenario.vendor,
                    per_run.join("; ")
                ));
            }
        }

        let _ = writeln!(out, "\nTargets (2 cores, median of the runs):\n");
        for t in &targets {
            let _ = writeln!(out, "- {t}");
        }
        let _ = writeln!(out, "\nDetails:\n");
        for d in &details {
            let _ = writeln!(out, "- {d}");
        }
        if let Some(Ok(_)) = self.results.first().map(|r| &r.prism) {
            let _ = writeln!(
                out,
                "- Prism: `@stoplight/prism-cli@{PRISM_VERSION}`, `prism mock specs/<vendor>.yaml -h 127.0.0.1 -p <port>` \
                 with its defaults (static examples, request validation, info logging to a file); it serves the \
                 spec's `paths` at its root, without the servers' base path (`/zstack`, `/v2`), so its requests \
                 are the same ones without that prefix"
            );
        }
        out
    }
}

fn cpu_per_request_us(cpu: Option<Duration>, load: &Load) -> Option<f64> {
    let cpu = cpu?;
    if load.latencies_us.is_empty() {
        return None;
    }
    Some(cpu.as_secs_f64() * 1e6 / load.latencies_us.len() as f64)
}

/// CPU time per answered request, e.g. `41 µs`.
fn per_request(cpu: Option<Duration>, load: &Load) -> String {
    cpu_per_request_us(cpu, load)
        .map(|us| format!("{us:.0} µs"))
        .unwrap_or_else(|| "–".into())
}

fn first_error(runs: &[Result<Measured, String>]) -> String {
    runs.iter()
        .find_map(|r| r.as_ref().err())
        .map(|e| one_line(e))
        .unwrap_or_else(|| "no run".into())
}

/// Replaces the section between the markers (appends it when they are missing).
fn write_section(path: &Path, section: &str) -> Result<()> {
    let old = std::fs::read_to_string(path).unwrap_or_else(|_| "# Benchmarks\n".into());
    let new = replace_section(&old, section);
    std::fs::write(path, new).with_context(|| format!("writing {}", path.display()))
}

fn replace_section(old: &str, section: &str) -> String {
    let block = format!(
        "{BEGIN}\n<!-- written by `cargo xtask bench emulator`; edits here are overwritten -->\n\n{section}\n{END}"
    );
    match (old.find(BEGIN), old.find(END)) {
        (Some(begin), Some(end)) if begin < end => {
            format!("{}{block}{}", &old[..begin], &old[end + END.len()..])
        }
        _ => format!("{}\n\n{block}\n", old.trim_end()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, close: bool) -> Answer {
        Answer { status, close }
    }

    #[test]
    fn answers_are_read_whole_by_length_by_chunks_or_to_the_end() {
        let sized = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhelloHTTP/1.1";
        assert_eq!(
            parse_answer(sized, false).unwrap(),
            Some((answer(200, false), sized.len() - 8))
        );
        // Not all of the body yet.
        assert_eq!(
            parse_answer(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhel", false).unwrap(),
            None
        );
        assert_eq!(
            parse_answer(b"HTTP/1.1 200 OK\r\ncontent-le", false).unwrap(),
            None
        );

        let chunked =
            b"HTTP/1.1 503 Service Unavailable\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n3;x=y\r\nabc\r\n0\r\n\r\n";
        assert_eq!(
            parse_answer(chunked, false).unwrap(),
            Some((answer(503, false), chunked.len()))
        );
        assert_eq!(
            parse_answer(&chunked[..chunked.len() - 2], false).unwrap(),
            None
        );

        let closing =
            b"HTTP/1.1 401 Unauthorized\r\nConnection: close\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(
            parse_answer(closing, false).unwrap(),
            Some((answer(401, true), closing.len()))
        );
        // Without a length the body runs until the server closes.
        let no_length = b"HTTP/1.1 200 OK\r\n\r\npartial";
        assert_eq!(parse_answer(no_length, false).unwrap(), None);
        assert_eq!(
            parse_answer(no_length, true).unwrap(),
            Some((answer(200, true), no_length.len()))
        );
        assert!(parse_answer(b"NOT HTTP\r\n\r\n", false).is_err());
        assert!(parse_answer(b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n", false).is_err());
    }

    #[test]
    fn requests_are_encoded_with_their_headers_and_body() {
        let call = Call {
            method: Method::PUT,
            path: "/zstack/v1/backup-storage/u/actions".into(),
            headers: vec![header("authorization", "OAuth s")],
            body: Some("{}"),
        };
        assert_eq!(
            String::from_utf8(encode_request(&call, "127.0.0.1:1")).unwrap(),
            "PUT /zstack/v1/backup-storage/u/actions HTTP/1.1\r\nhost: 127.0.0.1:1\r\n\
             accept: application/json\r\nauthorization: OAuth s\r\ncontent-length: 2\r\n\r\n{}"
        );
    }

    fn args(line: &str) -> Result<Options> {
        parse(
            &line
                .split_whitespace()
                .map(String::from)
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let sample: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&sample, 50.0), 50);
        assert_eq!(percentile(&sample, 99.0), 99);
        assert_eq!(percentile(&sample, 100.0), 100);
        assert_eq!(percentile(&sample, 0.0), 1);
        assert_eq!(percentile(&[7], 99.0), 7);
        assert_eq!(percentile(&[], 50.0), 0);
        assert_eq!(percentile(&[1, 2, 3], 50.0), 2);
        assert_eq!(percentile(&[1, 2, 3, 4], 50.0), 2);
    }

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(vec![]), None);
    }

    #[test]
    fn vm_hwm_is_read_from_proc_status() {
        let status =
            "Name:\txtask\nVmPeak:\t  900000 kB\nVmHWM:\t   12345 kB\nVmRSS:\t   11111 kB\n";
        assert_eq!(status_kb(status, "VmHWM"), Some(12345));
        assert_eq!(status_kb(status, "VmRSS"), Some(11111));
        assert_eq!(status_kb(status, "VmSwap"), None);
        assert_eq!(status_kb("VmHWM:\tlots kB\n", "VmHWM"), None);
        // This very process has a status file on Linux.
        if Path::new("/proc/self/status").exists() {
            assert!(memory_kb(std::process::id()).is_some_and(|(hwm, rss)| hwm >= rss && rss > 0));
        }
    }

    #[test]
    fn cpu_ticks_are_read_from_proc_stat() {
        let stat = "1234 (tokio (rt) x) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 3 0 99 1000 200";
        assert_eq!(stat_cpu_ticks(stat), Some(325));
        assert_eq!(stat_cpu_ticks("1234 (x) S 1"), None);
        if Path::new("/proc/self/stat").exists() {
            assert!(cpu_time(std::process::id()).is_some());
        }
    }

    #[test]
    fn options_parse() {
        let o = args("").unwrap();
        assert_eq!(
            o,
            Options {
                runs: 3,
                seconds: Duration::from_secs(5),
                job_seconds: Duration::from_secs(2),
                connections: 32,
                client_threads: 1,
                skip_prism: false,
                vendors: VENDORS.to_vec(),
            }
        );
        let o = args("--runs 5 --seconds 2 --job-seconds 1 --connections 8 --client-threads 2 --skip-prism lxca zstack lxca").unwrap();
        assert_eq!(
            (
                o.runs,
                o.seconds,
                o.job_seconds,
                o.connections,
                o.client_threads,
                o.skip_prism
            ),
            (
                5,
                Duration::from_secs(2),
                Duration::from_secs(1),
                8,
                2,
                true
            )
        );
        assert_eq!(o.vendors, vec!["lxca", "zstack"]);
        for (line, message) in [
            ("--runs", "needs a value"),
            ("--runs 0", "positive number"),
            ("--seconds x", "positive number"),
            ("vmware", "unknown argument"),
        ] {
            let error = args(line).unwrap_err().to_string();
            assert!(error.contains(message), "{line}: {error}");
        }
    }

    #[test]
    fn the_ibm_seed_gets_instant_runs() {
        let seed = "timing:\n  tokenLifetimeSecs: 3600\n  runAcceptedSecs: 2   # x\n  runDurationSecs: 30\n";
        assert_eq!(
            instant_runs_seed(seed).unwrap(),
            "timing:\n  tokenLifetimeSecs: 3600\n  runAcceptedSecs: 0\n  runDurationSecs: 0\n"
        );
        assert!(instant_runs_seed("timing: {}\n").is_err());
        let real = std::fs::read_to_string(
            project::root().join("conformance/src/emulators/ibm/default-seed.yaml"),
        )
        .unwrap();
        assert!(instant_runs_seed(&real).is_ok());
    }

    #[test]
    fn section_between_markers_is_replaced() {
        let old = format!("# B\n\n{BEGIN}\nold\n{END}\n\ntail\n");
        let new = replace_section(&old, "new figures\n");
        assert!(new.starts_with(&format!("# B\n\n{BEGIN}")));
        assert!(new.contains("new figures") && !new.contains("old"));
        assert!(new.ends_with(&format!("{END}\n\ntail\n")));
        let appended = replace_section("# B\n", "x\n");
        assert!(appended.starts_with("# B\n\n") && appended.trim_end().ends_with(END));
    }

    #[test]
    fn numbers_are_readable() {
        assert_eq!(rps(51234.4), "51,234");
        assert_eq!(rps(999.0), "999");
        assert_eq!(us(Duration::from_micros(850)), "850 µs");
        assert_eq!(us(Duration::from_micros(1500)), "1.50 ms");
        assert_eq!(mb(Some(2048)), "2.0 MB");
        assert_eq!(mb(None), "–");
    }
}
