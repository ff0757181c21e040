use super::outbox::Pending;
use crate::domain::events::RevokeReason;
use crate::domain::Revocation;
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use mongodb::bson::doc;
use mongodb::{Collection, Database};
use serde::{Deserialize, Serialize};

pub const SESSIONS: &str = "sessions";
pub const REFRESH_TOKENS: &str = "refresh_tokens";
pub const REVOCATIONS: &str = "revocations";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SessionStatus {
    Active,
    Revoked,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TokenStatus {
    Active,
    Used,
}

/// A refresh-token family; its id is the `sid` of every access token issued from it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionDoc {
    #[serde(rename = "_id")]
    pub id: String,
    pub user_id: String,
    pub status: SessionStatus,
    pub version: i64,
    /// Latest `exp` of any access token issued for this session (unix seconds).
    pub access_expires_at: i64,
    pub last_jti: String,
    #[serde(with = "bson::serde_helpers::chrono_datetime_as_bson_datetime")]
    pub created_at: DateTime<Utc>,
    #[serde(
        default,
        with = "bson::serde_helpers::chrono_datetime_as_bson_datetime_optional"
    )]
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoke_reason: Option<String>,
    /// `user.logged_in`, written by the insert that opens the session.
    #[serde(flatten)]
    pub outbox: Pending,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefreshTokenDoc {
    /// Hex SHA-256 of the token.
    #[serde(rename = "_id")]
    pub hash: String,
    pub family_id: String,
    pub user_id: String,
    pub status: TokenStatus,
    #[serde(with = "bson::serde_helpers::chrono_datetime_as_bson_datetime")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "bson::serde_helpers::chrono_datetime_as_bson_datetime")]
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RevocationDoc {
    /// The revoked session id: one revocation per session.
    #[serde(rename = "_id")]
    pub session_id: String,
    pub user_id: String,
    pub jti: Option<String>,
    pub reason: String,
    #[serde(with = "bson::serde_helpers::chrono_datetime_as_bson_datetime")]
    pub revoked_at: DateTime<Utc>,
    #[serde(with = "bson::serde_helpers::chrono_datetime_as_bson_datetime")]
    pub expires_at: DateTime<Utc>,
    /// Only the relay changes a revocation after its insert (removing sent events).
    #[serde(default = "first_version")]
    pub version: i64,
    /// `session.revoked`, written by the insert that revokes: exactly once per session.
    #[serde(flatten)]
    pub outbox: Pending,
}

fn first_version() -> i64 {
    1
}

impl RevocationDoc {
    pub fn to_revocation(&self) -> Revocation {
        Revocation {
            session_id: self.session_id.as_str().into(),
            user_id: self.user_id.as_str().into(),
            jti: self.jti.as_deref().map(Into::into),
            reason: RevokeReason::parse(&self.reason),
            revoked_at: self.revoked_at,
            expires_at: self.expires_at,
        }
    }
}

#[derive(Clone)]
pub struct SessionStore {
    sessions: Collection<SessionDoc>,
    tokens: Collection<RefreshTokenDoc>,
    revocations: Collection<RevocationDoc>,
}

impl SessionStore {
    pub fn new(db: &Database) -> Self {
        Self {
            sessions: db.collection(SESSIONS),
            tokens: db.collection(REFRESH_TOKENS),
            revocations: db.collection(REVOCATIONS),
        }
    }

    pub async fn insert_session(&self, s: &SessionDoc) -> mongodb::error::Result<()> {
        self.sessions.insert_one(s).await.map(|_| ())
    }

    pub async fn session(&self, id: &str) -> mongodb::error::Result<Option<SessionDoc>> {
        self.sessions.find_one(doc! {"_id": id}).await
    }

    pub async fn replace_session(
        &self,
        s: &SessionDoc,
        expected_version: i64,
    ) -> mongodb::error::Result<bool> {
        let r = self
            .sessions
            .replace_one(doc! {"_id": &s.id, "version": expected_version}, s)
            .await?;
        Ok(r.matched_count == 1)
    }

    pub async fn active_sessions_of(
        &self,
        user_id: &str,
    ) -> mongodb::error::Result<Vec<SessionDoc>> {
        self.sessions
            .find(doc! {"userId": user_id, "status": "ACTIVE"})
            .await?
            .try_collect()
            .await
    }

    pub async fn insert_token(&self, t: &RefreshTokenDoc) -> mongodb::error::Result<()> {
        self.tokens.insert_one(t).await.map(|_| ())
    }

    pub async fn token(&self, hash: &str) -> mongodb::error::Result<Option<RefreshTokenDoc>> {
        self.tokens.find_one(doc! {"_id": hash}).await
    }

    /// Atomically moves a token from ACTIVE to USED; `false` means someone used it first.
    pub async fn mark_used(&self, hash: &str) -> mongodb::error::Result<bool> {
        let r = self
            .tokens
            .update_one(
                doc! {"_id": hash, "status": "ACTIVE"},
                doc! {"$set": {"status": "USED"}},
            )
            .await?;
        Ok(r.modified_count == 1)
    }

    /// Returns `false` when the session was already revoked (duplicate key): idempotent.
    pub async fn insert_revocation(&self, r: &RevocationDoc) -> mongodb::error::Result<bool> {
        match self.revocations.insert_one(r).await {
            Ok(_) => Ok(true),
            Err(e) if super::is_duplicate_key(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub async fn unexpired_revocations(
        &self,
        now: DateTime<Utc>,
    ) -> mongodb::error::Result<Vec<RevocationDoc>> {
        self.revocations
            .find(doc! {"expiresAt": {"$gt": bson::DateTime::from_chrono(now)}})
            .await?
            .try_collect()
            .await
    }
}
