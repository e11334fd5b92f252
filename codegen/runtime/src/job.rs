//! Following long-running operations declared with `x-job` (see `specs/README.md`).
//!
//! The generator turns an operation's `x-job` block into a `static` [`JobSpec`]; the generated
//! client polls with `wait` (feature `client`). Only the state logic is here, so the three vendors' styles (LXCA's
//! `/status/state` field, IBM's run status, ZStack's 202/200/503/404 statuses) need no code of
//! their own.

use std::fmt;

use bytes::Bytes;

use crate::error::TransportError;

/// Where a poll response says what state the job is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateSource {
    /// A field of the JSON body, by JSON pointer (`/status/state`).
    Body(&'static str),
    /// The HTTP status itself (`"202"` running, `"200"` done).
    Status,
}

/// What a state means to someone waiting for the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meaning {
    /// Not finished: poll again.
    Running,
    /// Finished and worked.
    Succeeded,
    /// Finished and did not work.
    Failed,
    /// Stopped on request.
    Cancelled,
    /// The job is gone (ZStack forgets jobs after a while).
    Expired,
}

/// An operation's `x-job` states and transitions, as the generator emits them.
#[derive(Debug, Clone, Copy)]
pub struct JobSpec {
    /// Where the state is read.
    pub state: StateSource,
    /// States meaning "poll again".
    pub running: &'static [&'static str],
    /// States meaning success.
    pub succeeded: &'static [&'static str],
    /// States meaning failure.
    pub failed: &'static [&'static str],
    /// States meaning cancelled.
    pub cancelled: &'static [&'static str],
    /// States meaning the job is gone.
    pub expired: &'static [&'static str],
    /// Allowed moves, `(from, [to...])`. A state may always stay where it is; a state without an
    /// entry may not move; an empty table allows every move.
    pub transitions: &'static [(&'static str, &'static [&'static str])],
}

impl JobSpec {
    /// The meaning of a state, or `None` for a state the spec does not list.
    pub fn meaning(&self, state: &str) -> Option<Meaning> {
        [
            (self.running, Meaning::Running),
            (self.succeeded, Meaning::Succeeded),
            (self.failed, Meaning::Failed),
            (self.cancelled, Meaning::Cancelled),
            (self.expired, Meaning::Expired),
        ]
        .into_iter()
        .find(|(states, _)| states.contains(&state))
        .map(|(_, meaning)| meaning)
    }

    /// Whether the job may move from `from` to `to`. Staying put is always allowed (a poll sees the
    /// same state many times); an empty table allows everything (the spec declared no rules).
    pub fn allows(&self, from: &str, to: &str) -> bool {
        if from == to || self.transitions.is_empty() {
            return true;
        }
        self.transitions
            .iter()
            .find(|(f, _)| *f == from)
            .is_some_and(|(_, tos)| tos.contains(&to))
    }

    /// Reads the state from a poll response. For [`StateSource::Body`], a string field is used as
    /// is and a number or boolean as its JSON text; a body that is not JSON, or lacks the field,
    /// has no state.
    pub fn state_of(&self, status: u16, body: &[u8]) -> Option<String> {
        match self.state {
            StateSource::Status => Some(status.to_string()),
            StateSource::Body(pointer) => {
                let value: serde_json::Value = serde_json::from_slice(body).ok()?;
                match value.pointer(pointer)? {
                    serde_json::Value::String(s) => Some(s.clone()),
                    v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_)) => {
                        Some(v.to_string())
                    }
                    _ => None,
                }
            }
        }
    }
}

/// How often and how long to poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitOptions {
    /// The pause between two polls.
    pub interval: std::time::Duration,
    /// How long to keep polling a job that is still running, counted from the first poll.
    pub deadline: std::time::Duration,
}

impl Default for WaitOptions {
    /// Every 2 s, for at most 30 minutes (an OS-image import or a backup can take that long).
    fn default() -> Self {
        WaitOptions {
            interval: std::time::Duration::from_secs(2),
            deadline: std::time::Duration::from_secs(30 * 60),
        }
    }
}

/// A job that succeeded: its final state and the poll response that reported it (which, for
/// ZStack, is the operation's result).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobOutcome {
    /// The succeeded state.
    pub state: String,
    /// The HTTP status of the last poll.
    pub status: u16,
    /// The body of the last poll.
    pub body: Bytes,
}

/// A job that did not succeed, or could not be followed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JobError {
    /// The job ended in a failed state; the body usually says why.
    #[error("the job failed (state {state})")]
    Failed {
        /// The failed state.
        state: String,
        /// The poll response's body.
        body: Bytes,
    },
    /// The job was cancelled.
    #[error("the job was cancelled (state {state})")]
    Cancelled {
        /// The cancelled state.
        state: String,
        /// The poll response's body.
        body: Bytes,
    },
    /// The job is gone before it was seen to finish.
    #[error("the job expired (state {state})")]
    Expired {
        /// The expired state.
        state: String,
    },
    /// Still running when the deadline passed.
    #[error("the job was still running when the deadline passed (last state {})", display_opt(.last_state))]
    DeadlinePassed {
        /// The last state seen, if any poll succeeded.
        last_state: Option<String>,
    },
    /// The job reported a state the spec does not list: the spec or the appliance is wrong.
    #[error("the job reported a state the spec does not list: {state}")]
    UnknownState {
        /// The state reported.
        state: String,
    },
    /// The poll response carried no state at all (not JSON, or the field is missing), for
    /// example an error page of a proxy.
    #[error("a poll answered HTTP {status} without a job state")]
    NoState {
        /// The poll response's status.
        status: u16,
        /// The poll response's body.
        body: Bytes,
    },
    /// The job made a move its spec forbids (e.g. from a terminal state back to running).
    #[error("the job moved from {from} to {to}, which its spec does not allow")]
    IllegalTransition {
        /// The previous state.
        from: String,
        /// The new state.
        to: String,
    },
    /// A poll request failed.
    #[error("polling the job failed: {0}")]
    Poll(#[source] TransportError),
}

fn display_opt(s: &Option<String>) -> &dyn fmt::Display {
    match s {
        Some(s) => s,
        None => &"none",
    }
}

/// Follows one job's observed states: checks each move and says whether the job is finished.
/// `wait` drives it; a caller with its own polling loop (another runtime, a UI) can too.
#[derive(Debug, Clone)]
pub struct JobTracker<'a> {
    spec: &'a JobSpec,
    last: Option<String>,
}

impl<'a> JobTracker<'a> {
    /// A tracker that has seen nothing yet (so any first state is allowed).
    pub fn new(spec: &'a JobSpec) -> Self {
        JobTracker { spec, last: None }
    }

    /// The last state observed.
    pub fn last_state(&self) -> Option<&str> {
        self.last.as_deref()
    }

    /// Takes one poll response: `None` while the job is running, else how it ended.
    pub fn observe(&mut self, status: u16, body: Bytes) -> Option<Result<JobOutcome, JobError>> {
        let Some(state) = self.spec.state_of(status, &body) else {
            return Some(Err(JobError::NoState { status, body }));
        };
        let Some(meaning) = self.spec.meaning(&state) else {
            return Some(Err(JobError::UnknownState { state }));
        };
        if let Some(from) = &self.last {
            if !self.spec.allows(from, &state) {
                return Some(Err(JobError::IllegalTransition {
                    from: from.clone(),
                    to: state,
                }));
            }
        }
        self.last = Some(state.clone());
        Some(match meaning {
            Meaning::Running => return None,
            Meaning::Succeeded => Ok(JobOutcome {
                state,
                status,
                body,
            }),
            Meaning::Failed => Err(JobError::Failed { state, body }),
            Meaning::Cancelled => Err(JobError::Cancelled { state, body }),
            Meaning::Expired => Err(JobError::Expired { state }),
        })
    }
}

/// Polls until the job reaches a terminal state or the deadline passes.
///
/// `poll` performs one poll request and returns its status and body (a generated client passes a
/// closure calling the poll operation through [`crate::RawClient::send`], which already retries
/// transient failures, so a poll error here ends the wait). The first poll happens at once; then
/// one every `interval`, with a last one at the deadline. The deadline is checked between polls,
/// not during one: the client's request timeout bounds a hanging poll. Waiting uses
/// `tokio::time::sleep`, so tests run it on paused time.
#[cfg(feature = "client")]
pub async fn wait<F, Fut>(
    spec: &JobSpec,
    opts: &WaitOptions,
    mut poll: F,
) -> Result<JobOutcome, JobError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(u16, Bytes), TransportError>>,
{
    use tokio::time::{sleep, Instant};

    let deadline = Instant::now() + opts.deadline;
    let mut tracker = JobTracker::new(spec);
    loop {
        let (status, body) = poll().await.map_err(JobError::Poll)?;
        if let Some(result) = tracker.observe(status, body) {
            return result;
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(JobError::DeadlinePassed {
                last_state: tracker.last,
            });
        }
        tracing::trace!(state = ?tracker.last, "job still running");
        sleep(opts.interval.min(deadline - now)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LXCA: JobSpec = JobSpec {
        state: StateSource::Body("/status/state"),
        running: &["Pending", "Running", "Running_With_Errors"],
        succeeded: &["Complete"],
        failed: &["Stopped_With_Error", "Interrupted"],
        cancelled: &["Cancelled", "Cancelled_With_Errors"],
        expired: &[],
        transitions: &[
            (
                "Pending",
                &[
                    "Running",
                    "Running_With_Errors",
                    "Complete",
                    "Stopped_With_Error",
                    "Interrupted",
                    "Cancelled",
                    "Cancelled_With_Errors",
                ],
            ),
            (
                "Running",
                &[
                    "Running_With_Errors",
                    "Complete",
                    "Stopped_With_Error",
                    "Interrupted",
                    "Cancelled",
                    "Cancelled_With_Errors",
                ],
            ),
            (
                "Running_With_Errors",
                &[
                    "Complete",
                    "Stopped_With_Error",
                    "Interrupted",
                    "Cancelled",
                    "Cancelled_With_Errors",
                ],
            ),
        ],
    };

    const ZSTACK: JobSpec = JobSpec {
        state: StateSource::Status,
        running: &["202"],
        succeeded: &["200"],
        failed: &["503"],
        cancelled: &[],
        expired: &["404"],
        transitions: &[
            ("202", &["200", "503"]),
            ("200", &["404"]),
            ("503", &["404"]),
        ],
    };

    #[test]
    fn meanings() {
        assert_eq!(LXCA.meaning("Pending"), Some(Meaning::Running));
        assert_eq!(LXCA.meaning("Complete"), Some(Meaning::Succeeded));
        assert_eq!(LXCA.meaning("Interrupted"), Some(Meaning::Failed));
        assert_eq!(
            LXCA.meaning("Cancelled_With_Errors"),
            Some(Meaning::Cancelled)
        );
        assert_eq!(ZSTACK.meaning("404"), Some(Meaning::Expired));
        assert_eq!(LXCA.meaning("complete"), None);
    }

    #[test]
    fn transitions() {
        assert!(LXCA.allows("Pending", "Complete"));
        assert!(LXCA.allows("Running", "Running"));
        assert!(LXCA.allows("Complete", "Complete"));
        assert!(!LXCA.allows("Running", "Pending"));
        assert!(
            !LXCA.allows("Complete", "Running"),
            "terminal states have no entry"
        );
        assert!(ZSTACK.allows("200", "404"));
        assert!(!ZSTACK.allows("202", "404"));
        let open = JobSpec {
            transitions: &[],
            ..ZSTACK
        };
        assert!(open.allows("200", "202"));
    }

    #[test]
    fn state_extraction() {
        let body = br#"{"id":"6","status":{"state":"Running","percentage":40}}"#;
        assert_eq!(LXCA.state_of(200, body).as_deref(), Some("Running"));
        assert_eq!(LXCA.state_of(200, b"not json"), None);
        assert_eq!(LXCA.state_of(200, br#"{"status":{}}"#), None);
        assert_eq!(LXCA.state_of(200, br#"{"status":{"state":{"x":1}}}"#), None);
        let numeric = JobSpec {
            state: StateSource::Body("/0/percentage"),
            ..LXCA
        };
        assert_eq!(
            numeric.state_of(200, br#"[{"percentage":100}]"#).as_deref(),
            Some("100")
        );
        assert_eq!(ZSTACK.state_of(202, b"").as_deref(), Some("202"));
    }

    #[test]
    fn tracker_reports_each_outcome() {
        let mut t = JobTracker::new(&ZSTACK);
        assert!(t.observe(202, Bytes::new()).is_none());
        assert_eq!(t.last_state(), Some("202"));
        match t.observe(503, Bytes::from_static(b"{\"error\":{}}")) {
            Some(Err(JobError::Failed { state, body })) => {
                assert_eq!(state, "503");
                assert_eq!(&body[..], b"{\"error\":{}}");
            }
            other => panic!("{other:?}"),
        }
        let mut t = JobTracker::new(&ZSTACK);
        assert!(t.observe(202, Bytes::new()).is_none());
        assert!(matches!(
            t.observe(404, Bytes::new()),
            Some(Err(JobError::IllegalTransition { .. }))
        ));
        let mut t = JobTracker::new(&ZSTACK);
        assert!(matches!(
            t.observe(500, Bytes::new()),
            Some(Err(JobError::UnknownState { state })) if state == "500"
        ));
        let mut t = JobTracker::new(&LXCA);
        assert!(matches!(
            t.observe(502, Bytes::from_static(b"<html>")),
            Some(Err(JobError::NoState { status: 502, .. }))
        ));
    }

    #[cfg(feature = "client")]
    mod waiting {
        use std::collections::VecDeque;
        use std::sync::{Arc, Mutex};
        use std::time::Duration;

        use tokio::time::Instant;

        use super::*;

        type Poll = std::future::Ready<Result<(u16, Bytes), TransportError>>;
        type Times = Arc<Mutex<Vec<Duration>>>;

        /// A poll closure answering from a script, recording when (in paused time) each poll ran.
        fn scripted(answers: Vec<(u16, &'static str)>) -> (impl FnMut() -> Poll, Times) {
            let start = Instant::now();
            let times = Arc::new(Mutex::new(Vec::new()));
            let seen = times.clone();
            let mut queue: VecDeque<_> = answers.into();
            let poll = move || {
                seen.lock().unwrap().push(start.elapsed());
                let (status, body) = queue.pop_front().expect("polled past the script");
                std::future::ready(Ok((status, Bytes::from_static(body.as_bytes()))))
            };
            (poll, times)
        }

        fn lxca(state: &str) -> &'static str {
            Box::leak(format!(r#"{{"id":"6","status":{{"state":"{state}"}}}}"#).into_boxed_str())
        }

        fn secs(v: &[u64]) -> Vec<Duration> {
            v.iter().map(|s| Duration::from_secs(*s)).collect()
        }

        #[tokio::test(start_paused = true)]
        async fn lxca_body_states_to_complete() {
            let (poll, times) = scripted(vec![
                (200, lxca("Pending")),
                (200, lxca("Running")),
                (200, lxca("Running")),
                (200, lxca("Complete")),
            ]);
            let out = wait(&LXCA, &WaitOptions::default(), poll).await.unwrap();
            assert_eq!(out.state, "Complete");
            assert_eq!(out.status, 200);
            assert!(std::str::from_utf8(&out.body).unwrap().contains("Complete"));
            assert_eq!(*times.lock().unwrap(), secs(&[0, 2, 4, 6]));
        }

        #[tokio::test(start_paused = true)]
        async fn zstack_status_states() {
            let (poll, _) = scripted(vec![
                (202, ""),
                (202, ""),
                (200, r#"{"inventory":{"uuid":"u"}}"#),
            ]);
            let out = wait(&ZSTACK, &WaitOptions::default(), poll).await.unwrap();
            assert_eq!((out.state.as_str(), out.status), ("200", 200));
            assert_eq!(&out.body[..], br#"{"inventory":{"uuid":"u"}}"#);

            let (poll, _) = scripted(vec![(202, ""), (503, r#"{"error":{"code":"SYS.1006"}}"#)]);
            match wait(&ZSTACK, &WaitOptions::default(), poll).await {
                Err(JobError::Failed { state, body }) => {
                    assert_eq!(state, "503");
                    assert!(body.starts_with(b"{\"error\""));
                }
                other => panic!("{other:?}"),
            }

            let (poll, _) = scripted(vec![(404, "not found")]);
            assert!(matches!(
                wait(&ZSTACK, &WaitOptions::default(), poll).await,
                Err(JobError::Expired { state }) if state == "404"
            ));
        }

        #[tokio::test(start_paused = true)]
        async fn failure_and_cancel() {
            let (poll, _) = scripted(vec![
                (200, lxca("Running")),
                (200, lxca("Stopped_With_Error")),
            ]);
            assert!(matches!(
                wait(&LXCA, &WaitOptions::default(), poll).await,
                Err(JobError::Failed { state, .. }) if state == "Stopped_With_Error"
            ));
            let (poll, _) = scripted(vec![(200, lxca("Pending")), (200, lxca("Cancelled"))]);
            assert!(matches!(
                wait(&LXCA, &WaitOptions::default(), poll).await,
                Err(JobError::Cancelled { state, .. }) if state == "Cancelled"
            ));
        }

        #[tokio::test(start_paused = true)]
        async fn deadline_passes_while_running() {
            let opts = WaitOptions {
                interval: Duration::from_secs(4),
                deadline: Duration::from_secs(10),
            };
            let (poll, times) = scripted(vec![(202, ""); 10]);
            let started = Instant::now();
            match wait(&ZSTACK, &opts, poll).await {
                Err(JobError::DeadlinePassed { last_state }) => {
                    assert_eq!(last_state.as_deref(), Some("202"))
                }
                other => panic!("{other:?}"),
            }
            // Polls at 0, 4, 8 and a last one exactly at the deadline.
            assert_eq!(*times.lock().unwrap(), secs(&[0, 4, 8, 10]));
            assert_eq!(started.elapsed(), Duration::from_secs(10));
        }

        #[tokio::test(start_paused = true)]
        async fn illegal_transition_stops_the_wait() {
            let (poll, _) = scripted(vec![(200, lxca("Running")), (200, lxca("Pending"))]);
            match wait(&LXCA, &WaitOptions::default(), poll).await {
                Err(JobError::IllegalTransition { from, to }) => {
                    assert_eq!((from.as_str(), to.as_str()), ("Running", "Pending"))
                }
                other => panic!("{other:?}"),
            }
        }

        #[tokio::test(start_paused = true)]
        async fn poll_errors_end_the_wait() {
            let mut calls = 0;
            let poll = || {
                calls += 1;
                std::future::ready(Err(TransportError::Io(std::io::Error::other("down"))))
            };
            assert!(matches!(
                wait(&LXCA, &WaitOptions::default(), poll).await,
                Err(JobError::Poll(TransportError::Io(_)))
            ));
            assert_eq!(calls, 1);
        }
    }
}

/// Why waiting for a job did not give its typed result: the job itself (failed, cancelled,
/// expired, deadline passed, ...) or the final answer not being one the spec documents.
#[derive(Debug, thiserror::Error)]
pub enum WaitError<E: std::fmt::Debug> {
    /// The job did not succeed, or could not be followed.
    #[error(transparent)]
    Job(#[from] JobError),
    /// The job succeeded, but its final answer did not decode as the poll operation documents.
    #[error("the job's final answer: {0}")]
    Result(crate::Error<E>),
}

/// The value of the path parameter `param` in `url`, read by matching the URL's path against the
/// poll operation's path `template` from the end (`.../v1/api-jobs/{uuid}` against
/// `http://host:8080/zstack/v1/api-jobs/abc` gives `abc`). Used for `x-job` handles in URL form.
pub fn handle_from_url(url: &str, template: &str, param: &str) -> Option<String> {
    let path = match url.find("://") {
        Some(i) => url[i + 3..]
            .find('/')
            .map(|j| &url[i + 3 + j..])
            .unwrap_or(""),
        None => url,
    };
    let path = path.split(['?', '#']).next().unwrap_or("");
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let template: Vec<&str> = template.split('/').filter(|s| !s.is_empty()).collect();
    let wanted = format!("{{{param}}}");
    let from_end = template.len() - 1 - template.iter().position(|s| *s == wanted)?;
    let index = segments.len().checked_sub(1 + from_end)?;
    let raw = segments.get(index)?;
    Some(
        percent_encoding::percent_decode_str(raw)
            .decode_utf8_lossy()
            .into_owned(),
    )
}

#[cfg(test)]
mod handle_tests {
    use super::handle_from_url;

    #[test]
    fn reads_the_parameter_from_the_end_of_the_path() {
        let t = "/v1/api-jobs/{uuid}";
        assert_eq!(
            handle_from_url("http://h:8080/zstack/v1/api-jobs/abc123", t, "uuid").as_deref(),
            Some("abc123")
        );
        assert_eq!(
            handle_from_url("/zstack/v1/api-jobs/a%20b?x=1", t, "uuid").as_deref(),
            Some("a b")
        );
        assert_eq!(handle_from_url("http://h/x", "/a/{id}/b/c", "id"), None);
        assert_eq!(handle_from_url("http://h/a/1/b", t, "missing"), None);
    }
}
