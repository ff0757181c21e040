//! Per-client rate limiting (GCRA), keyed by user id when authenticated and by peer IP
//! otherwise. With a shared store (Redis) one budget per client holds across every gateway
//! instance; while the store is unreachable each instance falls back to its own limiter.

mod local;
mod shared;

pub use local::Limiter;
pub use shared::SharedStore;

use crate::domain::route_table::RateLimitSpec;
use crate::domain::RouteTable;
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// One limit: its name in the shared store and its in-process fallback.
pub struct Budget {
    name: String,
    local: Limiter,
}

/// The default budget plus one per route that overrides it.
pub struct RateLimits {
    default: Option<Arc<Budget>>,
    per_route: HashMap<String, Arc<Budget>>,
    shared: Option<SharedStore>,
}

impl RateLimits {
    pub fn new(default: RateLimitSpec, table: &RouteTable, shared: Option<SharedStore>) -> Self {
        let budget = |name: &str, spec: RateLimitSpec| {
            Limiter::new(spec).map(|local| {
                Arc::new(Budget {
                    name: name.to_owned(),
                    local,
                })
            })
        };
        let per_route = table
            .routes()
            .iter()
            .filter_map(|r| {
                r.rate_limit
                    .and_then(|spec| budget(&format!("route:{}", r.name), spec))
                    .map(|b| (r.name.clone(), b))
            })
            .collect();
        RateLimits {
            default: budget("default", default),
            per_route,
            shared,
        }
    }

    pub fn for_route(&self, route: &str) -> Option<&Arc<Budget>> {
        self.per_route.get(route).or(self.default.as_ref())
    }

    /// Takes one request from `client`'s budget: in the shared store when it answers, else
    /// locally.
    pub async fn check(&self, budget: &Budget, client: &str) -> Decision {
        if let Some(store) = &self.shared {
            let (burst, period) = (budget.local.burst, budget.local.period);
            if let Some(d) = store.check(&budget.name, client, burst, period).await {
                return d;
            }
        }
        budget.local.check(client)
    }

    /// `None` without a shared store; else whether it answered last time.
    pub fn shared_store_up(&self) -> Option<bool> {
        self.shared.as_ref().map(SharedStore::is_up)
    }

    pub fn retain_recent(&self) {
        if let Some(d) = &self.default {
            d.local.retain_recent();
        }
        for b in self.per_route.values() {
            b.local.retain_recent();
        }
    }
}
