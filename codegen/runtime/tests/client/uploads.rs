//! Multipart uploads stream files from disk, in order, with a known length.

use codegen_runtime::http::Method;
use codegen_runtime::{ApiBody, ApiRequest, ClientBuilder, MultipartForm};
use sha2::{Digest, Sha256};

use crate::support::{json, mock};

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Splits a multipart body into (part headers, content).
fn parse_multipart(body: &[u8], boundary: &str) -> Vec<(String, Vec<u8>)> {
    let delimiter = format!("--{boundary}").into_bytes();
    let separator = [b"\r\n".as_slice(), &delimiter].concat();
    let mut pos = find(body, &delimiter, 0).expect("first boundary") + delimiter.len();
    let mut parts = Vec::new();
    while !body[pos..].starts_with(b"--") {
        pos += 2; // CRLF after the boundary
        let end = find(body, &separator, pos).expect("next boundary");
        let part = &body[pos..end];
        let split = find(part, b"\r\n\r\n", 0).expect("part headers");
        parts.push((
            String::from_utf8(part[..split].to_vec()).unwrap(),
            part[split + 4..].to_vec(),
        ));
        pos = end + separator.len();
    }
    parts
}

#[tokio::test]
async fn a_file_part_streams_from_disk_with_its_length() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("image.iso");
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let data: Vec<u8> = (0..3 * 1024 * 1024 + 123)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    std::fs::write(&path, &data).unwrap();

    let server = mock(|_, _| json(200, serde_json::json!({"result": "success"}))).await;
    let client = ClientBuilder::new(&server.base).build().unwrap();
    let form = MultipartForm::new()
        .text("checksumType", "SHA256")
        .file("uploadedfile", &path, "application/octet-stream")
        .await
        .unwrap()
        .text("checksumValue", hex_sha256(&data))
        .bytes(
            "notes",
            Some("notes.txt".into()),
            "text/plain",
            bytes::Bytes::from_static(b"hello"),
        );
    let request = ApiRequest::new(Method::POST, "/files/osImages")
        .query("jobId", "12")
        .query("imageType", "OS")
        .body(ApiBody::Multipart(form));
    let response = client.send(request).await.unwrap();
    assert_eq!(response.status(), 200);

    let seen = server.seen().pop().unwrap();
    assert_eq!(seen.query.as_deref(), Some("jobId=12&imageType=OS"));
    let content_type = seen.header("content-type").unwrap();
    let boundary = content_type
        .strip_prefix("multipart/form-data; boundary=")
        .expect(content_type);
    // Known length: sent with Content-Length, not chunked.
    assert_eq!(
        seen.header("content-length"),
        Some(seen.body.len().to_string().as_str())
    );
    assert_eq!(seen.header("transfer-encoding"), None);

    let parts = parse_multipart(&seen.body, boundary);
    let names: Vec<&str> = parts
        .iter()
        .map(|(h, _)| {
            h.split("name=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
        })
        .collect();
    assert_eq!(
        names,
        ["checksumType", "uploadedfile", "checksumValue", "notes"]
    );
    let (file_headers, file_bytes) = &parts[1];
    assert!(
        file_headers.contains("filename=\"image.iso\""),
        "{file_headers}"
    );
    assert!(
        file_headers
            .to_ascii_lowercase()
            .contains("content-type: application/octet-stream"),
        "{file_headers}"
    );
    assert_eq!(file_bytes.len(), data.len());
    assert_eq!(hex_sha256(file_bytes), hex_sha256(&data));
    assert_eq!(parts[0].1, b"SHA256");
    assert_eq!(parts[2].1, hex_sha256(&data).as_bytes());
    assert_eq!(parts[3].1, b"hello");
}

fn hex_sha256(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
