//! What the live decision streams read: a user's decisions after a stream position (replay on
//! reconnect, over the `{userId, decidedAt}` index), and the claims a fanout notification names.
use super::claims::{ClaimDoc, COLLECTION};
use super::{Store, StoreResult};
use crate::domain::claim::Claim;
use crate::domain::decision_cursor::DecisionCursor;
use crate::domain::{ClaimId, UserId};
use futures_util::TryStreamExt;
use mongodb::bson::{doc, DateTime as BsonDateTime};

impl Store {
    fn claim_docs(&self) -> mongodb::Collection<ClaimDoc> {
        self.db.collection(COLLECTION)
    }

    /// The user's decisions strictly after `after`, oldest first, at most `limit`.
    pub async fn decided_after(
        &self,
        user: &UserId,
        after: &DecisionCursor,
        limit: i64,
    ) -> StoreResult<Vec<Claim>> {
        let at = BsonDateTime::from_millis(after.at_ms);
        let docs: Vec<ClaimDoc> = self
            .claim_docs()
            .find(doc! {
                "userId": user.as_str(),
                "$or": [
                    {"decidedAt": {"$gt": at}},
                    {"decidedAt": at, "_id": {"$gt": after.claim_id.as_str()}},
                ],
            })
            .sort(doc! {"decidedAt": 1, "_id": 1})
            .limit(limit)
            .await?
            .try_collect()
            .await?;
        Ok(docs.into_iter().map(Claim::from).collect())
    }

    /// The claims of `ids` as stored now (one round trip).
    pub async fn claims_by_ids(&self, ids: &[ClaimId]) -> StoreResult<Vec<Claim>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = ids.iter().map(|c| c.as_str()).collect();
        let docs: Vec<ClaimDoc> = self
            .claim_docs()
            .find(doc! {"_id": {"$in": ids}})
            .await?
            .try_collect()
            .await?;
        Ok(docs.into_iter().map(Claim::from).collect())
    }
}
