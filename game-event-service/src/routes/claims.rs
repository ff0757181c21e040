//! Claim requests and claim history.
use super::{json, page_of, resource};
use crate::auth::Identity;
use crate::claims::AcceptError;
use crate::domain::claim::{Claim, ClaimStatus};
use crate::domain::{ClaimId, EventId, UserId};
use crate::error::ApiError;
use crate::extract::{ordered_range, path_id, Cursor, Limit, Page, Query, Timestamp};
use crate::idempotency::{try_processing, IdempotencyError, IdempotencyKey, NextAction};
use crate::state::AppState;
use crate::store::claims::ClaimFilter;
use actix_web::http::header::{HeaderName, HeaderValue, LOCATION};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use paperclip::actix::{api_v2_operation, web, Apiv2Schema};
use serde::Deserialize;
use std::time::Duration;

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/events/{id}/claims").route(web::post().to(create_claim)))
        .service(resource("/claims").route(web::get().to(list_claims)))
        .service(resource("/claims/me").route(web::get().to(my_claims)))
        .service(resource("/claims/{id}").route(web::get().to(get_claim)));
}

const MAX_WAIT_SECONDS: u64 = 10;

/// `Prefer: wait=N` (RFC 7240), capped at 10 seconds.
fn prefer_wait(req: &HttpRequest) -> Option<u64> {
    let v = req.headers().get("prefer")?.to_str().ok()?;
    v.split([',', ';'])
        .filter_map(|p| p.trim().strip_prefix("wait="))
        .filter_map(|n| n.trim().parse::<u64>().ok())
        .next()
        .map(|n| n.min(MAX_WAIT_SECONDS))
}

fn claim_response(status: StatusCode, claim: &Claim, location: bool) -> HttpResponse {
    let mut r = json(status, claim);
    if location {
        if let Ok(v) = HeaderValue::from_str(&format!("/claims/{}", claim.id)) {
            r.headers_mut().insert(LOCATION, v);
        }
    }
    r
}

impl From<AcceptError> for ApiError {
    fn from(e: AcceptError) -> Self {
        match e {
            AcceptError::Exists(c) => {
                ApiError::ClaimExists(Box::new(serde_json::to_value(&*c).unwrap_or_default()))
            }
            AcceptError::Store(s) => s.into(),
            AcceptError::Stopped => ApiError::ServiceUnavailable("claims".into()),
        }
    }
}

impl From<IdempotencyError> for ApiError {
    fn from(e: IdempotencyError) -> Self {
        match e {
            IdempotencyError::KeyReused => ApiError::IdempotencyKeyReused,
            IdempotencyError::Unavailable => ApiError::ServiceUnavailable("redis".into()),
            other => ApiError::Conflict(other.to_string()),
        }
    }
}

/// Request a reward (USER, ADMIN): 202 once the claim is durably stored; a worker decides it.
#[api_v2_operation(tags(Claims))]
pub async fn create_claim(
    state: web::Data<AppState>,
    id: Identity,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if !id.roles.can_claim() {
        return Err(ApiError::Forbidden(
            "USER or ADMIN role required to claim".into(),
        ));
    }
    let key = IdempotencyKey::from_request(&req)
        .map_err(|f| ApiError::InvalidField(f.field, f.message))?;
    let event = super::lookup::load_visible(&state, &id, &path).await?;
    // Staff see every event, but a claim is a player's: the audience holds for ADMIN too, and
    // is checked before anything is stored.
    if !super::lookup::in_audience(&state, &event, &id.user_id).await? {
        return Err(ApiError::NotFound("event not found".into()));
    }
    if event.status == crate::domain::event::EventStatus::Paused {
        return Err(ApiError::EventPaused);
    }
    let Some(key) = key else {
        return submit(&state, &id.user_id, &req, &event).await;
    };
    let redis_key = state
        .settings
        .redis_key(&format!("idem:{{{}}}:{}", id.user_id, key.as_str()));
    match try_processing(&state.redis, redis_key, event.id.as_str(), &state.logger).await? {
        NextAction::ReturnSavedResponse(saved) => Ok(saved),
        NextAction::StartProcessing(None) => submit(&state, &id.user_id, &req, &event).await,
        NextAction::StartProcessing(Some(in_flight)) => {
            match submit(&state, &id.user_id, &req, &event).await {
                Ok(res) => Ok(in_flight.save(res).await),
                // The existing claim is a final answer too, worth replaying.
                Err(e @ ApiError::ClaimExists(_)) => Ok(in_flight.save(e.error_response()).await),
                Err(e) => {
                    in_flight.abandon().await;
                    Err(e)
                }
            }
        }
    }
}

/// Accepts the claim and answers 202, or 200 with the decision within `Prefer: wait=N`.
async fn submit(
    state: &AppState,
    user: &UserId,
    req: &HttpRequest,
    event: &crate::domain::event::Event,
) -> Result<HttpResponse, ApiError> {
    let claim = state.acceptor.accept(event, user).await?;
    if let Some(wait) = prefer_wait(req) {
        let waited = state
            .acceptor
            .decided_within(&claim.id, Duration::from_secs(wait))
            .await?;
        if let Some(decided) = waited {
            let mut r = claim_response(StatusCode::OK, &decided, true);
            if let Ok(v) = HeaderValue::from_str(&format!("wait={wait}")) {
                r.headers_mut()
                    .insert(HeaderName::from_static("preference-applied"), v);
            }
            return Ok(r);
        }
    }
    Ok(claim_response(StatusCode::ACCEPTED, &claim, true))
}

/// One claim (its owner or staff).
#[api_v2_operation(tags(Claims))]
pub async fn get_claim(
    state: web::Data<AppState>,
    id: Identity,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let claim_id = path_id(&path, ClaimId::parse)?;
    match state.store.get_claim(&claim_id).await? {
        Some(c) if c.user_id == id.user_id || id.roles.is_staff() => {
            Ok(claim_response(StatusCode::OK, &c, false))
        }
        _ => Err(ApiError::NotFound("claim not found".into())),
    }
}

/// Query parameters of `GET /claims`.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClaimListParams {
    event_id: Option<EventId>,
    user_id: Option<UserId>,
    status: Option<ClaimStatus>,
    /// On `requestedAt`.
    from: Option<Timestamp>,
    to: Option<Timestamp>,
    limit: Option<Limit>,
    cursor: Option<Cursor>,
}

/// Query parameters of `GET /claims/me`.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MyClaimParams {
    event_id: Option<EventId>,
    status: Option<ClaimStatus>,
    /// On `requestedAt`.
    from: Option<Timestamp>,
    to: Option<Timestamp>,
    limit: Option<Limit>,
    cursor: Option<Cursor>,
}

impl ClaimListParams {
    fn filter(self) -> Result<(ClaimFilter, Page), ApiError> {
        ordered_range(&self.from, &self.to)?;
        let f = ClaimFilter {
            event_id: self.event_id,
            user_id: self.user_id,
            status: self.status,
            from: self.from.map(|t| t.0),
            to: self.to.map(|t| t.0),
        };
        Ok((f, Page::new(self.limit, self.cursor)))
    }
}

async fn list_page(
    state: &AppState,
    f: &ClaimFilter,
    page: &Page,
) -> Result<HttpResponse, ApiError> {
    let items = state
        .store
        .list_claims(f, page.cursor.as_deref(), page.limit)
        .await?;
    Ok(json(
        StatusCode::OK,
        &page_of(items, page.limit, |c| c.id.to_string()),
    ))
}

/// The caller's own claims, newest first.
#[api_v2_operation(tags(Claims))]
pub async fn my_claims(
    state: web::Data<AppState>,
    id: Identity,
    q: Query<MyClaimParams>,
) -> Result<HttpResponse, ApiError> {
    let q = q.0;
    let (f, page) = ClaimListParams {
        event_id: q.event_id,
        user_id: Some(id.user_id.clone()),
        status: q.status,
        from: q.from,
        to: q.to,
        limit: q.limit,
        cursor: q.cursor,
    }
    .filter()?;
    list_page(&state, &f, &page).await
}

/// Everyone's claims (OPERATOR, AUDITOR, ADMIN), newest first.
#[api_v2_operation(tags(Claims))]
pub async fn list_claims(
    state: web::Data<AppState>,
    id: Identity,
    q: Query<ClaimListParams>,
) -> Result<HttpResponse, ApiError> {
    if !id.roles.is_staff() {
        return Err(ApiError::Forbidden(
            "OPERATOR, AUDITOR or ADMIN role required".into(),
        ));
    }
    let (f, page) = q.0.filter()?;
    list_page(&state, &f, &page).await
}
