//! Publishes `reward.granted` for every outbox entry until the broker confirms it.
use crate::metrics::Metrics;
use crate::mq::Broker;
use crate::store::Store;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub struct OutboxRelay {
    pub store: Store,
    pub broker: Broker,
    pub exchange: String,
    pub lease: Duration,
    pub metrics: Metrics,
    pub logger: slog::Logger,
    /// Rung when a grant was just recorded or the broker came back.
    pub wakeup: Arc<Notify>,
}

impl OutboxRelay {
    pub async fn run(self, token: CancellationToken) {
        loop {
            self.drain(&token).await;
            if token.is_cancelled() {
                return;
            }
            tokio::select! {
                _ = token.cancelled() => return,
                _ = self.wakeup.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
        }
    }

    /// Sends entries until none is due, the broker refuses one, or shutdown.
    async fn drain(&self, token: &CancellationToken) {
        let lease_ms = self.lease.as_millis() as i64;
        // Leave entries to instances that can publish them right now.
        while !token.is_cancelled() && self.broker.is_connected() {
            let entry = match self.store.lease_outbox(lease_ms).await {
                Ok(Some(e)) => e,
                Ok(None) => break,
                Err(e) => {
                    slog::debug!(self.logger, "outbox lease failed"; "error" => e.to_string());
                    break;
                }
            };
            let t = Instant::now();
            let res = self
                .broker
                .publish(
                    &self.exchange,
                    &entry.routing_key,
                    entry.payload.clone().into_bytes(),
                    &entry.id,
                )
                .await;
            let published = |result| {
                self.metrics
                    .outbox_published
                    .with_label_values(&[result])
                    .inc()
            };
            match res {
                Ok(()) => {
                    self.metrics.step("relay_publish_confirm", t);
                    published("ok");
                    if let Err(e) = self.store.mark_outbox_sent(&entry.id).await {
                        // The lease expires and the entry is sent again: consumers dedupe on
                        // the message id.
                        slog::warn!(self.logger, "outbox mark failed"; "error" => e.to_string());
                    }
                }
                Err(e) => {
                    published("error");
                    slog::debug!(self.logger, "reward.granted publish failed"; "claimId" => &entry.id, "error" => e.to_string());
                    let _ = self.store.retry_outbox_after(&entry.id, 1000).await;
                    break;
                }
            }
        }
    }
}
