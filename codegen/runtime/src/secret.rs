//! Values that must never reach logs: passwords, API keys, tokens, session ids.
//!
//! The specs mark such values with `x-secret`, and the generated types hold them as [`Secret`], so a
//! `{:?}` of a request struct, an error or a client cannot print them by accident. The value still
//! goes on the wire: serde sees the real string.

use std::fmt;

use http::HeaderMap;
use serde::{Deserialize, Serialize};

/// A string whose `Debug` and `Display` print `[redacted]`.
///
/// Serialization is transparent (the real value is what the server needs). Equality compares in
/// time that does not depend on where the first differing byte is, so a server stub comparing a
/// presented password with the expected one leaks nothing through timing but the length.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The real value, for putting on the wire. Every call site is a place where the secret
    /// leaves its wrapper, which keeps them easy to find in review.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the value is empty (an empty password is usually a configuration mistake).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (self.0.as_bytes(), other.0.as_bytes());
        if a.len() != b.len() {
            return false;
        }
        a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl Eq for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

/// Header names whose values are credentials, whatever the `HeaderValue::is_sensitive` flag says
/// (a value that came back from the network never has that flag set).
const SENSITIVE_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-csrf-token",
    "x-auth-token",
    "x-api-key",
];

/// Whether a header's value must be kept out of logs and `Debug` output.
pub fn is_sensitive_header(name: &http::HeaderName, value: &http::HeaderValue) -> bool {
    value.is_sensitive() || SENSITIVE_HEADERS.contains(&name.as_str())
}

/// `Debug` for a header map that prints `[redacted]` for credential headers.
///
/// Error values and responses keep the headers they came with (a caller may need `Retry-After` or
/// `Location`), and a `Set-Cookie` in there would otherwise end up in whatever log prints the error.
pub struct RedactedHeaders<'a>(pub &'a HeaderMap);

impl fmt::Debug for RedactedHeaders<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (name, value) in self.0 {
            if is_sensitive_header(name, value) {
                map.entry(&name.as_str(), &"[redacted]");
            } else {
                map.entry(&name.as_str(), &String::from_utf8_lossy(value.as_bytes()));
            }
        }
        map.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(format!("{s}"), "[redacted]");
        assert_eq!(s.expose(), "hunter2");
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Login {
            user: String,
            password: Secret,
        }
        let login = Login {
            user: "admin".into(),
            password: s,
        };
        let text = format!("{login:?} {login:#?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("admin"));
    }

    #[test]
    fn serde_is_transparent() {
        let s = Secret::new("p\"w");
        assert_eq!(serde_json::to_string(&s).unwrap(), r#""p\"w""#);
        let back: Secret = serde_json::from_str(r#""abc""#).unwrap();
        assert_eq!(back.expose(), "abc");
    }

    #[test]
    fn equality_compares_values() {
        assert_eq!(Secret::new("abc"), Secret::from("abc"));
        assert_ne!(Secret::new("abc"), Secret::new("abd"));
        assert_ne!(Secret::new("abc"), Secret::new("abcd"));
        assert_eq!(Secret::default(), Secret::new(""));
        assert!(Secret::default().is_empty());
    }

    #[test]
    fn redacted_headers_hide_credentials_only() {
        let mut h = HeaderMap::new();
        h.insert("set-cookie", "JSESSIONID=abc123".parse().unwrap());
        h.insert("authorization", "Bearer tok".parse().unwrap());
        h.insert("retry-after", "5".parse().unwrap());
        let mut custom: http::HeaderValue = "s3cr3t".parse().unwrap();
        custom.set_sensitive(true);
        h.insert("x-custom", custom);
        let text = format!("{:?}", RedactedHeaders(&h));
        for leaked in ["abc123", "tok", "s3cr3t"] {
            assert!(!text.contains(leaked), "{text}");
        }
        assert!(text.contains(r#""retry-after": "5""#), "{text}");
    }
}
