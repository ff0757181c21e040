//! The outbox of `reward.granted`: one record per batch of approvals (a worker's decision
//! batch, a grant job's slice), written before the batch's decisions and naming its claims.
//!
//! A claim's message is due when its stored decision names the batch (`decidedIn`): the
//! decision and its pending message are one document write, so an approval is never stored
//! without its message, and a record whose decisions did not land (a crash before the write,
//! another worker that decided first) publishes nothing. Once every message of a record is
//! confirmed the record is deleted: no claim document is written again to mark it sent, which
//! keeps an approval at two writes of its claim (the accept and the decision).
//!
//! The deciding instance hands its relay the messages of the decisions it saw land; a record
//! found in the store instead (its lease ran out) is sent only once settled, see
//! `granted_messages`.
use super::claims::{ClaimDoc, COLLECTION as CLAIMS};
use super::outbox::{OutboxEntry, OutboxLease};
use super::{now_ms, Store, StoreResult};
use crate::domain::claim::{Claim, ClaimStatus};
use crate::domain::event::Reward;
use crate::domain::{BatchId, ClaimId, EventId, UserId};
use futures_util::TryStreamExt;
use mongodb::bson::{doc, DateTime as BsonDateTime, Document};
use serde::{Deserialize, Serialize};

pub const COLLECTION: &str = "grant_outbox";

/// Body of `reward.granted` (docs/contracts.md).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RewardGranted {
    pub claim_id: ClaimId,
    pub event_id: EventId,
    pub user_id: UserId,
    pub rewards: Vec<Reward>,
    pub granted_at: chrono::DateTime<chrono::Utc>,
}

/// The message announcing an approved claim; built from the stored claim alone, so sending
/// it again (after a crash, by another instance) sends the same bytes.
pub fn reward_granted(c: &Claim) -> OutboxEntry {
    let body = RewardGranted {
        claim_id: c.id.clone(),
        event_id: c.event_id.clone(),
        user_id: c.user_id.clone(),
        rewards: c.rewards.clone(),
        granted_at: c.decided_at.unwrap_or(c.requested_at),
    };
    OutboxEntry {
        id: c.id.to_string(),
        message_id: c.id.to_string(),
        routing_key: "reward.granted".into(),
        payload: serde_json::to_string(&body).unwrap_or_default(),
    }
}

/// A record of the grant outbox: the batch and the claims it may announce.
#[derive(Debug, Clone)]
pub struct GrantBatch {
    pub id: BatchId,
    pub claims: Vec<ClaimId>,
}

impl Store {
    fn grant_outbox(&self) -> mongodb::Collection<Document> {
        self.db.collection(COLLECTION)
    }

    /// Records that `claims` may be approved by `batch`, leased to `lease`'s relay (which is
    /// handed the messages in memory once the decisions are stored). Written again (a grant
    /// slice retried after a crash): replaced, so it names every claim of the last attempt.
    pub async fn record_grant_batch(
        &self,
        batch: &BatchId,
        claims: &[ClaimId],
        lease: &OutboxLease,
    ) -> StoreResult<()> {
        let ids: Vec<&str> = claims.iter().map(ClaimId::as_str).collect();
        let record = doc! {"_id": batch.as_str(), "claims": ids, "leaseUntil": lease.until_ms,
        "leaseOwner": &lease.owner, "attempts": 0_i64, "createdAt": BsonDateTime::now()};
        self.grant_outbox()
            .replace_one(doc! {"_id": batch.as_str()}, record)
            .upsert(true)
            .await?;
        Ok(())
    }

    /// Leases up to `limit` records nobody holds (those of a crashed instance, of a publish
    /// that failed, of a full handoff) to this relay.
    pub async fn lease_grant_batches(
        &self,
        lease_ms: i64,
        limit: i64,
    ) -> StoreResult<Vec<GrantBatch>> {
        let now = now_ms();
        let due = doc! {"leaseUntil": {"$lt": now}};
        let leased = self
            .lease_due(COLLECTION, due, now, lease_ms, limit)
            .await?;
        Ok(leased
            .into_iter()
            .filter_map(|d| {
                let id = BatchId::stored(d.get_str("_id").ok()?.to_string());
                let claims = d
                    .get_array("claims")
                    .map(|a| {
                        a.iter()
                            .filter_map(|c| c.as_str().map(|s| ClaimId::stored(s.into())))
                            .collect()
                    })
                    .unwrap_or_default();
                Some(GrantBatch { id, claims })
            })
            .collect())
    }

    /// The `reward.granted` messages of a record once it is settled: its claims whose stored
    /// decision names it (still APPROVED, or REVOKED since: the revocation's message follows
    /// the grant's). `None` while one of its claims is PENDING or not stored yet: the batch's
    /// write may still be on its way (a decider that stalled past the record's lease), and
    /// a decision only ever lands on a PENDING claim, so once none is, the answer is final.
    pub async fn granted_messages(
        &self,
        batch: &GrantBatch,
    ) -> StoreResult<Option<Vec<OutboxEntry>>> {
        if batch.claims.is_empty() {
            return Ok(Some(Vec::new()));
        }
        let ids: Vec<&str> = batch.claims.iter().map(ClaimId::as_str).collect();
        let docs: Vec<ClaimDoc> = self
            .db
            .collection::<ClaimDoc>(CLAIMS)
            .find(doc! {"_id": {"$in": ids}})
            .await?
            .try_collect()
            .await?;
        let settled = docs.len() == batch.claims.len()
            && docs.iter().all(|d| d.status != ClaimStatus::Pending);
        if !settled {
            return Ok(None);
        }
        Ok(Some(
            docs.into_iter()
                .filter(|d| d.decided_in.as_deref() == Some(batch.id.as_str()))
                .map(|d| reward_granted(&Claim::from(d)))
                .collect(),
        ))
    }

    /// Every message of the record was confirmed.
    pub async fn finish_grant_batch(&self, batch: &BatchId) -> StoreResult<()> {
        self.grant_outbox()
            .delete_one(doc! {"_id": batch.as_str()})
            .await?;
        Ok(())
    }

    /// After a failed publish, retry soon instead of waiting for the whole lease.
    pub async fn retry_grant_batch_after(&self, batch: &BatchId, delay_ms: i64) -> StoreResult<()> {
        self.grant_outbox()
            .update_one(
                doc! {"_id": batch.as_str()},
                doc! {"$set": {"leaseUntil": now_ms() + delay_ms}},
            )
            .await?;
        Ok(())
    }

    /// Whether the claim's `reward.granted` is still waiting for the broker's confirm (its
    /// batch's record is still there).
    pub async fn grant_unconfirmed(&self, claim: &ClaimId) -> StoreResult<bool> {
        let decided_in = self
            .db
            .collection::<Document>(CLAIMS)
            .find_one(doc! {"_id": claim.as_str()})
            .projection(doc! {"decidedIn": 1})
            .await?
            .and_then(|d| d.get_str("decidedIn").ok().map(str::to_owned));
        let Some(batch) = decided_in else {
            return Ok(false);
        };
        Ok(self
            .grant_outbox()
            .find_one(doc! {"_id": batch})
            .await?
            .is_some())
    }
}
