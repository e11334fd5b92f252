//! The login state shared by all clones of a client: one session, logged in lazily and
//! single-flight (the first request logs in while the others wait on the same mutex, then all use
//! the session it got).

use std::sync::Arc;
use std::time::Instant as StdInstant;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::{iam, lxca, zstack, Auth};
use crate::error::{BuildError, LoginError};
use crate::secret::Secret;

/// Headers that carry credentials, marked sensitive.
pub(crate) type HeaderList = Arc<Vec<(HeaderName, HeaderValue)>>;

/// What a login needs from the client: its HTTP client (same TLS and timeouts) and base URL.
pub(crate) struct LoginCtx<'a> {
    pub http: &'a reqwest::Client,
    pub base: &'a url::Url,
}

impl LoginCtx<'_> {
    /// An endpoint under the base URL's path prefix.
    pub fn endpoint(&self, path: &str) -> url::Url {
        crate::client::endpoint(self.base, path, &[])
    }

    /// Sends a login-flow request and reads the whole answer. Logged like API requests: method,
    /// path and status, never headers or bodies.
    pub async fn exchange(
        &self,
        scheme: &'static str,
        request: reqwest::RequestBuilder,
    ) -> Result<(u16, HeaderMap, Bytes), LoginError> {
        let transport = |e: reqwest::Error| LoginError::Transport {
            scheme,
            source: Box::new(e),
        };
        let request = request.build().map_err(transport)?;
        let (method, path) = (request.method().clone(), request.url().path().to_owned());
        let started = StdInstant::now();
        let response = self.http.execute(request).await.map_err(transport)?;
        let status = response.status().as_u16();
        tracing::debug!(
            %method,
            path = %redact_session_path(&path),
            status,
            elapsed_ms = started.elapsed().as_millis() as u64,
            scheme,
            "login flow request"
        );
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(transport)?;
        Ok((status, headers, body))
    }
}

/// ZStack puts the session id (a credential) into its logout path: keep it out of the log.
fn redact_session_path(path: &str) -> String {
    match path.find("/accounts/sessions/") {
        Some(at) => format!("{}/accounts/sessions/[redacted]", &path[..at]),
        None => path.to_owned(),
    }
}

/// A header value holding a credential: marked sensitive, so `Debug` of the header map and
/// HTTP/2 header compression leave it alone.
pub(crate) fn sensitive(value: &str) -> Option<HeaderValue> {
    let mut v = HeaderValue::from_str(value).ok()?;
    v.set_sensitive(true);
    Some(v)
}

/// A logged-in session.
pub(crate) struct Session {
    /// What every request sends.
    pub headers: HeaderList,
    /// When to fetch a new one before this one runs out (IAM tokens).
    pub refresh_at: Option<Instant>,
    /// When this one stops working; until then a failed refresh keeps using it.
    pub expires_at: Option<Instant>,
    /// How to end it.
    pub logout: Logout,
}

/// How a session ends.
pub(crate) enum Logout {
    /// Nothing to do (IAM tokens just expire).
    Nothing,
    /// `DELETE /sessions`.
    Lxca,
    /// `DELETE /v1/accounts/sessions/{uuid}`.
    ZStack(Secret),
}

/// The credentials for one request, and which session they came from.
pub(crate) struct Credentials {
    pub headers: HeaderList,
    /// Increases with every login: a request that got 401 invalidates only the session it used,
    /// so ten requests failing together cause one re-login, not ten.
    pub generation: u64,
}

/// When a response should make the client log in again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Relogin {
    /// Never: static credentials, or a status that says nothing about the session.
    No,
    /// Yes: the status alone says the session is gone (401).
    Yes,
    /// Only if the body says so (ZStack's 503 with `ID.1001`): read the body to decide.
    IfBodySays,
}

struct State {
    generation: u64,
    session: Option<Session>,
}

/// Turns [`Auth`] into request headers.
pub(crate) struct Authenticator {
    auth: Auth,
    fixed: HeaderList,
    state: Mutex<State>,
}

impl Authenticator {
    pub fn new(auth: Auth) -> Result<Self, BuildError> {
        let bad = || BuildError::Header {
            name: "authorization".into(),
        };
        let fixed = match &auth {
            Auth::Basic { username, password } => {
                use base64::Engine as _;
                let raw = format!("{username}:{}", password.expose());
                let encoded = base64::engine::general_purpose::STANDARD.encode(raw);
                vec![(
                    http::header::AUTHORIZATION,
                    sensitive(&format!("Basic {encoded}")).ok_or_else(bad)?,
                )]
            }
            Auth::Bearer(token) => vec![(
                http::header::AUTHORIZATION,
                sensitive(&format!("Bearer {}", token.expose())).ok_or_else(bad)?,
            )],
            _ => Vec::new(),
        };
        Ok(Authenticator {
            auth,
            fixed: Arc::new(fixed),
            state: Mutex::new(State {
                generation: 0,
                session: None,
            }),
        })
    }

    fn has_session(&self) -> bool {
        matches!(
            self.auth,
            Auth::LxcaSession { .. } | Auth::ZStackSession { .. } | Auth::IbmIam { .. }
        )
    }

    /// The headers for the next request, logging in first if there is no usable session.
    pub async fn credentials(&self, ctx: &LoginCtx<'_>) -> Result<Credentials, LoginError> {
        if !self.has_session() {
            return Ok(Credentials {
                headers: self.fixed.clone(),
                generation: 0,
            });
        }
        let mut state = self.state.lock().await;
        let now = Instant::now();
        let current = |state: &State| {
            state.session.as_ref().map(|s| Credentials {
                headers: s.headers.clone(),
                generation: state.generation,
            })
        };
        if let Some(session) = &state.session {
            if session.refresh_at.is_none_or(|at| now < at) {
                return Ok(current(&state).expect("session present"));
            }
        }
        match self.login(ctx).await {
            Ok(session) => {
                state.generation += 1;
                state.session = Some(session);
                Ok(current(&state).expect("session just stored"))
            }
            Err(error) => {
                let still_valid = state
                    .session
                    .as_ref()
                    .is_some_and(|s| s.expires_at.is_some_and(|at| now < at));
                if still_valid {
                    tracing::warn!(%error, "token refresh failed; using the current token until it expires");
                    return Ok(current(&state).expect("session present"));
                }
                state.session = None;
                Err(error)
            }
        }
    }

    async fn login(&self, ctx: &LoginCtx<'_>) -> Result<Session, LoginError> {
        match &self.auth {
            Auth::LxcaSession { username, password } => lxca::login(ctx, username, password).await,
            Auth::ZStackSession {
                account_name,
                password,
            } => zstack::login(ctx, account_name, password).await,
            Auth::IbmIam { api_key, iam_url } => iam::login(ctx, iam_url, api_key).await,
            Auth::None | Auth::Basic { .. } | Auth::Bearer(_) => {
                unreachable!("static credentials never log in")
            }
        }
    }

    /// Whether a response with this status may mean the session is gone.
    pub fn relogin_on(&self, status: u16) -> Relogin {
        match (&self.auth, status) {
            (_, 401) if self.has_session() => Relogin::Yes,
            (Auth::ZStackSession { .. }, 503) => Relogin::IfBodySays,
            _ => Relogin::No,
        }
    }

    /// For [`Relogin::IfBodySays`]: whether the body says the session is invalid.
    pub fn body_says_relogin(&self, body: &[u8]) -> bool {
        matches!(self.auth, Auth::ZStackSession { .. }) && zstack::is_invalid_session(body)
    }

    /// Forgets the session a failed request used, unless another request already replaced it.
    pub async fn invalidate(&self, generation: u64) {
        let mut state = self.state.lock().await;
        if state.generation == generation && state.session.is_some() {
            tracing::debug!("session rejected by the server; logging in again");
            state.session = None;
        }
    }

    /// Ends the session, if any. Failures are logged, not returned: the caller is done with the
    /// client either way, and the appliance expires the session by itself.
    pub async fn logout(&self, ctx: &LoginCtx<'_>) {
        let session = {
            let mut state = self.state.lock().await;
            state.generation += 1;
            state.session.take()
        };
        let Some(session) = session else { return };
        let result = match &session.logout {
            Logout::Nothing => Ok(()),
            Logout::Lxca => lxca::logout(ctx, &session.headers).await,
            Logout::ZStack(id) => zstack::logout(ctx, id, &session.headers).await,
        };
        if let Err(error) = result {
            tracing::debug!(%error, "logout failed");
        }
    }
}

/// Adds credential headers to a login-flow request.
pub(crate) fn with_headers(
    mut request: reqwest::RequestBuilder,
    headers: &HeaderList,
) -> reqwest::RequestBuilder {
    for (name, value) in headers.iter() {
        request = request.header(name, value);
    }
    request
}

/// Maps a non-success login answer to [`LoginError::Rejected`], quoting the body without secrets.
pub(crate) fn rejected(
    scheme: &'static str,
    status: u16,
    body: &[u8],
    secrets: &[&str],
) -> LoginError {
    LoginError::Rejected {
        scheme,
        status,
        detail: crate::error::scrubbed_snippet(body, secrets),
    }
}

/// A logout answer: anything but 2xx is an error worth a log line.
pub(crate) fn logout_result(
    scheme: &'static str,
    status: u16,
    body: &[u8],
) -> Result<(), LoginError> {
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(rejected(scheme, status, body, &[]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zstack_logout_paths_are_redacted() {
        assert_eq!(
            redact_session_path("/zstack/v1/accounts/sessions/0123abcd"),
            "/zstack/v1/accounts/sessions/[redacted]"
        );
        assert_eq!(redact_session_path("/sessions"), "/sessions");
    }

    #[test]
    fn relogin_triggers_per_scheme() {
        let lxca = Authenticator::new(Auth::lxca_session("u", "p")).unwrap();
        assert_eq!(lxca.relogin_on(401), Relogin::Yes);
        assert_eq!(lxca.relogin_on(503), Relogin::No);
        assert_eq!(lxca.relogin_on(403), Relogin::No);
        let zs = Authenticator::new(Auth::zstack_session("a", "p")).unwrap();
        assert_eq!(zs.relogin_on(401), Relogin::Yes);
        assert_eq!(zs.relogin_on(503), Relogin::IfBodySays);
        assert!(zs.body_says_relogin(br#"{"error":{"code":"ID.1001"}}"#));
        assert!(!zs.body_says_relogin(br#"{"error":{"code":"SYS.1007"}}"#));
        let basic = Authenticator::new(Auth::basic("u", "p")).unwrap();
        assert_eq!(basic.relogin_on(401), Relogin::No);
        assert!(!basic.body_says_relogin(br#"{"error":{"code":"ID.1001"}}"#));
    }

    #[test]
    fn static_headers() {
        let basic = Authenticator::new(Auth::basic("Aladdin", "open sesame")).unwrap();
        let (name, value) = &basic.fixed[0];
        assert_eq!(name, http::header::AUTHORIZATION);
        assert_eq!(value, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        assert!(value.is_sensitive());
        let bearer = Authenticator::new(Auth::bearer("t0k")).unwrap();
        assert_eq!(bearer.fixed[0].1, "Bearer t0k");
        assert!(Authenticator::new(Auth::bearer("bad\ntoken")).is_err());
        assert!(Authenticator::new(Auth::None).unwrap().fixed.is_empty());
    }
}
