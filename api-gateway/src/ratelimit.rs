//! Per-client rate limiting (GCRA via `governor`), keyed by user id when authenticated and by
//! peer IP otherwise. State is in-process: the limit applies per gateway instance.

use crate::domain::route_table::RateLimitSpec;
use crate::domain::RouteTable;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

type Keyed =
    RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock, StateInformationMiddleware>;

pub struct Limiter {
    inner: Keyed,
    clock: DefaultClock,
    burst: u32,
    /// Time to earn one request back.
    period: Duration,
}

#[derive(Debug, Clone, Copy)]
pub enum Decision {
    Allowed {
        limit: u32,
        remaining: u32,
        reset_secs: u64,
    },
    Denied {
        limit: u32,
        retry_after_secs: u64,
    },
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

/// The default limiter plus one per route that overrides it.
pub struct RateLimits {
    default: Option<Arc<Limiter>>,
    per_route: HashMap<String, Arc<Limiter>>,
}

impl RateLimits {
    pub fn new(default: RateLimitSpec, table: &RouteTable) -> Self {
        let per_route = table
            .routes()
            .iter()
            .filter_map(|r| {
                r.rate_limit
                    .and_then(Limiter::new)
                    .map(|l| (r.name.clone(), Arc::new(l)))
            })
            .collect();
        RateLimits {
            default: Limiter::new(default).map(Arc::new),
            per_route,
        }
    }

    pub fn for_route(&self, route: &str) -> Option<&Arc<Limiter>> {
        self.per_route.get(route).or(self.default.as_ref())
    }

    pub fn retain_recent(&self) {
        if let Some(d) = &self.default {
            d.retain_recent();
        }
        for l in self.per_route.values() {
            l.retain_recent();
        }
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
