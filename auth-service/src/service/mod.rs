//! The use cases routes call, grouped by resource. Each is a function of the state that does
//! one thing and returns domain types; storage documents stay inside.

pub mod accounts;
pub mod audit;
pub mod roles;
pub mod sessions;

use crate::domain::events::DomainEvent;
use crate::error::AppError;
use crate::state::AppState;
use crate::store::OutboxDoc;
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

/// Queues a domain event in the outbox and wakes the relay.
async fn emit<E: DomainEvent>(state: &AppState, event: &E) -> Result<(), AppError> {
    let doc = OutboxDoc {
        id: event.message_id().to_string(),
        routing_key: E::ROUTING_KEY.to_string(),
        payload: serde_json::to_string(event).map_err(|e| AppError::Internal(e.into()))?,
        locked_until: 0,
        attempts: 0,
    };
    state.outbox.insert(&doc).await?;
    state.outbox_wake.notify_one();
    Ok(())
}
