//! Revoked approvals: the one conditional write that turns APPROVED into REVOKED (dropping the
//! claim's key when a reclaim is allowed) and marks its follow-up steps pending, and those
//! steps, each safe to repeat.
use super::claims::{ClaimDoc, COLLECTION};
use super::outbox::OUTBOX;
use super::{is_duplicate_key, now_ms, Store, StoreError, StoreResult};
use crate::domain::claim::Claim;
use crate::domain::event::Reward;
use crate::domain::{ClaimId, EventId, UserId};
use futures_util::TryStreamExt;
use mongodb::bson::{doc, DateTime as BsonDateTime, Document};
use serde::Serialize;

/// Body of `reward.revoked` (docs/contracts.md).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RewardRevoked {
    pub claim_id: ClaimId,
    pub event_id: EventId,
    pub user_id: UserId,
    pub rewards: Vec<Reward>,
    pub reason: String,
    pub revoked_at: chrono::DateTime<chrono::Utc>,
}

fn outbox_id(claim: &ClaimId) -> String {
    format!("revoked:{claim}")
}

impl Store {
    /// Stores `revoked` over the claim if it is still APPROVED, with `revokePending` set until
    /// `finish_revocation`. False when it was no longer APPROVED (revoked meanwhile).
    pub async fn mark_revoked(&self, revoked: &Claim) -> StoreResult<bool> {
        let claims = self.db.collection::<Document>(COLLECTION);
        // The batch that approved it never changes once set; kept, so a `reward.granted`
        // still unconfirmed goes out before the `reward.revoked`.
        let decided_in = claims
            .find_one(doc! {"_id": revoked.id.as_str()})
            .projection(doc! {"decidedIn": 1})
            .await?
            .and_then(|d| d.get_str("decidedIn").ok().map(str::to_owned));
        // A whole-document replace (like every decision): the claim's key goes with it when a
        // reclaim is allowed, and dates stay dates.
        let replacement = ClaimDoc {
            decided_in,
            ..ClaimDoc::from(revoked)
        };
        let mut replacement =
            mongodb::bson::to_document(&replacement).map_err(|e| StoreError::Other(e.into()))?;
        // When the follow-up was started (epoch ms): the sweeper leaves young ones alone.
        replacement.insert("revokePending", now_ms());
        let r = claims
            .replace_one(
                doc! {"_id": revoked.id.as_str(), "status": "APPROVED"},
                replacement,
            )
            .await?;
        Ok(r.modified_count == 1)
    }

    /// The `reward.revoked` outbox entry of a revoked claim (once, whatever the retries); its
    /// message id is the claim id, the consumers' idempotency key.
    pub async fn record_revocation_outbox(&self, claim: &Claim) -> StoreResult<()> {
        let Some(rev) = &claim.revocation else {
            return Ok(());
        };
        let payload = serde_json::to_string(&RewardRevoked {
            claim_id: claim.id.clone(),
            event_id: claim.event_id.clone(),
            user_id: claim.user_id.clone(),
            rewards: claim.rewards.clone(),
            reason: rev.reason.clone(),
            revoked_at: rev.at,
        })
        .map_err(anyhow::Error::from)?;
        let entry = doc! {"_id": outbox_id(&claim.id), "messageId": claim.id.as_str(),
        "routingKey": "reward.revoked", "payload": payload, "status": "PENDING",
        "leaseUntil": 0_i64, "attempts": 0_i64, "createdAt": BsonDateTime::now()};
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

    pub async fn finish_revocation(&self, id: &ClaimId) -> StoreResult<()> {
        self.db
            .collection::<Document>(COLLECTION)
            .update_one(
                doc! {"_id": id.as_str()},
                doc! {"$unset": {"revokePending": ""}},
            )
            .await?;
        Ok(())
    }

    /// Revocations whose follow-up steps were interrupted more than `older_than_ms` ago.
    pub async fn interrupted_revocations(
        &self,
        older_than_ms: i64,
        limit: i64,
    ) -> StoreResult<Vec<Claim>> {
        let cutoff = now_ms() - older_than_ms;
        let docs: Vec<ClaimDoc> = self
            .db
            .collection::<ClaimDoc>(COLLECTION)
            .find(doc! {"revokePending": {"$lt": cutoff}})
            .limit(limit)
            .await?
            .try_collect()
            .await?;
        Ok(docs.into_iter().map(Claim::from).collect())
    }
}
