//! Claims (whose unique `openKey` is the "one open claim per user and event" rule) and the
//! "one approval ever" records.
use super::{
    duplicate_indices, is_duplicate_key, newest_first_window, now_ms, to_bson_dt, Store,
    StoreResult,
};
use crate::domain::claim::{user_event_key, Claim, ClaimStatus, RejectReason};
use crate::domain::conditions::ConditionProgress;
use crate::domain::event::Reward;
use crate::domain::{ClaimId, EventId, UserId};
use futures_util::TryStreamExt;
use mongodb::bson::{doc, DateTime as BsonDateTime, Document};
use mongodb::options::InsertManyOptions;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub const COLLECTION: &str = "claims";
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
    /// `eventId:userId` while PENDING or APPROVED, absent once REJECTED: its unique (sparse)
    /// index is the "one open claim per user and event" rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_key: Option<String>,
    /// The batch that holds the evaluation lease; only it may store the decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_owner: Option<String>,
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
            open_key: (c.status != ClaimStatus::Rejected)
                .then(|| user_event_key(&c.event_id, &c.user_id)),
            lease_owner: None,
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

#[derive(Debug, Default, Clone)]
pub struct ClaimFilter {
    pub event_id: Option<EventId>,
    pub user_id: Option<UserId>,
    pub status: Option<ClaimStatus>,
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    pub to: Option<chrono::DateTime<chrono::Utc>>,
}

/// What became of one claim of an `insert_claims` group.
#[derive(Debug, Clone)]
pub enum Inserted {
    Stored,
    /// The user already has this PENDING or APPROVED claim for the event.
    Exists(Box<Claim>),
}

impl Store {
    fn claims(&self) -> mongodb::Collection<ClaimDoc> {
        self.db.collection(COLLECTION)
    }
    fn approvals(&self) -> mongodb::Collection<Document> {
        self.db.collection(APPROVALS)
    }

    /// Stores PENDING claims in one round trip (concurrent accepts share it). The unique
    /// `openKey` refuses a second open claim of a user for an event.
    pub async fn insert_claims(&self, claims: &[Claim]) -> StoreResult<Vec<Inserted>> {
        self.ensure_indexes_once().await?;
        let mut out = vec![Inserted::Stored; claims.len()];
        if claims.is_empty() {
            return Ok(out);
        }
        let res = self
            .claims()
            .insert_many(claims.iter().map(ClaimDoc::from))
            .with_options(InsertManyOptions::builder().ordered(false).build())
            .await
            .map(|_| ());
        for i in duplicate_indices(res)? {
            let c = &claims[i];
            // The holder may have been rejected since: then this claim may go in after all.
            out[i] = match self.open_claim_for(&c.event_id, &c.user_id).await? {
                Some(existing) => Inserted::Exists(Box::new(existing)),
                None => match self.claims().insert_one(ClaimDoc::from(c)).await {
                    Ok(_) => Inserted::Stored,
                    Err(e) if is_duplicate_key(&e) => {
                        match self.open_claim_for(&c.event_id, &c.user_id).await? {
                            Some(existing) => Inserted::Exists(Box::new(existing)),
                            None => return Err(e.into()),
                        }
                    }
                    Err(e) => return Err(e.into()),
                },
            };
        }
        Ok(out)
    }

    pub async fn insert_claim(&self, c: &Claim) -> StoreResult<Inserted> {
        let mut r = self.insert_claims(std::slice::from_ref(c)).await?;
        Ok(r.remove(0))
    }

    pub async fn get_claim(&self, id: &ClaimId) -> StoreResult<Option<Claim>> {
        Ok(self
            .claims()
            .find_one(doc! {"_id": id.as_str()})
            .await?
            .map(Claim::from))
    }

    /// Takes the evaluation lease of every PENDING claim of `ids` no other batch holds, and
    /// returns those claims (decided, unknown or busy ones are left out).
    pub async fn lease_claims(
        &self,
        ids: &[ClaimId],
        lease_ms: i64,
        owner: &str,
    ) -> StoreResult<Vec<Claim>> {
        let now = now_ms();
        let ids: Vec<&str> = ids.iter().map(|c| c.as_str()).collect();
        self.claims()
            .update_many(
                doc! {"_id": {"$in": &ids}, "status": "PENDING", "leaseUntil": {"$lt": now}},
                doc! {"$set": {"leaseUntil": now + lease_ms, "leaseOwner": owner}},
            )
            .await?;
        let docs: Vec<ClaimDoc> = self
            .claims()
            .find(doc! {"_id": {"$in": &ids}, "status": "PENDING", "leaseOwner": owner})
            .await?
            .try_collect()
            .await?;
        Ok(docs.into_iter().map(Claim::from).collect())
    }

    /// Which of `ids` are still PENDING and leased by `owner`.
    pub async fn still_leased(
        &self,
        ids: &[ClaimId],
        owner: &str,
    ) -> StoreResult<std::collections::HashSet<ClaimId>> {
        let ids: Vec<&str> = ids.iter().map(|c| c.as_str()).collect();
        let docs: Vec<Document> = self
            .db
            .collection::<Document>(COLLECTION)
            .find(doc! {"_id": {"$in": ids}, "status": "PENDING", "leaseOwner": owner})
            .projection(doc! {"_id": 1})
            .await?
            .try_collect()
            .await?;
        Ok(docs
            .into_iter()
            .filter_map(|d| d.get_str("_id").ok().map(|s| ClaimId::stored(s.into())))
            .collect())
    }

    /// Hands the leases back at once (after a failure) instead of letting them expire.
    pub async fn release_leases(&self, ids: &[ClaimId], owner: &str) -> StoreResult<()> {
        let ids: Vec<&str> = ids.iter().map(|c| c.as_str()).collect();
        self.claims()
            .update_many(
                doc! {"_id": {"$in": ids}, "status": "PENDING", "leaseOwner": owner},
                doc! {"$set": {"leaseUntil": 0_i64}},
            )
            .await?;
        Ok(())
    }

    /// Stores decisions in one round trip. Only a PENDING claim still leased by `owner` is
    /// replaced, so a replay or a batch whose lease ran out changes nothing.
    pub async fn store_decisions(&self, decided: &[Claim], owner: &str) -> StoreResult<u64> {
        let mut statements = Vec::with_capacity(decided.len());
        for c in decided {
            let doc = mongodb::bson::to_document(&ClaimDoc::from(c))
                .map_err(|e| super::StoreError::Other(e.into()))?;
            statements.push((
                doc! {"_id": c.id.as_str(), "status": "PENDING", "leaseOwner": owner},
                doc,
            ));
        }
        self.update_each(COLLECTION, statements).await
    }

    /// PENDING claims older than `older_than_ms`, each leased to this sweeper for `lease_ms`
    /// (another instance's sweeper skips them meanwhile).
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
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = candidates.into_iter().map(|c| c.id).collect();
        let owner = crate::domain::new_id();
        self.claims()
            .update_many(
                doc! {"_id": {"$in": &ids}, "status": "PENDING", "sweepUntil": {"$lt": now}},
                doc! {"$set": {"sweepUntil": now + lease_ms, "sweepOwner": &owner}},
            )
            .await?;
        let taken: Vec<Document> = self
            .db
            .collection::<Document>(COLLECTION)
            .find(doc! {"_id": {"$in": &ids}, "sweepOwner": &owner})
            .projection(doc! {"_id": 1})
            .await?
            .try_collect()
            .await?;
        Ok(taken
            .into_iter()
            .filter_map(|d| d.get_str("_id").ok().map(|s| ClaimId::stored(s.into())))
            .collect())
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
        newest_first_window(&mut q, "requestedAt", f.from, f.to, after_id);
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

    /// The user's PENDING or APPROVED claim for the event, if any.
    pub async fn open_claim_for(
        &self,
        event_id: &EventId,
        user_id: &UserId,
    ) -> StoreResult<Option<Claim>> {
        Ok(self
            .claims()
            .find_one(doc! {"openKey": user_event_key(event_id, user_id)})
            .await?
            .map(Claim::from)
            .filter(|c| c.status != ClaimStatus::Rejected))
    }

    /// The claim holding the approval of each (event, user) of `claims` that has one.
    pub async fn approval_holders(
        &self,
        claims: &[&Claim],
    ) -> StoreResult<HashMap<String, ClaimId>> {
        let keys: Vec<String> = claims
            .iter()
            .map(|c| user_event_key(&c.event_id, &c.user_id))
            .collect();
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let docs: Vec<Document> = self
            .approvals()
            .find(doc! {"_id": {"$in": keys}})
            .await?
            .try_collect()
            .await?;
        Ok(docs
            .into_iter()
            .filter_map(|d| {
                let key = d.get_str("_id").ok()?.to_string();
                let holder = d.get_str("claimId").ok()?.to_string();
                Some((key, ClaimId::stored(holder)))
            })
            .collect())
    }

    /// Inserts the approvals of `claims` in one round trip; returns, per claim id, the claim
    /// that holds its (event, user) approval afterwards: itself, or an earlier one.
    pub async fn insert_approvals(
        &self,
        claims: &[&Claim],
    ) -> StoreResult<HashMap<ClaimId, ClaimId>> {
        let mut out: HashMap<ClaimId, ClaimId> = claims
            .iter()
            .map(|c| (c.id.clone(), c.id.clone()))
            .collect();
        if claims.is_empty() {
            return Ok(out);
        }
        let now = BsonDateTime::now();
        let docs: Vec<Document> = claims
            .iter()
            .map(|c| {
                doc! {"_id": user_event_key(&c.event_id, &c.user_id), "claimId": c.id.as_str(),
                "eventId": c.event_id.as_str(), "userId": c.user_id.as_str(), "approvedAt": now}
            })
            .collect();
        let res = self
            .approvals()
            .insert_many(docs)
            .with_options(InsertManyOptions::builder().ordered(false).build())
            .await
            .map(|_| ());
        let refused: Vec<&Claim> = duplicate_indices(res)?
            .into_iter()
            .map(|i| claims[i])
            .collect();
        let holders = self.approval_holders(&refused).await?;
        for c in refused {
            let key = user_event_key(&c.event_id, &c.user_id);
            if let Some(h) = holders.get(&key) {
                out.insert(c.id.clone(), h.clone());
            }
        }
        Ok(out)
    }

    /// Inserts one approval; returns the claim id that holds it (ours, or an earlier one).
    pub async fn insert_approval(&self, claim: &Claim) -> StoreResult<ClaimId> {
        let holders = self.insert_approvals(&[claim]).await?;
        Ok(holders
            .get(&claim.id)
            .cloned()
            .unwrap_or_else(|| claim.id.clone()))
    }

    pub async fn count_approvals(&self, event_id: &EventId) -> StoreResult<u64> {
        Ok(self
            .approvals()
            .count_documents(doc! {"eventId": event_id.as_str()})
            .await?)
    }
}
