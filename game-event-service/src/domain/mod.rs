//! Domain types that parse, and pure business rules.
pub mod activity;
pub mod audience;
pub mod claim;
pub mod conditions;
pub mod event;
pub mod period;
pub mod recurrence;

use serde::{Deserialize, Serialize};

/// Ids are opaque strings (UUID v7 for ids we mint); bounded and free of operator characters.
pub fn valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

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

    #[test]
    fn ids_reject_operator_characters() {
        assert!(valid_id("0190a1b2-0000-7000-8000-000000000000"));
        assert!(!valid_id(""));
        assert!(!valid_id("$gt"));
        assert!(!valid_id("a b"));
        assert!(!valid_id(&"a".repeat(129)));
    }
}
