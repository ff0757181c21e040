//! Newtypes that can only hold valid values, and the pure rules around them.

pub mod audit;
mod email;
pub mod events;
mod ids;
mod invite_code;
mod nickname;
mod password;
mod refresh_token;
mod role;
mod session;
mod user;

pub use email::Email;
pub use ids::{MessageId, SessionId, TokenId, UserId};
pub use invite_code::InviteCode;
pub use nickname::Nickname;
pub use password::Password;
pub use refresh_token::{RefreshToken, RefreshTokenHash};
pub use role::{Role, RoleSet};
pub use session::{Revocation, TokenPair};
pub use user::{Page, User};

/// RFC 3339 UTC with milliseconds: the one time format of every body and event.
pub fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A rule broken by a well-typed value: answered as 422 naming the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleViolation {
    pub field: &'static str,
    pub message: String,
}

impl RuleViolation {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}
