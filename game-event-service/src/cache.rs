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

    pub async fn get(&self, store: &Store, id: &EventId) -> StoreResult<Option<Arc<Event>>> {
        if let Some(e) = self.cache.get(id).await {
            return Ok(Some(e));
        }
        let loaded = store.get_event(id).await?.map(Arc::new);
        if let Some(e) = &loaded {
            self.cache.insert(id.clone(), e.clone()).await;
        }
        Ok(loaded)
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
