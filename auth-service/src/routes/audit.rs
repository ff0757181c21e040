//! `GET /audit`: the append-only log of staff writes (AUDITOR, ADMIN).

use super::params::{Cursor, FilterText, Limit, Timestamp};
use crate::domain::audit::{AuditFilter, AuditRecord, EntityType};
use crate::domain::{rfc3339, Page, Role};
use crate::error::AppError;
use crate::extract::{ApiQuery, Auth};
use crate::service::audit;
use crate::state::AppState;
use paperclip::actix::{api_v2_operation, web, Apiv2Schema};
use serde::{Deserialize, Serialize};

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/audit").route(web::get().to(list)));
}

/// `GET /audit` parameters.
#[derive(Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AuditQuery {
    /// Only records about this kind of entity.
    pub entity_type: Option<EntityType>,
    /// Only records about this entity id.
    pub entity_id: Option<FilterText>,
    /// Only records of this actor (a user id, or `bootstrap`).
    pub actor_id: Option<FilterText>,
    /// Only this action, e.g. `user.roles_changed`.
    pub action: Option<FilterText>,
    /// Records at or after this time (RFC 3339).
    pub from: Option<Timestamp>,
    /// Records before this time (RFC 3339).
    pub to: Option<Timestamp>,
    /// Page size, 1..=100 (default 20).
    pub limit: Option<Limit>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<Cursor>,
}

impl AuditQuery {
    fn filter(&self) -> Result<AuditFilter, AppError> {
        if let (Some(from), Some(to)) = (self.from, self.to) {
            if to.0 < from.0 {
                return Err(AppError::InvalidQuery {
                    field: "to".into(),
                    message: "must not be before from".into(),
                });
            }
        }
        let text = |t: &Option<FilterText>| t.as_ref().map(|t| t.0.clone());
        Ok(AuditFilter {
            entity_type: self.entity_type,
            entity_id: text(&self.entity_id),
            actor_id: text(&self.actor_id),
            action: text(&self.action),
            from: self.from.map(|t| t.0),
            to: self.to.map(|t| t.0),
        })
    }
}

#[derive(Serialize, Apiv2Schema)]
pub struct ActorResponse {
    pub id: String,
    pub roles: Vec<Role>,
}

#[derive(Serialize, Apiv2Schema)]
pub struct EntityResponse {
    #[serde(rename = "type")]
    pub type_: EntityType,
    pub id: String,
}

#[derive(Serialize, Apiv2Schema)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecordResponse {
    pub id: String,
    pub at: String,
    pub actor: ActorResponse,
    pub action: String,
    pub entity: EntityResponse,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<serde_json::Value>,
    /// `null` for writes made at start-up (admin bootstrap).
    pub request_id: Option<String>,
}

impl From<AuditRecord> for AuditRecordResponse {
    fn from(r: AuditRecord) -> Self {
        AuditRecordResponse {
            id: r.id,
            at: rfc3339(r.at),
            actor: ActorResponse {
                id: r.actor.id,
                roles: r.actor.roles,
            },
            action: r.action,
            entity: EntityResponse {
                type_: r.entity_type,
                id: r.entity_id,
            },
            before: r.before,
            after: r.after,
            request_id: r.request_id,
        }
    }
}

#[derive(Serialize, Apiv2Schema)]
#[serde(rename_all = "camelCase")]
pub struct AuditList {
    pub items: Vec<AuditRecordResponse>,
    pub next_cursor: Option<String>,
}

impl From<Page<AuditRecord>> for AuditList {
    fn from(page: Page<AuditRecord>) -> Self {
        let next_cursor = Cursor::next(&page, |r| r.id.as_str());
        AuditList {
            items: page.items.into_iter().map(Into::into).collect(),
            next_cursor,
        }
    }
}

/// Audit records of staff writes (AUDITOR, ADMIN), newest first, cursor-paginated.
#[api_v2_operation(tags(audit))]
pub async fn list(
    state: web::Data<AppState>,
    auth: Auth,
    query: ApiQuery<AuditQuery>,
) -> Result<web::Json<AuditList>, AppError> {
    auth.require_any(
        &[Role::Auditor, Role::Admin],
        "requires role AUDITOR or ADMIN",
    )?;
    let q = query.0;
    let filter = q.filter()?;
    let before = q.cursor.as_ref().map(Cursor::id);
    let page = audit::list(&state, &filter, before, Limit::get(q.limit)).await?;
    Ok(web::Json(page.into()))
}
