//! TLS is verified unless the caller opts out; a self-signed appliance certificate can be
//! trusted explicitly instead.

use std::sync::Arc;

use codegen_runtime::http::Method;
use codegen_runtime::{ApiRequest, ClientBuilder, RetryPolicy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A self-signed certificate for `localhost` and 127.0.0.1, made for this test only
/// (`openssl req -x509 -newkey ec ... -days 36500`); the key protects nothing.
const CERT: &[u8] = include_bytes!("fixtures/test-cert.pem");
const KEY: &[u8] = include_bytes!("fixtures/test-key.pem");

/// An HTTPS server answering every request with 200 "secure", one connection at a time.
async fn https_server() -> String {
    let certs = vec![CertificateDer::from_pem_slice(CERT).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(KEY).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let Ok(mut tls) = acceptor.accept(tcp).await else {
                continue;
            };
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match tls.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let _ = tls
                .write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\nconnection: close\r\n\r\nsecure",
                )
                .await;
            let _ = tls.shutdown().await;
        }
    });
    format!("https://localhost:{port}")
}

#[tokio::test]
async fn self_signed_certificates_are_refused_by_default() {
    let base = https_server().await;
    let client = ClientBuilder::new(&base)
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let err = client
        .send(ApiRequest::new(Method::GET, "/aicc"))
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err:?}");
}

#[tokio::test]
async fn a_trusted_root_or_an_explicit_opt_out_connects() {
    let base = https_server().await;
    let trusted = ClientBuilder::new(&base)
        .add_root_certificate_pem(CERT)
        .build()
        .unwrap();
    let r = trusted
        .send(ApiRequest::new(Method::GET, "/aicc"))
        .await
        .unwrap();
    assert_eq!(&r.bytes().await.unwrap()[..], b"secure");

    let insecure = ClientBuilder::new(&base)
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let r = insecure
        .send(ApiRequest::new(Method::GET, "/aicc"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
