//! The request log: one line per request, method, path (without its query), status and
//! duration. Alone in its binary: `tracing` caches per call site whether anyone listens, and
//! tests on other threads that meet the log's call sites first, with no subscriber, would race
//! with the one installed here.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::Request;
use conformance::emulators::zstack::{Options, ZStack, BASE_PATH};
use conformance::emulators::Environment;
use tower::ServiceExt;

/// Collects what the subscriber writes.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn each_request_is_logged_as_one_line_without_its_query() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .without_time()
        .with_level(false)
        .with_target(false)
        .with_writer({
            let capture = capture.clone();
            move || capture.clone()
        })
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);
    let session = "0123456789abcdef0123456789abcdef";
    let zstack = ZStack::new(
        Environment::for_tests(),
        Options {
            session: Some(session.into()),
            ..Options::default()
        },
    )
    .unwrap();
    let get = |query: &str, auth: bool| {
        let mut request = Request::get(format!("{BASE_PATH}/v1/backup-storage{query}"));
        if auth {
            request = request.header("authorization", format!("OAuth {session}"));
        }
        zstack
            .service()
            .oneshot(request.body(Body::empty()).unwrap())
    };
    get("?q=name=secret-name", true).await.unwrap();
    get("", true).await.unwrap();
    get("", true).await.unwrap(); // replayed: logged all the same
    get("", false).await.unwrap();
    let text = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(!text.contains("secret"), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    let path = format!("GET {BASE_PATH}/v1/backup-storage ");
    let expected = [200, 200, 200, 400];
    assert_eq!(lines.len(), expected.len(), "{text}");
    for (line, status) in lines.iter().zip(expected) {
        let duration = line
            .strip_prefix(&format!("{path}{status} "))
            .unwrap_or_else(|| panic!("{line}"));
        let (ms, tenth) = duration
            .strip_suffix("ms")
            .and_then(|d| d.split_once('.'))
            .unwrap_or_else(|| panic!("{line}"));
        assert!(ms.parse::<u64>().is_ok() && tenth.len() == 1, "{line}");
    }
}
