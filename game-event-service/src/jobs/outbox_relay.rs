//! Publishes `reward.granted` for every outbox entry until the broker confirms it.
use crate::metrics::Metrics;
use crate::mq::Broker;
use crate::store::Store;
use futures_util::future::join_all;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Entries leased and published together.
const PAGE: i64 = 100;

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

    /// Sends entries, a leased page at a time, until none is due, the broker refuses one, or
    /// shutdown. A page's publishes are in flight together and their confirms awaited as one.
    async fn drain(&self, token: &CancellationToken) {
        let lease_ms = self.lease.as_millis() as i64;
        // Leave entries to instances that can publish them right now.
        while !token.is_cancelled() && self.broker.is_connected() {
            let entries = match self.store.lease_outbox(lease_ms, PAGE).await {
                Ok(e) if e.is_empty() => break,
                Ok(e) => e,
                Err(e) => {
                    slog::debug!(self.logger, "outbox lease failed"; "error" => e.to_string());
                    break;
                }
            };
            let t = Instant::now();
            let results = join_all(entries.iter().map(|entry| {
                self.broker.publish(
                    &self.exchange,
                    &entry.routing_key,
                    entry.payload.clone().into_bytes(),
                    &entry.message_id,
                )
            }))
            .await;
            self.metrics.step("relay_publish_confirm", t);
            let (mut sent, mut failed) = (Vec::new(), Vec::new());
            for (entry, res) in entries.into_iter().zip(results) {
                match res {
                    Ok(()) => sent.push(entry.id),
                    Err(e) => {
                        slog::debug!(self.logger, "outbox publish failed"; "entry" => &entry.id, "routingKey" => &entry.routing_key, "error" => e.to_string());
                        failed.push(entry.id);
                    }
                }
            }
            let count = |result, n: usize| {
                self.metrics
                    .outbox_published
                    .with_label_values(&[result])
                    .inc_by(n as u64)
            };
            count("ok", sent.len());
            count("error", failed.len());
            if let Err(e) = self.store.mark_outbox_sent(&sent).await {
                // The leases expire and the entries are sent again: consumers dedupe on the
                // message id.
                slog::warn!(self.logger, "outbox mark failed"; "error" => e.to_string());
            }
            if !failed.is_empty() {
                let _ = self.store.retry_outbox_after(&failed, 1000).await;
                break;
            }
        }
    }
}
