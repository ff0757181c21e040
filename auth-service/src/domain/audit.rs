//! The audit log: one append-only record per staff write (SPEC §8).

use super::role::Role;
use chrono::{DateTime, Utc};
use paperclip::actix::Apiv2Schema;
use serde::{Deserialize, Serialize};

/// What kind of thing a record is about. Every service of the platform uses the same names;
/// auth-service writes only `user`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Apiv2Schema)]
#[serde(rename_all = "lowercase")]
pub enum EntityType {
    Event,
    Segment,
    Claim,
    Job,
    Activity,
    User,
}

impl EntityType {
    pub fn as_str(self) -> &'static str {
        match self {
            EntityType::Event => "event",
            EntityType::Segment => "segment",
            EntityType::Claim => "claim",
            EntityType::Job => "job",
            EntityType::Activity => "activity",
            EntityType::User => "user",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        use EntityType::*;
        [Event, Segment, Claim, Job, Activity, User]
            .into_iter()
            .find(|t| t.as_str() == s)
    }
}

/// The audit actions of auth-service.
pub const ROLES_CHANGED: &str = "user.roles_changed";
pub const ADMIN_BOOTSTRAPPED: &str = "user.admin_bootstrapped";

/// Who did it: a user with the roles their token carried, or the service itself (`bootstrap`).
#[derive(Debug, Clone, PartialEq)]
pub struct Actor {
    pub id: String,
    pub roles: Vec<Role>,
}

impl Actor {
    /// The start-up admin bootstrap, which no user performs.
    pub fn bootstrap() -> Self {
        Actor {
            id: "bootstrap".into(),
            roles: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub id: String,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    /// `user.roles_changed`, `user.admin_bootstrapped`.
    pub action: String,
    pub entity_type: EntityType,
    pub entity_id: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub request_id: Option<String>,
}

/// `GET /audit` filters; all optional, combined with AND, `from` inclusive, `to` exclusive.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub entity_type: Option<EntityType>,
    pub entity_id: Option<String>,
    pub actor_id: Option<String>,
    pub action: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}
