//! The emulator's own clock.
//!
//! Everything that depends on time (job progress, session expiry, job expiry, injected latency)
//! asks this clock, never `SystemTime::now()` or `tokio::time` directly. Served emulators use
//! real time; tests use a virtual clock that only moves when the test calls
//! [`Clock::advance`], so a test of a ten-minute job takes no time and never sleeps, and the
//! same test always sees the same timestamps.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

/// Where a virtual clock starts: 2026-01-01T00:00:00Z, so timestamps in test output are stable.
pub const VIRTUAL_EPOCH_SECS: u64 = 1_767_225_600;

/// A cheap, clonable handle on the emulator's clock; clones share the same time.
#[derive(Clone, Debug)]
pub struct Clock {
    inner: Arc<Inner>,
}

#[derive(Debug)]
enum Inner {
    Real,
    /// The current virtual time; sleepers watch it.
    Virtual(watch::Sender<SystemTime>),
}

impl Default for Clock {
    fn default() -> Self {
        Clock::real()
    }
}

impl Clock {
    /// Wall-clock time.
    pub fn real() -> Self {
        Clock {
            inner: Arc::new(Inner::Real),
        }
    }

    /// A virtual clock at [`VIRTUAL_EPOCH_SECS`].
    pub fn virtual_at_epoch() -> Self {
        Clock::virtual_at(UNIX_EPOCH + Duration::from_secs(VIRTUAL_EPOCH_SECS))
    }

    /// A virtual clock at `start`; it moves only through [`Clock::advance`].
    pub fn virtual_at(start: SystemTime) -> Self {
        let (sender, _) = watch::channel(start);
        Clock {
            inner: Arc::new(Inner::Virtual(sender)),
        }
    }

    /// Whether this clock is virtual.
    pub fn is_virtual(&self) -> bool {
        matches!(*self.inner, Inner::Virtual(_))
    }

    /// The current time. An answer that reads it may show it, so it is never replayed
    /// ([`crate::observe`]); code whose decision changes only at a known time uses
    /// [`Clock::peek`] instead.
    pub fn now(&self) -> SystemTime {
        crate::observe::unrepeatable();
        self.peek()
    }

    /// The current time, for code that then says until when what it decided from it holds
    /// ([`crate::observe::holds_until`]), or that is not computing an answer.
    pub fn peek(&self) -> SystemTime {
        match &*self.inner {
            Inner::Real => SystemTime::now(),
            Inner::Virtual(sender) => *sender.borrow(),
        }
    }

    /// Moves a virtual clock forward and wakes the sleepers that are due. On a real clock this
    /// does nothing (time moves by itself) and returns false.
    pub fn advance(&self, by: Duration) -> bool {
        match &*self.inner {
            Inner::Real => false,
            Inner::Virtual(sender) => {
                sender.send_modify(|now| *now += by);
                true
            }
        }
    }

    /// Waits until `duration` has passed on this clock: a real sleep on a real clock; on a
    /// virtual clock, until the test has advanced the time far enough. The deadline is fixed
    /// when this is called, not when the future is first polled.
    pub fn sleep(
        &self,
        duration: Duration,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let virtual_wait = match &*self.inner {
            Inner::Virtual(sender) if !duration.is_zero() => {
                Some((*sender.borrow() + duration, sender.subscribe()))
            }
            _ => None,
        };
        let real = !self.is_virtual() && !duration.is_zero();
        async move {
            if let Some((deadline, mut receiver)) = virtual_wait {
                // `wait_for` looks at the current value first, so no advance is missed.
                let _ = receiver.wait_for(|now| *now >= deadline).await;
            } else if real {
                tokio::time::sleep(duration).await;
            }
        }
    }
}

/// Milliseconds since the Unix epoch (0 before it).
pub fn unix_millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Calendar fields of a UTC time: (year, month 1-12, day 1-31, hour, minute, second).
pub fn civil(time: SystemTime) -> (i64, u32, u32, u32, u32, u32) {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    (
        y,
        m,
        d,
        (rem / 3600) as u32,
        ((rem % 3600) / 60) as u32,
        (rem % 60) as u32,
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month, day) to days since 1970-01-01.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_time_moves_only_when_advanced() {
        let clock = Clock::virtual_at_epoch();
        let t0 = clock.now();
        assert_eq!(clock.now(), t0);
        assert!(clock.advance(Duration::from_secs(90)));
        assert_eq!(clock.now(), t0 + Duration::from_secs(90));
        assert!(!Clock::real().advance(Duration::from_secs(1)));
    }

    #[tokio::test]
    async fn virtual_sleep_ends_when_the_clock_passes_the_deadline() {
        let clock = Clock::virtual_at_epoch();
        let sleeper = tokio::spawn(clock.sleep(Duration::from_secs(10)));
        clock.advance(Duration::from_secs(9));
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished());
        clock.advance(Duration::from_secs(1));
        sleeper.await.unwrap();
    }

    #[test]
    fn calendar_round_trip() {
        let t = UNIX_EPOCH + Duration::from_secs(VIRTUAL_EPOCH_SECS);
        assert_eq!(civil(t), (2026, 1, 1, 0, 0, 0));
        assert_eq!(
            days_from_civil(2026, 1, 1) * 86_400,
            VIRTUAL_EPOCH_SECS as i64
        );
        for days in [-1000, 0, 59, 60, 365, 11_016, 20_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
