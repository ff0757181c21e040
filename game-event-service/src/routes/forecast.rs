//! What an event would pay out if it were claimed now (staff, also for DRAFT).
use super::events::require_staff;
use super::lookup::load_visible;
use super::{json, resource};
use crate::auth::Identity;
use crate::domain::forecast::{counting_window, forecast};
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use chrono::Utc;
use paperclip::actix::{api_v2_operation, web};
use std::collections::HashSet;

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/events/{id}/forecast").route(web::get().to(get_forecast)));
}

/// How many known users are in the audience, how many meet every condition now, and the
/// rewards that would go out, capped by stock (OPERATOR, AUDITOR, ADMIN).
#[api_v2_operation(tags(Events))]
pub async fn get_forecast(
    state: web::Data<AppState>,
    id: Identity,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_staff(&id)?;
    let e = load_visible(&state, &id, &path).await?;
    let window = counting_window(&e, Utc::now());
    let users = state.store.known_users().await?;
    let members = match e.audience.as_ref().and_then(|a| a.segments.as_ref()) {
        Some(segments) => state.store.members_of_any(segments).await?,
        None => HashSet::new(),
    };
    let facts = state.store.facts_in(window, &e.conditions, e.tz()).await?;
    let stock_left = match e.max_claims {
        Some(max) => Some(max - state.store.stock_count(&e.id).await?),
        None => None,
    };
    let stock_left = match (stock_left, e.max_claims_per_period) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let f = forecast(&e, window, &users, &members, &facts, stock_left);
    Ok(json(StatusCode::OK, &f))
}
