//! The outbox collection: messages other than `reward.granted` (today `reward.revoked`, and
//! `reward.granted` entries of older versions) written with the state change that causes them
//! and published by the relay until the broker confirms them. `reward.granted` has an outbox
//! of its own, one record per batch of approvals (`grant_outbox`).
use super::{now_ms, Store, StoreResult};
use mongodb::bson::{doc, Document};

pub const OUTBOX: &str = "outbox";

/// Records written leased to one relay until `until_ms`: no other relay takes them before.
#[derive(Debug, Clone)]
pub struct OutboxLease {
    pub owner: String,
    pub until_ms: i64,
}

impl OutboxLease {
    /// For records any relay may send at once.
    pub fn none() -> Self {
        OutboxLease {
            owner: String::new(),
            until_ms: 0,
        }
    }
}

/// One message to publish.
#[derive(Debug, Clone)]
pub struct OutboxEntry {
    pub id: String,
    /// The consumers' idempotency key: the claim id.
    pub message_id: String,
    pub routing_key: String,
    pub payload: String,
}

impl Store {
    /// Leases up to `limit` unsent entries to this relay (multi-instance safe: an entry is
    /// leased by one relay at a time).
    pub async fn lease_outbox(&self, lease_ms: i64, limit: i64) -> StoreResult<Vec<OutboxEntry>> {
        let now = now_ms();
        let due = doc! {"status": "PENDING", "leaseUntil": {"$lt": now}};
        let leased = self.lease_due(OUTBOX, due, now, lease_ms, limit).await?;
        Ok(leased
            .into_iter()
            .map(|d| OutboxEntry {
                id: d.get_str("_id").unwrap_or_default().to_string(),
                message_id: d
                    .get_str("messageId")
                    .or_else(|_| d.get_str("_id"))
                    .unwrap_or_default()
                    .to_string(),
                routing_key: d
                    .get_str("routingKey")
                    .unwrap_or("reward.granted")
                    .to_string(),
                payload: d.get_str("payload").unwrap_or_default().to_string(),
            })
            .collect())
    }

    pub async fn mark_outbox_sent(&self, ids: &[String]) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        self.db
            .collection::<Document>(OUTBOX)
            .update_many(
                doc! {"_id": {"$in": ids}},
                doc! {"$set": {"status": "SENT", "sentAtMs": now_ms()}},
            )
            .await?;
        Ok(())
    }

    /// After a failed publish, retry soon instead of waiting for the whole lease.
    pub async fn retry_outbox_after(&self, ids: &[String], delay_ms: i64) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        self.db
            .collection::<Document>(OUTBOX)
            .update_many(
                doc! {"_id": {"$in": ids}, "status": "PENDING"},
                doc! {"$set": {"leaseUntil": now_ms() + delay_ms}},
            )
            .await?;
        Ok(())
    }
}
