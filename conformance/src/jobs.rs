//! The job engine every emulator shares: work that an API call starts and that finishes later.
//!
//! A job's state is a function of the [`Clock`](crate::clock::Clock): it is `Pending` for
//! `plan.pending`, then `Running` (its percentage is the share of `plan.duration` that has
//! passed), then finished. Nothing runs in the background: every read first *settles* the
//! engine, which finishes the jobs whose end time has passed, in the order of their end times, and
//! applies each one's *effect* (the change to the emulator's state that the job stands for, e.g.
//! removing a deleted backup storage). So a virtual clock drives jobs deterministically, a real
//! clock drives them in real time, and an observer never sees a job finished without its effect.
//!
//! Vendors map [`JobState`] to their own names (ZStack: HTTP statuses; LXCA: `Pending`,
//! `Running`, `Complete`...; IBM: `Accepted`, `Running`, `Succeeded`...). The allowed moves are
//! those of every vendor's `x-job.transitions`: Pending → Running → Succeeded | Failed, any
//! unfinished state → Cancelled, Running ⇄ Paused, and a finished job only disappears (expires)
//! after the retention time.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::clock::Clock;
use crate::observe::{self, Epoch, Shared, Tracked};

/// How a job will go.
#[derive(Debug, Clone)]
pub struct JobPlan<E> {
    /// Time spent `Pending` before it runs.
    pub pending: Duration,
    /// Running time until it completes.
    pub duration: Duration,
    /// Fail with this error once the job reaches this percentage (fault injection); the
    /// effect is then told [`Ending::Failed`] instead of doing its work.
    pub fail_at: Option<(u8, E)>,
}

impl<E> JobPlan<E> {
    /// A job that runs for `duration`, without a pending phase.
    pub fn running_for(duration: Duration) -> Self {
        JobPlan {
            pending: Duration::ZERO,
            duration,
            fail_at: None,
        }
    }
}

/// How a job ended, as told to its effect.
#[derive(Debug)]
pub enum Ending<E> {
    /// It ran to completion: do the work, and say whether it succeeded.
    Completed,
    /// An injected fault failed it: undo what starting it did (the result is this error).
    Failed(E),
    /// It was cancelled: undo what starting it did (the result is ignored).
    Cancelled,
}

/// What a job does to the emulator's state when it ends. It runs once, while the engine is
/// settling; it must not call [`JobEngine::get`], [`JobEngine::list`], [`JobEngine::settle`],
/// [`JobEngine::cancel`], [`JobEngine::pause`] or [`JobEngine::resume`] (they would wait for the
/// settling to finish: a deadlock). Starting another job is fine.
pub type Effect<T, E> = Box<dyn FnOnce(Ending<E>) -> Result<T, E> + Send>;

/// A job's state.
#[derive(Debug, Clone, PartialEq)]
pub enum JobState<T, E> {
    /// Accepted, not started.
    Pending,
    /// Running.
    Running,
    /// Paused: its progress stands still until resumed.
    Paused,
    /// Finished successfully, with the result.
    Succeeded(T),
    /// Finished with an error.
    Failed(E),
    /// Cancelled before it finished.
    Cancelled,
}

impl<T, E> JobState<T, E> {
    /// What the state means in `x-job` terms (the vendor's names map onto these); an expired
    /// job is one the engine no longer has.
    pub fn meaning(&self) -> codegen_runtime::Meaning {
        use codegen_runtime::Meaning;
        match self {
            JobState::Pending | JobState::Running | JobState::Paused => Meaning::Running,
            JobState::Succeeded(_) => Meaning::Succeeded,
            JobState::Failed(_) => Meaning::Failed,
            JobState::Cancelled => Meaning::Cancelled,
        }
    }

    /// Whether the job has finished (and may expire).
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            JobState::Succeeded(_) | JobState::Failed(_) | JobState::Cancelled
        )
    }
}

/// A snapshot of one job.
#[derive(Debug, Clone)]
pub struct JobView<T, E> {
    /// The id the emulator gave it.
    pub id: String,
    /// What it does (`reconnect-backup-storage`, ...), for the emulator's own bookkeeping.
    pub kind: String,
    /// Who started it, when the vendor cares (LXCA's job owner, IBM's tenant).
    pub owner: Option<String>,
    /// Its state.
    pub state: JobState<T, E>,
    /// Progress, 0-100: 100 once it succeeded.
    pub percent: u8,
    /// When it was started.
    pub created_at: SystemTime,
    /// When it first ran, if it did.
    pub started_at: Option<SystemTime>,
    /// When it finished, if it did.
    pub finished_at: Option<SystemTime>,
}

/// Why a job cannot be started or changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobError {
    /// A job with this id exists.
    Duplicate,
    /// No job has this id (or it expired).
    NotFound,
    /// The job has finished; it can no longer change.
    Finished,
    /// The move is not allowed from the job's state (e.g. resuming a running job).
    IllegalTransition,
}

impl std::fmt::Display for JobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            JobError::Duplicate => "a job with this id exists",
            JobError::NotFound => "no job has this id",
            JobError::Finished => "the job has finished",
            JobError::IllegalTransition => "the job cannot make this move from its state",
        })
    }
}

impl std::error::Error for JobError {}

/// Where an unfinished job is on its timeline.
#[derive(Debug, Clone, Copy)]
enum Run {
    /// Pending until then, then running.
    Pending { until: SystemTime },
    /// Running since `since`, with `banked` progress from before a pause.
    Running { since: SystemTime, banked: Duration },
    /// Paused with `banked` progress.
    Paused { banked: Duration },
}

struct Job<T, E> {
    seq: u64,
    kind: String,
    owner: Option<String>,
    created_at: SystemTime,
    started_at: Option<SystemTime>,
    duration: Duration,
    fail_at: Option<(u8, E)>,
    run: Run,
    /// `Some` once finished.
    outcome: Option<JobState<T, E>>,
    finished_at: Option<SystemTime>,
    effect: Option<Effect<T, E>>,
}

impl<T: Clone, E: Clone> Job<T, E> {
    /// The progress time needed to end: the whole duration, or the share where it fails.
    fn target(&self) -> Duration {
        match &self.fail_at {
            Some((pct, _)) => self.duration.mul_f64(f64::from((*pct).min(100)) / 100.0),
            None => self.duration,
        }
    }

    /// When the job ends, if nothing changes (`None` while paused or once finished).
    fn due(&self) -> Option<SystemTime> {
        if self.outcome.is_some() {
            return None;
        }
        let target = self.target();
        match self.run {
            Run::Pending { until } => Some(until + target),
            Run::Running { since, banked } => Some(since + target.saturating_sub(banked)),
            Run::Paused { .. } => None,
        }
    }

    fn progress(&self, now: SystemTime) -> Duration {
        match self.run {
            Run::Pending { until } => now.duration_since(until).unwrap_or_default(),
            Run::Running { since, banked } => {
                banked + now.duration_since(since).unwrap_or_default()
            }
            Run::Paused { banked } => banked,
        }
    }

    fn percent_of(&self, progress: Duration) -> u8 {
        if self.duration.is_zero() {
            return 0;
        }
        ((progress.as_secs_f64() / self.duration.as_secs_f64()) * 100.0).clamp(0.0, 100.0) as u8
    }

    fn view(&self, id: &str, now: SystemTime) -> JobView<T, E> {
        let (state, percent, started_at) = match &self.outcome {
            Some(outcome) => {
                let percent = match outcome {
                    JobState::Succeeded(_) => 100,
                    JobState::Failed(_) => match &self.fail_at {
                        Some((pct, _)) => (*pct).min(100),
                        None => 100,
                    },
                    _ => self.percent_of(self.progress(self.finished_at.unwrap_or(now))),
                };
                (outcome.clone(), percent, self.started_at)
            }
            None => match self.run {
                Run::Pending { until } if now < until => (JobState::Pending, 0, None),
                Run::Pending { until } => (
                    JobState::Running,
                    self.percent_of(self.progress(now)).min(99),
                    Some(until),
                ),
                Run::Running { .. } => (
                    JobState::Running,
                    self.percent_of(self.progress(now)).min(99),
                    self.started_at,
                ),
                Run::Paused { .. } => (
                    JobState::Paused,
                    self.percent_of(self.progress(now)).min(99),
                    self.started_at,
                ),
            },
        };
        JobView {
            id: id.to_string(),
            kind: self.kind.clone(),
            owner: self.owner.clone(),
            state,
            percent,
            created_at: self.created_at,
            started_at,
            finished_at: self.finished_at,
        }
    }
}

struct Inner<T, E> {
    jobs: HashMap<String, Job<T, E>>,
    /// (end time, seq, id) of unfinished jobs; stale entries are skipped when popped.
    due: BTreeSet<(SystemTime, u64, String)>,
    /// (expiry time, seq, id) of finished jobs.
    expiries: BTreeSet<(SystemTime, u64, String)>,
    seq: u64,
}

impl<T, E> Inner<T, E> {
    /// Until when the jobs look as they do now ([`crate::observe`]): while a job is pending or
    /// running its view changes with the clock (a stale entry of a paused job counts too, until
    /// it is popped: erring early only costs a replay); once every job has finished, until the
    /// first expires.
    fn mark_horizon(&self) {
        if !self.due.is_empty() {
            observe::unrepeatable();
        } else if let Some((at, _, _)) = self.expiries.first() {
            observe::holds_until(*at);
        }
    }
}

/// The jobs of one emulator, with results `T` and errors `E`.
pub struct JobEngine<T, E> {
    clock: Clock,
    retention: Duration,
    /// Held while settling and while cancelling, pausing or resuming, so that a job's effect and
    /// a change of its state never interleave.
    settle_lock: Mutex<()>,
    /// Its changes advance the emulator's epoch, as the emulator's own state does.
    inner: Shared<Inner<T, E>>,
}

impl<T, E> std::fmt::Debug for JobEngine<T, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobEngine")
            .field("retention", &self.retention)
            .finish_non_exhaustive()
    }
}

impl<T: Clone + Send + 'static, E: Clone + Send + 'static> JobEngine<T, E> {
    /// An engine on `clock` that forgets finished jobs `retention` after they finished; its
    /// changes advance `epoch` (the emulator's).
    pub fn new(clock: Clock, retention: Duration, epoch: Arc<Epoch>) -> Self {
        JobEngine {
            clock,
            retention,
            settle_lock: Mutex::new(()),
            inner: Shared::new(
                Inner {
                    jobs: HashMap::new(),
                    due: BTreeSet::new(),
                    expiries: BTreeSet::new(),
                    seq: 0,
                },
                epoch,
            ),
        }
    }

    /// The engine's clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    fn lock(&self) -> Tracked<'_, Inner<T, E>> {
        self.inner.lock()
    }

    fn lock_settling(&self) -> std::sync::MutexGuard<'_, ()> {
        self.settle_lock.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts job `id` now. Its effect runs once, when it ends.
    pub fn start(
        &self,
        id: impl Into<String>,
        kind: impl Into<String>,
        owner: Option<String>,
        plan: JobPlan<E>,
        effect: Effect<T, E>,
    ) -> Result<JobView<T, E>, JobError> {
        let id = id.into();
        let now = self.clock.now();
        let mut inner = self.lock();
        if inner.jobs.contains_key(&id) {
            return Err(JobError::Duplicate);
        }
        inner.seq += 1;
        let job = Job {
            seq: inner.seq,
            kind: kind.into(),
            owner,
            created_at: now,
            started_at: None,
            duration: plan.duration,
            fail_at: plan.fail_at,
            run: Run::Pending {
                until: now + plan.pending,
            },
            outcome: None,
            finished_at: None,
            effect: Some(effect),
        };
        if let Some(due) = job.due() {
            inner.due.insert((due, job.seq, id.clone()));
        }
        let view = job.view(&id, now);
        inner.jobs.insert(id, job);
        Ok(view)
    }

    /// Finishes the jobs whose end has come and forgets the expired ones.
    pub fn settle(&self) {
        let _settling = self.lock_settling();
        self.settle_locked();
    }

    /// `settle`, with the settle lock held by the caller. What a reader then sees of the jobs
    /// holds until the engine's next event ([`Inner::mark_horizon`]).
    fn settle_locked(&self) {
        let now = self.clock.peek();
        // Take the due jobs' effects out under the lock, run them without it (they lock the
        // emulator's own state), then write the outcomes back.
        let mut finishing = Vec::new();
        {
            let mut inner = self.lock();
            while let Some(first) = inner.due.first().cloned() {
                if first.0 > now {
                    break;
                }
                inner.due.pop_first();
                let (at, _, id) = first;
                let Some(job) = inner.jobs.get_mut(&id) else {
                    continue;
                };
                if job.due() != Some(at) {
                    continue; // stale: paused, resumed or cancelled since
                }
                if let Run::Pending { until } = job.run {
                    job.started_at = Some(until);
                }
                let ending = match &job.fail_at {
                    Some((_, error)) => Ending::Failed(error.clone()),
                    _ => Ending::Completed,
                };
                finishing.push((id, at, job.effect.take(), ending));
            }
        }
        let mut outcomes = Vec::with_capacity(finishing.len());
        for (id, at, effect, ending) in finishing {
            let state = match (effect, ending) {
                (Some(effect), Ending::Completed) => match effect(Ending::Completed) {
                    Ok(result) => JobState::Succeeded(result),
                    Err(error) => JobState::Failed(error),
                },
                (None, Ending::Failed(error)) => JobState::Failed(error),
                (Some(effect), Ending::Failed(error)) => {
                    let _ = effect(Ending::Failed(error.clone()));
                    JobState::Failed(error)
                }
                (None, _) => JobState::Cancelled,
                (Some(_), Ending::Cancelled) => JobState::Cancelled,
            };
            outcomes.push((id, at, state));
        }
        let mut inner = self.lock();
        for (id, at, state) in outcomes {
            let retention = self.retention;
            if let Some(job) = inner.jobs.get_mut(&id) {
                job.outcome = Some(state);
                job.finished_at = Some(at);
                let key = (at + retention, job.seq, id);
                inner.expiries.insert(key);
            }
        }
        while let Some(first) = inner.expiries.first().cloned() {
            if first.0 > now {
                break;
            }
            inner.expiries.pop_first();
            inner.jobs.remove(&first.2);
        }
        inner.mark_horizon();
    }

    /// Job `id` as it is now; `None` when there is none (never was, or expired).
    pub fn get(&self, id: &str) -> Option<JobView<T, E>> {
        self.settle();
        let now = self.clock.peek();
        let inner = self.lock();
        inner.jobs.get(id).map(|job| job.view(id, now))
    }

    /// Every job, in the order they were started.
    pub fn list(&self) -> Vec<JobView<T, E>> {
        self.settle();
        let now = self.clock.peek();
        let inner = self.lock();
        let mut jobs: Vec<(u64, JobView<T, E>)> = inner
            .jobs
            .iter()
            .map(|(id, job)| (job.seq, job.view(id, now)))
            .collect();
        jobs.sort_by_key(|(seq, _)| *seq);
        jobs.into_iter().map(|(_, view)| view).collect()
    }

    /// How many jobs the engine holds (finished ones included, until they expire).
    pub fn len(&self) -> usize {
        self.settle();
        self.lock().jobs.len()
    }

    /// Whether the engine holds no job.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Cancels an unfinished job; its effect is told [`Ending::Cancelled`].
    pub fn cancel(&self, id: &str) -> Result<JobView<T, E>, JobError> {
        let _settling = self.lock_settling();
        self.settle_locked();
        let now = self.clock.now();
        let effect = {
            let mut inner = self.lock();
            let retention = self.retention;
            let Inner { jobs, expiries, .. } = &mut *inner;
            let job = jobs.get_mut(id).ok_or(JobError::NotFound)?;
            if job.outcome.is_some() {
                return Err(JobError::Finished);
            }
            if let Run::Pending { until } = job.run {
                if now >= until {
                    job.started_at = Some(until);
                }
            }
            job.outcome = Some(JobState::Cancelled);
            job.finished_at = Some(now);
            expiries.insert((now + retention, job.seq, id.to_string()));
            job.effect.take()
        };
        if let Some(effect) = effect {
            let _ = effect(Ending::Cancelled);
        }
        let inner = self.lock();
        Ok(inner.jobs[id].view(id, now))
    }

    /// Pauses a pending or running job: its progress stands still.
    pub fn pause(&self, id: &str) -> Result<JobView<T, E>, JobError> {
        self.change_run(id, |job, now| match job.run {
            Run::Pending { until } if now < until => Ok(Run::Paused {
                banked: Duration::ZERO,
            }),
            Run::Pending { .. } | Run::Running { .. } => {
                if job.started_at.is_none() {
                    if let Run::Pending { until } = job.run {
                        job.started_at = Some(until);
                    }
                }
                Ok(Run::Paused {
                    banked: job.progress(now),
                })
            }
            Run::Paused { .. } => Err(JobError::IllegalTransition),
        })
    }

    /// Resumes a paused job: it runs on from where it stood.
    pub fn resume(&self, id: &str) -> Result<JobView<T, E>, JobError> {
        self.change_run(id, |job, now| match job.run {
            Run::Paused { banked } => {
                if job.started_at.is_none() {
                    job.started_at = Some(now);
                }
                Ok(Run::Running { since: now, banked })
            }
            _ => Err(JobError::IllegalTransition),
        })
    }

    fn change_run(
        &self,
        id: &str,
        change: impl FnOnce(&mut Job<T, E>, SystemTime) -> Result<Run, JobError>,
    ) -> Result<JobView<T, E>, JobError> {
        let _settling = self.lock_settling();
        self.settle_locked();
        let now = self.clock.now();
        let mut inner = self.lock();
        let Inner { jobs, due, .. } = &mut *inner;
        let job = jobs.get_mut(id).ok_or(JobError::NotFound)?;
        if job.outcome.is_some() {
            return Err(JobError::Finished);
        }
        job.run = change(job, now)?;
        if let Some(at) = job.due() {
            due.insert((at, job.seq, id.to_string()));
        }
        Ok(job.view(id, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    type Engine = JobEngine<String, String>;

    fn engine() -> (Clock, Engine) {
        let clock = Clock::virtual_at_epoch();
        (
            clock.clone(),
            Engine::new(clock, Duration::from_secs(60), Arc::default()),
        )
    }

    fn ok(result: &'static str) -> Effect<String, String> {
        Box::new(move |ending| match ending {
            Ending::Completed => Ok(result.to_string()),
            Ending::Failed(e) => Err(e),
            Ending::Cancelled => Err("cancelled".into()),
        })
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn progress_follows_the_clock_and_the_effect_runs_once_at_the_end() {
        let (clock, jobs) = engine();
        let runs = Arc::new(AtomicUsize::new(0));
        let counter = runs.clone();
        let plan = JobPlan {
            pending: secs(2),
            duration: secs(10),
            fail_at: None,
        };
        jobs.start(
            "j1",
            "test",
            None,
            plan,
            Box::new(move |_| {
                counter.fetch_add(1, Ordering::SeqCst);
                Ok("done".into())
            }),
        )
        .unwrap();
        assert_eq!(jobs.get("j1").unwrap().state, JobState::Pending);
        clock.advance(secs(2));
        let view = jobs.get("j1").unwrap();
        assert_eq!((view.state, view.percent), (JobState::Running, 0));
        clock.advance(secs(5));
        assert_eq!(jobs.get("j1").unwrap().percent, 50);
        assert_eq!(runs.load(Ordering::SeqCst), 0);
        clock.advance(secs(5));
        let view = jobs.get("j1").unwrap();
        assert_eq!(view.state, JobState::Succeeded("done".into()));
        assert_eq!(view.state.meaning(), codegen_runtime::Meaning::Succeeded);
        assert_eq!(view.percent, 100);
        assert_eq!(view.finished_at, Some(view.created_at + secs(12)));
        jobs.get("j1");
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        // Retention: gone 60 s after it finished (the end time, not the time it was looked at).
        clock.advance(secs(59));
        assert!(jobs.get("j1").is_some());
        clock.advance(secs(1));
        assert!(jobs.get("j1").is_none());
        assert!(jobs.is_empty());
    }

    #[test]
    fn effects_run_in_the_order_jobs_end() {
        let (clock, jobs) = engine();
        let order = Arc::new(Mutex::new(Vec::new()));
        for (id, d) in [("late", 30), ("early", 10), ("middle", 20)] {
            let order = order.clone();
            jobs.start(
                id,
                "t",
                None,
                JobPlan::running_for(secs(d)),
                Box::new(move |_| {
                    order.lock().unwrap().push(id);
                    Ok(id.into())
                }),
            )
            .unwrap();
        }
        clock.advance(secs(100));
        jobs.settle();
        assert_eq!(*order.lock().unwrap(), ["early", "middle", "late"]);
    }

    #[test]
    fn an_injected_failure_ends_the_job_at_its_percentage() {
        let (clock, jobs) = engine();
        let plan = JobPlan {
            pending: Duration::ZERO,
            duration: secs(10),
            fail_at: Some((40, "boom".to_string())),
        };
        jobs.start("j", "t", None, plan, ok("never")).unwrap();
        clock.advance(secs(3));
        assert_eq!(jobs.get("j").unwrap().state, JobState::Running);
        clock.advance(secs(1));
        let view = jobs.get("j").unwrap();
        assert_eq!(view.state, JobState::Failed("boom".into()));
        assert_eq!(view.percent, 40);
    }

    #[test]
    fn an_effect_may_fail_the_job() {
        let (clock, jobs) = engine();
        jobs.start(
            "j",
            "t",
            None,
            JobPlan::running_for(secs(1)),
            Box::new(|_| Err("refused".into())),
        )
        .unwrap();
        clock.advance(secs(1));
        assert_eq!(
            jobs.get("j").unwrap().state,
            JobState::Failed("refused".into())
        );
    }

    #[test]
    fn cancel_pause_and_resume_follow_the_transitions() {
        let (clock, jobs) = engine();
        let cancelled = Arc::new(AtomicUsize::new(0));
        let seen = cancelled.clone();
        jobs.start(
            "c",
            "t",
            None,
            JobPlan::running_for(secs(10)),
            Box::new(move |ending| {
                if matches!(ending, Ending::Cancelled) {
                    seen.fetch_add(1, Ordering::SeqCst);
                }
                Ok("x".into())
            }),
        )
        .unwrap();
        clock.advance(secs(5));
        assert_eq!(jobs.cancel("c").unwrap().state, JobState::Cancelled);
        assert_eq!(cancelled.load(Ordering::SeqCst), 1);
        assert_eq!(jobs.cancel("c").unwrap_err(), JobError::Finished);
        clock.advance(secs(10));
        assert_eq!(jobs.get("c").unwrap().state, JobState::Cancelled);
        assert_eq!(jobs.cancel("nope").unwrap_err(), JobError::NotFound);

        jobs.start("p", "t", None, JobPlan::running_for(secs(10)), ok("p"))
            .unwrap();
        clock.advance(secs(4));
        assert_eq!(jobs.pause("p").unwrap().state, JobState::Paused);
        assert_eq!(jobs.pause("p").unwrap_err(), JobError::IllegalTransition);
        clock.advance(secs(100));
        let view = jobs.get("p").unwrap();
        assert_eq!((view.state, view.percent), (JobState::Paused, 40));
        assert_eq!(jobs.resume("p").unwrap().state, JobState::Running);
        assert_eq!(jobs.resume("p").unwrap_err(), JobError::IllegalTransition);
        clock.advance(secs(5));
        assert_eq!(jobs.get("p").unwrap().percent, 90);
        clock.advance(secs(1));
        assert_eq!(
            jobs.get("p").unwrap().state,
            JobState::Succeeded("p".into())
        );
        assert_eq!(jobs.pause("p").unwrap_err(), JobError::Finished);
    }

    #[test]
    fn ids_are_unique() {
        let (_, jobs) = engine();
        jobs.start("a", "t", None, JobPlan::running_for(secs(1)), ok("a"))
            .unwrap();
        let again = jobs.start("a", "t", None, JobPlan::running_for(secs(1)), ok("a"));
        assert_eq!(again.unwrap_err(), JobError::Duplicate);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_thousand_concurrent_jobs_all_finish_once() {
        let clock = Clock::virtual_at_epoch();
        let jobs = Arc::new(Engine::new(
            clock.clone(),
            Duration::from_secs(3600),
            Arc::default(),
        ));
        let ids = Arc::new(crate::ids::Ids::new(crate::ids::IdMode::Random));
        let effects = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for i in 0..1000u64 {
            let (jobs, ids, effects, clock) =
                (jobs.clone(), ids.clone(), effects.clone(), clock.clone());
            tasks.push(tokio::spawn(async move {
                let id = ids.next("job", crate::ids::IdFormat::Hex32);
                jobs.start(
                    id.clone(),
                    "t",
                    None,
                    JobPlan::running_for(Duration::from_millis(i % 50)),
                    Box::new(move |_| {
                        effects.fetch_add(1, Ordering::SeqCst);
                        Ok("ok".into())
                    }),
                )
                .unwrap();
                // Readers settle while others start.
                clock.advance(Duration::from_millis(1));
                let _ = jobs.get(&id);
                id
            }));
        }
        let mut started = Vec::new();
        for task in tasks {
            started.push(task.await.unwrap());
        }
        let unique: std::collections::HashSet<&String> = started.iter().collect();
        assert_eq!(unique.len(), 1000);
        clock.advance(Duration::from_secs(1));
        let all = jobs.list();
        assert_eq!(all.len(), 1000);
        assert!(all
            .iter()
            .all(|j| j.state == JobState::Succeeded("ok".into())));
        assert_eq!(effects.load(Ordering::SeqCst), 1000);
    }
}
