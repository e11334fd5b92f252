//! How a client proves who it is, per vendor.
//!
//! [`Auth`] is configuration. The client turns it into an `Authenticator` that logs in lazily
//! (on the first request that needs it), once for all clones of the client, and again once when
//! the appliance says the session is gone. See `shared/vendor-notes.md` for the three flows.

mod iam;
mod lxca;
mod session;
mod zstack;

pub(crate) use session::{Authenticator, LoginCtx, Relogin};

use crate::secret::Secret;

/// The default IBM Cloud IAM token endpoint.
pub const IBM_IAM_URL: &str = "https://iam.cloud.ibm.com/identity/token";

/// How to authenticate. `Debug` never shows passwords, keys or tokens.
#[derive(Debug, Clone, Default)]
pub enum Auth {
    /// No credentials (an emulator, or an operation with `security: []`).
    #[default]
    None,
    /// HTTP Basic on every request (LXCA accepts it).
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: Secret,
    },
    /// A fixed `Authorization: Bearer` token.
    Bearer(Secret),
    /// LXCA session: `POST /sessions`, then cookies and `X-Csrf-Token` on every request.
    LxcaSession {
        /// LXCA's `UserId`.
        username: String,
        /// The password.
        password: Secret,
    },
    /// ZStack session: `PUT /v1/accounts/login` with the SHA-512 of the password, then
    /// `Authorization: OAuth <session uuid>`.
    ZStackSession {
        /// The account name (`admin`).
        account_name: String,
        /// The plain password; only its SHA-512 is sent.
        password: Secret,
    },
    /// IBM Cloud IAM: an API key exchanged for short-lived bearer tokens, refreshed before they
    /// expire.
    IbmIam {
        /// The IBM Cloud API key.
        api_key: Secret,
        /// The IAM token endpoint.
        iam_url: url::Url,
    },
}

impl Auth {
    /// HTTP Basic.
    pub fn basic(username: impl Into<String>, password: impl Into<Secret>) -> Self {
        Auth::Basic {
            username: username.into(),
            password: password.into(),
        }
    }

    /// A fixed bearer token.
    pub fn bearer(token: impl Into<Secret>) -> Self {
        Auth::Bearer(token.into())
    }

    /// An LXCA session.
    pub fn lxca_session(username: impl Into<String>, password: impl Into<Secret>) -> Self {
        Auth::LxcaSession {
            username: username.into(),
            password: password.into(),
        }
    }

    /// A ZStack session.
    pub fn zstack_session(account_name: impl Into<String>, password: impl Into<Secret>) -> Self {
        Auth::ZStackSession {
            account_name: account_name.into(),
            password: password.into(),
        }
    }

    /// IBM Cloud IAM with the public token endpoint, [`IBM_IAM_URL`].
    pub fn ibm_iam(api_key: impl Into<Secret>) -> Self {
        Auth::IbmIam {
            api_key: api_key.into(),
            iam_url: url::Url::parse(IBM_IAM_URL).expect("the default IAM URL is valid"),
        }
    }

    /// IBM Cloud IAM with another token endpoint (a private endpoint, or a test server).
    pub fn ibm_iam_with_url(api_key: impl Into<Secret>, iam_url: url::Url) -> Self {
        Auth::IbmIam {
            api_key: api_key.into(),
            iam_url,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_and_redaction() {
        let all = [
            Auth::basic("admin", "pw-basic"),
            Auth::bearer("tok-bearer"),
            Auth::lxca_session("USERID", "pw-lxca"),
            Auth::zstack_session("admin", "pw-zstack"),
            Auth::ibm_iam("key-ibm"),
        ];
        let text = format!("{all:?}");
        for secret in ["pw-basic", "tok-bearer", "pw-lxca", "pw-zstack", "key-ibm"] {
            assert!(!text.contains(secret), "{text}");
        }
        match &all[4] {
            Auth::IbmIam { iam_url, api_key } => {
                assert_eq!(iam_url.as_str(), IBM_IAM_URL);
                assert_eq!(api_key.expose(), "key-ibm");
            }
            other => panic!("{other:?}"),
        }
        let custom = url::Url::parse("http://127.0.0.1:1/token").unwrap();
        assert!(matches!(
            Auth::ibm_iam_with_url("k", custom.clone()),
            Auth::IbmIam { iam_url, .. } if iam_url == custom
        ));
    }
}
