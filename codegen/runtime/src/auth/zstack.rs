//! ZStack sessions: `PUT /v1/accounts/login` with the SHA-512 of the password; the session uuid
//! goes into `Authorization: OAuth <uuid>`. An expired session answers 503 with `ID.1001`.

use std::sync::Arc;

use sha2::{Digest, Sha512};

use super::session::{
    logout_result, rejected, sensitive, with_headers, HeaderList, LoginCtx, Logout, Session,
};
use crate::error::LoginError;
use crate::secret::Secret;

const SCHEME: &str = "ZStack session";

/// ZStack's error code for an invalid or expired session.
const INVALID_SESSION: &str = "ID.1001";

/// Lowercase hex SHA-512: what ZStack expects instead of the password.
pub(super) fn password_hash(password: &str) -> String {
    hex::encode(Sha512::digest(password.as_bytes()))
}

pub(super) async fn login(
    ctx: &LoginCtx<'_>,
    account: &str,
    password: &Secret,
) -> Result<Session, LoginError> {
    let hash = password_hash(password.expose());
    let body = serde_json::json!({
        "logInByAccount": { "accountName": account, "password": hash }
    });
    let request = ctx.http.put(ctx.endpoint("/v1/accounts/login")).json(&body);
    let (status, _, body) = ctx.exchange(SCHEME, request).await?;
    if !(200..300).contains(&status) {
        return Err(rejected(SCHEME, status, &body, &[password.expose(), &hash]));
    }
    let uuid = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.pointer("/inventory/uuid")?.as_str().map(str::to_owned))
        .filter(|u| !u.is_empty())
        .ok_or(LoginError::Malformed {
            scheme: SCHEME,
            missing: "inventory.uuid",
        })?;
    let header = sensitive(&format!("OAuth {uuid}")).ok_or(LoginError::Malformed {
        scheme: SCHEME,
        missing: "usable inventory.uuid",
    })?;
    Ok(Session {
        headers: Arc::new(vec![(http::header::AUTHORIZATION, header)]),
        refresh_at: None,
        expires_at: None,
        logout: Logout::ZStack(Secret::new(uuid)),
    })
}

pub(super) async fn logout(
    ctx: &LoginCtx<'_>,
    uuid: &Secret,
    headers: &HeaderList,
) -> Result<(), LoginError> {
    let segment = crate::encoding::path_segment(
        &crate::encoding::ParamValue::Scalar(uuid.expose().to_owned()),
        crate::encoding::Style::Simple,
        false,
    );
    let url = ctx.endpoint(&format!("/v1/accounts/sessions/{segment}"));
    let (status, _, body) = ctx
        .exchange(SCHEME, with_headers(ctx.http.delete(url), headers))
        .await?;
    logout_result(SCHEME, status, &body)
}

/// Whether a 503 body is ZStack's "invalid session" error.
pub(super) fn is_invalid_session(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.pointer("/error/code")?
                .as_str()
                .map(|c| c == INVALID_SESSION)
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_is_sha512_hex() {
        // `printf password | sha512sum`, the value ZStack's CLI sends for "password".
        assert_eq!(
            password_hash("password"),
            "b109f3bbbc244eb82441917ed06d618b9008dd09b3befd1b5e07394c706a8bb980b1d7785e5976ec049b46df5f1326af5a2ea6d103fd07c95385ffab0cacbc86"
        );
    }

    #[test]
    fn invalid_session_detection() {
        assert!(is_invalid_session(
            br#"{"error":{"code":"ID.1001","description":"invalid session"}}"#
        ));
        assert!(!is_invalid_session(br#"{"error":{"code":"ID.1000"}}"#));
        assert!(!is_invalid_session(b"Service Unavailable"));
    }
}
