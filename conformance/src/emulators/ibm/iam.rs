//! IAM: the token endpoint (`POST /identity/token`) and the bearer-token and tenant checks in
//! front of the API.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::{error_envelope, json_response, tenant_id, Ibm, Token, BASE_PATH};
use crate::ids::IdFormat;

const APIKEY_GRANT: &str = "urn:ibm:params:oauth:grant-type:apikey";

fn iam_error(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(
        status,
        &json!({
            "errorCode": code,
            "errorMessage": message,
            "context": {"requestId": format!("{:032x}", super::fnv(message)), "requestType": "Token"},
        }),
    )
}

/// `POST /identity/token`: IAM's API key (and refresh token) grants, form encoded.
pub(super) async fn token(
    State(ibm): State<Arc<Ibm>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if !form {
        return iam_error(
            StatusCode::BAD_REQUEST,
            "BXNIM0109E",
            "Content-Type must be application/x-www-form-urlencoded",
        );
    }
    let text = String::from_utf8_lossy(&body);
    let pairs = codegen_runtime::validation::query_pairs(Some(&text));
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let now = ibm.env.clock.now();
    let mut state = ibm.lock();
    match field("grant_type") {
        None => {
            return iam_error(
                StatusCode::BAD_REQUEST,
                "BXNIM0109E",
                "Property missing or empty. Property name: grant_type",
            )
        }
        Some(APIKEY_GRANT) => match field("apikey") {
            None => {
                return iam_error(
                    StatusCode::BAD_REQUEST,
                    "BXNIM0109E",
                    "Property missing or empty. Property name: apikey",
                )
            }
            Some(key) if state.api_keys.iter().any(|k| k == key) => {}
            Some(_) => {
                return iam_error(
                    StatusCode::BAD_REQUEST,
                    "BXNIM0415E",
                    "Provided API key could not be found.",
                )
            }
        },
        Some("refresh_token") => match field("refresh_token") {
            Some(refresh) if state.refresh_tokens.remove(refresh) => {}
            _ => {
                return iam_error(
                    StatusCode::BAD_REQUEST,
                    "BXNIM0407E",
                    "Provided refresh token is invalid or expired.",
                )
            }
        },
        Some(other) => {
            return iam_error(
                StatusCode::BAD_REQUEST,
                "BXNIM0104E",
                &format!("Unsupported grant type: {other}"),
            )
        }
    }
    // Forget expired tokens here, so that logins in a loop do not grow the table forever.
    state
        .tokens
        .retain(|_, t| t.expires.is_none_or(|at| now < at));
    let lifetime = ibm.timing.token_lifetime_secs;
    let access = format!(
        "eyJraWQiOiJlbXVsYXRvciIsImFsZyI6IlJTMjU2In0.{}",
        ibm.env.ids.next("iam-token", IdFormat::Hex32)
    );
    let refresh = ibm.env.ids.next("iam-refresh-token", IdFormat::Hex32);
    let expires = now + Duration::from_secs(lifetime);
    state.tokens.insert(
        access.clone(),
        Token {
            expires: Some(expires),
        },
    );
    state.refresh_tokens.insert(refresh.clone());
    json_response(
        StatusCode::OK,
        &json!({
            "access_token": access,
            "refresh_token": refresh,
            "ims_user_id": 1_000_001,
            "token_type": "Bearer",
            "expires_in": lifetime,
            "expiration": crate::clock::unix_millis(expires) / 1000,
            "scope": "ibm openid",
        }),
    )
}

/// The bearer token and tenant checks of every API call: the refusal, if any.
pub(super) fn authenticate(ibm: &Ibm, request: &Request) -> Option<Response> {
    if !request.uri().path().starts_with(BASE_PATH) {
        return None;
    }
    let unauthorized = |message: &str| {
        json_response(
            StatusCode::UNAUTHORIZED,
            &error_envelope("KStatusUnauthorized", message),
        )
    };
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let Some(token) = token else {
        return Some(unauthorized(
            "The IAM access token is missing: send Authorization: Bearer <token>",
        ));
    };
    {
        let mut state = ibm.lock();
        match state.tokens.get(token) {
            // The clock is read only for a token that expires.
            Some(t) if t.expires.is_none_or(|at| ibm.env.clock.now() < at) => {}
            Some(_) => {
                state.tokens.remove(token);
                return Some(unauthorized("The IAM access token has expired"));
            }
            None => return Some(unauthorized("The IAM access token is invalid")),
        }
        // A name made once: looking a header up by a string parses the name on every request.
        const TENANT: header::HeaderName = header::HeaderName::from_static("x-ibm-tenant-id");
        if let Some(tenant) = request.headers().get(TENANT).and_then(|v| v.to_str().ok()) {
            if !state.tenants.contains(tenant_id(tenant)) {
                return Some(json_response(
                    StatusCode::FORBIDDEN,
                    &error_envelope(
                        "KAccessDenied",
                        &format!("The caller is not allowed to access tenant {tenant}"),
                    ),
                ));
            }
        }
    }
    None
}
