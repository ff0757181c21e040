//! The audit log over both services' records (AUDITOR, ADMIN).
use super::{json, page_of, resource};
use crate::auth::Identity;
use crate::domain::audit::{valid_action, EntityType};
use crate::domain::{Role, UserId};
use crate::error::ApiError;
use crate::extract::{ordered_range, Cursor, Limit, Page, Query, Timestamp};
use crate::state::AppState;
use crate::store::audit::AuditFilter;
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use paperclip::actix::{api_v2_operation, web, Apiv2Schema};
use serde::{Deserialize, Deserializer};

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/audit").route(web::get().to(list_audit)));
}

/// An action name (`event.created`).
#[derive(Debug, Clone)]
pub struct Action(String);

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if valid_action(&s) {
            Ok(Action(s))
        } else {
            Err(serde::de::Error::custom("must match ^[a-z0-9_.]{1,64}$"))
        }
    }
}

impl paperclip::v2::schema::TypedData for Action {
    fn data_type() -> paperclip::v2::models::DataType {
        paperclip::v2::models::DataType::String
    }
}

/// Query parameters of `GET /audit`.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuditParams {
    entity_type: Option<EntityType>,
    /// Any entity's id (ids share one alphabet, so a user id parses the same way).
    entity_id: Option<UserId>,
    actor_id: Option<UserId>,
    action: Option<Action>,
    /// On `at`, inclusive.
    from: Option<Timestamp>,
    /// On `at`, exclusive.
    to: Option<Timestamp>,
    limit: Option<Limit>,
    cursor: Option<Cursor>,
}

/// Audit records of both services, newest first (AUDITOR, ADMIN).
#[api_v2_operation(tags(Audit))]
pub async fn list_audit(
    state: web::Data<AppState>,
    id: Identity,
    q: Query<AuditParams>,
) -> Result<HttpResponse, ApiError> {
    if !(id.roles.has(Role::Auditor) || id.roles.is_admin()) {
        return Err(ApiError::Forbidden("AUDITOR or ADMIN role required".into()));
    }
    let q = q.0;
    ordered_range(&q.from, &q.to)?;
    let f = AuditFilter {
        entity_type: q.entity_type,
        entity_id: q.entity_id.map(String::from),
        actor_id: q.actor_id.map(String::from),
        action: q.action.map(|a| a.0),
        from: q.from.map(|t| t.0),
        to: q.to.map(|t| t.0),
    };
    let page = Page::new(q.limit, q.cursor);
    let items = state
        .store
        .list_audit(&f, page.cursor.as_deref(), page.limit)
        .await?;
    Ok(json(
        StatusCode::OK,
        &page_of(items, page.limit, |r| r.id.clone()),
    ))
}
