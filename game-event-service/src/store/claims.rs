//! Claims, the "one open claim per user and event" locks and the "one approval ever" records.
use super::{is_duplicate_key, now_ms, to_bson_dt, Store, StoreResult};
use crate::domain::claim::{user_event_key, Claim, ClaimStatus, RejectReason};
use crate::domain::conditions::ConditionProgress;
use crate::domain::event::Reward;
use crate::domain::{ClaimId, EventId, UserId};
use futures_util::TryStreamExt;
use mongodb::bson::{doc, DateTime as BsonDateTime, Document};
use mongodb::options::ReturnDocument;
use serde::{Deserialize, Serialize};

pub const COLLECTION: &str = "claims";
pub const LOCKS: &str = "claim_locks";
pub const APPROVALS: &str = "approvals";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimDoc {
    #[serde(rename = "_id")]
    pub id: String,
    pub event_id: String,
    pub user_id: String,
    pub status: ClaimStatus,
    #[serde(default)]
    pub reason: Option<RejectReason>,
    #[serde(default)]
    pub progress: Option<Vec<ConditionProgress>>,
    pub rewards: Vec<Reward>,
    pub requested_at: BsonDateTime,
    #[serde(default)]
    pub decided_at: Option<BsonDateTime>,
    /// Epoch ms until which one worker owns the evaluation (stops two workers racing on it).
    #[serde(default)]
    pub lease_until: i64,
    /// Epoch ms until which the sweeper will not republish this claim again.
    #[serde(default)]
    pub sweep_until: i64,
}

impl From<&Claim> for ClaimDoc {
    fn from(c: &Claim) -> Self {
        ClaimDoc {
            id: c.id.to_string(),
            event_id: c.event_id.to_string(),
            user_id: c.user_id.to_string(),
            status: c.status,
            reason: c.reason,
            progress: c.progress.clone(),
            rewards: c.rewards.clone(),
            requested_at: to_bson_dt(c.requested_at),
            decided_at: c.decided_at.map(to_bson_dt),
            lease_until: 0,
            sweep_until: 0,
        }
    }
}

impl From<ClaimDoc> for Claim {
    fn from(d: ClaimDoc) -> Self {
        Claim {
            id: ClaimId::stored(d.id),
            event_id: EventId::stored(d.event_id),
            user_id: UserId::stored(d.user_id),
            status: d.status,
            reason: d.reason,
            progress: d.progress,
            rewards: d.rewards,
            requested_at: d.requested_at.to_chrono(),
            decided_at: d.decided_at.map(|t| t.to_chrono()),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LockDoc {
    #[serde(rename = "_id")]
    id: String,
    claim_id: String,
    created_at: BsonDateTime,
}

#[derive(Debug, Default, Clone)]
pub struct ClaimFilter {
    pub event_id: Option<EventId>,
    pub user_id: Option<UserId>,
    pub status: Option<ClaimStatus>,
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    pub to: Option<chrono::DateTime<chrono::Utc>>,
}

/// A lock whose claim never got written is stale after this long (crash between the two inserts).
const ORPHAN_LOCK_GRACE_MS: i64 = 10_000;

pub enum LockOutcome {
    Acquired,
    /// The user already has this PENDING or APPROVED claim for the event.
    Held(Claim),
    /// Another request of the same user for the same event is between its two inserts.
    Busy,
}

impl Store {
    fn claims(&self) -> mongodb::Collection<ClaimDoc> {
        self.db.collection(COLLECTION)
    }
    fn locks(&self) -> mongodb::Collection<LockDoc> {
        self.db.collection(LOCKS)
    }
    fn approvals(&self) -> mongodb::Collection<Document> {
        self.db.collection(APPROVALS)
    }

    /// Inserts the open-claim lock. A lock left behind by a rejected claim, or by a request that
    /// crashed before writing its claim, is removed and the insert retried, so nobody is wedged.
    pub async fn acquire_claim_lock(
        &self,
        event_id: &EventId,
        user_id: &UserId,
        claim_id: &ClaimId,
    ) -> StoreResult<LockOutcome> {
        let key = user_event_key(event_id, user_id);
        for _ in 0..5 {
            let lock = LockDoc {
                id: key.clone(),
                claim_id: claim_id.to_string(),
                created_at: BsonDateTime::now(),
            };
            match self.locks().insert_one(lock).await {
                Ok(_) => return Ok(LockOutcome::Acquired),
                Err(e) if is_duplicate_key(&e) => {}
                Err(e) => return Err(e.into()),
            }
            let Some(existing) = self.locks().find_one(doc! {"_id": &key}).await? else {
                continue;
            };
            let holder = ClaimId::stored(existing.claim_id);
            match self.get_claim(&holder).await? {
                Some(c) if c.status != ClaimStatus::Rejected => return Ok(LockOutcome::Held(c)),
                Some(_) => {}
                None => {
                    let age = now_ms() - existing.created_at.timestamp_millis();
                    if age < ORPHAN_LOCK_GRACE_MS {
                        // Probably a concurrent request between its lock and claim inserts.
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        if let Some(c) = self.get_claim(&holder).await? {
                            if c.status != ClaimStatus::Rejected {
                                return Ok(LockOutcome::Held(c));
                            }
                        } else {
                            return Ok(LockOutcome::Busy);
                        }
                    }
                }
            }
            self.release_claim_lock(event_id, user_id, &holder).await?;
        }
        Err(super::StoreError::Other(anyhow::anyhow!(
            "could not acquire the claim lock"
        )))
    }

    /// Deletes the lock only if it still belongs to `claim_id` (safe to repeat).
    pub async fn release_claim_lock(
        &self,
        event_id: &EventId,
        user_id: &UserId,
        claim_id: &ClaimId,
    ) -> StoreResult<()> {
        self.locks()
            .delete_one(
                doc! {"_id": user_event_key(event_id, user_id), "claimId": claim_id.as_str()},
            )
            .await?;
        Ok(())
    }

    pub async fn insert_claim(&self, c: &Claim) -> StoreResult<()> {
        self.claims().insert_one(ClaimDoc::from(c)).await?;
        Ok(())
    }

    pub async fn get_claim(&self, id: &ClaimId) -> StoreResult<Option<Claim>> {
        Ok(self
            .claims()
            .find_one(doc! {"_id": id.as_str()})
            .await?
            .map(Claim::from))
    }

    /// Stores a decision; only a PENDING claim can be decided, so a replay changes nothing.
    pub async fn store_decision(&self, decided: &Claim) -> StoreResult<bool> {
        let res = self
            .claims()
            .replace_one(
                doc! {"_id": decided.id.as_str(), "status": "PENDING"},
                ClaimDoc::from(decided),
            )
            .await?;
        Ok(res.matched_count == 1)
    }

    /// Takes the evaluation lease of a PENDING claim; None if decided or owned by another worker.
    pub async fn lease_claim(&self, id: &ClaimId, lease_ms: i64) -> StoreResult<Option<Claim>> {
        let now = now_ms();
        Ok(self
            .claims()
            .find_one_and_update(
                doc! {"_id": id.as_str(), "status": "PENDING", "leaseUntil": {"$lt": now}},
                doc! {"$set": {"leaseUntil": now + lease_ms}},
            )
            .return_document(ReturnDocument::After)
            .await?
            .map(Claim::from))
    }

    pub async fn release_claim_lease(&self, id: &ClaimId) -> StoreResult<()> {
        self.claims()
            .update_one(
                doc! {"_id": id.as_str(), "status": "PENDING"},
                doc! {"$set": {"leaseUntil": 0_i64}},
            )
            .await?;
        Ok(())
    }

    /// PENDING claims older than `older_than_ms`, each leased to this sweeper for `lease_ms`.
    pub async fn sweep_stale_pending(
        &self,
        older_than_ms: i64,
        lease_ms: i64,
        limit: i64,
    ) -> StoreResult<Vec<ClaimId>> {
        let now = now_ms();
        let cutoff = BsonDateTime::from_millis(now - older_than_ms);
        let candidates: Vec<ClaimDoc> = self
            .claims()
            .find(doc! {"status": "PENDING", "requestedAt": {"$lt": cutoff}, "sweepUntil": {"$lt": now}})
            .limit(limit)
            .await?
            .try_collect()
            .await?;
        let mut ids = Vec::new();
        for c in candidates {
            let taken = self
                .claims()
                .find_one_and_update(
                    doc! {"_id": &c.id, "status": "PENDING", "sweepUntil": {"$lt": now}},
                    doc! {"$set": {"sweepUntil": now + lease_ms}},
                )
                .await?;
            if taken.is_some() {
                ids.push(ClaimId::stored(c.id));
            }
        }
        Ok(ids)
    }

    pub async fn list_claims(
        &self,
        f: &ClaimFilter,
        after_id: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<Claim>> {
        let mut q = Document::new();
        if let Some(e) = &f.event_id {
            q.insert("eventId", e.as_str());
        }
        if let Some(u) = &f.user_id {
            q.insert("userId", u.as_str());
        }
        if let Some(s) = f.status {
            q.insert("status", s.as_str());
        }
        let mut range = Document::new();
        if let Some(t) = f.from {
            range.insert("$gte", to_bson_dt(t));
        }
        if let Some(t) = f.to {
            range.insert("$lt", to_bson_dt(t));
        }
        if !range.is_empty() {
            q.insert("requestedAt", range);
        }
        if let Some(a) = after_id {
            q.insert("_id", doc! {"$lt": a});
        }
        let docs: Vec<ClaimDoc> = self
            .claims()
            .find(q)
            .sort(doc! {"_id": -1})
            .limit(limit)
            .await?
            .try_collect()
            .await?;
        Ok(docs.into_iter().map(Claim::from).collect())
    }

    /// The claim currently holding the open-claim lock, if it is PENDING or APPROVED.
    pub async fn open_claim_for(
        &self,
        event_id: &EventId,
        user_id: &UserId,
    ) -> StoreResult<Option<Claim>> {
        let Some(lock) = self
            .locks()
            .find_one(doc! {"_id": user_event_key(event_id, user_id)})
            .await?
        else {
            return Ok(None);
        };
        Ok(self
            .get_claim(&ClaimId::stored(lock.claim_id))
            .await?
            .filter(|c| c.status != ClaimStatus::Rejected))
    }

    /// The claim id holding the approval for (event, user), if any.
    pub async fn approval_holder(
        &self,
        event_id: &EventId,
        user_id: &UserId,
    ) -> StoreResult<Option<ClaimId>> {
        Ok(self
            .approvals()
            .find_one(doc! {"_id": user_event_key(event_id, user_id)})
            .await?
            .and_then(|d| {
                d.get_str("claimId")
                    .ok()
                    .map(|s| ClaimId::stored(s.to_owned()))
            }))
    }

    /// Inserts the approval; returns the claim id that holds it (ours, or an earlier one).
    pub async fn insert_approval(&self, claim: &Claim) -> StoreResult<ClaimId> {
        let key = user_event_key(&claim.event_id, &claim.user_id);
        let d = doc! {"_id": &key, "claimId": claim.id.as_str(), "eventId": claim.event_id.as_str(),
        "userId": claim.user_id.as_str(), "approvedAt": BsonDateTime::now()};
        match self.approvals().insert_one(d).await {
            Ok(_) => Ok(claim.id.clone()),
            Err(e) if is_duplicate_key(&e) => Ok(self
                .approval_holder(&claim.event_id, &claim.user_id)
                .await?
                .unwrap_or_else(|| ClaimId::stored(String::new()))),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn count_approvals(&self, event_id: &EventId) -> StoreResult<u64> {
        Ok(self
            .approvals()
            .count_documents(doc! {"eventId": event_id.as_str()})
            .await?)
    }
}
