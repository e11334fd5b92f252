//! `cargo xtask emulate <vendor>`: serves an emulator (from the `conformance` crate) over real
//! HTTP(S) until Ctrl-C, logging one line per request.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use conformance::emulators::{self, App, Settings, Source, Vendor};
use conformance::ids::IdMode;
use conformance::serve::{serve, Transport};

use crate::emulate_log::{LineSubscriber, RequestLog};

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
    let log = RequestLog::start();
    let _ = tracing::subscriber::set_global_default(LineSubscriber {
        writer: log.clone(),
        ansi: std::io::IsTerminal::is_terminal(&std::io::stdout()),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve_until_ctrl_c(&args, app, &log))?;
    Ok(true)
}

async fn serve_until_ctrl_c(args: &Args, app: App, log: &RequestLog) -> Result<()> {
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
