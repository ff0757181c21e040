//! The caller's eligibility for an event: the same verdict the worker reaches, previewed.
use super::lookup::load_visible;
use super::{json, resource};
use crate::auth::Identity;
use crate::domain::claim::{Claim, RejectReason};
use crate::domain::conditions::ConditionProgress;
use crate::domain::eligibility::{verdict, Stock};
use crate::domain::event::Event;
use crate::domain::EventId;
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use chrono::Utc;
use paperclip::actix::{api_v2_operation, web, Apiv2Schema};
use serde::Serialize;

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/events/{id}/eligibility").route(web::get().to(get_eligibility)));
}

#[derive(Debug, Serialize, Apiv2Schema)]
#[serde(rename_all = "camelCase")]
pub struct Eligibility {
    pub event_id: EventId,
    /// Whether a claim made now would be approved.
    pub eligible: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub event_open: bool,
    pub conditions: Vec<ConditionProgress>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stock_remaining: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub existing_claim: Option<Claim>,
}

/// Gathers what the verdict needs (facts, open claim, stock) and previews it.
pub async fn eligibility(
    state: &AppState,
    id: &Identity,
    e: &Event,
) -> Result<Eligibility, ApiError> {
    let now = Utc::now();
    let period = e.claim_period(now);
    let window = e.claim_window(period.as_ref());
    let facts = state
        .store
        .facts_for(&id.user_id, window, e.tz(), &e.conditions)
        .await?;
    let existing = state
        .store
        .open_claim_for(&e.id, &id.user_id, period.as_ref())
        .await?;
    let stock_remaining = state.store.stock_left(e, period.as_ref()).await?;
    let stock = stock_remaining.map_or(Stock::Unlimited, Stock::Remaining);
    let v = verdict(e, window, now, &facts, existing.is_some(), stock);
    let reason = v.rejection.map(|r| match r {
        // The preview speaks of the caller's own open claim.
        RejectReason::AlreadyClaimed => "CLAIM_EXISTS",
        other => other.as_str(),
    });
    Ok(Eligibility {
        event_id: e.id.clone(),
        eligible: v.eligible() && id.roles.can_claim(),
        reason: reason.map(str::to_owned),
        event_open: e.is_open_at(now),
        conditions: v.progress,
        stock_remaining,
        existing_claim: existing,
    })
}

/// The events of `events` the caller could claim now.
pub async fn claimable_only(
    state: &AppState,
    id: &Identity,
    events: Vec<Event>,
) -> Result<Vec<Event>, ApiError> {
    let mut out = Vec::new();
    for e in events {
        if eligibility(state, id, &e).await?.eligible {
            out.push(e);
        }
    }
    Ok(out)
}

/// The caller's own progress on this event's conditions and whether a claim would be approved now.
#[api_v2_operation(tags(Events))]
pub async fn get_eligibility(
    state: web::Data<AppState>,
    id: Identity,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let e = load_visible(&state, &id, &path).await?;
    let el = eligibility(&state, &id, &e).await?;
    Ok(json(StatusCode::OK, &el))
}
