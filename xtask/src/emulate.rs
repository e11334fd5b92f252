//! `cargo xtask emulate <vendor>`: serves an emulator (from the `conformance` crate) over real
//! HTTP(S) until Ctrl-C, logging one line per request.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use conformance::emulators::{self, App, Settings, Source, Vendor};
use conformance::ids::IdMode;
use conformance::serve::{serve, Transport};

const USAGE: &str =
    "usage: cargo xtask emulate <lxca|ibm-backup-recovery|zstack> [--port N] [--http|--tls] \
[--seed state.yaml] [--faults faults.yaml] [--deterministic] [--session <32-hex>] \
[--api-key <key>] [--token <token>] [--tenant <id>] [--no-replay]";

/// The command line.
#[derive(Debug, Clone, PartialEq)]
struct Args {
    vendor: Vendor,
    port: Option<u16>,
    transport: Option<Transport>,
    seed: Option<PathBuf>,
    faults: Option<PathBuf>,
    deterministic: bool,
    session: Option<String>,
    api_key: Option<String>,
    token: Option<String>,
    tenant: Option<String>,
    /// `--no-replay`: compute every answer (see `conformance::emulators::replay`).
    no_replay: bool,
}

fn parse(args: &[String]) -> Result<Args> {
    let mut iter = args.iter();
    let vendor_name = iter
        .next()
        .ok_or_else(|| anyhow!("no vendor given\n{USAGE}"))?;
    let vendor = Vendor::from_name(vendor_name)
        .ok_or_else(|| anyhow!("unknown vendor `{vendor_name}`\n{USAGE}"))?;
    let mut parsed = Args {
        vendor,
        port: None,
        transport: None,
        seed: None,
        faults: None,
        deterministic: false,
        session: None,
        api_key: None,
        token: None,
        tenant: None,
        no_replay: false,
    };
    while let Some(arg) = iter.next() {
        let mut value = |name: &str| {
            iter.next()
                .cloned()
                .ok_or_else(|| anyhow!("{name} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--port" => {
                let text = value("--port")?;
                parsed.port = Some(
                    text.parse()
                        .map_err(|_| anyhow!("--port: `{text}` is not a port number"))?,
                );
            }
            "--http" | "--tls" => {
                let transport = if arg == "--http" {
                    Transport::Http
                } else {
                    Transport::Https
                };
                if parsed.transport.is_some_and(|t| t != transport) {
                    bail!("--http and --tls exclude each other");
                }
                parsed.transport = Some(transport);
            }
            "--seed" => parsed.seed = Some(value("--seed")?.into()),
            "--faults" => parsed.faults = Some(value("--faults")?.into()),
            "--deterministic" => parsed.deterministic = true,
            "--no-replay" => parsed.no_replay = true,
            "--session" => {
                let session = value("--session")?;
                if !conformance::ids::is_hex32(&session) {
                    bail!("--session must be 32 hexadecimal characters (a UUID without dashes)");
                }
                parsed.session = Some(session);
            }
            "--api-key" => parsed.api_key = Some(value("--api-key")?),
            "--token" => parsed.token = Some(value("--token")?),
            "--tenant" => parsed.tenant = Some(value("--tenant")?),
            other => bail!("unknown option `{other}`\n{USAGE}"),
        }
    }
    if parsed.session.is_some() && parsed.vendor != Vendor::ZStack {
        bail!("--session is for zstack");
    }
    let ibm_flags = parsed.api_key.is_some() || parsed.token.is_some() || parsed.tenant.is_some();
    if ibm_flags && parsed.vendor != Vendor::IbmBackupRecovery {
        bail!("--api-key, --token and --tenant are for ibm-backup-recovery");
    }
    Ok(parsed)
}

pub fn run(args: &[String]) -> Result<bool> {
    let args = parse(args)?;
    let read = |path: &Option<PathBuf>| -> Result<Option<Source>> {
        path.as_ref()
            .map(|path| {
                Ok(Source {
                    name: path.display().to_string(),
                    text: std::fs::read_to_string(path)
                        .with_context(|| format!("cannot read {}", path.display()))?,
                })
            })
            .transpose()
    };
    let settings = Settings {
        id_mode: if args.deterministic {
            IdMode::Deterministic
        } else {
            IdMode::Random
        },
        transport: args.transport,
        seed: read(&args.seed)?,
        faults: read(&args.faults)?,
        session: args.session.clone(),
        api_key: args.api_key.clone(),
        token: args.token.clone(),
        tenant: args.tenant.clone(),
        replay: !args.no_replay,
    };
    let app = emulators::build(args.vendor, settings)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve_until_ctrl_c(&args, app))?;
    Ok(true)
}

async fn serve_until_ctrl_c(args: &Args, app: App) -> Result<()> {
    let log = RequestLog::start();
    let _ = tracing::subscriber::set_global_default(LineSubscriber {
        writer: log.clone(),
        ansi: std::io::IsTerminal::is_terminal(&std::io::stdout()),
    });
    let addr = SocketAddr::from(([127, 0, 0, 1], args.port.unwrap_or(app.default_port)));
    let server = serve(app.service, addr, app.transport)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    println!(
        "{} emulator: {}",
        args.vendor.name(),
        server.url(app.base_path)
    );
    for note in &app.notes {
        println!("  {note}");
    }
    if let Some(pem) = server.certificate_pem() {
        println!(
            "  HTTPS with a self-signed certificate made now: turn verification off, or trust:"
        );
        print!("{pem}");
    }
    println!("  seed: {}", path_or(&args.seed, "built-in"));
    println!("  faults: {}", path_or(&args.faults, "none"));
    println!("Ctrl-C stops it.");
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    log.flush();
    println!("stopping");
    server.shutdown(Duration::from_secs(5)).await;
    log.flush();
    Ok(())
}

/// The format of the log's lines: `2026-11-29T23:42:01.123456Z  INFO GET /managementServer/data
/// 200 0.1ms`, as `tracing_subscriber`'s default full format without targets and spans prints
/// them, written with less work. The default formats the date afresh and escapes every field
/// through `Debug` for each line: a tenth of an emulator's CPU per GET under load (`cargo xtask
/// bench emulator`). Here each thread formats the date and time to the second once per second
/// and writes the microseconds digit by digit, and the fields are written as they are, with
/// control characters escaped by a byte scan that finds none in the common case (a logged path
/// cannot hold one: hyper refuses such request lines).
#[derive(Default)]
struct LogLine;

thread_local! {
    /// The last second this thread formatted: (seconds since the epoch, `YYYY-MM-DDTHH:MM:SS`).
    static SECOND: std::cell::RefCell<(u64, String)> = const {
        std::cell::RefCell::new((0, String::new()))
    };
}

impl LogLine {
    fn timestamp(&self, out: &mut impl std::fmt::Write) -> std::fmt::Result {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        SECOND.with_borrow_mut(|second| {
            if second.1.is_empty() || second.0 != now.as_secs() {
                let (y, mo, d, h, mi, s) = conformance::clock::civil(std::time::UNIX_EPOCH + now);
                second.0 = now.as_secs();
                second.1 = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}");
            }
            out.write_str(&second.1)
        })?;
        let mut fraction = *b".000000Z";
        let mut micros = now.subsec_micros();
        for digit in fraction[1..7].iter_mut().rev() {
            *digit = b'0' + (micros % 10) as u8;
            micros /= 10;
        }
        out.write_str(std::str::from_utf8(&fraction).unwrap_or(".000000Z"))
    }
}

impl LogLine {
    /// Writes `event` as one line, ending in a newline.
    fn write(&self, ansi: bool, event: &tracing::Event<'_>, out: &mut String) -> std::fmt::Result {
        self.timestamp(out)?;
        let (colour, level) = match *event.metadata().level() {
            tracing::Level::ERROR => ("31", "ERROR"),
            tracing::Level::WARN => ("33", " WARN"),
            tracing::Level::INFO => ("32", " INFO"),
            tracing::Level::DEBUG => ("34", "DEBUG"),
            tracing::Level::TRACE => ("34", "TRACE"),
        };
        if ansi {
            write!(out, " \x1b[{colour}m{level}\x1b[0m ")?;
        } else {
            out.push(' ');
            out.push_str(level);
            out.push(' ');
        }
        let mut fields = LogFields {
            out: Clean(&mut *out),
            first: true,
        };
        event.record(&mut fields);
        out.push('\n');
        Ok(())
    }
}

/// The subscriber `cargo xtask emulate` installs: each event at INFO or above becomes one
/// [`LogLine`] handed to the writer. The emulators open no spans, so none are tracked:
/// `tracing_subscriber::fmt`'s registry and layers cost more per request than the line itself
/// (`cargo xtask bench emulator`).
struct LineSubscriber<W> {
    writer: W,
    ansi: bool,
}

thread_local! {
    /// The line being written, reused from one event to the next.
    static LINE: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

impl<W> tracing::Subscriber for LineSubscriber<W>
where
    W: for<'a> tracing_subscriber::fmt::MakeWriter<'a> + Send + Sync + 'static,
{
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        *metadata.level() <= tracing::Level::INFO
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::INFO)
    }

    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }

    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        use std::io::Write as _;
        let write = |line: &mut String| {
            line.clear();
            if LogLine.write(self.ansi, event, line).is_ok() {
                let _ = self.writer.make_writer().write_all(line.as_bytes());
            }
        };
        // An event logged while this thread writes one (none is, today) gets its own buffer.
        let reused = LINE.with(|cell| match cell.try_borrow_mut() {
            Ok(mut line) => {
                write(&mut line);
                true
            }
            Err(_) => false,
        });
        if !reused {
            write(&mut String::new());
        }
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}

/// Writes text with control characters escaped (`\u{1b}`), so that a logged value cannot forge
/// lines or terminal sequences; text without one (the common case) passes in one piece.
struct Clean<W>(W);

impl<W: std::fmt::Write> std::fmt::Write for Clean<W> {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        let mut rest = text;
        while let Some(at) = rest.find(char::is_control) {
            self.0.write_str(&rest[..at])?;
            let c = rest[at..].chars().next().unwrap_or_default();
            for escaped in c.escape_unicode() {
                self.0.write_char(escaped)?;
            }
            rest = &rest[at + c.len_utf8()..];
        }
        self.0.write_str(rest)
    }
}

/// An event's fields: the message as it is, the others as `name=value`, space-separated.
struct LogFields<W> {
    out: Clean<W>,
    first: bool,
}

impl<W: std::fmt::Write> LogFields<W> {
    fn name(&mut self, field: &tracing::field::Field) {
        if !std::mem::take(&mut self.first) {
            let _ = self.out.0.write_char(' ');
        }
        if field.name() != "message" {
            let _ = write!(self.out.0, "{}=", field.name());
        }
    }
}

impl<W: std::fmt::Write> tracing::field::Visit for LogFields<W> {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.name(field);
        // Quoted like the default format's, apart from the message.
        let _ = if field.name() == "message" {
            self.out.write_str(value)
        } else {
            write!(self.out, "{value:?}")
        };
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.name(field);
        let _ = write!(self.out, "{value:?}");
    }
}

/// How long the log's thread waits after the first line it is woken for, gathering what follows,
/// before it writes them all.
const LOG_GATHER: Duration = Duration::from_millis(10);

/// Past this many bytes waiting, the thread logging a line writes them all itself (the output is
/// not keeping up: wait for it rather than hold ever more in memory).
const LOG_MAX_WAITING: usize = 1 << 20;

/// The log's writer (one line per request, formatted by `tracing_subscriber`): lines are appended
/// to a buffer that a thread of its own writes to stdout, in order, a few milliseconds later, so
/// that answering a request costs a copy rather than a write to the terminal or file (one system
/// call per line). The thread sleeps while nothing is logged; [`RequestLog::flush`] writes what
/// waits at once.
#[derive(Clone)]
struct RequestLog {
    shared: std::sync::Arc<LogShared>,
    /// The thread that writes; `None` when it could not be started (lines then wait until the
    /// buffer is full, or until `flush`).
    writer: Option<std::thread::Thread>,
}

struct LogShared {
    /// Lines not written yet.
    waiting: std::sync::Mutex<Vec<u8>>,
    /// Held while writing to stdout, taken before `waiting` is emptied, so that lines are
    /// written in the order they were logged whoever writes them.
    output: std::sync::Mutex<()>,
}

impl LogShared {
    fn flush(&self) {
        use std::io::Write as _;
        let _output = self.output.lock().unwrap_or_else(|e| e.into_inner());
        let lines = std::mem::take(&mut *self.waiting.lock().unwrap_or_else(|e| e.into_inner()));
        if !lines.is_empty() {
            let mut stdout = std::io::stdout().lock();
            let _ = stdout.write_all(&lines);
            let _ = stdout.flush();
        }
    }
}

impl RequestLog {
    fn start() -> Self {
        let shared = std::sync::Arc::new(LogShared {
            waiting: std::sync::Mutex::new(Vec::new()),
            output: std::sync::Mutex::new(()),
        });
        let for_thread = shared.clone();
        let thread = std::thread::Builder::new()
            .name("request-log".into())
            .spawn(move || loop {
                std::thread::park();
                std::thread::sleep(LOG_GATHER);
                for_thread.flush();
            });
        RequestLog {
            shared,
            writer: thread.ok().map(|handle| handle.thread().clone()),
        }
    }

    fn flush(&self) {
        self.shared.flush();
    }
}

impl std::io::Write for &RequestLog {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        let mut waiting = self
            .shared
            .waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let first = waiting.is_empty();
        waiting.extend_from_slice(line);
        let full = waiting.len() >= LOG_MAX_WAITING;
        drop(waiting);
        if full {
            self.shared.flush();
        } else if first {
            if let Some(writer) = &self.writer {
                writer.unpark();
            }
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for RequestLog {
    type Writer = &'a RequestLog;

    fn make_writer(&'a self) -> Self::Writer {
        self
    }
}

fn path_or(path: &Option<PathBuf>, default: &str) -> String {
    path.as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| default.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines [`LogLine`] writes for the events `emit` logs.
    fn log_lines(emit: impl FnOnce()) -> Vec<String> {
        #[derive(Clone, Default)]
        struct Lines(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Lines {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = LineSubscriber {
            writer: move || writer.clone(),
            ansi: false,
        };
        tracing::subscriber::with_default(subscriber, emit);
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        text.lines().map(String::from).collect()
    }

    #[test]
    fn log_lines_carry_time_level_and_message_with_control_characters_escaped() {
        let lines = log_lines(|| {
            let (method, path, status) = ("GET", "/managementServer/data", 200);
            tracing::info!(target: "emulator", "{method} {path} {status} 0.1ms");
            tracing::warn!(operation = "GetJob", status = 503, "fault: injected answer");
            tracing::info!("forged\n2026-01-01T00:00:00.000000Z  INFO \x1b[31mred");
            tracing::debug!("below the log's level: not written");
        });
        assert_eq!(lines.len(), 3, "{lines:?}");
        // 2026-11-29T23:42:01.123456Z, then the level right-aligned in five columns.
        let (time, rest) = lines[0].split_once(' ').unwrap();
        assert_eq!(time.len(), 27, "{time}");
        assert!(time.ends_with('Z') && time.as_bytes()[10] == b'T', "{time}");
        assert!(
            time.as_bytes()[19] == b'.' && time[20..26].bytes().all(|b| b.is_ascii_digit()),
            "{time}"
        );
        let year: i32 = time[..4].parse().unwrap();
        assert!(year >= 2024, "{time}");
        assert_eq!(rest, " INFO GET /managementServer/data 200 0.1ms");
        assert!(
            lines[1].ends_with("  WARN fault: injected answer operation=\"GetJob\" status=503"),
            "{}",
            lines[1]
        );
        // One line, no terminal sequence: the newline and the escape are written escaped.
        assert!(
            lines[2]
                .ends_with(" INFO forged\\u{a}2026-01-01T00:00:00.000000Z  INFO \\u{1b}[31mred"),
            "{}",
            lines[2]
        );
    }

    fn args(text: &str) -> Result<Args> {
        parse(
            &text
                .split_whitespace()
                .map(String::from)
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn options_parse() {
        let parsed = args(
            "zstack --port 9000 --tls --seed s.yaml --faults f.yaml --deterministic --session 0123456789abcdef0123456789ABCDEF --no-replay",
        )
        .unwrap();
        assert_eq!(
            parsed,
            Args {
                vendor: Vendor::ZStack,
                port: Some(9000),
                transport: Some(Transport::Https),
                seed: Some("s.yaml".into()),
                faults: Some("f.yaml".into()),
                deterministic: true,
                session: Some("0123456789abcdef0123456789ABCDEF".into()),
                api_key: None,
                token: None,
                tenant: None,
                no_replay: true,
            }
        );
        assert_eq!(args("lxca").unwrap().vendor, Vendor::Lxca);
        let ibm = args("ibm-backup-recovery --api-key k1 --token t1 --tenant acme/").unwrap();
        assert_eq!(
            (ibm.api_key, ibm.token, ibm.tenant),
            (Some("k1".into()), Some("t1".into()), Some("acme/".into()))
        );
    }

    #[test]
    fn mistakes_are_named() {
        for (line, message) in [
            ("", "no vendor"),
            ("vmware", "unknown vendor"),
            ("zstack --port", "needs a value"),
            ("zstack --port http", "not a port number"),
            ("zstack --http --tls", "exclude each other"),
            ("zstack --session abc", "32 hexadecimal"),
            (
                "lxca --session 0123456789abcdef0123456789abcdef",
                "for zstack",
            ),
            ("zstack --verbose", "unknown option"),
            ("zstack --token t", "for ibm-backup-recovery"),
        ] {
            let error = args(line).unwrap_err().to_string();
            assert!(error.contains(message), "{line}: {error}");
        }
    }

    #[test]
    fn a_missing_seed_file_is_named() {
        // Every vendor is implemented now, so `run` would serve; a seed that cannot be read
        // stops it before it binds.
        let line = "ibm-backup-recovery --seed /nonexistent/state.yaml";
        let args: Vec<String> = line.split_whitespace().map(String::from).collect();
        let error = run(&args).unwrap_err().to_string();
        assert!(error.contains("/nonexistent/state.yaml"), "{error}");
    }
}
