use super::events::RevokeReason;
use super::ids::{SessionId, TokenId, UserId};
use chrono::{DateTime, Utc};

/// What a successful login or refresh hands the client.
#[derive(Debug, Clone)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: i64,
}

/// A revoked session whose access tokens may still be alive until `expires_at`.
#[derive(Debug, Clone)]
pub struct Revocation {
    pub session_id: SessionId,
    pub user_id: UserId,
    pub jti: Option<TokenId>,
    pub reason: Option<RevokeReason>,
    pub revoked_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}
