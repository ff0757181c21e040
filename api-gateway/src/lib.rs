//! api-gateway: the single public entry point of the live-ops platform.
//!
//! It owns nothing persistent: it routes requests to auth-service and game-event-service
//! according to a route table, verifies bearer tokens at the edge, enforces coarse role rules,
//! rate limits, and forwards a trustworthy identity to the upstreams.

pub mod app;
pub mod auth;
pub mod client_limits;
pub mod configuration;
pub mod context;
pub mod domain;
pub mod edge;
pub mod metrics;
pub mod openapi;
pub mod openapi_doc;
pub mod problem;
pub mod proxy;
pub mod ratelimit;
pub mod revocation;
pub mod routes;
pub mod startup;
pub mod telemetry;
pub mod upstream;
