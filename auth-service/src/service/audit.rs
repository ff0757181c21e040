//! The audit log: records appended by staff writes, and the staff listing.

use super::now;
use crate::domain::audit::{Actor, AuditFilter, AuditRecord, EntityType};
use crate::domain::Page;
use crate::error::AppError;
use crate::state::AppState;
use crate::store::AuditDoc;

/// A record of a change to user `user_id` made by `actor`, stamped now and with the current
/// request's id.
pub fn user_change(
    actor: Actor,
    action: &str,
    user_id: &str,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> AuditRecord {
    AuditRecord {
        id: uuid::Uuid::now_v7().to_string(),
        at: now(),
        actor,
        action: action.to_string(),
        entity_type: EntityType::User,
        entity_id: user_id.to_string(),
        before,
        after,
        request_id: crate::telemetry::current_request_id(),
    }
}

/// The record as it rides inside the audited document's write (see `store::outbox`).
pub fn pending(record: &AuditRecord) -> String {
    AuditDoc::from_record(record).to_json()
}

/// The `audit.recorded` event announcing `record`, to ride in the same write as the record.
pub fn recorded(record: &AuditRecord) -> Result<crate::store::PendingEvent, AppError> {
    super::pending(&crate::domain::events::AuditRecorded {
        message_id: crate::domain::MessageId::generate(),
        record: record.to_wire(),
    })
}

/// Appends the record now; the copy inside the document only matters after a crash.
pub async fn append(state: &AppState, record: &AuditRecord) -> Result<(), AppError> {
    state.audit.insert(&AuditDoc::from_record(record)).await?;
    Ok(())
}

/// Records matching `filter`, newest first, strictly older than the record `before`.
pub async fn list(
    state: &AppState,
    filter: &AuditFilter,
    before: Option<&str>,
    limit: usize,
) -> Result<Page<AuditRecord>, AppError> {
    let mut docs = state.audit.list(filter, before, limit as i64 + 1).await?;
    let has_more = docs.len() > limit;
    docs.truncate(limit);
    Ok(Page {
        items: docs.iter().map(AuditDoc::to_record).collect(),
        has_more,
    })
}
