//! Grants and the transactional-outbox entries that publish `reward.granted`.
use super::{is_duplicate_key, now_ms, Store, StoreResult};
use crate::domain::claim::Claim;
use crate::domain::event::Reward;
use crate::domain::{ClaimId, EventId, UserId};
use mongodb::bson::{doc, DateTime as BsonDateTime, Document};
use mongodb::options::ReturnDocument;
use serde::{Deserialize, Serialize};

pub const GRANTS: &str = "grants";
pub const OUTBOX: &str = "outbox";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RewardGranted {
    pub claim_id: ClaimId,
    pub event_id: EventId,
    pub user_id: UserId,
    pub rewards: Vec<Reward>,
    pub granted_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone)]
pub struct OutboxEntry {
    pub id: String,
    pub routing_key: String,
    pub payload: String,
}

impl Store {
    /// Both documents are keyed by the claim id, so re-processing the same claim is a no-op.
    pub async fn record_grant(&self, claim: &Claim) -> StoreResult<()> {
        let granted_at = chrono::Utc::now();
        let grant = doc! {"_id": claim.id.as_str(), "eventId": claim.event_id.as_str(), "userId": claim.user_id.as_str(),
        "rewards": mongodb::bson::to_bson(&claim.rewards).map_err(anyhow::Error::from)?,
        "grantedAt": BsonDateTime::from_chrono(granted_at)};
        match self
            .db
            .collection::<Document>(GRANTS)
            .insert_one(grant)
            .await
        {
            Ok(_) => {}
            Err(e) if is_duplicate_key(&e) => {}
            Err(e) => return Err(e.into()),
        }
        let payload = serde_json::to_string(&RewardGranted {
            claim_id: claim.id.clone(),
            event_id: claim.event_id.clone(),
            user_id: claim.user_id.clone(),
            rewards: claim.rewards.clone(),
            granted_at,
        })
        .map_err(anyhow::Error::from)?;
        let entry = doc! {"_id": claim.id.as_str(), "routingKey": "reward.granted", "payload": payload,
        "status": "PENDING", "leaseUntil": 0_i64, "attempts": 0_i64,
        "createdAt": BsonDateTime::now()};
        match self
            .db
            .collection::<Document>(OUTBOX)
            .insert_one(entry)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_duplicate_key(&e) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Leases the next unsent entry (multi-instance safe: only one relay holds a lease).
    pub async fn lease_outbox(&self, lease_ms: i64) -> StoreResult<Option<OutboxEntry>> {
        let now = now_ms();
        let d = self
            .db
            .collection::<Document>(OUTBOX)
            .find_one_and_update(
                doc! {"status": "PENDING", "leaseUntil": {"$lt": now}},
                doc! {"$set": {"leaseUntil": now + lease_ms}, "$inc": {"attempts": 1_i64}},
            )
            .return_document(ReturnDocument::After)
            .await?;
        Ok(d.map(|d| OutboxEntry {
            id: d.get_str("_id").unwrap_or_default().to_string(),
            routing_key: d
                .get_str("routingKey")
                .unwrap_or("reward.granted")
                .to_string(),
            payload: d.get_str("payload").unwrap_or_default().to_string(),
        }))
    }

    pub async fn mark_outbox_sent(&self, id: &str) -> StoreResult<()> {
        self.db
            .collection::<Document>(OUTBOX)
            .update_one(
                doc! {"_id": id},
                doc! {"$set": {"status": "SENT", "sentAtMs": now_ms()}},
            )
            .await?;
        Ok(())
    }

    /// After a failed publish, retry soon instead of waiting for the whole lease.
    pub async fn retry_outbox_after(&self, id: &str, delay_ms: i64) -> StoreResult<()> {
        self.db
            .collection::<Document>(OUTBOX)
            .update_one(
                doc! {"_id": id, "status": "PENDING"},
                doc! {"$set": {"leaseUntil": now_ms() + delay_ms}},
            )
            .await?;
        Ok(())
    }

    pub async fn count_grants(&self, event_id: &EventId) -> StoreResult<u64> {
        Ok(self
            .db
            .collection::<Document>(GRANTS)
            .count_documents(doc! {"eventId": event_id.as_str()})
            .await?)
    }

    pub async fn outbox_status(&self, id: &ClaimId) -> StoreResult<Option<String>> {
        Ok(self
            .db
            .collection::<Document>(OUTBOX)
            .find_one(doc! {"_id": id.as_str()})
            .await?
            .and_then(|d| d.get_str("status").ok().map(str::to_owned)))
    }
}
