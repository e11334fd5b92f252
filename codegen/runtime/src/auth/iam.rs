//! IBM Cloud IAM: an API key exchanged at the token endpoint for a bearer token that lives about
//! an hour. Tokens are refreshed before they run out, so a request never leaves with one that
//! expires in flight.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use super::session::{rejected, sensitive, LoginCtx, Logout, Session};
use crate::error::LoginError;
use crate::secret::Secret;

const SCHEME: &str = "IBM IAM";
const GRANT_TYPE: &str = "urn:ibm:params:oauth:grant-type:apikey";

/// Assumed lifetime when the answer states none (IAM always does; this only bounds the damage).
const FALLBACK_LIFETIME: Duration = Duration::from_secs(300);

/// When to refresh a token obtained at `obtained` that lives `lifetime`: once less than 60 s or
/// 10 % of its lifetime remains, whichever is larger. A token shorter-lived than that margin is
/// refreshed on every use.
pub(super) fn refresh_at(obtained: Instant, lifetime: Duration) -> Instant {
    let margin = Duration::from_secs(60).max(lifetime / 10);
    obtained + lifetime.saturating_sub(margin)
}

/// The token's lifetime: `expires_in` (seconds, immune to clock skew), else `expiration` (epoch
/// seconds) against the local clock.
fn lifetime(answer: &serde_json::Value) -> Duration {
    if let Some(secs) = answer.get("expires_in").and_then(|v| v.as_u64()) {
        return Duration::from_secs(secs);
    }
    if let Some(at) = answer.get("expiration").and_then(|v| v.as_u64()) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        return Duration::from_secs(at).saturating_sub(now);
    }
    FALLBACK_LIFETIME
}

pub(super) async fn login(
    ctx: &LoginCtx<'_>,
    iam_url: &url::Url,
    api_key: &Secret,
) -> Result<Session, LoginError> {
    let form = crate::encoding::build_query(&[
        ("grant_type".to_owned(), GRANT_TYPE.to_owned()),
        ("apikey".to_owned(), api_key.expose().to_owned()),
    ]);
    let request = ctx
        .http
        .post(iam_url.clone())
        .header(http::header::ACCEPT, "application/json")
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(form);
    let obtained = Instant::now();
    let (status, _, body) = ctx.exchange(SCHEME, request).await?;
    if !(200..300).contains(&status) {
        return Err(rejected(SCHEME, status, &body, &[api_key.expose()]));
    }
    let answer: serde_json::Value =
        serde_json::from_slice(&body).map_err(|_| LoginError::Malformed {
            scheme: SCHEME,
            missing: "JSON body",
        })?;
    let token = answer
        .get("access_token")
        .and_then(|v| v.as_str())
        .filter(|t| !t.is_empty())
        .ok_or(LoginError::Malformed {
            scheme: SCHEME,
            missing: "access_token",
        })?;
    let header = sensitive(&format!("Bearer {token}")).ok_or(LoginError::Malformed {
        scheme: SCHEME,
        missing: "usable access_token",
    })?;
    let lifetime = lifetime(&answer);
    Ok(Session {
        headers: Arc::new(vec![(http::header::AUTHORIZATION, header)]),
        refresh_at: Some(refresh_at(obtained, lifetime)),
        expires_at: Some(obtained + lifetime),
        logout: Logout::Nothing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn refresh_margin_is_the_larger_of_60s_and_a_tenth() {
        let t0 = Instant::now();
        // An hour: 10 % (6 min) is larger than 60 s.
        assert_eq!(
            refresh_at(t0, Duration::from_secs(3600)),
            t0 + Duration::from_secs(3240)
        );
        // Five minutes: 60 s is larger than 30 s.
        assert_eq!(
            refresh_at(t0, Duration::from_secs(300)),
            t0 + Duration::from_secs(240)
        );
        // Shorter than the margin: refresh at once.
        assert_eq!(refresh_at(t0, Duration::from_secs(30)), t0);
    }

    #[test]
    fn lifetime_sources() {
        assert_eq!(
            lifetime(&serde_json::json!({"expires_in": 3600})),
            Duration::from_secs(3600)
        );
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let from_epoch = lifetime(&serde_json::json!({"expiration": now + 1200}));
        assert!(from_epoch <= Duration::from_secs(1200) && from_epoch >= Duration::from_secs(1100));
        assert_eq!(
            lifetime(&serde_json::json!({"expiration": 5})),
            Duration::ZERO
        );
        assert_eq!(lifetime(&serde_json::json!({})), FALLBACK_LIFETIME);
    }
}
