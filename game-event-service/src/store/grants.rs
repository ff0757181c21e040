//! Grants and the transactional-outbox entries that publish `reward.granted`.
use super::{duplicate_indices, now_ms, Store, StoreResult};
use crate::domain::claim::Claim;
use crate::domain::event::Reward;
use crate::domain::{ClaimId, EventId, UserId};
use futures_util::TryStreamExt;
use mongodb::bson::{doc, DateTime as BsonDateTime, Document};
use mongodb::options::InsertManyOptions;
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

/// Entries written leased to one relay until `until_ms`: no other relay takes them before.
#[derive(Debug, Clone)]
pub struct OutboxLease {
    pub owner: String,
    pub until_ms: i64,
}

#[derive(Debug, Clone)]
pub struct OutboxEntry {
    pub id: String,
    /// The consumers' idempotency key: the claim id (`_id` for `reward.granted`).
    pub message_id: String,
    pub routing_key: String,
    pub payload: String,
}

impl Store {
    /// Grants and outbox entries of `claims`, one round trip each. Both are keyed by the claim
    /// id, so recording the same claim again is a no-op.
    pub async fn record_grants(&self, claims: &[&Claim]) -> StoreResult<()> {
        self.record_grants_leased(claims, None).await.map(|_| ())
    }

    /// As `record_grants`, with the outbox entries written already leased to `lease`'s relay
    /// when given; returns the entries this call wrote (not those a previous attempt did), so
    /// the caller can hand them to that relay without the relay reading them back.
    pub async fn record_grants_leased(
        &self,
        claims: &[&Claim],
        lease: Option<&OutboxLease>,
    ) -> StoreResult<Vec<OutboxEntry>> {
        if claims.is_empty() {
            return Ok(Vec::new());
        }
        let (owner, until) = match lease {
            Some(l) => (l.owner.as_str(), l.until_ms),
            None => ("", 0),
        };
        let mut written = Vec::with_capacity(claims.len());
        let granted_at = chrono::Utc::now();
        let mut grants = Vec::with_capacity(claims.len());
        let mut entries = Vec::with_capacity(claims.len());
        for claim in claims {
            grants.push(
                doc! {"_id": claim.id.as_str(), "eventId": claim.event_id.as_str(),
                "userId": claim.user_id.as_str(),
                "rewards": mongodb::bson::to_bson(&claim.rewards).map_err(anyhow::Error::from)?,
                "grantedAt": BsonDateTime::from_chrono(granted_at)},
            );
            let payload = serde_json::to_string(&RewardGranted {
                claim_id: claim.id.clone(),
                event_id: claim.event_id.clone(),
                user_id: claim.user_id.clone(),
                rewards: claim.rewards.clone(),
                granted_at,
            })
            .map_err(anyhow::Error::from)?;
            entries.push(
                doc! {"_id": claim.id.as_str(), "routingKey": "reward.granted",
                "payload": &payload, "status": "PENDING", "leaseUntil": until,
                "leaseOwner": owner, "attempts": i64::from(lease.is_some()),
                "createdAt": BsonDateTime::now()},
            );
            written.push(OutboxEntry {
                id: claim.id.to_string(),
                message_id: claim.id.to_string(),
                routing_key: "reward.granted".into(),
                payload,
            });
        }
        let unordered = || InsertManyOptions::builder().ordered(false).build();
        let res = self
            .db
            .collection::<Document>(GRANTS)
            .insert_many(grants)
            .with_options(unordered())
            .await
            .map(|_| ());
        duplicate_indices(res)?;
        let res = self
            .db
            .collection::<Document>(OUTBOX)
            .insert_many(entries)
            .with_options(unordered())
            .await
            .map(|_| ());
        // An entry that existed already belongs to whoever wrote it first.
        let existed: std::collections::HashSet<usize> =
            duplicate_indices(res)?.into_iter().collect();
        Ok(written
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !existed.contains(i))
            .map(|(_, e)| e)
            .collect())
    }

    /// Leases up to `limit` unsent entries to this relay (multi-instance safe: an entry is
    /// leased by one relay at a time).
    pub async fn lease_outbox(&self, lease_ms: i64, limit: i64) -> StoreResult<Vec<OutboxEntry>> {
        let now = now_ms();
        let outbox = self.db.collection::<Document>(OUTBOX);
        let due: Vec<Document> = outbox
            .find(doc! {"status": "PENDING", "leaseUntil": {"$lt": now}})
            .projection(doc! {"_id": 1})
            .limit(limit)
            .await?
            .try_collect()
            .await?;
        if due.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = due.iter().filter_map(|d| d.get_str("_id").ok()).collect();
        let owner = crate::domain::new_id();
        outbox
            .update_many(
                doc! {"_id": {"$in": &ids}, "status": "PENDING", "leaseUntil": {"$lt": now}},
                doc! {"$set": {"leaseUntil": now + lease_ms, "leaseOwner": &owner},
                "$inc": {"attempts": 1_i64}},
            )
            .await?;
        let leased: Vec<Document> = outbox
            .find(doc! {"_id": {"$in": &ids}, "leaseOwner": &owner})
            .await?
            .try_collect()
            .await?;
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
