//! The decision worker's reads and writes of claims: the batch read, the evaluation leases of
//! claims that take stock, and the one conditional write that stores a batch's decisions.
use super::claims::{ClaimDoc, COLLECTION};
use super::{now_ms, Store, StoreError, StoreResult};
use crate::domain::claim::Claim;
use crate::domain::{BatchId, ClaimId};
use futures_util::TryStreamExt;
use mongodb::bson::doc;
use std::collections::HashSet;

/// How a batch evaluated a claim, which decides who may store its decision.
#[derive(Debug, Clone, Copy)]
pub enum Evaluation<'a> {
    /// Under the lease of this owner: claims that take stock, whose units only one
    /// evaluation at a time may move.
    Leased(&'a str),
    /// Without a lease: claims whose decision is their only write.
    Unleased,
}

impl Store {
    /// The claims of `ids` still PENDING (decided and unknown ones are left out).
    pub async fn pending_claims(&self, ids: &[ClaimId]) -> StoreResult<Vec<Claim>> {
        let ids: Vec<&str> = ids.iter().map(|c| c.as_str()).collect();
        let docs: Vec<ClaimDoc> = self
            .claims()
            .find(doc! {"_id": {"$in": &ids}, "status": "PENDING"})
            .await?
            .try_collect()
            .await?;
        Ok(docs.into_iter().map(Claim::from).collect())
    }

    /// Takes the evaluation lease of every PENDING claim of `ids` no other batch holds;
    /// returns the claims leased. One write, plus one read only when some were not free.
    pub async fn lease_claims(
        &self,
        ids: &[ClaimId],
        lease_ms: i64,
        owner: &str,
    ) -> StoreResult<HashSet<ClaimId>> {
        if ids.is_empty() {
            return Ok(HashSet::new());
        }
        let now = now_ms();
        let strs: Vec<&str> = ids.iter().map(|c| c.as_str()).collect();
        let r = self
            .claims()
            .update_many(
                doc! {"_id": {"$in": &strs}, "status": "PENDING", "leaseUntil": {"$lt": now}},
                doc! {"$set": {"leaseUntil": now + lease_ms, "leaseOwner": owner}},
            )
            .await?;
        if r.modified_count as usize == ids.len() {
            return Ok(ids.iter().cloned().collect());
        }
        self.still_leased(ids, owner).await
    }

    /// Which of `ids` are still PENDING and leased by `owner`.
    pub async fn still_leased(
        &self,
        ids: &[ClaimId],
        owner: &str,
    ) -> StoreResult<HashSet<ClaimId>> {
        let ids: Vec<&str> = ids.iter().map(|c| c.as_str()).collect();
        self.claim_ids_where(
            COLLECTION,
            doc! {"_id": {"$in": ids}, "status": "PENDING", "leaseOwner": owner},
        )
        .await
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

    /// Stores the decisions of one batch in one round trip and returns the claims whose
    /// decision landed. A claim evaluated under a lease is replaced only while this batch
    /// holds it; one evaluated without a lease only while nobody holds a live lease on it;
    /// either only while PENDING, so a duplicate delivery or a batch whose lease ran out
    /// changes nothing. The decision names the batch (`decidedIn`): an approval's
    /// `reward.granted` is due from that moment (`grant_outbox`).
    pub async fn store_decisions(
        &self,
        batch: &BatchId,
        decided: &[(Claim, Evaluation<'_>)],
    ) -> StoreResult<HashSet<ClaimId>> {
        let now = now_ms();
        let mut statements = Vec::with_capacity(decided.len());
        for (c, how) in decided {
            let replacement = ClaimDoc {
                decided_in: Some(batch.to_string()),
                ..ClaimDoc::from(c)
            };
            let replacement = mongodb::bson::to_document(&replacement)
                .map_err(|e| StoreError::Other(e.into()))?;
            let filter = match how {
                Evaluation::Leased(owner) => {
                    doc! {"_id": c.id.as_str(), "status": "PENDING", "leaseOwner": *owner}
                }
                Evaluation::Unleased => {
                    doc! {"_id": c.id.as_str(), "status": "PENDING", "leaseUntil": {"$lt": now}}
                }
            };
            statements.push((filter, replacement));
        }
        let stored = self.update_each(COLLECTION, statements).await?;
        if stored as usize == decided.len() {
            return Ok(decided.iter().map(|(c, _)| c.id.clone()).collect());
        }
        let ids: Vec<&str> = decided.iter().map(|(c, _)| c.id.as_str()).collect();
        self.claim_ids_where(
            COLLECTION,
            doc! {"_id": {"$in": ids}, "decidedIn": batch.as_str()},
        )
        .await
    }
}
