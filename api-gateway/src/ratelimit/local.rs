//! The in-process limiter (GCRA via `governor`): per gateway instance, used when no shared
//! store is configured or while it is unreachable.

use super::Decision;
use crate::domain::route_table::RateLimitSpec;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use std::num::NonZeroU32;
use std::time::Duration;

type Keyed =
    RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock, StateInformationMiddleware>;

pub struct Limiter {
    inner: Keyed,
    clock: DefaultClock,
    pub burst: u32,
    /// Time to earn one request back.
    pub period: Duration,
}

impl Limiter {
    pub fn new(spec: RateLimitSpec) -> Option<Self> {
        let per_minute = NonZeroU32::new(spec.per_minute)?;
        let burst = NonZeroU32::new(spec.burst.unwrap_or(spec.per_minute)).unwrap_or(per_minute);
        let quota = Quota::per_minute(per_minute).allow_burst(burst);
        let period = Duration::from_secs(60) / per_minute.get();
        Some(Limiter {
            inner: RateLimiter::keyed(quota).with_middleware::<StateInformationMiddleware>(),
            clock: DefaultClock::default(),
            burst: burst.get(),
            period,
        })
    }

    pub fn check(&self, key: &str) -> Decision {
        match self.inner.check_key(&key.to_owned()) {
            Ok(snap) => {
                let remaining = snap.remaining_burst_capacity();
                let used = self.burst.saturating_sub(remaining);
                let reset = self.period.as_secs_f64() * f64::from(used);
                Decision::Allowed {
                    limit: self.burst,
                    remaining,
                    reset_secs: reset.ceil() as u64,
                }
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                Decision::Denied {
                    limit: self.burst,
                    retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
                }
            }
        }
    }

    pub fn retain_recent(&self) {
        self.inner.retain_recent();
        self.inner.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_denied_with_retry_after() {
        let l = Limiter::new(RateLimitSpec {
            per_minute: 60,
            burst: Some(2),
        })
        .unwrap();
        assert!(matches!(
            l.check("a"),
            Decision::Allowed {
                remaining: 1,
                limit: 2,
                ..
            }
        ));
        assert!(matches!(
            l.check("a"),
            Decision::Allowed { remaining: 0, .. }
        ));
        match l.check("a") {
            Decision::Denied {
                retry_after_secs, ..
            } => assert!((1..=2).contains(&retry_after_secs)),
            d => panic!("{d:?}"),
        }
        // Other clients are unaffected.
        assert!(matches!(l.check("b"), Decision::Allowed { .. }));
    }

    #[test]
    fn zero_disables() {
        assert!(Limiter::new(RateLimitSpec {
            per_minute: 0,
            burst: None
        })
        .is_none());
    }
}
