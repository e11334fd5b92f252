//! The floor of `cargo xtask bench emulator`: a bare hyper server that answers every request with
//! the same bytes, served by the hidden command `bench floor-server --port P --body FILE`.
//!
//! It does what any HTTP server on this machine must do per request (accept, read and parse the
//! head, write the answer over loopback, on the same tokio runtime and hyper settings as `cargo
//! xtask emulate`) and nothing an emulator adds (routing, authentication, state, JSON, the log).
//! Measured in the same run, with the emulator's own answer as its body, it tells how much of an
//! emulator's cost per GET is its own and what the machine allows at best.

use std::convert::Infallible;
use std::net::SocketAddr;

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::TokioIo;

const USAGE: &str = "usage: cargo xtask bench floor-server --port P --body FILE";

pub fn run(args: &[String]) -> Result<bool> {
    let (mut port, mut body) = (None, None);
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let value = rest
            .next()
            .with_context(|| format!("{arg} needs a value ({USAGE})"))?;
        match arg.as_str() {
            "--port" => port = Some(value.parse::<u16>().context("--port")?),
            "--body" => {
                body = Some(std::fs::read(value).with_context(|| format!("reading {value}"))?)
            }
            other => bail!("unknown argument `{other}` ({USAGE})"),
        }
    }
    let (Some(port), Some(body)) = (port, body) else {
        bail!("{USAGE}");
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(SocketAddr::from(([127, 0, 0, 1], port)), body.into()))?;
    Ok(true)
}

async fn serve(addr: SocketAddr, body: Bytes) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let body = body.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |_request| {
                let mut response = hyper::Response::new(Full::new(body.clone()));
                response.headers_mut().insert(
                    hyper::header::CONTENT_TYPE,
                    hyper::header::HeaderValue::from_static("application/json"),
                );
                async move { Ok::<_, Infallible>(response) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
