//! When and how long to wait before sending a request again. Pure: the client does the sleeping.

use std::time::{Duration, SystemTime};

use rand::Rng;

/// How a client retries transient failures (connection errors, timeouts, 429, 503).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt; 0 disables retrying.
    pub max_retries: u32,
    /// The wait before the first retry; it doubles with every further retry.
    pub initial_backoff: Duration,
    /// The longest wait, for the exponential growth and for a server's `Retry-After` alike.
    pub max_backoff: Duration,
    /// Full jitter: wait a uniformly random time between zero and the computed backoff, so that
    /// many clients failing together do not retry together.
    pub jitter: bool,
}

impl Default for RetryPolicy {
    /// 3 retries, 200 ms doubling up to 10 s, with jitter.
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            jitter: true,
        }
    }
}

impl RetryPolicy {
    /// Never retry.
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }
    }

    /// The wait before retry number `attempt + 1` (`attempt` counts the retries already made, so
    /// the first retry asks for `attempt = 0`).
    ///
    /// Without `retry_after`: `initial_backoff * 2^attempt`, capped at `max_backoff`, then with
    /// full jitter if enabled. With `retry_after` (the server's own `Retry-After`): that value, not
    /// jittered (the server chose it), but capped at `max_backoff` too. The cap is deliberate: a
    /// misconfigured or hostile server answering `Retry-After: 86400` must not park a caller for a
    /// day; if it is still unavailable after `max_backoff`, the retry budget runs out and the
    /// caller gets the 429/503 to decide for itself.
    pub fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        self.backoff_with(attempt, retry_after, |max| {
            rand::rng().random_range(0..=max)
        })
    }

    /// [`RetryPolicy::backoff`] with the random pick (uniform in `0..=max` nanoseconds) supplied,
    /// so tests can check the bounds deterministically.
    fn backoff_with(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        pick: impl FnOnce(u64) -> u64,
    ) -> Duration {
        if let Some(wait) = retry_after {
            return wait.min(self.max_backoff);
        }
        let exponential = 2u32
            .checked_pow(attempt)
            .and_then(|factor| self.initial_backoff.checked_mul(factor))
            .unwrap_or(self.max_backoff)
            .min(self.max_backoff);
        if !self.jitter {
            return exponential;
        }
        let nanos = u64::try_from(exponential.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(pick(nanos).min(nanos))
    }
}

/// Reads a `Retry-After` value: delta-seconds (`120`) or an HTTP-date, relative to `now`.
///
/// A date in the past means "now" (zero). Anything else unparsable is `None`, and the caller
/// falls back to its own backoff.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Too many digits for u64 is still "a very long time".
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// 429 Too Many Requests and 503 Service Unavailable: the statuses that say "try again later".
/// (502 and 504 are left out: the request may have reached the appliance and done its work.)
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 429 | 503)
}

/// Methods that RFC 9110 defines as idempotent, so sending them twice does no extra harm. POST and
/// PATCH are never retried: a lost answer does not mean the appliance did nothing.
pub fn is_idempotent(method: &http::Method) -> bool {
    use http::Method;
    [
        Method::GET,
        Method::HEAD,
        Method::PUT,
        Method::DELETE,
        Method::OPTIONS,
        Method::TRACE,
    ]
    .contains(method)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed() -> RetryPolicy {
        RetryPolicy {
            jitter: false,
            ..RetryPolicy::default()
        }
    }

    #[test]
    fn defaults() {
        let p = RetryPolicy::default();
        assert_eq!(p.max_retries, 3);
        assert_eq!(p.initial_backoff, Duration::from_millis(200));
        assert_eq!(p.max_backoff, Duration::from_secs(10));
        assert!(p.jitter);
        assert_eq!(RetryPolicy::none().max_retries, 0);
    }

    #[test]
    fn exponential_then_capped() {
        let p = fixed();
        let ms = |a| p.backoff(a, None).as_millis();
        assert_eq!(
            [ms(0), ms(1), ms(2), ms(3), ms(5), ms(6)],
            [200, 400, 800, 1600, 6400, 10_000]
        );
        assert_eq!(p.backoff(40, None), Duration::from_secs(10));
        assert_eq!(p.backoff(u32::MAX, None), Duration::from_secs(10));
    }

    #[test]
    fn retry_after_wins_but_is_capped() {
        let p = RetryPolicy::default();
        assert_eq!(
            p.backoff(0, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert_eq!(p.backoff(5, Some(Duration::ZERO)), Duration::ZERO);
        assert_eq!(
            p.backoff(0, Some(Duration::from_secs(86_400))),
            Duration::from_secs(10)
        );
    }

    #[test]
    fn jitter_stays_within_zero_and_the_backoff() {
        let p = RetryPolicy::default();
        // The pick sees the capped exponential value as its upper bound.
        let mut seen = 0;
        let d = p.backoff_with(2, None, |max| {
            seen = max;
            max / 2
        });
        assert_eq!(seen, 800_000_000);
        assert_eq!(d, Duration::from_millis(400));
        assert_eq!(p.backoff_with(2, None, |_| 0), Duration::ZERO);
        // A misbehaving pick cannot exceed the bound.
        assert_eq!(
            p.backoff_with(2, None, |_| u64::MAX),
            Duration::from_millis(800)
        );
        // The real generator: always in range, and not always the same value.
        let samples: Vec<_> = (0..64).map(|_| p.backoff(3, None)).collect();
        assert!(samples.iter().all(|d| *d <= Duration::from_millis(1600)));
        assert!(samples.iter().any(|d| *d != samples[0]));
    }

    #[test]
    fn retry_after_parsing() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now),
            Some(Duration::from_secs(30))
        );
        // Obsolete RFC 850 and asctime date forms are still HTTP-dates.
        assert_eq!(
            parse_retry_after("Sunday, 06-Nov-94 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Sun Nov  6 08:49:38 1994", now),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
        for bad in ["", "-5", "1.5", "soon", "Sun, 06 Nov 1994"] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn statuses_and_methods() {
        assert!(is_retryable_status(429) && is_retryable_status(503));
        for s in [200, 400, 401, 500, 502, 504] {
            assert!(!is_retryable_status(s), "{s}");
        }
        use http::Method;
        for m in [
            Method::GET,
            Method::HEAD,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
            Method::TRACE,
        ] {
            assert!(is_idempotent(&m), "{m}");
        }
        for m in [Method::POST, Method::PATCH, Method::CONNECT] {
            assert!(!is_idempotent(&m), "{m}");
        }
    }
}
