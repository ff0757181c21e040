use paperclip::actix::Apiv2Schema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Apiv2Schema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    User,
    Operator,
    Auditor,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "USER",
            Role::Operator => "OPERATOR",
            Role::Auditor => "AUDITOR",
            Role::Admin => "ADMIN",
        }
    }

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

/// A non-empty set of roles in canonical order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleSet(BTreeSet<Role>);

impl RoleSet {
    pub fn new_account() -> Self {
        RoleSet(BTreeSet::from([Role::User]))
    }

    pub fn from_roles(roles: impl IntoIterator<Item = Role>) -> Option<Self> {
        let set: BTreeSet<Role> = roles.into_iter().collect();
        (!set.is_empty()).then_some(RoleSet(set))
    }

    /// Roles as stored: unknown names are dropped. Stored data went through `from_roles`, so
    /// this is non-empty in practice; an empty set is kept as is rather than invented.
    pub fn from_stored<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        RoleSet(names.into_iter().filter_map(Role::parse).collect())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, role: Role) -> bool {
        self.0.contains(&role)
    }

    pub fn with(&self, role: Role) -> Self {
        let mut s = self.0.clone();
        s.insert(role);
        RoleSet(s)
    }

    pub fn to_vec(&self) -> Vec<Role> {
        self.0.iter().copied().collect()
    }

    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(|r| r.as_str().to_string()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_sets_are_canonical_and_non_empty() {
        assert!(RoleSet::from_roles([]).is_none());
        let s = RoleSet::from_roles([Role::Admin, Role::User, Role::Admin]).unwrap();
        assert_eq!(s.to_strings(), vec!["USER", "ADMIN"]);
        assert!(serde_json::from_str::<Role>("\"ROOT\"").is_err());
    }
}
