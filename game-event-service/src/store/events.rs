//! Events: whole documents with an optimistic `version`.
use super::{to_bson_dt, Store, StoreResult};
use crate::domain::audience::Audience;
use crate::domain::event::{Condition, Event, EventStatus, Reward};
use crate::domain::recurrence::Recurrence;
use crate::domain::{EventId, UserId};
use futures_util::TryStreamExt;
use mongodb::bson::{doc, DateTime as BsonDateTime, Document};
use serde::{Deserialize, Serialize};

pub const COLLECTION: &str = "events";

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
    #[serde(default)]
    pub recurrence: Option<Recurrence>,
    #[serde(default)]
    pub max_claims_per_period: Option<i64>,
    #[serde(default)]
    pub audience: Option<Audience>,
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
            recurrence: e.recurrence,
            max_claims_per_period: e.max_claims_per_period,
            audience: e.audience.clone(),
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
            recurrence: d.recurrence,
            max_claims_per_period: d.max_claims_per_period,
            audience: d.audience,
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

impl Store {
    fn events(&self) -> mongodb::Collection<EventDoc> {
        self.db.collection(COLLECTION)
    }
    /// Stock shards are created on the first claim (see `store::stock`).
    pub async fn insert_event(&self, e: &Event) -> StoreResult<()> {
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
}
