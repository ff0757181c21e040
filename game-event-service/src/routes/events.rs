//! Events: create, list, read, change, archive.
use super::lookup::{event_id, load_visible};
use super::{json, resource, ListResponse};
use crate::audit::{record, Change};
use crate::auth::Identity;
use crate::cache::Invalidation;
use crate::domain::audit::EntityType;
use crate::domain::event::{Event, EventPatch, EventStatus, NewEvent};
use crate::domain::{EventId, FieldErrors};
use crate::error::ApiError;
use crate::extract::{Flag, Limit, Page, Query, Timestamp, ValidJson};
use crate::state::AppState;
use crate::store::events::EventFilter;
use actix_web::http::header::{HeaderValue, ETAG, IF_MATCH, LOCATION};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use chrono::Utc;
use paperclip::actix::{api_v2_operation, web, Apiv2Schema};
use serde::Deserialize;

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/events")
            .route(web::get().to(list_events))
            .route(web::post().to(create_event)),
    )
    .service(
        resource("/events/{id}")
            .route(web::get().to(get_event))
            .route(web::patch().to(patch_event))
            .route(web::delete().to(delete_event)),
    );
}

/// Query parameters of `GET /events`.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventListParams {
    status: Option<EventStatus>,
    /// Events whose window contains this instant.
    active_at: Option<Timestamp>,
    /// With `to`: events whose window overlaps `[from, to]`.
    from: Option<Timestamp>,
    to: Option<Timestamp>,
    /// Only events the caller could claim now.
    claimable: Option<Flag>,
    limit: Option<Limit>,
    cursor: Option<crate::extract::Cursor>,
}

pub fn require_manager(id: &Identity) -> Result<(), ApiError> {
    if id.roles.can_manage_events() {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "OPERATOR or ADMIN role required".into(),
        ))
    }
}

pub fn require_staff(id: &Identity) -> Result<(), ApiError> {
    if id.roles.is_staff() {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "OPERATOR, AUDITOR or ADMIN role required".into(),
        ))
    }
}

/// The latest unarchived version, straight from the store (changes start from there).
async fn load_current(state: &AppState, event_id: &EventId) -> Result<Event, ApiError> {
    state
        .store
        .get_event(event_id)
        .await?
        .filter(|e| e.archived_at.is_none())
        .ok_or_else(|| ApiError::NotFound("event not found".into()))
}

async fn announce_change(state: &AppState, event_id: &EventId) {
    state.cache.invalidate(event_id).await;
    let body = serde_json::to_vec(&Invalidation {
        event_id: event_id.clone(),
    })
    .unwrap_or_default();
    // Best effort: the cache TTL bounds staleness when this cannot be delivered.
    let _ = state
        .broker
        .publish(
            &state.settings.amqp.catalog_exchange,
            "",
            body,
            &crate::domain::new_id(),
        )
        .await;
}

pub fn event_response(status: StatusCode, e: &Event) -> HttpResponse {
    let mut r = json(status, e);
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", e.version)) {
        r.headers_mut().insert(ETAG, v);
    }
    r
}

/// Applies `change` to the latest version and stores it, retrying on concurrent writers.
pub async fn modify_latest(
    state: &AppState,
    event_id: &EventId,
    change: impl Fn(&Event) -> Result<Event, FieldErrors>,
) -> Result<Event, ApiError> {
    Ok(modify_latest_from(state, event_id, change).await?.1)
}

/// As `modify_latest`, also answering the version the change was applied to (for the audit).
pub async fn modify_latest_from(
    state: &AppState,
    event_id: &EventId,
    change: impl Fn(&Event) -> Result<Event, FieldErrors>,
) -> Result<(Event, Event), ApiError> {
    for _ in 0..5 {
        let current = load_current(state, event_id).await?;
        let next = change(&current).map_err(ApiError::Validation)?;
        if state.store.replace_event(&next, current.version).await? {
            announce_change(state, event_id).await;
            return Ok((current, next));
        }
    }
    Err(ApiError::VersionConflict(
        "event is being modified concurrently".into(),
    ))
}

/// Create an event (OPERATOR, ADMIN).
#[api_v2_operation(tags(Events))]
pub async fn create_event(
    state: web::Data<AppState>,
    id: Identity,
    body: ValidJson<NewEvent>,
) -> Result<HttpResponse, ApiError> {
    require_manager(&id)?;
    let e = Event::create(body.0, EventId::mint(), id.user_id.clone(), Utc::now())
        .map_err(ApiError::Validation)?;
    state.store.insert_event(&e).await?;
    let change = Change::new("event.created", EntityType::Event, e.id.as_str()).after(&e);
    record(&state, &id, change).await;
    let mut r = event_response(StatusCode::CREATED, &e);
    if let Ok(v) = HeaderValue::from_str(&format!("/events/{}", e.id)) {
        r.headers_mut().insert(LOCATION, v);
    }
    Ok(r)
}

fn filter_for(q: &EventListParams, id: &Identity) -> Result<Option<EventFilter>, ApiError> {
    crate::extract::ordered_range(&q.from, &q.to)?;
    let mut filter = EventFilter {
        statuses: q.status.map(|s| vec![s]),
        active_at: q.active_at.as_ref().map(|t| t.0),
        from: q.from.as_ref().map(|t| t.0),
        to: q.to.as_ref().map(|t| t.0),
    };
    if !id.roles.is_staff() {
        let player = super::lookup::PLAYER_STATUSES;
        match q.status {
            // Nothing a USER may see matches.
            Some(s) if !player.contains(&s) => return Ok(None),
            Some(s) => filter.statuses = Some(vec![s]),
            None => filter.statuses = Some(player.to_vec()),
        }
    }
    if q.claimable.as_ref().is_some_and(|c| c.0) {
        filter.statuses = Some(vec![EventStatus::Active]);
        filter.active_at = Some(Utc::now());
    }
    Ok(Some(filter))
}

/// List events. Filters: status, activeAt, from/to (window overlap), claimable=true.
#[api_v2_operation(tags(Events))]
pub async fn list_events(
    state: web::Data<AppState>,
    id: Identity,
    q: Query<EventListParams>,
) -> Result<HttpResponse, ApiError> {
    let q = q.0;
    let page = Page::new(q.limit.clone(), q.cursor.clone());
    let Some(filter) = filter_for(&q, &id)? else {
        return Ok(json(
            StatusCode::OK,
            &ListResponse::<Event>::page(vec![], false, None),
        ));
    };
    let events = state
        .store
        .list_events(&filter, page.cursor.as_deref(), page.limit)
        .await?;
    let full = events.len() as i64 == page.limit;
    let last_id = events.last().map(|e| e.id.to_string());
    let events = super::lookup::seen_only(&state, &id, events).await?;
    let items = if q.claimable.is_some_and(|c| c.0) {
        super::eligibility::claimable_only(&state, &id, events).await?
    } else {
        events
    };
    Ok(json(
        StatusCode::OK,
        &ListResponse::page(items, full, last_id),
    ))
}

/// Read one event.
#[api_v2_operation(tags(Events))]
pub async fn get_event(
    state: web::Data<AppState>,
    id: Identity,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let e = load_visible(&state, &id, &path).await?;
    Ok(event_response(StatusCode::OK, &e))
}

fn if_match_version(req: &HttpRequest) -> Result<Option<i64>, ApiError> {
    let Some(v) = req.headers().get(IF_MATCH) else {
        return Ok(None);
    };
    let s = v.to_str().unwrap_or("").trim();
    let s = s.strip_prefix("W/").unwrap_or(s).trim_matches('"');
    s.parse::<i64>()
        .map(Some)
        .map_err(|_| ApiError::InvalidField("If-Match".into(), "must be the event version".into()))
}

/// Update an event (OPERATOR, ADMIN); needs the `version` it was based on (body or If-Match).
#[api_v2_operation(tags(Events))]
pub async fn patch_event(
    state: web::Data<AppState>,
    id: Identity,
    req: HttpRequest,
    path: web::Path<String>,
    body: ValidJson<EventPatch>,
) -> Result<HttpResponse, ApiError> {
    require_manager(&id)?;
    let patch = body.0;
    let expected = patch.version.or(if_match_version(&req)?).ok_or_else(|| {
        ApiError::validation("version", "is required (body field `version` or If-Match)")
    })?;
    let current = load_current(&state, &event_id(&path)?).await?;
    if current.version != expected {
        return Err(ApiError::VersionConflict(format!(
            "event is at version {}, not {expected}",
            current.version
        )));
    }
    let next = current
        .apply(patch, Utc::now())
        .map_err(ApiError::Validation)?;
    if !state.store.replace_event(&next, current.version).await? {
        return Err(ApiError::VersionConflict(
            "event was modified concurrently".into(),
        ));
    }
    announce_change(&state, &next.id).await;
    let action = if next.status != current.status {
        "event.status_changed"
    } else {
        "event.updated"
    };
    let change = Change::new(action, EntityType::Event, next.id.as_str())
        .before(&current)
        .after(&next);
    record(&state, &id, change).await;
    Ok(event_response(StatusCode::OK, &next))
}

/// Archive an event (OPERATOR, ADMIN): hidden from lists; its claims and history are kept.
#[api_v2_operation(tags(Events))]
pub async fn delete_event(
    state: web::Data<AppState>,
    id: Identity,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_manager(&id)?;
    let now = Utc::now();
    let (before, after) =
        modify_latest_from(&state, &event_id(&path)?, |e| e.archived(now)).await?;
    let change = Change::new("event.archived", EntityType::Event, after.id.as_str())
        .before(&before)
        .after(&after);
    record(&state, &id, change).await;
    Ok(HttpResponse::NoContent().finish())
}
