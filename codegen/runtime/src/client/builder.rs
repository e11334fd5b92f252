//! Configuration of a [`RawClient`]: checked once, at [`ClientBuilder::build`].

use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use url::Url;

use super::RawClient;
use crate::auth::{Auth, Authenticator};
use crate::error::{BuildError, Error};
use crate::retry::RetryPolicy;

/// The default `User-Agent`.
pub const USER_AGENT: &str = concat!("codegen-runtime/", env!("CARGO_PKG_VERSION"));

/// Configures a [`RawClient`].
///
/// TLS certificates are verified unless [`ClientBuilder::danger_accept_invalid_certs`] says
/// otherwise; for an appliance with a self-signed certificate, prefer
/// [`ClientBuilder::add_root_certificate_pem`] with that certificate.
#[derive(Debug)]
pub struct ClientBuilder {
    base_url: String,
    auth: Auth,
    default_headers: Vec<(String, String)>,
    timeout: Option<Duration>,
    connect_timeout: Duration,
    read_timeout: Option<Duration>,
    root_certificates: Vec<Vec<u8>>,
    accept_invalid_certs: bool,
    retry: RetryPolicy,
    user_agent: String,
}

impl ClientBuilder {
    /// A builder for the API at `base_url`, whose path is kept as a prefix of every request path
    /// (`http://host:8080/zstack` + `/v1/...`).
    pub fn new(base_url: impl AsRef<str>) -> Self {
        ClientBuilder {
            base_url: base_url.as_ref().to_owned(),
            auth: Auth::None,
            default_headers: Vec::new(),
            timeout: None,
            connect_timeout: Duration::from_secs(30),
            read_timeout: None,
            root_certificates: Vec::new(),
            accept_invalid_certs: false,
            retry: RetryPolicy::default(),
            user_agent: USER_AGENT.to_owned(),
        }
    }

    /// How to authenticate (default: none).
    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }

    /// A header sent with every request (IBM's `X-IBM-Tenant-Id`), unless the request sets the
    /// same header itself. Checked by [`ClientBuilder::build`].
    pub fn default_header(mut self, name: &str, value: &str) -> Self {
        self.default_headers
            .push((name.to_owned(), value.to_owned()));
        self
    }

    /// A limit on a whole exchange, from connecting to the end of the response body. None by
    /// default, because it also cuts multi-gigabyte uploads and downloads short; prefer
    /// [`ClientBuilder::read_timeout`] to catch a stalled appliance.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// A limit on establishing a connection (default 30 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// A limit on the silence between two reads of a response: catches a hung appliance without
    /// limiting how long a large transfer may take. None by default.
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = Some(timeout);
        self
    }

    /// Trusts the certificate(s) in this PEM text in addition to the public roots: the way to
    /// talk to an appliance with a self-signed certificate without turning verification off.
    pub fn add_root_certificate_pem(mut self, pem: &[u8]) -> Self {
        self.root_certificates.push(pem.to_vec());
        self
    }

    /// Accepts any server certificate, valid or not. Off by default; turning it on lets anyone on
    /// the path read the credentials, so a warning is logged when a client is built with it.
    pub fn danger_accept_invalid_certs(mut self, accept: bool) -> Self {
        self.accept_invalid_certs = accept;
        self
    }

    /// How to retry transient failures (default: [`RetryPolicy::default`]).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The `User-Agent` (default: [`USER_AGENT`]).
    pub fn user_agent(mut self, user_agent: &str) -> Self {
        self.user_agent = user_agent.to_owned();
        self
    }

    /// Checks the configuration and builds the client. Nothing is sent: logging in waits for the
    /// first request.
    // `Error` is large (it carries response headers); building a client is not a hot path.
    #[allow(clippy::result_large_err)]
    pub fn build(self) -> Result<RawClient, Error<()>> {
        let base = parse_base_url(&self.base_url)?;
        let mut default_headers = HeaderMap::new();
        for (name, value) in &self.default_headers {
            let bad = || BuildError::Header { name: name.clone() };
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad())?;
            let value = HeaderValue::from_str(value).map_err(|_| bad())?;
            default_headers.insert(name, value);
        }
        let mut http = reqwest::Client::builder()
            .user_agent(self.user_agent.as_str())
            .connect_timeout(self.connect_timeout)
            // A redirect would change the status the generated code maps, and could carry
            // credentials to another host: the caller sees 3xx answers as they are.
            .redirect(reqwest::redirect::Policy::none())
            .danger_accept_invalid_certs(self.accept_invalid_certs);
        if let Some(t) = self.timeout {
            http = http.timeout(t);
        }
        if let Some(t) = self.read_timeout {
            http = http.read_timeout(t);
        }
        for pem in &self.root_certificates {
            let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| {
                BuildError::Certificate {
                    source: Box::new(e),
                }
            })?;
            if certs.is_empty() {
                return Err(BuildError::Certificate {
                    source: "no certificate in the PEM text".into(),
                }
                .into());
            }
            for cert in certs {
                http = http.add_root_certificate(cert);
            }
        }
        if self.accept_invalid_certs {
            tracing::warn!(base_url = %base, "TLS certificate verification is disabled");
        }
        let http = http.build().map_err(|e| BuildError::Client {
            source: Box::new(e),
        })?;
        let auth = Authenticator::new(self.auth)?;
        Ok(RawClient::new(
            http,
            base,
            default_headers,
            auth,
            self.retry,
        ))
    }
}

fn parse_base_url(raw: &str) -> Result<Url, BuildError> {
    let bad = |reason: &str| BuildError::BaseUrl {
        url: without_userinfo(raw),
        reason: reason.to_owned(),
    };
    let mut url = Url::parse(raw).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err(bad("not an http(s) URL"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "credentials belong in ClientBuilder::auth, not in the URL",
        ));
    }
    url.set_query(None);
    url.set_fragment(None);
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&path);
    Ok(url)
}

/// The URL text with any `user:password@` replaced, for error messages.
fn without_userinfo(raw: &str) -> String {
    let Some(scheme_end) = raw.find("://") else {
        return raw.to_owned();
    };
    let authority_start = scheme_end + 3;
    let authority_end = raw[authority_start..]
        .find(['/', '?', '#'])
        .map_or(raw.len(), |i| authority_start + i);
    match raw[authority_start..authority_end].rfind('@') {
        Some(at) => format!(
            "{}[redacted]{}",
            &raw[..authority_start],
            &raw[authority_start + at..]
        ),
        None => raw.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::endpoint;

    #[test]
    fn base_urls() {
        let base = parse_base_url("http://h:8080/zstack/").unwrap();
        assert_eq!(base.as_str(), "http://h:8080/zstack");
        let url = endpoint(
            &base,
            "/v1/backup-storage",
            &[("q".into(), "name=a b".into())],
        );
        assert_eq!(
            url.as_str(),
            "http://h:8080/zstack/v1/backup-storage?q=name%3Da%20b"
        );
        let root = parse_base_url("https://lxca.example?x=1#f").unwrap();
        assert_eq!(
            endpoint(&root, "/osImages/", &[]).as_str(),
            "https://lxca.example/osImages/"
        );
        assert_eq!(
            endpoint(&root, "sessions", &[]).as_str(),
            "https://lxca.example/sessions"
        );
        for bad in ["not a url", "ftp://h/", "mailto:x@y", "https://user:pw@h/"] {
            assert!(parse_base_url(bad).is_err(), "{bad}");
        }
        let err = parse_base_url("https://admin:s3cret@h:1/x")
            .unwrap_err()
            .to_string();
        assert!(
            !err.contains("s3cret") && err.contains("[redacted]@h:1/x"),
            "{err}"
        );
        assert!(ClientBuilder::new("https://h")
            .default_header("bad name", "v")
            .build()
            .is_err());
        assert!(ClientBuilder::new("https://h")
            .default_header("X-Ok", "line\nbreak")
            .build()
            .is_err());
        assert!(ClientBuilder::new("https://h")
            .add_root_certificate_pem(b"not pem")
            .build()
            .is_err());
    }
}
