//! `multipart/form-data` bodies whose file parts stream from disk.
//!
//! LXCA imports OS images and update packages of several gigabytes through multipart uploads:
//! reading such a file into memory first is not an option. A file part is opened when added
//! (so a missing file fails early), its length taken from the file system, and its bytes read in
//! chunks only as the socket takes them. Since every part's length is known, the whole body gets
//! a `Content-Length` (some appliances refuse chunked uploads).

use std::fmt;
use std::io;
use std::path::Path;

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use tokio::io::AsyncReadExt;

/// How much of a file is read at a time. Large enough that a multi-gigabyte upload is not a
/// million tiny reads, small enough to stay invisible in memory.
const CHUNK: usize = 256 * 1024;

/// A `multipart/form-data` body. Parts are sent in the order they were added.
#[derive(Default)]
pub struct MultipartForm {
    parts: Vec<Part>,
}

struct Part {
    name: String,
    file_name: Option<String>,
    content_type: Option<String>,
    content: Content,
}

enum Content {
    Text(String),
    Bytes(Bytes),
    Stream(reqwest::Body, Option<u64>),
}

impl Content {
    fn len(&self) -> Option<u64> {
        match self {
            Content::Text(t) => Some(t.len() as u64),
            Content::Bytes(b) => Some(b.len() as u64),
            Content::Stream(_, len) => *len,
        }
    }
}

impl MultipartForm {
    /// An empty form.
    pub fn new() -> Self {
        MultipartForm::default()
    }

    /// Adds a text field.
    pub fn text(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.parts.push(Part {
            name: name.into(),
            file_name: None,
            content_type: None,
            content: Content::Text(value.into()),
        });
        self
    }

    /// Adds a part from bytes in memory.
    pub fn bytes(
        mut self,
        name: impl Into<String>,
        file_name: Option<String>,
        content_type: impl Into<String>,
        data: Bytes,
    ) -> Self {
        self.parts.push(Part {
            name: name.into(),
            file_name,
            content_type: Some(content_type.into()),
            content: Content::Bytes(data),
        });
        self
    }

    /// Adds a file part streamed from disk, named after the file. The file is opened now (so a
    /// missing or unreadable file fails here, not halfway through a request) and read only while
    /// the request is sent, a chunk at a time. If the file shrinks meanwhile, the upload fails
    /// rather than sending fewer bytes than its `Content-Length` announced; if it grows, the
    /// extra bytes are not sent.
    pub async fn file(
        mut self,
        name: impl Into<String>,
        path: impl AsRef<Path>,
        content_type: impl Into<String>,
    ) -> io::Result<Self> {
        let path = path.as_ref();
        let file = tokio::fs::File::open(path).await?;
        let metadata = file.metadata().await?;
        if !metadata.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a regular file", path.display()),
            ));
        }
        let length = metadata.len();
        let body = reqwest::Body::wrap_stream(file_chunks(file, length));
        self.parts.push(Part {
            name: name.into(),
            file_name: path.file_name().map(|n| n.to_string_lossy().into_owned()),
            content_type: Some(content_type.into()),
            content: Content::Stream(body, Some(length)),
        });
        Ok(self)
    }

    /// Adds a part from any stream. Give its `length` when known: without it the whole form is
    /// sent chunked, with no `Content-Length`.
    pub fn stream(
        mut self,
        name: impl Into<String>,
        file_name: Option<String>,
        content_type: impl Into<String>,
        body: reqwest::Body,
        length: Option<u64>,
    ) -> Self {
        self.parts.push(Part {
            name: name.into(),
            file_name,
            content_type: Some(content_type.into()),
            content: Content::Stream(body, length),
        });
        self
    }

    /// The number of parts.
    pub fn len(&self) -> usize {
        self.parts.len()
    }

    /// Whether the form has no parts.
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// The sum of the parts' content lengths, if all are known (multipart framing not included).
    pub fn content_length(&self) -> Option<u64> {
        self.parts.iter().map(|p| p.content.len()).sum()
    }

    /// The reqwest form, parts in order. Fails for a content type that is not a valid MIME type.
    pub(crate) fn into_reqwest(self) -> Result<reqwest::multipart::Form, reqwest::Error> {
        use reqwest::multipart::Part as RPart;
        let mut form = reqwest::multipart::Form::new();
        for part in self.parts {
            let mut p = match part.content {
                Content::Text(text) => RPart::text(text),
                Content::Bytes(data) => {
                    let len = data.len() as u64;
                    RPart::stream_with_length(reqwest::Body::from(data), len)
                }
                Content::Stream(body, Some(len)) => RPart::stream_with_length(body, len),
                Content::Stream(body, None) => RPart::stream(body),
            };
            if let Some(file_name) = part.file_name {
                p = p.file_name(file_name);
            }
            if let Some(content_type) = part.content_type {
                p = p.mime_str(&content_type)?;
            }
            form = form.part(part.name, p);
        }
        Ok(form)
    }
}

impl fmt::Debug for MultipartForm {
    /// Part names, file names and sizes; never contents.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for p in &self.parts {
            list.entry(&format_args!(
                "{}{} ({})",
                p.name,
                p.file_name
                    .as_deref()
                    .map(|n| format!(" [{n}]"))
                    .unwrap_or_default(),
                p.content
                    .len()
                    .map(|l| format!("{l} bytes"))
                    .unwrap_or_else(|| "stream".into())
            ));
        }
        list.finish()
    }
}

/// Reads exactly `length` bytes of `file`, `CHUNK` at a time.
fn file_chunks(
    file: tokio::fs::File,
    length: u64,
) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
    futures_util::stream::try_unfold((file, length), |(mut file, remaining)| async move {
        if remaining == 0 {
            return Ok(None);
        }
        let want = usize::try_from(remaining).map_or(CHUNK, |r| r.min(CHUNK));
        let mut buf = BytesMut::zeroed(want);
        let read = file.read(&mut buf).await?;
        if read == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file became shorter while it was being uploaded",
            ));
        }
        buf.truncate(read);
        Ok(Some((buf.freeze(), (file, remaining - read as u64))))
    })
}

#[cfg(test)]
mod tests {
    use futures_util::TryStreamExt;

    use super::*;

    #[tokio::test]
    async fn file_chunks_stop_at_the_announced_length_and_fail_when_short() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.bin");
        let data: Vec<u8> = (0..(CHUNK * 2 + 10)).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();

        let file = tokio::fs::File::open(&path).await.unwrap();
        let chunks: Vec<Bytes> = file_chunks(file, data.len() as u64)
            .try_collect()
            .await
            .unwrap();
        assert!(chunks.iter().all(|c| c.len() <= CHUNK));
        assert_eq!(chunks.concat(), data);

        let file = tokio::fs::File::open(&path).await.unwrap();
        let first: Vec<Bytes> = file_chunks(file, 100).try_collect().await.unwrap();
        assert_eq!(first.concat(), &data[..100]);

        let file = tokio::fs::File::open(&path).await.unwrap();
        let err = file_chunks(file, data.len() as u64 + 1)
            .try_collect::<Vec<Bytes>>()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[tokio::test]
    async fn file_parts_fail_early_and_report_lengths() {
        let dir = tempfile::tempdir().unwrap();
        assert!(MultipartForm::new()
            .file("f", dir.path().join("missing"), "application/octet-stream")
            .await
            .is_err());
        assert!(MultipartForm::new()
            .file("f", dir.path(), "application/octet-stream")
            .await
            .is_err());
        let path = dir.path().join("x.iso");
        std::fs::write(&path, b"12345").unwrap();
        let form = MultipartForm::new()
            .text("checksumType", "SHA256")
            .file("uploadedfile", &path, "application/octet-stream")
            .await
            .unwrap();
        assert_eq!(form.len(), 2);
        assert_eq!(form.content_length(), Some(6 + 5));
        assert_eq!(
            format!("{form:?}"),
            r#"[checksumType (6 bytes), uploadedfile [x.iso] (5 bytes)]"#
        );
        let unknown = form.stream("s", None, "text/plain", reqwest::Body::from("x"), None);
        assert_eq!(unknown.content_length(), None);
    }
}
