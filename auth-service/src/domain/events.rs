//! Domain event payloads published on the auth exchange (see docs/contracts.md).

use super::ids::{MessageId, SessionId, TokenId, UserId};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RevokeReason {
    Logout,
    RolesChanged,
    RefreshReuse,
}

impl RevokeReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RevokeReason::Logout => "LOGOUT",
            RevokeReason::RolesChanged => "ROLES_CHANGED",
            RevokeReason::RefreshReuse => "REFRESH_REUSE",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Logout, Self::RolesChanged, Self::RefreshReuse]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserRegistered {
    pub message_id: MessageId,
    pub user_id: UserId,
    pub email: String,
    pub nickname: String,
    pub invited_by: Option<UserId>,
    pub occurred_at: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserLoggedIn {
    pub message_id: MessageId,
    pub user_id: UserId,
    pub occurred_at: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserRolesChanged {
    pub message_id: MessageId,
    pub user_id: UserId,
    pub roles: Vec<String>,
    pub previous_roles: Vec<String>,
    pub changed_by: String,
    pub occurred_at: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionRevoked {
    pub message_id: MessageId,
    pub user_id: UserId,
    pub session_id: SessionId,
    pub jti: Option<TokenId>,
    pub reason: RevokeReason,
    pub revoked_at: String,
    pub expires_at: String,
}

/// An audit record of this service, published so that game-event-service, which keeps both
/// services' records, answers `GET /audit` over the whole platform. The body is the record in
/// its wire shape (`{id, at, actor, action, entity, before?, after?, requestId}`).
#[derive(Debug, Clone, Serialize)]
pub struct AuditRecorded {
    #[serde(skip)]
    pub message_id: MessageId,
    #[serde(flatten)]
    pub record: serde_json::Map<String, serde_json::Value>,
}

/// A payload that knows its routing key, so it can only be published under the right one.
pub trait DomainEvent: Serialize {
    const ROUTING_KEY: &'static str;
    fn message_id(&self) -> &MessageId;
}

macro_rules! domain_event {
    ($ty:ty, $key:literal) => {
        impl DomainEvent for $ty {
            const ROUTING_KEY: &'static str = $key;
            fn message_id(&self) -> &MessageId {
                &self.message_id
            }
        }
    };
}

domain_event!(UserRegistered, "user.registered");
domain_event!(UserLoggedIn, "user.logged_in");
domain_event!(UserRolesChanged, "user.roles_changed");
domain_event!(SessionRevoked, "session.revoked");
domain_event!(AuditRecorded, "audit.recorded");
