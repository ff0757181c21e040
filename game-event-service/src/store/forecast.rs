//! What a forecast reads besides the activity totals: every known user with their registration
//! time, and the members of the audience's segments. Both come as a few documents of pushed
//! ids from one aggregation each (never one document or query per user): per-document cost,
//! not per-id cost, is what bounds a read of 100,000 users, on MongoDB as on the stand-in.
use super::segments::MEMBERS;
use super::users::COLLECTION as USERS;
use super::{Store, StoreResult};
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};
use std::collections::HashSet;

pub use crate::domain::forecast::USER_SHARDS as SHARDS;

fn strings(d: &Document, field: &str) -> Vec<String> {
    d.get_array(field)
        .map(|a| {
            a.iter()
                .filter_map(|b| b.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

impl Store {
    /// Every user this service has heard register, with when (only if `with_registration`:
    /// pushing the instants costs about as much as the ids): one aggregation, one document per
    /// shard with the shard's ids (and registration times, side by side).
    pub async fn known_users(
        &self,
        with_registration: bool,
    ) -> StoreResult<Vec<(String, Option<DateTime<Utc>>)>> {
        let mut group = doc! {"_id": "$shard", "ids": {"$push": "$_id"}};
        if with_registration {
            group.insert("at", doc! {"$push": "$registeredAt"});
        }
        let mut cursor = self
            .db
            .collection::<Document>(USERS)
            .aggregate(vec![doc! {"$group": group}])
            .allow_disk_use(true)
            .await?;
        let mut out = Vec::new();
        while let Some(group) = cursor.try_next().await? {
            let ids = strings(&group, "ids");
            if !with_registration {
                out.extend(ids.into_iter().map(|id| (id, None)));
                continue;
            }
            let at = group.get_array("at").map(Vec::as_slice).unwrap_or_default();
            for (id, at) in ids.into_iter().zip(at) {
                if let Bson::DateTime(t) = at {
                    out.push((id, Some(t.to_chrono())));
                }
            }
        }
        Ok(out)
    }

    /// Users who are members of at least one of `segments`. Grouped by when they were added:
    /// one add call (at most 10,000 ids) shares one instant, so each document stays small.
    pub async fn members_of_any(&self, segments: &[String]) -> StoreResult<HashSet<String>> {
        let pipeline = vec![
            doc! {"$match": {"segmentId": {"$in": segments}}},
            doc! {"$group": {"_id": "$addedAt", "ids": {"$push": "$userId"}}},
        ];
        let mut cursor = self
            .db
            .collection::<Document>(MEMBERS)
            .aggregate(pipeline)
            .allow_disk_use(true)
            .await?;
        let mut out = HashSet::new();
        while let Some(group) = cursor.try_next().await? {
            out.extend(strings(&group, "ids"));
        }
        Ok(out)
    }

    /// Startup migration: gives users recorded before `shard` existed their shard, so no
    /// group holds them all.
    pub async fn shard_legacy_users(&self) -> StoreResult<()> {
        self.backfill(&super::migrations::Backfill {
            name: "users.shard",
            collection: USERS,
            field: "shard",
            value: |d| {
                let id = d.get_str("_id").ok()?;
                Some(crate::domain::forecast::user_shard(id).into())
            },
        })
        .await
    }
}
