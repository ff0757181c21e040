//! The use cases routes call, grouped by resource. Each is a function of the state that does
//! one thing and returns domain types; storage documents stay inside.

pub mod accounts;
pub mod audit;
pub mod roles;
pub mod sessions;

use crate::domain::events::DomainEvent;
use crate::error::AppError;
use crate::state::AppState;
use crate::store::PendingEvent;
use chrono::{DateTime, Utc};

fn now() -> DateTime<Utc> {
    Utc::now()
}

async fn bcrypt_hash(password: String, cost: u32) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || bcrypt::hash(password, cost))
        .await
        .map_err(|e| AppError::Internal(e.into()))?
        .map_err(|e| AppError::Internal(e.into()))
}

async fn bcrypt_verify(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
        .await
        .unwrap_or(false)
}

/// A domain event as it rides inside the document whose change it announces.
fn pending<E: DomainEvent>(event: &E) -> Result<PendingEvent, AppError> {
    Ok(PendingEvent {
        id: event.message_id().to_string(),
        routing_key: E::ROUTING_KEY.to_string(),
        payload: serde_json::to_string(event).map_err(|e| AppError::Internal(e.into()))?,
    })
}

/// After a write that carried events: the relay publishes them now instead of at its next poll.
fn wake_relay(state: &AppState) {
    state.outbox_wake.notify_one();
}
