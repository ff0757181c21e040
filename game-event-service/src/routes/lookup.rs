//! Finding the event a path names, as the caller may see it.
use crate::auth::Identity;
use crate::domain::audience::audience_admits;
use crate::domain::event::{Event, EventStatus};
use crate::domain::EventId;
use crate::domain::UserId;
use crate::error::ApiError;
use crate::extract::path_id;
use crate::state::AppState;

/// What a USER may see: ACTIVE events, and PAUSED ones (a pause is not a withdrawal).
pub const PLAYER_STATUSES: [EventStatus; 2] = [EventStatus::Active, EventStatus::Paused];

/// USERs see only ACTIVE and PAUSED events; nobody sees archived ones.
pub fn visible_to(event: &Event, id: &Identity) -> bool {
    event.archived_at.is_none() && (id.roles.is_staff() || PLAYER_STATUSES.contains(&event.status))
}

pub fn event_id(raw: &str) -> Result<EventId, ApiError> {
    path_id(raw, EventId::parse)
}

/// Whether the event's audience admits the user. The cache holds the event only; the user's
/// side (segment memberships, registration time) is looked up per request, and only the parts
/// the audience names.
pub async fn in_audience(state: &AppState, e: &Event, user: &UserId) -> Result<bool, ApiError> {
    let Some(a) = &e.audience else {
        return Ok(true);
    };
    let segments = match &a.segments {
        Some(wanted) => state.store.segments_of(user, wanted).await?,
        None => Vec::new(),
    };
    let registered = if a.registered_after.is_some() || a.registered_before.is_some() {
        state.store.registered_at(user).await?
    } else {
        None
    };
    Ok(audience_admits(
        a,
        e.id.as_str(),
        user.as_str(),
        &segments,
        registered,
    ))
}

/// Staff see every event; a USER only those whose audience admits them.
pub async fn sees(state: &AppState, id: &Identity, e: &Event) -> Result<bool, ApiError> {
    Ok(visible_to(e, id) && (id.roles.is_staff() || in_audience(state, e, &id.user_id).await?))
}

/// Outside the audience an event does not exist for the caller: the same 404 as a missing one.
pub async fn load_visible(state: &AppState, id: &Identity, raw: &str) -> Result<Event, ApiError> {
    let e = state.cache.get(&state.store, &event_id(raw)?).await?;
    match e {
        Some(e) if sees(state, id, &e).await? => Ok((*e).clone()),
        _ => Err(ApiError::NotFound("event not found".into())),
    }
}

/// The events of `events` the caller sees (a USER: those whose audience admits them).
pub async fn seen_only(
    state: &AppState,
    id: &Identity,
    events: Vec<Event>,
) -> Result<Vec<Event>, ApiError> {
    let mut out = Vec::with_capacity(events.len());
    for e in events {
        if sees(state, id, &e).await? {
            out.push(e);
        }
    }
    Ok(out)
}
