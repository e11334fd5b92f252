//! `cargo xtask emulate <vendor>`: serves an emulator (from the `conformance` crate) over real
//! HTTP(S) until Ctrl-C, logging one line per request.

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
[--api-key <key>] [--token <token>] [--tenant <id>]";

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
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_writer(log.clone())
        .try_init();
    let addr = SocketAddr::from(([127, 0, 0, 1], args.port.unwrap_or(app.default_port)));
    let server = serve(app.router, addr, app.transport)
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
            "zstack --port 9000 --tls --seed s.yaml --faults f.yaml --deterministic --session 0123456789abcdef0123456789ABCDEF",
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
