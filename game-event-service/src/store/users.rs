//! Users this service has heard of (auth-service's `user.registered`), with when they registered:
//! what an audience's `registeredAfter/Before` and a forecast's "known users" are counted over.
use super::{is_duplicate_key, to_bson_dt, Store, StoreResult};
use crate::domain::UserId;
use chrono::{DateTime, Utc};
use mongodb::bson::{doc, DateTime as BsonDateTime};
use serde::{Deserialize, Serialize};

pub const COLLECTION: &str = "users";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserDoc {
    #[serde(rename = "_id")]
    pub id: String,
    pub registered_at: BsonDateTime,
    /// `domain::forecast::user_shard(id)`: how a forecast reads all users in a few bounded documents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<i32>,
}

impl Store {
    fn users(&self) -> mongodb::Collection<UserDoc> {
        self.db.collection(COLLECTION)
    }

    /// Idempotent: a redelivered `user.registered` finds the record there and changes nothing.
    pub async fn record_registration(&self, user: &UserId, at: DateTime<Utc>) -> StoreResult<()> {
        let res = self
            .users()
            .insert_one(UserDoc {
                id: user.to_string(),
                registered_at: to_bson_dt(at),
                shard: Some(crate::domain::forecast::user_shard(user.as_str())),
            })
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if is_duplicate_key(&e) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether auth-service's `user.registered` for `user` reached this service: activities of
    /// anyone else are refused.
    pub async fn is_known_user(&self, user: &UserId) -> StoreResult<bool> {
        Ok(self.registered_at(user).await?.is_some())
    }

    /// `None` when the user's registration never reached this service.
    pub async fn registered_at(&self, user: &UserId) -> StoreResult<Option<DateTime<Utc>>> {
        Ok(self
            .users()
            .find_one(doc! {"_id": user.as_str()})
            .await?
            .map(|d| d.registered_at.to_chrono()))
    }
}
