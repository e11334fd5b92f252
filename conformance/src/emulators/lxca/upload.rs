//! Multipart uploads, read as they stream: small text parts are collected, file parts are hashed
//! (MD5, SHA-1, SHA-256) and counted chunk by chunk and never held whole (files up to
//! [`KEEP_SMALL`] bytes are kept, for readmes and change histories). The body's size limit is
//! the layer's ([`super::limit_bodies`]).

use axum::body::Body;
use axum::http::{header, HeaderMap};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// Files up to this size are kept in memory (update readmes); larger ones only hashed.
pub const KEEP_SMALL: usize = 64 * 1024;
/// The largest text part (`checksumType`, `checksumValue`, `name`...).
const TEXT_LIMIT: usize = 4096;

/// A file part, as received.
#[derive(Debug, Clone)]
pub struct File {
    /// The file name the client gave.
    pub name: String,
    /// Its size.
    pub size: u64,
    /// Hex digests.
    pub md5: String,
    /// Hex digests.
    pub sha1: String,
    /// Hex digests.
    pub sha256: String,
    /// The content, when small.
    pub small: Option<Vec<u8>>,
}

/// A read form.
#[derive(Debug, Clone, Default)]
pub struct Form {
    /// Text parts, in order.
    pub fields: Vec<(String, String)>,
    /// File parts, in order.
    pub files: Vec<File>,
}

impl Form {
    /// The first text part called `name`.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a form could not be read.
#[derive(Debug)]
pub enum FormError<E> {
    /// Not multipart, no boundary, broken framing, a text part too long.
    Malformed(String),
    /// A file name that is empty, has a path, or control characters.
    BadFileName(String),
    /// The caller refused a file (by field and name) before its content was read.
    Refused(E),
}

/// Whether `name` is a plain file name: no directories, no traversal, no control characters.
pub fn safe_file_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    !name.is_empty()
        && name.len() <= 255
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\', ':'])
        && !name.chars().any(char::is_control)
        && !lower.contains("%2f")
        && !lower.contains("%5c")
        && !lower.contains("%2e%2e")
}

/// Reads the multipart body. `files` names the parts that carry files; `check` may refuse a
/// file by (field, name) before its content is read.
pub async fn read<E>(
    headers: &HeaderMap,
    body: Body,
    files: &[&str],
    mut check: impl FnMut(&str, &str) -> Result<(), E>,
) -> Result<Form, FormError<E>> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let boundary = multer::parse_boundary(content_type)
        .map_err(|e| FormError::Malformed(format!("the multipart body has no boundary: {e}")))?;
    let mut multipart = multer::Multipart::new(body.into_data_stream(), boundary);
    let mut form = Form::default();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => {
                return Err(FormError::Malformed(format!(
                    "the multipart body is invalid: {e}"
                )))
            }
        };
        let name = field.name().unwrap_or("").to_string();
        if files.contains(&name.as_str()) {
            let file_name = field.file_name().unwrap_or("").to_string();
            if !safe_file_name(&file_name) {
                return Err(FormError::BadFileName(file_name));
            }
            check(&name, &file_name).map_err(FormError::Refused)?;
            form.files.push(hash(field, file_name).await?);
        } else {
            let mut field = field;
            let mut text = Vec::new();
            loop {
                match field.chunk().await {
                    Ok(Some(chunk)) => {
                        text.extend_from_slice(&chunk);
                        if text.len() > TEXT_LIMIT {
                            return Err(FormError::Malformed(format!(
                                "the part {name:?} is longer than {TEXT_LIMIT} bytes"
                            )));
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        return Err(FormError::Malformed(format!(
                            "the multipart body is invalid: {e}"
                        )))
                    }
                }
            }
            form.fields
                .push((name, String::from_utf8_lossy(&text).trim().to_string()));
        }
    }
    Ok(form)
}

async fn hash<E>(
    mut field: multer::Field<'static>,
    file_name: String,
) -> Result<File, FormError<E>> {
    let (mut md5, mut sha1, mut sha256) = (Md5::new(), Sha1::new(), Sha256::new());
    let mut size: u64 = 0;
    let mut small = Some(Vec::new());
    loop {
        match field.chunk().await {
            Ok(Some(chunk)) => {
                md5.update(&chunk);
                sha1.update(&chunk);
                sha256.update(&chunk);
                size += chunk.len() as u64;
                if let Some(kept) = &mut small {
                    if kept.len() + chunk.len() <= KEEP_SMALL {
                        kept.extend_from_slice(&chunk);
                    } else {
                        small = None;
                    }
                }
            }
            Ok(None) => break,
            Err(e) => {
                return Err(FormError::Malformed(format!(
                    "the upload could not be read: {e}"
                )))
            }
        }
    }
    Ok(File {
        name: file_name,
        size,
        md5: hex::encode(md5.finalize()),
        sha1: hex::encode(sha1.finalize()),
        sha256: hex::encode(sha256.finalize()),
        small,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_plain() {
        for good in ["redhat7.0.iso", "a..b.iso", "WinPE_64.wim.zip", "x"] {
            assert!(safe_file_name(good), "{good}");
        }
        for bad in [
            "",
            ".",
            "..",
            "../etc/passwd",
            "..\\boot.ini",
            "/etc/passwd",
            "C:evil.iso",
            "a\nb.iso",
            "..%2fescape.iso",
            "%2e%2e",
        ] {
            assert!(!safe_file_name(bad), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn parts_are_read_and_files_hashed() {
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"checksumType\"\r\n\r\nMD5\r\n\
                    --XyZ\r\nContent-Disposition: form-data; name=\"uploadedfile\"; filename=\"a.iso\"\r\n\
                    Content-Type: application/octet-stream\r\n\r\nhello\r\n--XyZ--\r\n";
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            "multipart/form-data; boundary=XyZ".parse().unwrap(),
        );
        let form = read::<()>(&headers, Body::from(body), &["uploadedfile"], |_, _| Ok(()))
            .await
            .unwrap();
        assert_eq!(form.field("checksumType"), Some("MD5"));
        assert_eq!(form.files.len(), 1);
        let file = &form.files[0];
        assert_eq!((file.name.as_str(), file.size), ("a.iso", 5));
        assert_eq!(file.md5, "5d41402abc4b2a76b9719d911017c592");
        assert_eq!(file.small.as_deref(), Some(&b"hello"[..]));
        let refused = read(&headers, Body::from(body), &["uploadedfile"], |_, n| {
            Err(n.to_string())
        })
        .await;
        assert!(matches!(refused, Err(FormError::Refused(n)) if n == "a.iso"));
        let broken = read::<()>(&headers, Body::from("--XyZ\r\ngarbage"), &[], |_, _| Ok(())).await;
        assert!(matches!(broken, Err(FormError::Malformed(_))));
    }
}
