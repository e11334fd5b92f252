//! For each vendor, the generated client calls the generated server (the generated `Stub`
//! implementation) over real HTTP on loopback, once for every operation, and every call must come
//! back as the documented success.

use std::sync::Arc;

use codegen_runtime::{ClientBuilder, RawClient, RetryPolicy};

/// Serves `router` on 127.0.0.1 (an ephemeral port) for the rest of the test, and returns a
/// transport pointed at it.
async fn client_for(router: codegen_runtime::axum::Router) -> RawClient {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        codegen_runtime::axum::serve(listener, router)
            .await
            .unwrap();
    });
    ClientBuilder::new(format!("http://{addr}"))
        .retry(RetryPolicy::none())
        .build()
        .unwrap()
}

fn assert_all_succeed(vendor: &str, operations: usize, results: &[(&str, Result<(), String>)]) {
    assert_eq!(
        results.len(),
        operations,
        "{vendor}: every operation is called once"
    );
    let failures: Vec<String> = results
        .iter()
        .filter_map(|(op, r)| r.as_ref().err().map(|e| format!("{op}: {e}")))
        .collect();
    assert!(
        failures.is_empty(),
        "{vendor}: {} of {operations} calls failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn lxca_client_and_server_agree_on_every_operation() {
    let raw = client_for(lxca::server::router(Arc::new(lxca::stub::Stub))).await;
    let results = lxca::stub::call_every_operation(&lxca::Client::new(raw)).await;
    assert_all_succeed("lxca", 24, &results);
}

#[tokio::test]
async fn zstack_client_and_server_agree_on_every_operation() {
    let raw = client_for(zstack::server::router(Arc::new(zstack::stub::Stub))).await;
    let results = zstack::stub::call_every_operation(&zstack::Client::new(raw)).await;
    assert_all_succeed("zstack", 6, &results);
}

#[tokio::test]
async fn ibm_client_and_server_agree_on_every_operation() {
    let raw = client_for(ibm_backup_recovery::server::router(Arc::new(
        ibm_backup_recovery::stub::Stub,
    )))
    .await;
    let results =
        ibm_backup_recovery::stub::call_every_operation(&ibm_backup_recovery::Client::new(raw))
            .await;
    assert_all_succeed("ibm-backup-recovery", 44, &results);
}
