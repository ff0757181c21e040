//! Claims. Their unique `openKey` is the "one open claim per user, event and period" rule,
//! and since a claim only turns APPROVED from PENDING while it holds that key, it is also the
//! "at most one approval per user, event and period" rule.
use super::{
    duplicate_indices, is_duplicate_key, newest_first_window, now_ms, to_bson_dt, Store,
    StoreResult,
};
use crate::domain::claim::{claim_key, Claim, ClaimSource, ClaimStatus, RejectReason, Revocation};
use crate::domain::conditions::ConditionProgress;
use crate::domain::event::Reward;
use crate::domain::period::Period;
use crate::domain::{BatchId, ClaimId, EventId, UserId};
use futures_util::TryStreamExt;
use mongodb::bson::{doc, DateTime as BsonDateTime, Document};
use mongodb::options::InsertManyOptions;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub const COLLECTION: &str = "claims";
/// The startup step that gives PENDING claims of older versions their `pendingSince`.
pub const PENDING_SINCE: &str = "claims.pendingSince";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimDoc {
    #[serde(rename = "_id")]
    pub id: String,
    pub event_id: String,
    pub user_id: String,
    pub status: ClaimStatus,
    #[serde(default)]
    pub source: ClaimSource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<PeriodDoc>,
    #[serde(default)]
    pub reason: Option<RejectReason>,
    #[serde(default)]
    pub progress: Option<Vec<ConditionProgress>>,
    pub rewards: Vec<Reward>,
    pub requested_at: BsonDateTime,
    #[serde(default)]
    pub decided_at: Option<BsonDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation: Option<RevocationDoc>,
    /// Epoch ms until which one worker owns the evaluation (stops two workers racing on it).
    #[serde(default)]
    pub lease_until: i64,
    /// Epoch ms until which the sweeper will not republish this claim again.
    #[serde(default)]
    pub sweep_until: i64,
    /// `requestedAt` in epoch ms while PENDING, absent once decided: its sparse index holds the
    /// claims in flight only, which is all the sweeper looks for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_since: Option<i64>,
    /// `eventId:userId[:period]` while PENDING, APPROVED or REVOKED (unless the revoke allowed
    /// a new claim), absent once REJECTED: its unique (sparse) index is the "one open claim per
    /// user, event and period" rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_key: Option<String>,
    /// The batch that holds the evaluation lease; only it may store the decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_owner: Option<String>,
    /// The batch whose write stored the decision (or inserted a granted claim): an APPROVED
    /// claim's `reward.granted` is due while that batch's grant-outbox record exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_in: Option<String>,
}

/// A period as stored: dates, so range queries and indexes see instants, not strings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PeriodDoc {
    pub starts_at: BsonDateTime,
    pub ends_at: BsonDateTime,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RevocationDoc {
    pub at: BsonDateTime,
    pub by: String,
    pub reason: String,
    pub allow_reclaim: bool,
    pub keep_stock: bool,
}

/// Whether the claim still holds its key (and so blocks another claim of the user).
fn holds_key(c: &Claim) -> bool {
    match c.status {
        ClaimStatus::Pending | ClaimStatus::Approved => true,
        ClaimStatus::Rejected => false,
        ClaimStatus::Revoked => !c.revocation.as_ref().is_some_and(|r| r.allow_reclaim),
    }
}

impl From<&Claim> for ClaimDoc {
    fn from(c: &Claim) -> Self {
        ClaimDoc {
            id: c.id.to_string(),
            event_id: c.event_id.to_string(),
            user_id: c.user_id.to_string(),
            status: c.status,
            source: c.source,
            period: c.period.map(|p| PeriodDoc {
                starts_at: to_bson_dt(p.starts_at),
                ends_at: to_bson_dt(p.ends_at),
            }),
            reason: c.reason,
            progress: c.progress.clone(),
            rewards: c.rewards.clone(),
            requested_at: to_bson_dt(c.requested_at),
            decided_at: c.decided_at.map(to_bson_dt),
            revocation: c.revocation.as_ref().map(|r| RevocationDoc {
                at: to_bson_dt(r.at),
                by: r.by.to_string(),
                reason: r.reason.clone(),
                allow_reclaim: r.allow_reclaim,
                keep_stock: r.keep_stock,
            }),
            lease_until: 0,
            sweep_until: 0,
            pending_since: (c.status == ClaimStatus::Pending)
                .then(|| c.requested_at.timestamp_millis()),
            open_key: holds_key(c).then(|| c.key()),
            lease_owner: None,
            decided_in: None,
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
            source: d.source,
            period: d.period.map(|p| Period {
                starts_at: p.starts_at.to_chrono(),
                ends_at: p.ends_at.to_chrono(),
            }),
            reason: d.reason,
            progress: d.progress,
            rewards: d.rewards,
            requested_at: d.requested_at.to_chrono(),
            decided_at: d.decided_at.map(|t| t.to_chrono()),
            revocation: d.revocation.map(|r| Revocation {
                at: r.at.to_chrono(),
                by: UserId::stored(r.by),
                reason: r.reason,
                allow_reclaim: r.allow_reclaim,
                keep_stock: r.keep_stock,
            }),
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
    /// The user already has this claim holding the key (PENDING, APPROVED or REVOKED).
    Exists(Box<Claim>),
}

impl Store {
    pub(super) fn claims(&self) -> mongodb::Collection<ClaimDoc> {
        self.db.collection(COLLECTION)
    }

    /// Stores PENDING claims in one round trip (concurrent accepts share it). The unique
    /// `openKey` refuses a second open claim of a user for an event.
    pub async fn insert_claims(&self, claims: &[Claim]) -> StoreResult<Vec<Inserted>> {
        self.insert_docs(claims, None).await
    }

    /// Stores claims granted by staff (APPROVED already) as decided in `batch`, whose
    /// grant-outbox record names them; a user holding the key is `Exists`.
    pub async fn insert_granted(
        &self,
        claims: &[Claim],
        batch: &BatchId,
    ) -> StoreResult<Vec<Inserted>> {
        self.insert_docs(claims, Some(batch)).await
    }

    async fn insert_docs(
        &self,
        claims: &[Claim],
        batch: Option<&BatchId>,
    ) -> StoreResult<Vec<Inserted>> {
        self.ensure_indexes_once().await?;
        let mut out = vec![Inserted::Stored; claims.len()];
        if claims.is_empty() {
            return Ok(out);
        }
        let doc_of = |c: &Claim| ClaimDoc {
            decided_in: batch.map(BatchId::to_string),
            ..ClaimDoc::from(c)
        };
        let res = self
            .claims()
            .insert_many(claims.iter().map(doc_of))
            .with_options(InsertManyOptions::builder().ordered(false).build())
            .await
            .map(|_| ());
        for i in duplicate_indices(res)? {
            let c = &claims[i];
            // The holder may have been rejected since: then this claim may go in after all.
            out[i] = match self
                .open_claim_for(&c.event_id, &c.user_id, c.period.as_ref())
                .await?
            {
                Some(existing) => Inserted::Exists(Box::new(existing)),
                None => match self.claims().insert_one(doc_of(c)).await {
                    Ok(_) => Inserted::Stored,
                    Err(e) if is_duplicate_key(&e) => {
                        match self
                            .open_claim_for(&c.event_id, &c.user_id, c.period.as_ref())
                            .await?
                        {
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

    /// PENDING claims stored before `pendingSince` existed become due for the sweeper at once
    /// (a republish is harmless: a decided claim's message is only acked).
    pub async fn mark_legacy_pending(&self) -> StoreResult<()> {
        self.claims()
            .update_many(
                doc! {"status": "PENDING", "pendingSince": {"$exists": false}},
                doc! {"$set": {"pendingSince": 0_i64}},
            )
            .await?;
        Ok(())
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
        let cutoff = now - older_than_ms;
        let candidates: Vec<ClaimDoc> = self
            .claims()
            .find(doc! {"pendingSince": {"$lt": cutoff}, "sweepUntil": {"$lt": now}})
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
        let taken = self
            .claim_ids_where(
                COLLECTION,
                doc! {"_id": {"$in": &ids}, "sweepOwner": &owner},
            )
            .await?;
        Ok(taken.into_iter().collect())
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

    /// The claim that holds the user's key for the event (and period): PENDING, APPROVED, or
    /// REVOKED without a reclaim allowed.
    pub async fn open_claim_for(
        &self,
        event_id: &EventId,
        user_id: &UserId,
        period: Option<&Period>,
    ) -> StoreResult<Option<Claim>> {
        Ok(self
            .claims()
            .find_one(doc! {"openKey": claim_key(event_id, user_id, period)})
            .await?
            .map(Claim::from)
            .filter(|c| c.status != ClaimStatus::Rejected))
    }

    /// Which of `keys` a claim holds, and which claim: one `$in` over the unique `openKey`.
    pub async fn key_holders(&self, keys: &[String]) -> StoreResult<HashMap<String, ClaimId>> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let docs: Vec<Document> = self
            .db
            .collection::<Document>(COLLECTION)
            .find(doc! {"openKey": {"$in": keys}})
            .projection(doc! {"_id": 1, "openKey": 1})
            .await?
            .try_collect()
            .await?;
        Ok(docs
            .into_iter()
            .filter_map(|d| {
                let key = d.get_str("openKey").ok()?.to_string();
                Some((key, ClaimId::stored(d.get_str("_id").ok()?.to_string())))
            })
            .collect())
    }
}
