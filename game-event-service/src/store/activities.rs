//! Activity records keyed by their id: inserting twice is the "applied at most once" check.
use super::{is_duplicate_key, now_ms, to_bson_dt, Store, StoreError, StoreResult};
use crate::domain::activity::{Activity, LOGIN};
use crate::domain::conditions::{Fact, Window};
use crate::domain::UserId;
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, DateTime as BsonDateTime, Document};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};

pub const COLLECTION: &str = "activities";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivityDoc {
    #[serde(rename = "_id")]
    pub id: String,
    pub user_id: String,
    pub key: String,
    pub value: i64,
    pub occurred_at: BsonDateTime,
    /// `occurredAt` in ms: window queries range over an integer, which every server serves
    /// from the `{userId, key, occurredMs}` index (the stand-in filters DateTime ranges
    /// document by document). Filled in for older records at startup.
    #[serde(default)]
    pub occurred_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_user_id: Option<String>,
    pub recorded_at: BsonDateTime,
    /// Set (to when, in ms) until the record is in `activity_totals`: a record found with it
    /// long after was left half-applied by a crash, and whoever finds it finishes the job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totals_pending: Option<i64>,
}

/// How long a record's totals may stay pending before another writer takes them over.
const TOTALS_LEASE_MS: i64 = 30_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyTotal {
    pub key: String,
    pub total: i64,
    pub max: i64,
    pub count: i64,
}

fn as_i64(b: Option<&Bson>) -> i64 {
    match b {
        Some(Bson::Int64(v)) => *v,
        Some(Bson::Int32(v)) => i64::from(*v),
        Some(Bson::Double(v)) => *v as i64,
        _ => 0,
    }
}

/// `[from, to)` over `occurredMs`.
pub fn ms_range(
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
) -> Document {
    doc! {"$gte": from.timestamp_millis(), "$lt": to.timestamp_millis()}
}

/// Records stored before `occurredMs` existed get it (before any claim is decided on them).
pub const OCCURRED_MS: super::migrations::Backfill = super::migrations::Backfill {
    name: "activities.occurredMs",
    collection: COLLECTION,
    field: "occurredMs",
    value: |d| Some(d.get_datetime("occurredAt").ok()?.timestamp_millis().into()),
};

impl Store {
    fn activities(&self) -> mongodb::Collection<ActivityDoc> {
        self.db.collection(COLLECTION)
    }

    /// Ok(true) when recorded now, Ok(false) when this id was already applied. The record and
    /// its share of `activity_totals` are applied together: the record carries a marker until
    /// its totals are in, so a crash between the two is finished by the next delivery.
    pub async fn insert_activity(&self, a: &Activity) -> StoreResult<bool> {
        let pending = now_ms();
        let d = ActivityDoc {
            id: a.id.clone(),
            user_id: a.user_id.to_string(),
            key: a.key.clone(),
            value: a.value,
            occurred_at: to_bson_dt(a.occurred_at),
            occurred_ms: a.occurred_at.timestamp_millis(),
            subject_user_id: a.subject_user_id.as_ref().map(|u| u.to_string()),
            recorded_at: BsonDateTime::now(),
            totals_pending: Some(pending),
        };
        match self.activities().insert_one(&d).await {
            Ok(_) => {
                self.apply_totals(&d, pending).await?;
                Ok(true)
            }
            Err(e) if is_duplicate_key(&e) => {
                self.finish_pending_totals(&a.id).await?;
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn apply_totals(&self, d: &ActivityDoc, pending: i64) -> StoreResult<()> {
        let at = d.occurred_at.to_chrono();
        self.add_to_totals(&d.user_id, &d.key, d.value, at).await?;
        self.activities()
            .update_one(
                doc! {"_id": &d.id, "totalsPending": pending},
                doc! {"$unset": {"totalsPending": ""}},
            )
            .await?;
        Ok(())
    }

    /// A redelivered record whose totals are still pending: within the lease its first writer
    /// may still be at it (an error, so the delivery is retried later); after it, whoever
    /// moves the marker first applies the totals, once.
    async fn finish_pending_totals(&self, id: &str) -> StoreResult<()> {
        let stored = self
            .activities()
            .find_one(doc! {"_id": id, "totalsPending": {"$exists": true}})
            .await?;
        let Some(d) = stored else {
            return Ok(());
        };
        let Some(since) = d.totals_pending else {
            return Ok(());
        };
        let now = now_ms();
        if now - since < TOTALS_LEASE_MS {
            return Err(StoreError::Other(anyhow::anyhow!(
                "activity {id}: its totals are still being applied"
            )));
        }
        let taken = self
            .activities()
            .update_one(
                doc! {"_id": id, "totalsPending": since},
                doc! {"$set": {"totalsPending": now}},
            )
            .await?;
        if taken.modified_count == 1 {
            self.apply_totals(&d, now).await?;
        }
        Ok(())
    }

    /// Every record of `users` with one of `keys` inside `window`, per user, in one query (the
    /// `{userId, key, occurredMs}` index serves it): what answers the slots of the totals a
    /// window edge cuts.
    pub async fn records_of(
        &self,
        users: &[UserId],
        keys: &[String],
        window: Window,
    ) -> StoreResult<HashMap<UserId, Vec<Fact>>> {
        let mut out: HashMap<UserId, Vec<Fact>> = HashMap::new();
        if users.is_empty() || keys.is_empty() {
            return Ok(out);
        }
        let users: Vec<&str> = users.iter().map(|u| u.as_str()).collect();
        // A find, not an aggregate: the stand-in cannot $match on DateTime ranges in a
        // pipeline.
        let docs: Vec<ActivityDoc> = self
            .activities()
            .find(doc! {"userId": {"$in": users}, "key": {"$in": keys},
            "occurredMs": ms_range(window.starts_at, window.ends_at)})
            .await?
            .try_collect()
            .await?;
        for d in docs {
            out.entry(UserId::stored(d.user_id))
                .or_default()
                .push(Fact {
                    key: d.key,
                    value: d.value,
                    occurred_at: d.occurred_at.to_chrono(),
                });
        }
        Ok(out)
    }

    /// Totals per key over all time, and the distinct login days in `tz`.
    pub async fn progress_of(
        &self,
        user_id: &UserId,
        tz: chrono_tz::Tz,
    ) -> StoreResult<(Vec<KeyTotal>, Vec<chrono::NaiveDate>)> {
        let pipeline = vec![
            doc! {"$match": {"userId": user_id.as_str()}},
            doc! {"$group": {"_id": "$key", "total": {"$sum": "$value"}, "max": {"$max": "$value"}, "count": {"$sum": 1}}},
            doc! {"$sort": {"_id": 1}},
        ];
        let rows: Vec<Document> = self
            .activities()
            .aggregate(pipeline)
            .await?
            .try_collect()
            .await?;
        let mut totals: Vec<KeyTotal> = rows
            .into_iter()
            .map(|row| KeyTotal {
                key: row.get_str("_id").unwrap_or_default().to_string(),
                total: as_i64(row.get("total")),
                max: as_i64(row.get("max")),
                count: as_i64(row.get("count")),
            })
            .collect();
        totals.sort_by(|a, b| a.key.cmp(&b.key));
        let logins: Vec<ActivityDoc> = self
            .activities()
            .find(doc! {"userId": user_id.as_str(), "key": LOGIN})
            .await?
            .try_collect()
            .await?;
        let days: BTreeSet<chrono::NaiveDate> = logins
            .into_iter()
            .map(|d| d.occurred_at.to_chrono().with_timezone(&tz).date_naive())
            .collect();
        Ok((totals, days.into_iter().collect()))
    }
}
