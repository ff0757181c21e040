//! Newtypes that can only hold valid values, and the pure rules around them.

mod email;
mod invite_code;
mod nickname;
mod password;
mod refresh_token;
mod role;

pub use email::Email;
pub use invite_code::InviteCode;
pub use nickname::Nickname;
pub use password::Password;
pub use refresh_token::{RefreshToken, RefreshTokenHash};
pub use role::{Role, RoleSet};

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
