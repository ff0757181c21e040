//! Events, their rewards, and the caller's eligibility.
use super::{json, page_of};
use crate::auth::Identity;
use crate::cache::Invalidation;
use crate::domain::claim::Claim;
use crate::domain::conditions::{evaluate, ConditionProgress};
use crate::domain::event::{self, Condition, Event, EventStatus, Reward};
use crate::error::ApiError;
use crate::extract::{path_id, QueryParams, ValidJson};
use crate::state::AppState;
use crate::store::events::EventFilter;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use paperclip::actix::{api_v2_operation, Apiv2Schema};
use serde::{Deserialize, Deserializer, Serialize};

#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateEventRequest {
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub status: Option<EventStatus>,
    #[serde(default)]
    pub conditions: Vec<Condition>,
    #[serde(default)]
    pub rewards: Vec<Reward>,
    #[serde(default)]
    pub max_claims: Option<i64>,
}

fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PatchEventRequest {
    #[serde(default)]
    pub version: Option<i64>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub ends_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub status: Option<EventStatus>,
    #[serde(default)]
    pub conditions: Option<Vec<Condition>>,
    #[serde(default)]
    pub rewards: Option<Vec<Reward>>,
    /// `null` removes the stock limit.
    #[serde(default, deserialize_with = "double_option")]
    pub max_claims: Option<Option<i64>>,
}

#[derive(Debug, Serialize, Apiv2Schema)]
#[serde(rename_all = "camelCase")]
pub struct Eligibility {
    pub event_id: String,
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

/// Query parameters of `GET /events` (documentation only; parsed by `QueryParams`).
#[derive(Deserialize, Apiv2Schema)]
#[allow(dead_code)]
#[serde(rename_all = "camelCase")]
pub struct EventListParams {
    status: Option<EventStatus>,
    active_at: Option<DateTime<Utc>>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    claimable: Option<bool>,
    limit: Option<i64>,
    cursor: Option<String>,
}

fn require_manager(id: &Identity) -> Result<(), ApiError> {
    if id.roles.can_manage_events() {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "OPERATOR or ADMIN role required".into(),
        ))
    }
}

/// USERs see only ACTIVE events; nobody sees archived ones.
pub fn visible_to(event: &Event, id: &Identity) -> bool {
    event.archived_at.is_none() && (id.roles.is_staff() || event.status == EventStatus::Active)
}

pub async fn load_visible(
    state: &AppState,
    id: &Identity,
    event_id: &str,
) -> Result<Event, ApiError> {
    let event_id = path_id(event_id)?;
    let e = state.cache.get(&state.store, &event_id).await?;
    match e {
        Some(e) if visible_to(&e, id) => Ok((*e).clone()),
        _ => Err(ApiError::NotFound("event not found".into())),
    }
}

async fn announce_change(state: &AppState, event_id: &str) {
    state.cache.invalidate(event_id).await;
    let body = serde_json::to_vec(&Invalidation {
        event_id: event_id.to_string(),
    })
    .unwrap_or_default();
    // Best effort: the cache TTL bounds staleness when this cannot be delivered.
    let _ = state
        .broker
        .publish(
            &state.settings.catalog_exchange,
            "",
            body,
            &crate::domain::new_id(),
        )
        .await;
}

fn event_response(status: StatusCode, e: &Event) -> HttpResponse {
    let mut r = json(status, e);
    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&format!("\"{}\"", e.version)) {
        r.headers_mut().insert(actix_web::http::header::ETAG, v);
    }
    r
}

/// Create an event (OPERATOR, ADMIN).
#[api_v2_operation(tags(Events))]
pub async fn create_event(
    state: web::Data<AppState>,
    id: Identity,
    body: ValidJson<CreateEventRequest>,
) -> Result<HttpResponse, ApiError> {
    require_manager(&id)?;
    let b = body.0;
    let now = Utc::now();
    let e = Event {
        id: crate::domain::new_id(),
        title: b.title.trim().to_string(),
        description: b.description,
        starts_at: b.starts_at,
        ends_at: b.ends_at,
        timezone: b.timezone.unwrap_or_else(|| "UTC".into()),
        status: b.status.unwrap_or(EventStatus::Draft),
        conditions: b.conditions,
        rewards: b.rewards,
        max_claims: b.max_claims,
        version: 1,
        created_by: id.user_id.clone(),
        created_at: now,
        updated_at: now,
        archived_at: None,
    };
    event::validate(&e).map_err(ApiError::Validation)?;
    state.store.insert_event(&e).await?;
    let mut r = event_response(StatusCode::CREATED, &e);
    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&format!("/events/{}", e.id)) {
        r.headers_mut().insert(actix_web::http::header::LOCATION, v);
    }
    Ok(r)
}

/// List events. Filters: status, activeAt, from/to (window overlap), claimable=true.
#[api_v2_operation(tags(Events))]
pub async fn list_events(
    state: web::Data<AppState>,
    id: Identity,
    q: QueryParams,
) -> Result<HttpResponse, ApiError> {
    q.allow_only(&[
        "status",
        "activeAt",
        "from",
        "to",
        "claimable",
        "limit",
        "cursor",
    ])?;
    let page = q.page()?;
    let status: Option<EventStatus> = q.parse_enum("status")?;
    let claimable = q.bool("claimable")?.unwrap_or(false);
    let mut filter = EventFilter {
        statuses: status.map(|s| vec![s]),
        active_at: q.datetime("activeAt")?,
        from: q.datetime("from")?,
        to: q.datetime("to")?,
    };
    if let (Some(f), Some(t)) = (filter.from, filter.to) {
        if f > t {
            return Err(ApiError::InvalidQuery(
                "to".into(),
                "must not be before from".into(),
            ));
        }
    }
    if !id.roles.is_staff() {
        if status.is_some_and(|s| s != EventStatus::Active) {
            return Ok(json(
                StatusCode::OK,
                &page_of(Vec::<Event>::new(), page.limit, |e| e.id.clone()),
            ));
        }
        filter.statuses = Some(vec![EventStatus::Active]);
    }
    if claimable {
        filter.statuses = Some(vec![EventStatus::Active]);
        filter.active_at = Some(Utc::now());
    }
    let events = state
        .store
        .list_events(&filter, page.cursor.as_deref(), page.limit)
        .await?;
    let full = events.len() as i64 == page.limit;
    let last_id = events.last().map(|e| e.id.clone());
    let items: Vec<Event> = if claimable {
        let mut out = Vec::new();
        for e in events {
            if eligibility(&state, &id, &e).await?.eligible {
                out.push(e);
            }
        }
        out
    } else {
        events
    };
    let next_cursor = if full {
        last_id.map(|i| crate::extract::encode_cursor(&i))
    } else {
        None
    };
    Ok(json(
        StatusCode::OK,
        &super::ListResponse { items, next_cursor },
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
    let Some(v) = req.headers().get(actix_web::http::header::IF_MATCH) else {
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
    body: ValidJson<PatchEventRequest>,
) -> Result<HttpResponse, ApiError> {
    require_manager(&id)?;
    let p = body.0;
    let header_version = if_match_version(&req)?;
    let expected = p.version.or(header_version).ok_or_else(|| {
        ApiError::validation("version", "is required (body field `version` or If-Match)")
    })?;
    let event_id = path_id(&path)?;
    let current = state
        .store
        .get_event(&event_id)
        .await?
        .filter(|e| e.archived_at.is_none())
        .ok_or_else(|| ApiError::NotFound("event not found".into()))?;
    if current.version != expected {
        return Err(ApiError::VersionConflict(format!(
            "event is at version {}, not {expected}",
            current.version
        )));
    }
    let mut e = current.clone();
    if let Some(v) = p.title {
        e.title = v.trim().to_string();
    }
    if let Some(v) = p.description {
        e.description = v;
    }
    if let Some(v) = p.starts_at {
        e.starts_at = v;
    }
    if let Some(v) = p.ends_at {
        e.ends_at = v;
    }
    if let Some(v) = p.timezone {
        e.timezone = v;
    }
    if let Some(v) = p.status {
        e.status = v;
    }
    if let Some(v) = p.conditions {
        e.conditions = v;
    }
    if let Some(v) = p.rewards {
        e.rewards = v;
    }
    if let Some(v) = p.max_claims {
        e.max_claims = v;
    }
    e.version = current.version + 1;
    e.updated_at = Utc::now();
    event::validate(&e).map_err(ApiError::Validation)?;
    if !state.store.replace_event(&e, current.version).await? {
        return Err(ApiError::VersionConflict(
            "event was modified concurrently".into(),
        ));
    }
    announce_change(&state, &e.id).await;
    Ok(event_response(StatusCode::OK, &e))
}

/// Applies `change` to the latest version, retrying on concurrent writers.
async fn modify_latest(
    state: &AppState,
    event_id: &str,
    change: impl Fn(&mut Event) -> Result<(), ApiError>,
) -> Result<Event, ApiError> {
    for _ in 0..5 {
        let current = state
            .store
            .get_event(event_id)
            .await?
            .filter(|e| e.archived_at.is_none())
            .ok_or_else(|| ApiError::NotFound("event not found".into()))?;
        let mut e = current.clone();
        change(&mut e)?;
        e.version = current.version + 1;
        e.updated_at = Utc::now();
        event::validate(&e).map_err(ApiError::Validation)?;
        if state.store.replace_event(&e, current.version).await? {
            announce_change(state, event_id).await;
            return Ok(e);
        }
    }
    Err(ApiError::VersionConflict(
        "event is being modified concurrently".into(),
    ))
}

/// Archive an event (OPERATOR, ADMIN): hidden from lists; its claims and history are kept.
#[api_v2_operation(tags(Events))]
pub async fn delete_event(
    state: web::Data<AppState>,
    id: Identity,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_manager(&id)?;
    let event_id = path_id(&path)?;
    let now = Utc::now();
    modify_latest(&state, &event_id, |e| {
        e.archived_at = Some(now);
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The event's rewards.
#[api_v2_operation(tags(Events))]
pub async fn list_rewards(
    state: web::Data<AppState>,
    id: Identity,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let e = load_visible(&state, &id, &path).await?;
    Ok(json(
        StatusCode::OK,
        &super::ListResponse {
            items: e.rewards,
            next_cursor: None,
        },
    ))
}

/// Add a reward to the event (OPERATOR, ADMIN); answers the updated event.
#[api_v2_operation(tags(Events))]
pub async fn add_reward(
    state: web::Data<AppState>,
    id: Identity,
    path: web::Path<String>,
    body: ValidJson<Reward>,
) -> Result<HttpResponse, ApiError> {
    require_manager(&id)?;
    let event_id = path_id(&path)?;
    let reward = body.0;
    let e = modify_latest(&state, &event_id, |e| {
        if e.rewards.len() >= event::MAX_REWARDS {
            return Err(ApiError::validation("rewards", "at most 20 rewards"));
        }
        e.rewards.push(reward.clone());
        Ok(())
    })
    .await
    .map_err(|err| match err {
        // Name the field as the client sent it.
        ApiError::Validation(errs) => ApiError::Validation(
            errs.into_iter()
                .map(|mut f| {
                    if let Some(rest) = f.field.strip_prefix("rewards[") {
                        if let Some((_, tail)) = rest.split_once("].") {
                            f.field = tail.to_string();
                        }
                    }
                    f
                })
                .collect(),
        ),
        other => other,
    })?;
    Ok(event_response(StatusCode::CREATED, &e))
}

pub async fn eligibility(
    state: &AppState,
    id: &Identity,
    e: &Event,
) -> Result<Eligibility, ApiError> {
    let now = Utc::now();
    let open = e.is_open_at(now);
    let facts = state
        .store
        .facts_for(&id.user_id, e.window(), &e.conditions)
        .await?;
    let eval = evaluate(&e.conditions, &facts, e.window(), e.tz());
    let existing = state.store.open_claim_for(&e.id, &id.user_id).await?;
    let stock_remaining = match e.max_claims {
        Some(max) => Some((max - state.store.stock_count(&e.id).await?).max(0)),
        None => None,
    };
    let reason = if !open {
        Some("EVENT_NOT_ACTIVE")
    } else if existing.is_some() {
        Some("CLAIM_EXISTS")
    } else if !eval.all_met {
        Some("CONDITION_NOT_MET")
    } else if stock_remaining == Some(0) {
        Some("OUT_OF_STOCK")
    } else {
        None
    };
    Ok(Eligibility {
        event_id: e.id.clone(),
        eligible: reason.is_none() && id.roles.can_claim(),
        reason: reason.map(str::to_owned),
        event_open: open,
        conditions: eval.progress,
        stock_remaining,
        existing_claim: existing,
    })
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
