use super::outbox::Pending;
use crate::domain::{RoleSet, User};
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use mongodb::bson::doc;
use mongodb::{Collection, Database};
use serde::{Deserialize, Serialize};

pub const COLLECTION: &str = "users";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserDoc {
    #[serde(rename = "_id")]
    pub id: String,
    /// Normalized (lower-case) email: the unique index makes it case-insensitive.
    pub email: String,
    pub nickname: String,
    pub roles: Vec<String>,
    pub invite_code: String,
    pub invited_by: Option<String>,
    pub password_hash: String,
    pub version: i64,
    #[serde(with = "bson::serde_helpers::chrono_datetime_as_bson_datetime")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "bson::serde_helpers::chrono_datetime_as_bson_datetime")]
    pub updated_at: DateTime<Utc>,
    /// Events announcing this document's changes, written by the same insert or replace.
    #[serde(flatten)]
    pub outbox: Pending,
}

impl UserDoc {
    pub fn to_user(&self) -> User {
        User {
            id: self.id.as_str().into(),
            email: self.email.clone(),
            nickname: self.nickname.clone(),
            roles: RoleSet::from_stored(self.roles.iter().map(String::as_str)),
            invite_code: self.invite_code.clone(),
            invited_by: self.invited_by.as_deref().map(Into::into),
            created_at: self.created_at,
        }
    }
}

#[derive(Clone)]
pub struct UserStore {
    col: Collection<UserDoc>,
}

impl UserStore {
    pub fn new(db: &Database) -> Self {
        Self {
            col: db.collection(COLLECTION),
        }
    }

    pub async fn insert(&self, user: &UserDoc) -> mongodb::error::Result<()> {
        self.col.insert_one(user).await.map(|_| ())
    }

    pub async fn by_id(&self, id: &str) -> mongodb::error::Result<Option<UserDoc>> {
        self.col.find_one(doc! {"_id": id}).await
    }

    pub async fn by_email(&self, email: &str) -> mongodb::error::Result<Option<UserDoc>> {
        self.col.find_one(doc! {"email": email}).await
    }

    pub async fn by_invite_code(&self, code: &str) -> mongodb::error::Result<Option<UserDoc>> {
        self.col.find_one(doc! {"inviteCode": code}).await
    }

    /// Optimistic update: only succeeds when nobody changed the user since `expected_version`.
    pub async fn replace(
        &self,
        user: &UserDoc,
        expected_version: i64,
    ) -> mongodb::error::Result<bool> {
        let r = self
            .col
            .replace_one(doc! {"_id": &user.id, "version": expected_version}, user)
            .await?;
        Ok(r.matched_count == 1)
    }

    /// Users ordered by id (UUID v7 = creation order), strictly after `after`.
    pub async fn list(
        &self,
        role: Option<&str>,
        after: Option<&str>,
        limit: i64,
    ) -> mongodb::error::Result<Vec<UserDoc>> {
        let mut filter = doc! {};
        if let Some(role) = role {
            filter.insert("roles", doc! {"$all": [role]});
        }
        if let Some(after) = after {
            filter.insert("_id", doc! {"$gt": after});
        }
        self.col
            .find(filter)
            .sort(doc! {"_id": 1})
            .limit(limit)
            .await?
            .try_collect()
            .await
    }
}
