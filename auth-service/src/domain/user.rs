use super::ids::UserId;
use super::role::RoleSet;
use chrono::{DateTime, Utc};

/// An account as the rest of the service sees it: never with its password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    /// Normalized (lower-case).
    pub email: String,
    pub nickname: String,
    pub roles: RoleSet,
    pub invite_code: String,
    pub invited_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
}

/// One page of a cursor-paginated listing.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// More items follow the last one (the caller turns that into a cursor).
    pub has_more: bool,
}
