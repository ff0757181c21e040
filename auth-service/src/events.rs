//! Domain event payloads published on the auth exchange (see docs/contracts.md).

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
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserRegistered {
    pub message_id: String,
    pub user_id: String,
    pub email: String,
    pub nickname: String,
    pub invited_by: Option<String>,
    pub occurred_at: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserLoggedIn {
    pub message_id: String,
    pub user_id: String,
    pub occurred_at: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserRolesChanged {
    pub message_id: String,
    pub user_id: String,
    pub roles: Vec<String>,
    pub previous_roles: Vec<String>,
    pub changed_by: String,
    pub occurred_at: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionRevoked {
    pub message_id: String,
    pub user_id: String,
    pub session_id: String,
    pub jti: Option<String>,
    pub reason: RevokeReason,
    pub revoked_at: String,
    pub expires_at: String,
}

pub fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
