//! LXCA sessions: `POST /sessions` with `{"UserId", "password"}`; the answer sets cookies
//! (`JSESSIONID`, `csrf`, `inactivityTimeout`, `user`) that every later request sends back, with
//! an `X-Csrf-Token` header equal to the `csrf` cookie.

use std::sync::Arc;

use http::HeaderMap;

use super::session::{
    logout_result, rejected, sensitive, with_headers, HeaderList, LoginCtx, Logout, Session,
};
use crate::error::LoginError;
use crate::secret::Secret;

const SCHEME: &str = "LXCA session";

pub(super) async fn login(
    ctx: &LoginCtx<'_>,
    username: &str,
    password: &Secret,
) -> Result<Session, LoginError> {
    let body = serde_json::json!({ "UserId": username, "password": password.expose() });
    let request = ctx
        .http
        .post(ctx.endpoint("/sessions"))
        .header(http::header::ACCEPT, "application/json")
        .json(&body);
    let (status, headers, body) = ctx.exchange(SCHEME, request).await?;
    if !(200..300).contains(&status) {
        return Err(rejected(SCHEME, status, &body, &[password.expose()]));
    }
    let cookies = set_cookies(&headers);
    if cookies.is_empty() {
        return Err(LoginError::Malformed {
            scheme: SCHEME,
            missing: "session cookie",
        });
    }
    let csrf = cookies
        .iter()
        .find(|(name, _)| name == "csrf")
        .map(|(_, value)| value.clone())
        .or_else(|| csrf_from_body(&body));
    let cookie_line = cookies
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let malformed = || LoginError::Malformed {
        scheme: SCHEME,
        missing: "usable session cookie",
    };
    let mut list = vec![(
        http::header::COOKIE,
        sensitive(&cookie_line).ok_or_else(malformed)?,
    )];
    if let Some(csrf) = csrf {
        list.push((
            http::HeaderName::from_static("x-csrf-token"),
            sensitive(&csrf).ok_or_else(malformed)?,
        ));
    }
    Ok(Session {
        headers: Arc::new(list),
        refresh_at: None,
        expires_at: None,
        logout: Logout::Lxca,
    })
}

pub(super) async fn logout(ctx: &LoginCtx<'_>, headers: &HeaderList) -> Result<(), LoginError> {
    let request = with_headers(ctx.http.delete(ctx.endpoint("/sessions")), headers);
    let (status, _, body) = ctx.exchange(SCHEME, request).await?;
    logout_result(SCHEME, status, &body)
}

/// Every cookie the answer set, as `(name, value)`, attributes dropped; a later cookie of the same
/// name replaces an earlier one. Cookies are kept for the session's life: LXCA does not rotate
/// them.
fn set_cookies(headers: &HeaderMap) -> Vec<(String, String)> {
    let mut cookies: Vec<(String, String)> = Vec::new();
    for value in headers.get_all(http::header::SET_COOKIE) {
        let Ok(text) = value.to_str() else { continue };
        let pair = text.split(';').next().unwrap_or_default();
        let Some((name, value)) = pair.split_once('=') else {
            continue;
        };
        let (name, value) = (name.trim(), value.trim().trim_matches('"'));
        if name.is_empty() {
            continue;
        }
        match cookies.iter_mut().find(|(n, _)| n == name) {
            Some(existing) => existing.1 = value.to_owned(),
            None => cookies.push((name.to_owned(), value.to_owned())),
        }
    }
    cookies
}

/// The CSRF token when the answer carries it in the body instead of a cookie (`csrf` at the top
/// level, or inside `response`).
fn csrf_from_body(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    ["/csrf", "/response/csrf"]
        .iter()
        .find_map(|p| value.pointer(p)?.as_str().map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_parsed_and_attributes_dropped() {
        let mut h = HeaderMap::new();
        for v in [
            "JSESSIONID=abc; Path=/; Secure; HttpOnly",
            "csrf=\"tok\"; Path=/",
            "inactivityTimeout=1800",
            "garbage",
            "JSESSIONID=def; Path=/",
        ] {
            h.append(http::header::SET_COOKIE, v.parse().unwrap());
        }
        assert_eq!(
            set_cookies(&h),
            vec![
                ("JSESSIONID".to_owned(), "def".to_owned()),
                ("csrf".to_owned(), "tok".to_owned()),
                ("inactivityTimeout".to_owned(), "1800".to_owned()),
            ]
        );
    }

    #[test]
    fn csrf_fallback_from_body() {
        assert_eq!(csrf_from_body(br#"{"csrf":"a"}"#).as_deref(), Some("a"));
        assert_eq!(
            csrf_from_body(br#"{"response":{"csrf":"b"}}"#).as_deref(),
            Some("b")
        );
        assert_eq!(csrf_from_body(br#"{"response":{}}"#), None);
        assert_eq!(csrf_from_body(b"<html>"), None);
    }
}
