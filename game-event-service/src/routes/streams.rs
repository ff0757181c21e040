//! Live decisions as Server-Sent Events (SPEC §8): the caller's claim decisions, and an event's
//! stats for staff. Errors (401, 403, 404, a bad `Last-Event-ID`) are answered as problem+json
//! before the stream starts; the streams themselves live in `crate::streams`.
use super::events::require_staff;
use super::lookup::load_visible;
use super::resource;
use super::stats::event_stats;
use crate::auth::Identity;
use crate::domain::decision_cursor::{DecisionCursor, LAST_EVENT_ID};
use crate::error::ApiError;
use crate::state::AppState;
use crate::streams::claims::ClaimStream;
use crate::streams::stats::{Reader, Snapshot, StatsStream};
use crate::streams::{sse, Credential};
use actix_web::http::header::AUTHORIZATION;
use actix_web::{HttpRequest, HttpResponse};
use paperclip::actix::{api_v2_operation, web};

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/claims/me/stream").route(web::get().to(my_claim_stream)))
        .service(resource("/events/{id}/stats/stream").route(web::get().to(stats_stream)));
}

/// The token the request was authenticated with (the `Identity` extractor already checked it).
fn credential(state: &AppState, req: &HttpRequest) -> Credential {
    let token = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_owned())
        .unwrap_or_default();
    Credential::new(state.auth.clone(), token)
}

/// The `Last-Event-ID` a reconnecting client sends (absent or empty: live only).
fn last_event_id(req: &HttpRequest) -> Result<Option<DecisionCursor>, ApiError> {
    let Some(v) = req.headers().get(LAST_EVENT_ID) else {
        return Ok(None);
    };
    let raw = v.to_str().unwrap_or("\u{0}");
    if raw.trim().is_empty() {
        return Ok(None);
    }
    DecisionCursor::parse(raw)
        .map(Some)
        .map_err(|f| ApiError::InvalidField(f.field, f.message))
}

/// The caller's claim decisions as they are made (`event: claim`, the claim as
/// `GET /claims/{id}` returns it, `id:` a cursor). With `Last-Event-ID` the decisions made
/// after it are replayed first. `: keepalive` comments every 15 s.
#[api_v2_operation(tags(Claims), produces = "text/event-stream")]
pub async fn my_claim_stream(
    state: web::Data<AppState>,
    id: Identity,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let last = last_event_id(&req)?;
    let stream = ClaimStream::open(
        &state.live,
        state.store.clone(),
        id.user_id,
        last,
        credential(&state, &req),
        state.logger.clone(),
    );
    Ok(sse::response(sse::body(stream, ClaimStream::next)))
}

/// The event's stats (`event: stats`, the JSON of `GET /events/{id}/stats`): a snapshot
/// first, then whenever they changed, at most once a second (OPERATOR, AUDITOR, ADMIN).
#[api_v2_operation(tags(Events), produces = "text/event-stream")]
pub async fn stats_stream(
    state: web::Data<AppState>,
    id: Identity,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_staff(&id)?;
    let e = load_visible(&state, &id, &path).await?;
    let first = serde_json::to_string(&event_stats(&state, &e).await?).unwrap_or_default();
    let (st, event_id) = (state.clone(), e.id.clone());
    let read: Reader = Box::new(move || {
        let (state, event_id) = (st.clone(), event_id.clone());
        Box::pin(async move {
            match state.cache.get(&state.store, &event_id).await {
                Ok(Some(e)) if e.archived_at.is_none() => match event_stats(&state, &e).await {
                    Ok(s) => Snapshot::Json(serde_json::to_string(&s).unwrap_or_default()),
                    Err(_) => Snapshot::Failed,
                },
                Ok(_) => Snapshot::Gone,
                Err(_) => Snapshot::Failed,
            }
        })
    });
    let stream = StatsStream::open(&state.live, e.id, first, read, credential(&state, &req));
    Ok(sse::response(sse::body(stream, StatsStream::next)))
}
