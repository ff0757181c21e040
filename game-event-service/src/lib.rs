//! game-event-service: events, progress and exactly-once reward claims.
pub mod auth;
pub mod cache;
pub mod claims;
pub mod configuration;
pub mod domain;
pub mod error;
pub mod extract;
pub mod idempotency;
pub mod jobs;
pub mod metrics;
pub mod mq;
pub mod request_id;
pub mod routes;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
