//! Scenarios: what the suite does to an appliance, through the generated clients. A scenario
//! states which operations it drives, whether it changes state and whether it needs the embedded
//! emulator (faults, time travel); the runner skips it, and says so, where it cannot run.
//!
//! Scenarios assert what only they can know (a copied backup is listed, a run ends Succeeded)
//! with [`Ctx::check`]; everything that holds for every exchange (documented status, schema,
//! error envelope, shapes, job transitions, auth) is checked afterwards from what crossed the
//! tap, so scenarios stay short.

pub mod ibm;
pub mod lxca;
pub mod zstack;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use codegen_runtime::{ClientBuilder, RetryPolicy};

use super::exchange::{Exchange, Log};
use super::spec::ApiSpec;
use crate::clock::Clock;
use crate::emulators::Vendor;
use crate::faults::Faults;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One scenario.
pub struct Scenario {
    /// Unique within its vendor, kebab-case (`copy-backup`).
    pub name: &'static str,
    /// The operations it exists to exercise (its results and skips are reported against them).
    pub operations: &'static [&'static str],
    /// It changes the target's state: on a live appliance only with `--allow-mutations`.
    pub mutates: bool,
    /// It needs the embedded emulator (fault injection, a virtual clock it moves far ahead).
    pub emulator_only: bool,
    pub run: for<'a> fn(&'a mut Ctx) -> BoxFuture<'a, anyhow::Result<()>>,
}

/// The scenarios of `vendor`.
pub fn all(vendor: Vendor) -> Vec<Scenario> {
    match vendor {
        Vendor::ZStack => zstack::scenarios(),
        Vendor::Lxca => lxca::scenarios(),
        Vendor::IbmBackupRecovery => ibm::scenarios(),
    }
}

/// The credentials a run uses.
#[derive(Clone)]
pub enum Credentials {
    Lxca {
        user: String,
        password: String,
        /// A second user, for ownership checks (another user's job answers 403).
        second: Option<(String, String)>,
    },
    ZStack {
        account: String,
        password: String,
    },
    Ibm {
        api_key: String,
        tenant: String,
        /// The IAM token endpoint; `None`: the target's own `/identity/token` (the emulator).
        iam_url: Option<String>,
        /// A second tenant the same key may use, for isolation checks.
        other_tenant: Option<String>,
    },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Lxca { user, .. } => write!(f, "Lxca {{ user: {user:?}, .. }}"),
            Credentials::ZStack { account, .. } => {
                write!(f, "ZStack {{ account: {account:?}, .. }}")
            }
            Credentials::Ibm { tenant, .. } => write!(f, "Ibm {{ tenant: {tenant:?}, .. }}"),
        }
    }
}

impl Credentials {
    /// The embedded emulator's fixed credentials.
    pub fn emulator(vendor: Vendor) -> Credentials {
        use crate::emulators::{ibm, lxca, zstack};
        match vendor {
            Vendor::Lxca => Credentials::Lxca {
                user: lxca::USER.into(),
                password: lxca::PASSWORD.into(),
                second: Some((lxca::SECOND_USER.into(), lxca::SECOND_PASSWORD.into())),
            },
            Vendor::ZStack => Credentials::ZStack {
                account: zstack::ACCOUNT_NAME.into(),
                password: zstack::PASSWORD.into(),
            },
            Vendor::IbmBackupRecovery => Credentials::Ibm {
                api_key: ibm::API_KEY.into(),
                tenant: ibm::TENANT.into(),
                iam_url: None,
                other_tenant: Some(ibm::OTHER_TENANT.into()),
            },
        }
    }

    /// Every secret in them, for the redactor.
    pub fn secrets(&self) -> Vec<String> {
        match self {
            Credentials::Lxca {
                password, second, ..
            } => {
                let mut s = vec![password.clone()];
                s.extend(second.iter().map(|(_, p)| p.clone()));
                s
            }
            Credentials::ZStack { password, .. } => vec![password.clone()],
            Credentials::Ibm { api_key, .. } => vec![api_key.clone()],
        }
    }
}

/// What a scenario can do to the embedded emulator that it cannot do to an appliance.
#[derive(Clone)]
pub struct EmulatorHandle {
    pub clock: Clock,
    pub faults: Arc<Faults>,
}

/// Waiting for an appliance to make progress: on the embedded emulator the virtual clock moves
/// (nothing sleeps); on a live appliance the suite sleeps; on a replay nothing happens.
#[derive(Clone)]
pub enum Pace {
    Virtual(Clock),
    Real,
    Instant,
}

impl Pace {
    /// Lets `by` pass.
    pub async fn advance(&self, by: Duration) {
        match self {
            Pace::Virtual(clock) => {
                clock.advance(by);
                // Let the emulator's tasks see the new time.
                tokio::task::yield_now().await;
            }
            Pace::Real => tokio::time::sleep(by).await,
            Pace::Instant => {}
        }
    }
}

/// One assertion a scenario made.
#[derive(Debug, Clone)]
pub struct Finding {
    pub operation_id: String,
    pub what: String,
    pub ok: bool,
    pub detail: String,
}

type Cleanup = Box<dyn FnOnce() -> BoxFuture<'static, anyhow::Result<()>> + Send + Sync>;

/// What a scenario runs with.
pub struct Ctx {
    pub vendor: Vendor,
    /// The API's base URL, through the tap (`http://127.0.0.1:PORT/zstack`).
    pub base_url: String,
    /// The tap's origin (`http://127.0.0.1:PORT`), for endpoints outside the base path.
    pub origin: String,
    pub credentials: Credentials,
    /// Tags what the run creates (`conformance-<run id>-...`) so that it can be found and removed.
    pub run_id: String,
    /// `Some` on the embedded emulator.
    pub emulator: Option<EmulatorHandle>,
    pub pace: Pace,
    /// Polls give up after this much (virtual or real) time.
    pub job_deadline: Duration,
    /// `--insecure`: also for what a client reaches directly, not through the tap (IBM's IAM).
    pub insecure: bool,
    /// On a live target: the time between polls, whatever a scenario asks (`--poll-interval`).
    pub poll_interval: Option<Duration>,
    pub(crate) spec: Arc<ApiSpec>,
    pub(crate) log: Arc<Log>,
    pub(crate) start: usize,
    pub(crate) findings: Vec<Finding>,
    pub(crate) cleanups: Vec<(String, Cleanup)>,
}

impl Ctx {
    /// A client builder for the target: no retries (the suite wants to see every answer), a
    /// timeout that protects the appliance.
    pub fn builder(&self) -> ClientBuilder {
        ClientBuilder::new(&self.base_url)
            .retry(RetryPolicy::none())
            .timeout(Duration::from_secs(60))
            .danger_accept_invalid_certs(self.insecure)
    }

    /// A name for something the run creates.
    pub fn name(&self, what: &str) -> String {
        format!("conformance-{}-{what}", self.run_id)
    }

    /// Records an assertion about `operation_id`.
    pub fn check(
        &mut self,
        operation_id: &str,
        what: &str,
        ok: bool,
        detail: impl std::fmt::Display,
    ) -> bool {
        self.findings.push(Finding {
            operation_id: operation_id.to_string(),
            what: what.to_string(),
            ok,
            detail: detail.to_string(),
        });
        ok
    }

    /// The exchanges of this scenario so far.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.log.since(self.start)
    }

    /// The last exchange of this scenario that called `operation_id`.
    pub fn last(&self, operation_id: &str) -> Option<Exchange> {
        self.log.last_since(self.start, |e| {
            self.spec
                .find(
                    &e.request.method,
                    super::redact::relative_path(&self.spec, &e.request.path).as_str(),
                )
                .is_some_and(|(op, _)| op.id == operation_id)
        })
    }

    /// Checks that the last call of `operation_id` answered `status`.
    pub fn expect_status(&mut self, operation_id: &str, what: &str, status: u16) -> bool {
        let seen = self.last(operation_id);
        let got = seen
            .as_ref()
            .and_then(|e| e.response.as_ref())
            .map(|r| r.status);
        let detail = match (&seen, got) {
            (None, _) => format!("expected {status}; {operation_id} was not called"),
            (Some(e), None) => format!(
                "expected {status}; no answer: {}",
                e.error.clone().unwrap_or_default()
            ),
            (Some(e), Some(got)) => format!(
                "expected {status}, got {got}: {}",
                String::from_utf8_lossy(&e.response.as_ref().unwrap().body)
                    .chars()
                    .take(300)
                    .collect::<String>()
            ),
        };
        self.check(operation_id, what, got == Some(status), detail)
    }

    /// Runs `cleanup` when the scenario ends, however it ends (last registered, first run).
    pub fn on_cleanup<F>(&mut self, what: &str, cleanup: F)
    where
        F: FnOnce() -> BoxFuture<'static, anyhow::Result<()>> + Send + Sync + 'static,
    {
        self.cleanups.push((what.to_string(), Box::new(cleanup)));
    }

    /// Polls `step` until it answers `Some`, letting `interval` pass between tries, until the
    /// job deadline.
    pub async fn poll<T, F, Fut>(&self, interval: Duration, mut step: F) -> Option<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        let interval = self.poll_interval.unwrap_or(interval);
        let mut waited = Duration::ZERO;
        loop {
            if let Some(done) = step().await {
                return Some(done);
            }
            if waited >= self.job_deadline {
                return None;
            }
            self.pace.advance(interval).await;
            waited += interval;
        }
    }
}
