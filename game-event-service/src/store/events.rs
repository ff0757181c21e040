//! Events (whole-document, optimistic `version`) and their per-event stock counters.
use super::{is_duplicate_key, to_bson_dt, Store, StoreResult};
use crate::domain::event::{Condition, Event, EventStatus, Reward};
use crate::domain::{ClaimId, EventId, UserId};
use futures_util::TryStreamExt;
use mongodb::bson::{doc, DateTime as BsonDateTime, Document};
use mongodb::options::ReturnDocument;
use serde::{Deserialize, Serialize};

pub const COLLECTION: &str = "events";
pub const STOCK: &str = "event_stock";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventDoc {
    #[serde(rename = "_id")]
    pub id: String,
    pub title: String,
    pub description: String,
    pub starts_at: BsonDateTime,
    pub ends_at: BsonDateTime,
    pub timezone: String,
    pub status: EventStatus,
    pub conditions: Vec<Condition>,
    pub rewards: Vec<Reward>,
    #[serde(default)]
    pub max_claims: Option<i64>,
    pub version: i64,
    pub created_by: String,
    pub created_at: BsonDateTime,
    pub updated_at: BsonDateTime,
    #[serde(default)]
    pub archived_at: Option<BsonDateTime>,
    /// LIVE or ARCHIVED: independent of `status`, and queryable without null-vs-missing quirks.
    pub state: String,
}

impl From<&Event> for EventDoc {
    fn from(e: &Event) -> Self {
        EventDoc {
            id: e.id.to_string(),
            title: e.title.clone(),
            description: e.description.clone(),
            starts_at: to_bson_dt(e.starts_at),
            ends_at: to_bson_dt(e.ends_at),
            timezone: e.timezone.clone(),
            status: e.status,
            conditions: e.conditions.clone(),
            rewards: e.rewards.clone(),
            max_claims: e.max_claims,
            version: e.version,
            created_by: e.created_by.to_string(),
            created_at: to_bson_dt(e.created_at),
            updated_at: to_bson_dt(e.updated_at),
            archived_at: e.archived_at.map(to_bson_dt),
            state: if e.archived_at.is_some() {
                "ARCHIVED".into()
            } else {
                "LIVE".into()
            },
        }
    }
}

impl From<EventDoc> for Event {
    fn from(d: EventDoc) -> Self {
        Event {
            id: EventId::stored(d.id),
            title: d.title,
            description: d.description,
            starts_at: d.starts_at.to_chrono(),
            ends_at: d.ends_at.to_chrono(),
            timezone: d.timezone,
            status: d.status,
            conditions: d.conditions,
            rewards: d.rewards,
            max_claims: d.max_claims,
            version: d.version,
            created_by: UserId::stored(d.created_by),
            created_at: d.created_at.to_chrono(),
            updated_at: d.updated_at.to_chrono(),
            archived_at: d.archived_at.map(|t| t.to_chrono()),
        }
    }
}

#[derive(Debug, Default, Clone)]
pub struct EventFilter {
    pub statuses: Option<Vec<EventStatus>>,
    pub active_at: Option<chrono::DateTime<chrono::Utc>>,
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    pub to: Option<chrono::DateTime<chrono::Utc>>,
}

/// Outcome of trying to take one unit of an event's stock for a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    Reserved,
    SoldOut,
}

impl Store {
    fn events(&self) -> mongodb::Collection<EventDoc> {
        self.db.collection(COLLECTION)
    }
    fn stock(&self) -> mongodb::Collection<Document> {
        self.db.collection(STOCK)
    }

    /// The stock counter exists from creation on, so reservations never need an upsert.
    pub async fn insert_event(&self, e: &Event) -> StoreResult<()> {
        match self
            .stock()
            .insert_one(doc! {"_id": e.id.as_str(), "count": 0_i64, "holders": {}})
            .await
        {
            Ok(_) => {}
            Err(err) if is_duplicate_key(&err) => {}
            Err(err) => return Err(err.into()),
        }
        self.events().insert_one(EventDoc::from(e)).await?;
        Ok(())
    }

    pub async fn get_event(&self, id: &EventId) -> StoreResult<Option<Event>> {
        Ok(self
            .events()
            .find_one(doc! {"_id": id.as_str()})
            .await?
            .map(Event::from))
    }

    /// Replaces the event only if nobody changed it since `expected_version`.
    pub async fn replace_event(&self, e: &Event, expected_version: i64) -> StoreResult<bool> {
        let res = self
            .events()
            .replace_one(
                doc! {"_id": e.id.as_str(), "version": expected_version},
                EventDoc::from(e),
            )
            .await?;
        Ok(res.matched_count == 1)
    }

    pub async fn list_events(
        &self,
        filter: &EventFilter,
        after_id: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<Event>> {
        let mut f = doc! {"state": "LIVE"};
        if let Some(statuses) = &filter.statuses {
            let s: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
            f.insert("status", doc! {"$in": s});
        }
        let mut starts = Document::new();
        let mut ends = Document::new();
        if let Some(t) = filter.active_at {
            starts.insert("$lte", to_bson_dt(t));
            ends.insert("$gt", to_bson_dt(t));
        }
        // from/to select events whose window overlaps [from, to].
        if let Some(t) = filter.from {
            ends.insert("$gt", to_bson_dt(t));
        }
        if let Some(t) = filter.to {
            starts.insert("$lt", to_bson_dt(t));
        }
        if !starts.is_empty() {
            f.insert("startsAt", starts);
        }
        if !ends.is_empty() {
            f.insert("endsAt", ends);
        }
        if let Some(a) = after_id {
            f.insert("_id", doc! {"$lt": a});
        }
        let docs: Vec<EventDoc> = self
            .events()
            .find(f)
            .sort(doc! {"_id": -1})
            .limit(limit)
            .await?
            .try_collect()
            .await?;
        Ok(docs.into_iter().map(Event::from).collect())
    }

    /// Takes one unit for `claim_id` atomically; the holder entry makes a retry idempotent.
    pub async fn reserve_stock(
        &self,
        event_id: &EventId,
        claim_id: &ClaimId,
        max: i64,
    ) -> StoreResult<Reservation> {
        let holder = format!("holders.{claim_id}");
        if self.holds_stock(event_id, claim_id).await? {
            return Ok(Reservation::Reserved);
        }
        let updated = self
            .stock()
            .find_one_and_update(
                doc! {"_id": event_id.as_str(), "count": {"$lt": max}, &holder: {"$exists": false}},
                doc! {"$inc": {"count": 1_i64}, "$set": {&holder: 1_i64}},
            )
            .return_document(ReturnDocument::After)
            .await?;
        if updated.is_some() {
            return Ok(Reservation::Reserved);
        }
        // Lost a race with a concurrent delivery of the same claim?
        if self.holds_stock(event_id, claim_id).await? {
            return Ok(Reservation::Reserved);
        }
        Ok(Reservation::SoldOut)
    }

    pub async fn holds_stock(&self, event_id: &EventId, claim_id: &ClaimId) -> StoreResult<bool> {
        let holder = format!("holders.{claim_id}");
        Ok(self
            .stock()
            .find_one(doc! {"_id": event_id.as_str(), &holder: {"$exists": true}})
            .await?
            .is_some())
    }

    /// Gives the unit back; a no-op when `claim_id` holds none (so it is safe to repeat).
    pub async fn release_stock(&self, event_id: &EventId, claim_id: &ClaimId) -> StoreResult<()> {
        let holder = format!("holders.{claim_id}");
        self.stock()
            .update_one(
                doc! {"_id": event_id.as_str(), &holder: {"$exists": true}},
                doc! {"$inc": {"count": -1_i64}, "$unset": {&holder: ""}},
            )
            .await?;
        Ok(())
    }

    pub async fn stock_count(&self, event_id: &EventId) -> StoreResult<i64> {
        let d = self
            .stock()
            .find_one(doc! {"_id": event_id.as_str()})
            .await?;
        Ok(d.and_then(|d| {
            d.get("count")
                .and_then(|c| c.as_i64().or(c.as_i32().map(i64::from)))
        })
        .unwrap_or(0))
    }
}
