//! The audit log: one append-only record per staff write (SPEC §8). The wire shape is shared
//! with auth-service, whose records arrive as `audit.recorded` messages and are kept here too.
use super::errors::{FieldError, FieldErrors};
use super::ids::valid_id;
use chrono::{DateTime, Utc};
use paperclip::actix::Apiv2Schema;
use serde::{Deserialize, Serialize};

/// What a record is about; the same names in every service.
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
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Apiv2Schema)]
pub struct Actor {
    /// A user id, or a service's own name (`bootstrap`) for what no user did.
    pub id: String,
    /// The roles the actor's token carried.
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Apiv2Schema)]
pub struct Entity {
    #[serde(rename = "type")]
    pub kind: EntityType,
    pub id: String,
}

/// Read from other services' messages too, so fields this version does not know are ignored
/// rather than dead-lettering a newer producer's records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Apiv2Schema)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    pub id: String,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    /// `event.created`, `segment.members_added`, `user.roles_changed`, ...
    pub action: String,
    pub entity: Entity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// `event.created`: lower-case words, dots and underscores.
pub fn valid_action(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_'))
}

impl AuditRecord {
    /// A record from another service goes into store filters: every string that is queried
    /// must be an id or an action, never an operator.
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut errs = Vec::new();
        if !valid_id(&self.id) {
            errs.push(FieldError::new("id", "is not a valid id"));
        }
        if !valid_id(&self.actor.id) {
            errs.push(FieldError::new("actor.id", "is not a valid id"));
        }
        if !valid_id(&self.entity.id) {
            errs.push(FieldError::new("entity.id", "is not a valid id"));
        }
        if !valid_action(&self.action) {
            errs.push(FieldError::new("action", "must match ^[a-z0-9_.]{1,64}$"));
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(errs)
        }
    }
}
