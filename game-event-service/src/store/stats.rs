//! An event's claim counts, by status and rejection reason: two `$group` aggregations over the
//! `eventId` index, so the cost is the event's claims read once inside the database and the
//! answer is a handful of numbers whatever the event's size.
use super::{claims, to_bson_dt, Store, StoreResult};
use crate::domain::period::Period;
use crate::domain::EventId;
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};
use std::collections::BTreeMap;

#[derive(Debug, Default, Clone, PartialEq)]
pub struct ClaimCounts {
    /// Status -> count.
    pub by_status: BTreeMap<String, i64>,
    /// Rejection reason -> count.
    pub rejected: BTreeMap<String, i64>,
}

fn count_of(d: &Document) -> i64 {
    match d.get("n") {
        Some(Bson::Int32(n)) => i64::from(*n),
        Some(Bson::Int64(n)) => *n,
        Some(Bson::Double(n)) => *n as i64,
        _ => 0,
    }
}

impl Store {
    async fn group_count(&self, filter: Document, by: &str) -> StoreResult<BTreeMap<String, i64>> {
        let pipeline = vec![
            doc! {"$match": filter},
            doc! {"$group": {"_id": format!("${by}"), "n": {"$sum": 1}}},
        ];
        let docs: Vec<Document> = self
            .db
            .collection::<Document>(claims::COLLECTION)
            .aggregate(pipeline)
            .await?
            .try_collect()
            .await?;
        Ok(docs
            .iter()
            .filter_map(|d| d.get_str("_id").ok().map(|k| (k.to_string(), count_of(d))))
            .collect())
    }

    /// Counts of the event's claims by status and rejection reason.
    pub async fn claim_counts(&self, event_id: &EventId) -> StoreResult<ClaimCounts> {
        let f = doc! {"eventId": event_id.as_str()};
        let by_status = self.group_count(f.clone(), "status").await?;
        let mut rejected_filter = f;
        rejected_filter.insert("status", "REJECTED");
        let rejected = self.group_count(rejected_filter, "reason").await?;
        Ok(ClaimCounts {
            by_status,
            rejected,
        })
    }

    /// APPROVED claims of the event's period: a find over the `{eventId, period.startsAt}`
    /// index reading ids only (the stand-in cannot `$match` a DateTime inside a pipeline, and
    /// one period's approvals are bounded by its stock or its players).
    pub async fn approved_in_period(&self, event_id: &EventId, p: &Period) -> StoreResult<i64> {
        let mut cursor = self
            .db
            .collection::<Document>(claims::COLLECTION)
            .find(doc! {
                "eventId": event_id.as_str(),
                "period.startsAt": to_bson_dt(p.starts_at),
                "status": "APPROVED",
            })
            .projection(doc! {"_id": 1})
            .await?;
        let mut n = 0;
        while cursor.try_next().await?.is_some() {
            n += 1;
        }
        Ok(n)
    }
}
