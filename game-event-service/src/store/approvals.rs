//! The "one approval per user, event and period" records: their unique `_id` is the claim's
//! key, so of two claims racing for one approval exactly one insert wins.
use super::claims::APPROVALS;
use super::{duplicate_indices, Store, StoreResult};
use crate::domain::claim::Claim;
use crate::domain::{ClaimId, EventId};
use futures_util::TryStreamExt;
use mongodb::bson::{doc, DateTime as BsonDateTime, Document};
use mongodb::options::InsertManyOptions;
use std::collections::HashMap;

impl Store {
    fn approvals(&self) -> mongodb::Collection<Document> {
        self.db.collection(APPROVALS)
    }

    /// The claim holding the approval of each (event, user) of `claims` that has one.
    pub async fn approval_holders(
        &self,
        claims: &[&Claim],
    ) -> StoreResult<HashMap<String, ClaimId>> {
        let keys: Vec<String> = claims.iter().map(|c| c.key()).collect();
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
                doc! {"_id": c.key(), "claimId": c.id.as_str(),
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
            if let Some(h) = holders.get(&c.key()) {
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
