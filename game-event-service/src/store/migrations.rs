//! Startup backfills of fields that later code relies on. Each runs in batches until nothing
//! lacks its field, then leaves a marker (`migrations._id` = its name) so later startups skip
//! the scan. Every step is an idempotent `$set`, so instances starting together only repeat
//! work, and a crash mid-way resumes where it stopped.
use super::{Store, StoreResult};
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Document};

/// Documents given their field per round trip.
const BATCH: i64 = 1_000;
/// One document per migration done (`_id` its name).
const MARKS: &str = "migrations";

/// A field to fill in where it is missing, from the rest of the document.
pub struct Backfill {
    /// The marker's `_id`, e.g. `activities.occurredMs`.
    pub name: &'static str,
    pub collection: &'static str,
    pub field: &'static str,
    /// The new field's value, or `None` for a document it cannot be derived from (left as it
    /// is, and not asked for again in this run).
    pub value: fn(&Document) -> Option<mongodb::bson::Bson>,
}

impl Store {
    /// Runs `step` unless a marker says it ran, then leaves the marker. The step must be safe
    /// to repeat: instances starting together may both run it.
    pub async fn once<F, Fut>(&self, name: &str, step: F) -> StoreResult<()>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = StoreResult<()>>,
    {
        let marks = self.db.collection::<Document>(MARKS);
        if marks.find_one(doc! {"_id": name}).await?.is_some() {
            return Ok(());
        }
        step().await?;
        let mark = doc! {"_id": name, "at": mongodb::bson::DateTime::now()};
        match marks.insert_one(mark).await {
            Ok(_) => Ok(()),
            Err(e) if super::is_duplicate_key(&e) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn backfill(&self, b: &Backfill) -> StoreResult<()> {
        self.once(b.name, || self.fill(b)).await
    }

    /// Sets `b.field` on every document of `b.collection` without it (that `b.value` can fill).
    async fn fill(&self, b: &Backfill) -> StoreResult<()> {
        let docs = self.db.collection::<Document>(b.collection);
        let mut skipped: Vec<mongodb::bson::Bson> = Vec::new();
        loop {
            let batch: Vec<Document> = docs
                .find(doc! {b.field: {"$exists": false}, "_id": {"$nin": &skipped}})
                .limit(BATCH)
                .await?
                .try_collect()
                .await?;
            if batch.is_empty() {
                break;
            }
            let mut statements = Vec::with_capacity(batch.len());
            for d in &batch {
                let Some(id) = d.get("_id").cloned() else {
                    continue;
                };
                match (b.value)(d) {
                    Some(v) => statements.push((doc! {"_id": id}, doc! {"$set": {b.field: v}})),
                    None => skipped.push(id),
                }
            }
            self.update_each(b.collection, statements).await?;
        }
        Ok(())
    }
}
