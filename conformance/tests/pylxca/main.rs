//! Lenovo's Python client, pylxca, unchanged, against the LXCA emulator: `smoke.py` beside this
//! file connects, queries updates, lists OS images, creates an import job and uploads a file,
//! lists tasks and disconnects.
//!
//! It needs a Python with pylxca installed, named by `PYLXCA_PYTHON` (`.ci/run` makes a
//! virtualenv `target/pylxca-venv` with the pinned version and sets it). Without it the test says
//! so and passes: plain `cargo test` does not need Python. The emulator runs on the real clock
//! here (pylxca works in real time), on HTTPS with a self-signed certificate (pylxca's
//! `noverify`), on 127.0.0.1 only.

use std::time::Duration;

use conformance::emulators::lxca::{self, Lxca, Options};
use conformance::emulators::Environment;
use conformance::ids::IdMode;
use conformance::serve::{serve, Transport};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pylxca_works_against_the_emulator() {
    let Some(python) = std::env::var_os("PYLXCA_PYTHON") else {
        eprintln!("pylxca smoke test skipped: set PYLXCA_PYTHON to a Python with pylxca installed");
        return;
    };
    let lxca = Lxca::new(Environment::real(IdMode::Deterministic), Options::default()).unwrap();
    let server = serve(
        lxca.service(),
        "127.0.0.1:0".parse().unwrap(),
        Transport::Https,
    )
    .await
    .unwrap();
    let url = server.url(lxca::BASE_PATH);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/pylxca/smoke.py");
    // pylxca writes `pylxca.log` into its working directory: keep it out of the tree.
    let workdir = std::env::temp_dir().join(format!("pylxca-smoke-{}", std::process::id()));
    std::fs::create_dir_all(&workdir).unwrap();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .current_dir(workdir)
            .arg(script)
            .arg(url)
            .arg(lxca::USER)
            .arg(lxca::PASSWORD)
            .env("PYTHONUNBUFFERED", "1")
            .output()
    })
    .await
    .unwrap()
    .expect("cannot run PYLXCA_PYTHON");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(
        output.status.success(),
        "pylxca smoke failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(stdout.contains("all checks passed"), "{stdout}");
    assert_eq!(
        lxca.session_count(),
        0,
        "pylxca's disconnect ended its session"
    );
    server.shutdown(Duration::from_secs(5)).await;
}
