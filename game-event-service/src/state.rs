//! What the HTTP handlers share.
use crate::auth::Verifier;
use crate::cache::Catalog;
use crate::claims::{Acceptor, ClaimQueue};
use crate::configuration::Settings;
use crate::jobs::decisions::Decider;
use crate::metrics::Metrics;
use crate::mq::Broker;
use crate::store::Store;
use crate::streams::LiveFeed;
use std::sync::Arc;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub struct AppState {
    pub settings: Settings,
    pub logger: slog::Logger,
    pub store: Store,
    pub redis: deadpool_redis::Pool,
    pub broker: Broker,
    pub cache: Catalog,
    pub auth: Arc<Verifier>,
    pub metrics: Metrics,
    pub claim_queue: ClaimQueue,
    pub acceptor: Acceptor,
    /// The claim decider, also reachable here so that operators' tools and tests can decide
    /// one claim on demand.
    pub decider: Decider,
    /// Wakes the outbox relay when a grant was just recorded or the broker came back.
    pub outbox_wakeup: Arc<Notify>,
    /// The relay's in-memory inbox for entries written leased to it (the decider's).
    pub outbox: crate::jobs::outbox_relay::Handoff,
    /// Wakes the grant job runner when a job was queued.
    pub grants_wakeup: Arc<Notify>,
    /// Live decisions for the SSE streams (fed by the decisions fanout).
    pub live: LiveFeed,
    pub shutdown: CancellationToken,
}
