//! An event's live numbers (staff).
use super::events::require_staff;
use super::lookup::load_visible;
use super::{json, resource};
use crate::auth::Identity;
use crate::domain::event::Event;
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use chrono::{DateTime, Utc};
use paperclip::actix::{api_v2_operation, web, Apiv2Schema};
use serde::Serialize;
use std::collections::BTreeMap;

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/events/{id}/stats").route(web::get().to(get_stats)));
}

#[derive(Debug, Serialize, Apiv2Schema)]
#[serde(rename_all = "camelCase")]
pub struct PeriodStats {
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub approved: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stock_left: Option<i64>,
}

#[derive(Debug, Serialize, Apiv2Schema)]
#[serde(rename_all = "camelCase")]
pub struct EventStats {
    pub approved: i64,
    pub pending: i64,
    pub revoked: i64,
    /// Rejection reason -> count.
    pub rejected: BTreeMap<String, i64>,
    /// Only where the event has `maxClaims`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stock_left: Option<i64>,
    /// The current period of a recurring event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period: Option<PeriodStats>,
}

/// Claim counts by status and rejection reason, stock left, and the current period's
/// numbers for a recurring event (OPERATOR, AUDITOR, ADMIN).
#[api_v2_operation(tags(Events))]
pub async fn get_stats(
    state: web::Data<AppState>,
    id: Identity,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_staff(&id)?;
    let e = load_visible(&state, &id, &path).await?;
    Ok(json(StatusCode::OK, &event_stats(&state, &e).await?))
}

/// The numbers of `GET /events/{id}/stats` (also pushed by its stream).
pub async fn event_stats(state: &AppState, e: &Event) -> Result<EventStats, ApiError> {
    let counts = state.store.claim_counts(&e.id).await?;
    let n = |k: &str| counts.by_status.get(k).copied().unwrap_or(0);
    let stock_left = match e.max_claims {
        Some(max) => Some((max - state.store.stock_count(&e.id).await?).max(0)),
        None => None,
    };
    let period = match e.claim_period(Utc::now()) {
        Some(p) => {
            let approved = state.store.approved_in_period(&e.id, &p).await?;
            let stock_left = match e.max_claims_per_period {
                Some(m) => Some((m - state.store.stock_taken(&e.id, &p.key()).await?).max(0)),
                None => None,
            };
            Some(PeriodStats {
                starts_at: p.starts_at,
                ends_at: p.ends_at,
                approved,
                stock_left,
            })
        }
        None => None,
    };
    Ok(EventStats {
        approved: n("APPROVED"),
        pending: n("PENDING"),
        revoked: n("REVOKED"),
        rejected: counts.rejected,
        stock_left,
        period,
    })
}
