//! Recording a staff write in the audit log: the one call every write handler makes after its
//! change is stored.
use crate::auth::Identity;
use crate::domain::audit::{Actor, AuditRecord, Entity, EntityType};
use crate::domain::new_id;
use crate::state::AppState;
use serde::Serialize;
use serde_json::Value;

/// What changed: `before` and `after` are the entity's states (either absent where it makes no
/// sense, such as `before` of a creation).
pub struct Change {
    pub action: &'static str,
    pub entity: EntityType,
    pub entity_id: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

impl Change {
    pub fn new(action: &'static str, entity: EntityType, entity_id: impl Into<String>) -> Self {
        Change {
            action,
            entity,
            entity_id: entity_id.into(),
            before: None,
            after: None,
        }
    }
    pub fn before(mut self, v: &impl Serialize) -> Self {
        self.before = serde_json::to_value(v).ok();
        self
    }
    pub fn after(mut self, v: &impl Serialize) -> Self {
        self.after = serde_json::to_value(v).ok();
        self
    }
}

fn role_names(id: &Identity) -> Vec<String> {
    id.roles
        .as_slice()
        .iter()
        .filter_map(|r| serde_json::to_value(r).ok())
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// Appends the record. The change itself is already stored and answered for, so a failure to
/// append is logged loudly rather than turned into an error the client would retry (and so
/// repeat the change).
pub async fn record(state: &AppState, id: &Identity, change: Change) {
    let rec = AuditRecord {
        id: new_id(),
        at: chrono::Utc::now(),
        actor: Actor {
            id: id.user_id.to_string(),
            roles: role_names(id),
        },
        action: change.action.to_string(),
        entity: Entity {
            kind: change.entity,
            id: change.entity_id,
        },
        before: change.before,
        after: change.after,
        request_id: crate::request_id::current_request_id(),
    };
    if let Err(e) = state.store.append_audit(&rec).await {
        slog::error!(state.logger, "audit record not stored";
            "action" => &rec.action, "entityId" => &rec.entity.id, "error" => e.to_string());
    }
}
