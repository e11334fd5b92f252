//! What an emulator's answer was computed from, so that the same request can be answered again
//! with the same bytes for as long as none of it changed (see `emulators::replay`).
//!
//! An answer is a function of the request, the emulator's state, the clock and the id source.
//! The request is the replay's key; the other three are tracked here:
//!
//! - **State**: every emulator keeps its state in a [`Shared`], whose guard advances an
//!   [`Epoch`] when it was used mutably, before it unlocks. The job engine advances the same
//!   epoch when it changes. An answer computed while the epoch stayed put saw one state, and
//!   stays right while the epoch is still the same.
//! - **Time**: [`Clock::now`](crate::clock::Clock::now) marks the answer being computed as
//!   [never repeatable](Horizon::Never): it may show the instant. Code whose decision only
//!   changes at a known time (a session's expiry, the job engine's next event) reads the clock
//!   with [`Clock::peek`](crate::clock::Clock::peek) and says until when its decision holds with
//!   [`holds_until`].
//! - **Ids**: drawing an id marks the answer never repeatable (the next one would draw another).
//!
//! Marks land on the answer computed by the enclosing [`observe`]; outside of one (a gate, a
//! job's effect run by a test) they cost a thread-local lookup and do nothing.

use std::cell::Cell;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

/// A counter that moves whenever an emulator's state changes.
#[derive(Debug, Default)]
pub struct Epoch(AtomicU64);

impl Epoch {
    /// The current value.
    pub fn current(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    /// Moves the counter: whatever was computed before is no longer known to be current.
    pub fn advance(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }
}

/// State behind a mutex whose mutable use advances an [`Epoch`].
#[derive(Debug)]
pub struct Shared<T> {
    value: Mutex<T>,
    epoch: Arc<Epoch>,
}

impl<T> Shared<T> {
    /// `value`, whose changes advance `epoch`.
    pub fn new(value: T, epoch: Arc<Epoch>) -> Self {
        Shared {
            value: Mutex::new(value),
            epoch,
        }
    }

    /// Locks the state (a poisoned lock is taken over: the state is plain data, and a panic in
    /// one request must not take the emulator down with it).
    pub fn lock(&self) -> Tracked<'_, T> {
        Tracked {
            guard: self.value.lock().unwrap_or_else(|e| e.into_inner()),
            epoch: &self.epoch,
            changed: false,
        }
    }
}

/// A lock on a [`Shared`] state. Using it mutably (`&mut`, which is how every change is made)
/// advances the epoch when the lock is released, before another thread can see the change.
pub struct Tracked<'a, T> {
    guard: MutexGuard<'a, T>,
    epoch: &'a Epoch,
    changed: bool,
}

impl<T> Deref for Tracked<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> DerefMut for Tracked<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.changed = true;
        &mut self.guard
    }
}

impl<T> Drop for Tracked<'_, T> {
    fn drop(&mut self) {
        // Runs before the fields drop, so before the mutex unlocks.
        if self.changed {
            self.epoch.advance();
        }
    }
}

/// Until when an answer stays what it is, as far as time goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Horizon {
    /// Time does not change it.
    Always,
    /// It holds while the clock is before this time.
    Until(SystemTime),
    /// It may differ at any instant (it showed the time, or drew an id).
    Never,
}

impl Horizon {
    /// The shorter of two horizons.
    pub fn min(self, other: Horizon) -> Horizon {
        match (self, other) {
            (Horizon::Never, _) | (_, Horizon::Never) => Horizon::Never,
            (Horizon::Always, h) | (h, Horizon::Always) => h,
            (Horizon::Until(a), Horizon::Until(b)) => Horizon::Until(a.min(b)),
        }
    }

    /// Whether an answer with this horizon still holds at `now`.
    pub fn holds_at(self, now: SystemTime) -> bool {
        match self {
            Horizon::Always => true,
            Horizon::Until(at) => now < at,
            Horizon::Never => false,
        }
    }
}

tokio::task_local! {
    static OBSERVING: Cell<Horizon>;
}

/// Runs `future` (the computation of one answer) and returns its output with the horizon its
/// marks give it.
pub async fn observe<F: Future>(future: F) -> (F::Output, Horizon) {
    OBSERVING
        .scope(Cell::new(Horizon::Always), async move {
            let output = future.await;
            (output, OBSERVING.with(Cell::get))
        })
        .await
}

fn mark(horizon: Horizon) {
    let _ = OBSERVING.try_with(|h| h.set(h.get().min(horizon)));
}

/// The answer being computed holds only while the clock is before `at`.
pub fn holds_until(at: SystemTime) {
    mark(Horizon::Until(at));
}

/// The answer being computed may differ at any instant.
pub fn unrepeatable() {
    mark(Horizon::Never);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn only_a_mutable_use_of_the_state_advances_the_epoch() {
        let epoch = Arc::new(Epoch::default());
        let shared = Shared::new(vec![1], epoch.clone());
        assert_eq!(shared.lock().len(), 1);
        assert_eq!(epoch.current(), 0, "a read is not a change");
        shared.lock().push(2);
        assert_eq!(epoch.current(), 1);
        {
            let mut state = shared.lock();
            state.push(3);
            state.push(4);
            assert_eq!(
                epoch.current(),
                1,
                "the epoch moves when the lock is released"
            );
        }
        assert_eq!(epoch.current(), 2);
    }

    #[tokio::test]
    async fn marks_inside_an_observation_give_its_horizon_and_marks_outside_do_nothing() {
        let t = |s| UNIX_EPOCH + Duration::from_secs(s);
        let ((), horizon) = observe(async {}).await;
        assert_eq!(horizon, Horizon::Always);
        let ((), horizon) = observe(async {
            holds_until(t(20));
            tokio::task::yield_now().await;
            holds_until(t(10));
            holds_until(t(30));
        })
        .await;
        assert_eq!(horizon, Horizon::Until(t(10)));
        let ((), horizon) = observe(async {
            holds_until(t(10));
            unrepeatable();
        })
        .await;
        assert_eq!(horizon, Horizon::Never);
        unrepeatable(); // outside: no effect, no panic
        assert!(Horizon::Until(t(10)).holds_at(t(9)));
        assert!(!Horizon::Until(t(10)).holds_at(t(10)));
        assert!(!Horizon::Never.holds_at(t(0)));
    }
}
