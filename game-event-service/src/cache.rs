//! In-process event catalog cache. Writers invalidate every instance through a fanout
//! exchange; the short TTL bounds staleness when that messaging is down.
use crate::domain::event::Event;
use crate::domain::EventId;
use crate::store::{Store, StoreResult};
use moka::future::Cache;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone)]
pub struct Catalog {
    cache: Cache<EventId, Arc<Event>>,
}

/// Why a load put nothing in the cache.
enum Miss {
    Absent,
    Store(crate::store::StoreError),
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Invalidation {
    pub event_id: EventId,
}

impl Catalog {
    pub fn new(ttl: Duration) -> Self {
        Catalog {
            cache: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(ttl)
                .build(),
        }
    }

    /// The event, read from the store at most once per TTL however many requests miss at
    /// once (a launch sends thousands of claims for one event within a second). Missing events
    /// and failures are not cached.
    pub async fn get(&self, store: &Store, id: &EventId) -> StoreResult<Option<Arc<Event>>> {
        let load = async {
            match store.get_event(id).await {
                Ok(Some(e)) => Ok(Arc::new(e)),
                Ok(None) => Err(Miss::Absent),
                Err(e) => Err(Miss::Store(e)),
            }
        };
        match self.cache.try_get_with_by_ref(id, load).await {
            Ok(e) => Ok(Some(e)),
            Err(miss) => match &*miss {
                Miss::Absent => Ok(None),
                Miss::Store(e) => Err(e.copy()),
            },
        }
    }

    pub async fn invalidate(&self, id: &EventId) {
        self.cache.invalidate(id).await;
    }

    pub async fn handle_invalidation(&self, body: &[u8]) {
        if let Ok(m) = serde_json::from_slice::<Invalidation>(body) {
            self.invalidate(&m.event_id).await;
        }
    }
}
