use futures_util::TryStreamExt;
use mongodb::bson::doc;
use mongodb::{Collection, Database};
use serde::{Deserialize, Serialize};

/// A domain event waiting to be confirmed by RabbitMQ. Deleted once the broker acks it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxDoc {
    /// The message id (UUID v7, so `_id` order is creation order).
    #[serde(rename = "_id")]
    pub id: String,
    pub routing_key: String,
    /// The JSON body exactly as it will be published.
    pub payload: String,
    /// Lease (unix ms) so that several instances do not publish the same entry concurrently.
    pub locked_until: i64,
    pub attempts: i64,
}

#[derive(Clone)]
pub struct OutboxStore {
    col: Collection<OutboxDoc>,
}

impl OutboxStore {
    pub fn new(db: &Database) -> Self {
        Self {
            col: db.collection("outbox"),
        }
    }

    pub async fn insert(&self, d: &OutboxDoc) -> mongodb::error::Result<()> {
        self.col.insert_one(d).await.map(|_| ())
    }

    pub async fn due(&self, now_ms: i64, limit: i64) -> mongodb::error::Result<Vec<OutboxDoc>> {
        self.col
            .find(doc! {"lockedUntil": {"$lt": now_ms}})
            .sort(doc! {"_id": 1})
            .limit(limit)
            .await?
            .try_collect()
            .await
    }

    /// Takes the lease on one entry; `false` when another instance took it first.
    pub async fn lease(&self, d: &OutboxDoc, until_ms: i64) -> mongodb::error::Result<bool> {
        let r = self
            .col
            .update_one(
                doc! {"_id": &d.id, "lockedUntil": d.locked_until},
                doc! {"$set": {"lockedUntil": until_ms}, "$inc": {"attempts": 1}},
            )
            .await?;
        Ok(r.modified_count == 1)
    }

    pub async fn release(&self, id: &str) -> mongodb::error::Result<()> {
        self.col
            .update_one(doc! {"_id": id}, doc! {"$set": {"lockedUntil": 0_i64}})
            .await
            .map(|_| ())
    }

    pub async fn delete(&self, ids: &[String]) -> mongodb::error::Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        self.col
            .delete_many(doc! {"_id": {"$in": ids}})
            .await
            .map(|_| ())
    }
}
