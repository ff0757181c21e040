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
    let audience = e.audience.as_ref();
    let bounded =
        audience.is_some_and(|a| a.registered_after.is_some() || a.registered_before.is_some());
    let segments = audience.and_then(|a| a.segments.as_deref());
    // The reads are independent: at once, the forecast takes as long as the longest.
    let (users, members, facts, taken) = futures_util::try_join!(
        state.store.known_users(bounded),
        async {
            match segments {
                Some(s) => state.store.members_of_any(s).await,
                None => Ok(HashSet::new()),
            }
        },
        state.store.facts_in(window, &e.conditions, e.tz()),
        async {
            match e.max_claims {
                Some(_) => state.store.stock_count(&e.id).await.map(Some),
                None => Ok(None),
            }
        },
    )?;
    let stock_left = e.max_claims.zip(taken).map(|(max, taken)| max - taken);
    let stock_left = match (stock_left, e.max_claims_per_period) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let f = forecast(&e, window, &users, &members, &facts, stock_left);
    Ok(json(StatusCode::OK, &f))
}
