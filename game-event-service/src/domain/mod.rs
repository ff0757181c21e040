//! Domain types that parse, and pure business rules. Imports nothing of the service: the
//! HTTP layer, the store and the jobs depend on this module, never the other way round.
pub mod activity;
pub mod audience;
pub mod audit;
pub mod claim;
pub mod conditions;
pub mod decision_cursor;
pub mod eligibility;
pub mod errors;
pub mod event;
pub mod forecast;
pub mod grant;
pub mod ids;
mod openapi;
pub mod period;
pub mod recurrence;
pub mod revocation;
pub mod segment;
pub mod slots;
pub mod stock;

pub use errors::{FieldError, FieldErrors};
pub use ids::{new_id, valid_id, BatchId, ClaimId, EventId, JobId, UserId};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    User,
    Operator,
    Auditor,
    Admin,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "USER" => Some(Role::User),
            "OPERATOR" => Some(Role::Operator),
            "AUDITOR" => Some(Role::Auditor),
            "ADMIN" => Some(Role::Admin),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roles(Vec<Role>);

impl Roles {
    pub fn new(roles: impl IntoIterator<Item = Role>) -> Self {
        let mut v: Vec<Role> = Vec::new();
        for r in roles {
            if !v.contains(&r) {
                v.push(r);
            }
        }
        Roles(v)
    }
    pub fn has(&self, r: Role) -> bool {
        self.0.contains(&r)
    }
    /// Staff read everything (DRAFT/INACTIVE events, everyone's claims and progress).
    pub fn is_staff(&self) -> bool {
        self.has(Role::Operator) || self.has(Role::Auditor) || self.has(Role::Admin)
    }
    pub fn can_manage_events(&self) -> bool {
        self.has(Role::Operator) || self.has(Role::Admin)
    }
    pub fn can_claim(&self) -> bool {
        self.has(Role::User) || self.has(Role::Admin)
    }
    pub fn is_admin(&self) -> bool {
        self.has(Role::Admin)
    }
    pub fn as_slice(&self) -> &[Role] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_rules() {
        let user = Roles::new([Role::User]);
        assert!(user.can_claim() && !user.is_staff() && !user.can_manage_events());
        let op = Roles::new([Role::Operator]);
        assert!(!op.can_claim() && op.is_staff() && op.can_manage_events());
        let aud = Roles::new([Role::Auditor]);
        assert!(!aud.can_claim() && aud.is_staff() && !aud.can_manage_events());
        let admin = Roles::new([Role::Admin]);
        assert!(admin.can_claim() && admin.is_staff() && admin.can_manage_events());
    }
}
