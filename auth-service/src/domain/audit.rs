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
impl AuditRecord {
    /// The record as clients and the other service read it.
    pub fn to_wire(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        m.insert("id".into(), self.id.clone().into());
        m.insert(
            "at".into(),
            self.at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                .into(),
        );
        m.insert(
            "actor".into(),
            serde_json::json!({
                "id": self.actor.id,
                "roles": self.actor.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
            }),
        );
        m.insert("action".into(), self.action.clone().into());
        m.insert(
            "entity".into(),
            serde_json::json!({"type": self.entity_type.as_str(), "id": self.entity_id}),
        );
        if let Some(b) = &self.before {
            m.insert("before".into(), b.clone());
        }
        if let Some(a) = &self.after {
            m.insert("after".into(), a.clone());
        }
        m.insert(
            "requestId".into(),
            self.request_id
                .clone()
                .map_or(serde_json::Value::Null, Into::into),
        );
        m
    }
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub entity_type: Option<EntityType>,
    pub entity_id: Option<String>,
    pub actor_id: Option<String>,
    pub action: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}
