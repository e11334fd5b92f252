//! Serving an emulator over real HTTP or HTTPS: for `cargo xtask emulate` and for tests (port 0
//! on 127.0.0.1).
//!
//! HTTPS uses a self-signed certificate made at start (rcgen, for `localhost` and `127.0.0.1`),
//! as the appliances have; clients turn verification off or trust [`Server::certificate_pem`].
//! Connections are served by hyper directly (not `axum::serve`) so that an injected
//! [`DropConnection`] fault can close a connection unanswered, and so that TLS and plain HTTP
//! share one accept loop with graceful shutdown.
//!
//! A connection the server closes is closed *lingering* (`Linger`), as nginx and Apache do:
//! after the last response (and, over TLS, `close_notify`) the server shuts its side down and
//! keeps reading, and discarding, what the client still sends until the client closes. Closing at
//! once would make the kernel answer the client's remaining bytes with a reset, and a client still
//! writing a request body that was answered early (an authentication failure, a rejected header,
//! a body over the limit: `emulators/connection.rs`) would fail in that write before it reads the
//! answer. Python's `ssl` reports that write error (EPIPE) as "EOF occurred in violation of
//! protocol", which urllib3, unlike a plain `BrokenPipeError`, does not pass over; Schemathesis
//! saw it as a network error.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::body::HttpBody as _;
use axum::extract::Request;
use axum::response::Response;
use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower::ServiceExt;

use crate::emulators::front::Application;
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

/// What [`serve`] serves: an emulator's [`Application`], or any router.
pub trait Served: Clone + Send + Sync + 'static {
    /// The answer to `request`.
    fn answer(&self, request: Request) -> impl Future<Output = Response> + Send + use<Self>;
}

impl Served for Application {
    /// Without cloning the application: a replayed answer is ready at once.
    fn answer(&self, request: Request) -> impl Future<Output = Response> + Send + use<> {
        let answer = Application::answer(self, request);
        async move {
            let Ok(response) = answer.await;
            response
        }
    }
}

impl Served for Router {
    fn answer(&self, request: Request) -> impl Future<Output = Response> + Send + use<> {
        let router = self.clone();
        async move {
            let Ok(response) = router.oneshot(request).await;
            response
        }
    }
}

/// Binds `addr` and serves `service` until [`Server::shutdown`].
pub async fn serve(
    service: impl Served,
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
            let stream = Linger::new(stream);
            let service = hyper_service(service.clone());
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

/// How long a closing connection ([`Linger`]) waits for more of what its client still sends
/// (nginx's `lingering_timeout` is 5 s).
const LINGER_IDLE: Duration = Duration::from_secs(2);
/// How long a closing connection reads what its client still sends, at most (nginx's
/// `lingering_time`).
const LINGER_TOTAL: Duration = Duration::from_secs(30);

/// A connection whose shutdown is a lingering close: it shuts down its sending side (the client
/// sees the end of the stream after the last response), then reads and discards what the client
/// still sends until the client closes, resets, sends nothing for [`LINGER_IDLE`] or
/// [`LINGER_TOTAL`] has passed; only then is the socket closed. Closing a socket with unread bytes,
/// or receiving bytes after it was closed, makes the kernel send a reset, and a client that is
/// still writing its request body fails in that write instead of reading the answer waiting for
/// it.
///
/// hyper shuts the connection down whenever it closes it (after a `Connection: close` answer, a
/// request body left unread, a malformed request, the client's end of stream, graceful shutdown),
/// except when the service fails: a [`DropConnection`] fault still closes at once. Under TLS it
/// wraps the TCP stream, so the TLS layer sends `close_notify` before the drain begins, and the
/// drained records are not decrypted.
struct Linger<T> {
    io: T,
    state: LingerState,
}

enum LingerState {
    Open,
    Draining {
        /// When to stop waiting for more: [`LINGER_IDLE`] after the last bytes received.
        idle: Pin<Box<tokio::time::Sleep>>,
        /// When to stop in any case.
        until: tokio::time::Instant,
    },
    Closed,
}

impl<T> Linger<T> {
    fn new(io: T) -> Self {
        Linger {
            io,
            state: LingerState::Open,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Linger<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Linger<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            match &mut this.state {
                LingerState::Open => {
                    ready!(Pin::new(&mut this.io).poll_shutdown(cx))?;
                    let now = tokio::time::Instant::now();
                    this.state = LingerState::Draining {
                        idle: Box::pin(tokio::time::sleep_until(now + LINGER_IDLE)),
                        until: now + LINGER_TOTAL,
                    };
                }
                LingerState::Draining { idle, until } => {
                    let mut discard = [0u8; 16 * 1024];
                    let mut read = ReadBuf::new(&mut discard);
                    match Pin::new(&mut this.io).poll_read(cx, &mut read) {
                        // More of what the client still sends: wait for the rest, within bounds.
                        Poll::Ready(Ok(())) if !read.filled().is_empty() => {
                            let now = tokio::time::Instant::now();
                            if now >= *until {
                                this.state = LingerState::Closed;
                            } else {
                                idle.as_mut().reset((now + LINGER_IDLE).min(*until));
                            }
                        }
                        // The client's end of stream, or its reset: nothing more will come.
                        Poll::Ready(_) => this.state = LingerState::Closed,
                        Poll::Pending => {
                            ready!(idle.as_mut().poll(cx));
                            this.state = LingerState::Closed;
                        }
                    }
                }
                LingerState::Closed => return Poll::Ready(Ok(())),
            }
        }
    }
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
    service: impl Served,
) -> impl hyper::service::Service<
    hyper::Request<hyper::body::Incoming>,
    Response = Response,
    Error = Dropped,
    Future = impl Future<Output = Result<Response, Dropped>> + Send,
> + Clone {
    hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
        // A request without a body (most are) needs no boxed body: an empty one is free.
        let request = request.map(|body| {
            if body.is_end_stream() {
                Body::empty()
            } else {
                Body::new(body)
            }
        });
        let answer = service.answer(request);
        async move {
            let response = answer.await;
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;
    use axum::routing::{get, post};
    use axum::Router;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    fn router() -> Router {
        Router::new()
            .route("/hello", get(|| async { "hi" }))
            .route(
                "/drop",
                get(|| async {
                    let mut response = Response::new(Body::from("never sent"));
                    response.extensions_mut().insert(DropConnection);
                    response
                }),
            )
            // Answers without reading the body, as an authentication failure does.
            .route(
                "/early",
                post(|| async { (StatusCode::UNAUTHORIZED, "no token") }),
            )
    }

    /// More than the kernel can hold for a peer that does not read (a 4 MiB send buffer at most
    /// on Linux, and the receive window of a socket nobody reads stays near its initial 128 KiB):
    /// without a lingering close, writing this body must meet the server's reset.
    const LARGE_BODY: usize = 16 * 1024 * 1024;

    /// Sends the head of a POST with a large body, reads the whole early answer and the server's
    /// end of stream (so the server has shut its side down), then sends the body and closes.
    async fn post_after_early_answer<S: AsyncRead + AsyncWrite + Unpin>(
        mut stream: S,
    ) -> io::Result<String> {
        let head = format!(
            "POST /early HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n\
             content-length: {LARGE_BODY}\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await?;
        stream.flush().await?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await?;
        let chunk = vec![b' '; 64 * 1024];
        for _ in 0..LARGE_BODY / chunk.len() {
            stream.write_all(&chunk).await?;
        }
        stream.flush().await?;
        stream.shutdown().await?;
        Ok(String::from_utf8_lossy(&answer).into_owned())
    }

    fn assert_early_answer(answer: &str) {
        assert!(
            answer.starts_with("HTTP/1.1 401 Unauthorized\r\n"),
            "{answer}"
        );
        assert!(answer.ends_with("\r\n\r\nno token"), "{answer}");
    }

    #[tokio::test]
    async fn a_client_still_sending_a_body_answered_early_is_not_reset() {
        let server = serve(router(), "127.0.0.1:0".parse().unwrap(), Transport::Http)
            .await
            .unwrap();
        let stream = TcpStream::connect(server.addr()).await.unwrap();
        let answer = post_after_early_answer(stream).await.unwrap();
        assert_early_answer(&answer);
        server.shutdown(Duration::from_secs(5)).await;
    }

    /// What Schemathesis (Python's `ssl` under urllib3) met as "EOF occurred in violation of
    /// protocol": over TLS, the write of the rest of the body failed with a broken pipe.
    #[tokio::test]
    async fn a_tls_client_still_sending_a_body_answered_early_is_not_reset() {
        use rustls::pki_types::pem::PemObject;

        let server = serve(router(), "127.0.0.1:0".parse().unwrap(), Transport::Https)
            .await
            .unwrap();
        let pem = server.certificate_pem().unwrap().as_bytes();
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(rustls::pki_types::CertificateDer::from_pem_slice(pem).unwrap())
            .unwrap();
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = TcpStream::connect(server.addr()).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let tls = connector.connect(name, tcp).await.unwrap();
        let answer = post_after_early_answer(tls).await.unwrap();
        assert_early_answer(&answer);
        server.shutdown(Duration::from_secs(5)).await;
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
