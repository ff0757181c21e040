//! Segments and their members: one member document per (segment, user) whose `_id` is the pair,
//! so adding the same member twice is a duplicate key, never a second record.
use super::{duplicate_indices, to_bson_dt, Store, StoreResult};
use crate::domain::ids::{SegmentId, UserId};
use crate::domain::segment::Segment;
use futures_util::TryStreamExt;
use mongodb::bson::{doc, DateTime as BsonDateTime, Document};
use serde::{Deserialize, Serialize};

pub const COLLECTION: &str = "segments";
pub const MEMBERS: &str = "segment_members";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SegmentDoc {
    #[serde(rename = "_id")]
    id: String,
    name: String,
    description: String,
    created_by: String,
    created_at: BsonDateTime,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MemberDoc {
    #[serde(rename = "_id")]
    id: String,
    segment_id: String,
    user_id: String,
    added_at: BsonDateTime,
}

/// `/` is outside the id alphabet, so the pair can never be read two ways.
fn member_id(segment: &str, user: &str) -> String {
    format!("{segment}/{user}")
}

impl From<SegmentDoc> for Segment {
    fn from(d: SegmentDoc) -> Self {
        Segment {
            id: SegmentId::stored(d.id),
            name: d.name,
            description: d.description,
            created_by: UserId::stored(d.created_by),
            created_at: d.created_at.to_chrono(),
            member_count: None,
        }
    }
}

impl Store {
    fn segments(&self) -> mongodb::Collection<SegmentDoc> {
        self.db.collection(COLLECTION)
    }
    fn members(&self) -> mongodb::Collection<MemberDoc> {
        self.db.collection(MEMBERS)
    }

    pub async fn insert_segment(&self, s: &Segment) -> StoreResult<()> {
        self.segments()
            .insert_one(SegmentDoc {
                id: s.id.to_string(),
                name: s.name.clone(),
                description: s.description.clone(),
                created_by: s.created_by.to_string(),
                created_at: to_bson_dt(s.created_at),
            })
            .await?;
        Ok(())
    }

    pub async fn get_segment(&self, id: &SegmentId) -> StoreResult<Option<Segment>> {
        Ok(self
            .segments()
            .find_one(doc! {"_id": id.as_str()})
            .await?
            .map(Segment::from))
    }

    /// Newest first (ids are UUID v7).
    pub async fn list_segments(
        &self,
        after_id: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<Segment>> {
        let mut f = Document::new();
        if let Some(a) = after_id {
            f.insert("_id", doc! {"$lt": a});
        }
        let docs: Vec<SegmentDoc> = self
            .segments()
            .find(f)
            .sort(doc! {"_id": -1})
            .limit(limit)
            .await?
            .try_collect()
            .await?;
        Ok(docs.into_iter().map(Segment::from).collect())
    }

    pub async fn count_members(&self, id: &SegmentId) -> StoreResult<u64> {
        Ok(self
            .members()
            .count_documents(doc! {"segmentId": id.as_str()})
            .await?)
    }

    /// Adds the members; returns how many were new (the rest already were members).
    pub async fn add_members(&self, id: &SegmentId, users: &[UserId]) -> StoreResult<u64> {
        let now = to_bson_dt(chrono::Utc::now());
        let docs: Vec<MemberDoc> = users
            .iter()
            .map(|u| MemberDoc {
                id: member_id(id.as_str(), u.as_str()),
                segment_id: id.to_string(),
                user_id: u.to_string(),
                added_at: now,
            })
            .collect();
        let mut added = 0;
        // Batches keep each insert command well under the 16 MiB message limit.
        for batch in docs.chunks(1000) {
            let res = self
                .members()
                .insert_many(batch)
                .ordered(false)
                .await
                .map(|_| ());
            let dups = duplicate_indices(res)?;
            added += (batch.len() - dups.len()) as u64;
        }
        Ok(added)
    }

    /// Removes the members; returns how many were members.
    pub async fn remove_members(&self, id: &SegmentId, users: &[UserId]) -> StoreResult<u64> {
        let mut removed = 0;
        for batch in users.chunks(1000) {
            let ids: Vec<String> = batch
                .iter()
                .map(|u| member_id(id.as_str(), u.as_str()))
                .collect();
            removed += self
                .members()
                .delete_many(doc! {"_id": {"$in": ids}})
                .await?
                .deleted_count;
        }
        Ok(removed)
    }

    /// Members in user id order, after `after_user`.
    pub async fn list_members(
        &self,
        id: &SegmentId,
        after_user: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<UserId>> {
        let mut f = doc! {"segmentId": id.as_str()};
        if let Some(a) = after_user {
            f.insert("userId", doc! {"$gt": a});
        }
        let docs: Vec<MemberDoc> = self
            .members()
            .find(f)
            .sort(doc! {"userId": 1})
            .limit(limit)
            .await?
            .try_collect()
            .await?;
        Ok(docs
            .into_iter()
            .map(|d| UserId::stored(d.user_id))
            .collect())
    }

    /// Which of `segments` the user is a member of: one `_id` look-up.
    pub async fn segments_of(
        &self,
        user: &UserId,
        segments: &[String],
    ) -> StoreResult<Vec<String>> {
        if segments.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = segments
            .iter()
            .map(|s| member_id(s, user.as_str()))
            .collect();
        let docs: Vec<MemberDoc> = self
            .members()
            .find(doc! {"_id": {"$in": ids}})
            .await?
            .try_collect()
            .await?;
        Ok(docs.into_iter().map(|d| d.segment_id).collect())
    }
}
