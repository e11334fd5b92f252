//! Serving an emulator over real HTTP or HTTPS: for `cargo xtask emulate` and for tests (port 0
//! on 127.0.0.1).
//!
//! HTTPS uses a self-signed certificate made at start (rcgen, for `localhost` and `127.0.0.1`),
//! as the appliances have; clients turn verification off or trust [`Server::certificate_pem`].
//! Connections are served by hyper directly (not `axum::serve`) so that an injected
//! [`DropConnection`] fault can close a connection unanswered, and so that TLS and plain HTTP
//! share one accept loop with graceful shutdown.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower::ServiceExt;

use crate::faults::DropConnection;

/// Plain HTTP or HTTPS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Plain HTTP.
    Http,
    /// HTTPS with a self-signed certificate made at start.
    Https,
}

impl Transport {
    /// `http` or `https`.
    pub fn scheme(self) -> &'static str {
        match self {
            Transport::Http => "http",
            Transport::Https => "https",
        }
    }
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    transport: Transport,
    certificate_pem: Option<String>,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Server {
    /// The bound address (the real port when 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The transport.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// `scheme://addr` followed by `base_path` (`/zstack`, or empty).
    pub fn url(&self, base_path: &str) -> String {
        format!("{}://{}{}", self.transport.scheme(), self.addr, base_path)
    }

    /// The self-signed certificate, PEM, when serving HTTPS.
    pub fn certificate_pem(&self) -> Option<&str> {
        self.certificate_pem.as_deref()
    }

    /// Stops accepting, lets open requests finish (at most `grace`), and returns.
    pub async fn shutdown(self, grace: Duration) {
        let _ = self.shutdown.send(true);
        let _ = tokio::time::timeout(grace, self.task).await;
    }
}

/// Binds `addr` and serves `router` until [`Server::shutdown`].
pub async fn serve(
    router: Router,
    addr: SocketAddr,
    transport: Transport,
) -> std::io::Result<Server> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let (acceptor, certificate_pem) = match transport {
        Transport::Http => (None, None),
        Transport::Https => {
            let (config, pem) = self_signed_config().map_err(std::io::Error::other)?;
            (
                Some(tokio_rustls::TlsAcceptor::from(Arc::new(config))),
                Some(pem),
            )
        }
    };
    let (shutdown, mut stop) = watch::channel(false);
    let task = tokio::spawn(async move {
        let graceful = GracefulShutdown::new();
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = stop.changed() => break,
            };
            let Ok((stream, _peer)) = accepted else {
                continue; // e.g. too many open files: keep serving the others
            };
            let _ = stream.set_nodelay(true);
            let service = hyper_service(router.clone());
            let builder = hyper::server::conn::http1::Builder::new();
            match &acceptor {
                None => {
                    let conn = builder.serve_connection(TokioIo::new(stream), service);
                    let conn = graceful.watch(conn);
                    tokio::spawn(async move {
                        let _ = conn.await;
                    });
                }
                Some(acceptor) => {
                    let acceptor = acceptor.clone();
                    let watcher = graceful.watcher();
                    tokio::spawn(async move {
                        // A handshake that never ends must not hold a task forever.
                        let handshake =
                            tokio::time::timeout(Duration::from_secs(30), acceptor.accept(stream));
                        let Ok(Ok(tls)) = handshake.await else {
                            return;
                        };
                        let conn = builder.serve_connection(TokioIo::new(tls), service);
                        let _ = watcher.watch(conn).await;
                    });
                }
            }
        }
        graceful.shutdown().await;
    });
    Ok(Server {
        addr,
        transport,
        certificate_pem,
        shutdown,
        task,
    })
}

/// The error that makes hyper close a connection unanswered.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for Dropped {}

fn hyper_service(
    router: Router,
) -> impl hyper::service::Service<
    hyper::Request<hyper::body::Incoming>,
    Response = Response,
    Error = Dropped,
    Future = impl std::future::Future<Output = Result<Response, Dropped>> + Send,
> + Clone {
    hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
        let router = router.clone();
        async move {
            let response: Result<Response, Infallible> =
                router.oneshot(request.map(Body::new)).await;
            let Ok(response) = response;
            if response.extensions().get::<DropConnection>().is_some() {
                return Err(Dropped);
            }
            Ok(response)
        }
    })
}

fn self_signed_config(
) -> Result<(rustls::ServerConfig, String), Box<dyn std::error::Error + Send + Sync>> {
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let certified = rcgen::generate_simple_self_signed(names)?;
    let pem = certified.cert.pem();
    let cert = certified.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.key_pair.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((config, pem))
}

/// Middleware that logs one line per request: method, path, status, duration. Query strings
/// are left out: they may carry secrets.
pub async fn log_requests(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let elapsed = started.elapsed().as_secs_f64() * 1000.0;
    if response.extensions().get::<DropConnection>().is_some() {
        tracing::info!(target: "emulator", "{method} {path} dropped {elapsed:.1}ms");
    } else {
        let status = response.status().as_u16();
        tracing::info!(target: "emulator", "{method} {path} {status} {elapsed:.1}ms");
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;

    fn router() -> Router {
        Router::new().route("/hello", get(|| async { "hi" })).route(
            "/drop",
            get(|| async {
                let mut response = Response::new(Body::from("never sent"));
                response.extensions_mut().insert(DropConnection);
                response
            }),
        )
    }

    #[tokio::test]
    async fn serves_http_and_drops_marked_connections() {
        let server = serve(router(), "127.0.0.1:0".parse().unwrap(), Transport::Http)
            .await
            .unwrap();
        let base = server.url("");
        assert!(base.starts_with("http://127.0.0.1:"));
        let client = reqwest::Client::new();
        let body = client.get(format!("{base}/hello")).send().await.unwrap();
        assert_eq!(body.text().await.unwrap(), "hi");
        assert!(client.get(format!("{base}/drop")).send().await.is_err());
        server.shutdown(Duration::from_secs(5)).await;
        assert!(client.get(format!("{base}/hello")).send().await.is_err());
    }

    #[tokio::test]
    async fn serves_https_with_a_self_signed_certificate() {
        let server = serve(router(), "127.0.0.1:0".parse().unwrap(), Transport::Https)
            .await
            .unwrap();
        let pem = server.certificate_pem().unwrap().to_string();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
        let base = server.url("");
        assert!(base.starts_with("https://"));
        // Verification on, trusting the emulator's certificate.
        let trusting = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
            .build()
            .unwrap();
        let text = trusting
            .get(format!("{base}/hello"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(text, "hi");
        // Verification on, without it: refused.
        assert!(reqwest::Client::new()
            .get(format!("{base}/hello"))
            .send()
            .await
            .is_err());
        server.shutdown(Duration::from_secs(5)).await;
    }
}
