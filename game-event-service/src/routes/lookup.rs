//! Finding the event a path names, as the caller may see it.
use crate::auth::Identity;
use crate::domain::event::{Event, EventStatus};
use crate::domain::EventId;
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

pub async fn load_visible(state: &AppState, id: &Identity, raw: &str) -> Result<Event, ApiError> {
    let e = state.cache.get(&state.store, &event_id(raw)?).await?;
    match e {
        Some(e) if visible_to(&e, id) => Ok((*e).clone()),
        _ => Err(ApiError::NotFound("event not found".into())),
    }
}
