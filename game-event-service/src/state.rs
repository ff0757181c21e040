//! Everything handlers and background tasks share.
use crate::auth::Verifier;
use crate::cache::Catalog;
use crate::configuration::Settings;
use crate::metrics::Metrics;
use crate::mq::Broker;
use crate::store::Store;
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
    /// Wakes the outbox relay when a grant was just recorded or the broker came back.
    pub outbox_wakeup: Arc<Notify>,
    pub shutdown: CancellationToken,
}

impl AppState {
    pub fn redis_key(&self, suffix: &str) -> String {
        format!("{}{}", self.settings.redis_key_prefix, suffix)
    }
}
