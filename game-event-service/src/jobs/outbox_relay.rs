//! Publishes `reward.granted` for every outbox entry until the broker confirms it.
//!
//! The decider writes its entries already leased to this instance's relay and hands them over
//! in memory, so the relay publishes them and marks them sent without reading them back (one
//! store write per page instead of four). The store is still searched every `POLL` for
//! entries nobody handed over: those of other writers, of a crashed instance once their lease
//! ran out, and of a handoff that was full.
use crate::metrics::Metrics;
use crate::mq::Broker;
use crate::store::grants::{OutboxEntry, OutboxLease};
use crate::store::{now_ms, Store};
use futures_util::future::join_all;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Entries leased and published together.
const PAGE: usize = 100;
/// How often the store is searched while handed-over entries keep the relay busy.
const POLL: Duration = Duration::from_millis(500);
/// Entries waiting in memory at most; beyond it they wait for their lease to run out.
const HANDOFF_MAX: usize = 10_000;

/// Entries written for this instance's relay, and the signal that wakes it.
#[derive(Clone)]
pub struct Handoff {
    wakeup: Arc<Notify>,
    entries: Arc<Mutex<Vec<OutboxEntry>>>,
    owner: Arc<str>,
    lease: Duration,
}

impl Handoff {
    pub fn new(wakeup: Arc<Notify>, lease: Duration) -> Self {
        Handoff {
            wakeup,
            entries: Arc::default(),
            owner: format!("relay-{}", crate::domain::new_id()).into(),
            lease,
        }
    }

    /// The lease to write entries with, so that only this relay sends them for a while.
    pub fn lease(&self) -> OutboxLease {
        OutboxLease {
            owner: self.owner.to_string(),
            until_ms: now_ms() + self.lease.as_millis() as i64,
        }
    }

    /// Entries written (stored) with `lease()`.
    pub fn hand_over(&self, written: Vec<OutboxEntry>) {
        if written.is_empty() {
            return;
        }
        {
            let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            let room = HANDOFF_MAX.saturating_sub(entries.len());
            entries.extend(written.into_iter().take(room));
        }
        self.wakeup.notify_one();
    }

    fn take(&self) -> Vec<OutboxEntry> {
        std::mem::take(&mut *self.entries.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

pub struct OutboxRelay {
    pub store: Store,
    pub broker: Broker,
    pub exchange: String,
    pub metrics: Metrics,
    pub logger: slog::Logger,
    /// Rung when a grant was just recorded or the broker came back; carries handed-over
    /// entries.
    pub handoff: Handoff,
}

impl OutboxRelay {
    pub async fn run(self, token: CancellationToken) {
        let mut searched = Instant::now() - POLL;
        loop {
            let handed = self.handoff.take();
            for (i, page) in handed.chunks(PAGE).enumerate() {
                let sent = self.broker.is_connected() && self.send(page.to_vec()).await;
                if !sent {
                    // Due again in a second, from the store (a sent one is SENT, untouched).
                    let rest: Vec<String> =
                        handed[i * PAGE..].iter().map(|e| e.id.clone()).collect();
                    let _ = self.store.retry_outbox_after(&rest, 1000).await;
                    break;
                }
            }
            if handed.is_empty() || searched.elapsed() >= POLL {
                self.drain(&token).await;
                searched = Instant::now();
            }
            if token.is_cancelled() {
                return;
            }
            tokio::select! {
                _ = token.cancelled() => return,
                _ = self.handoff.wakeup.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// Sends entries, a leased page at a time, until none is due, the broker refuses one, or
    /// shutdown. A page's publishes are in flight together and their confirms awaited as one.
    async fn drain(&self, token: &CancellationToken) {
        // The same lease as the entries handed over: one relay lease per instance.
        let lease_ms = self.handoff.lease.as_millis() as i64;
        // Leave entries to instances that can publish them right now.
        while !token.is_cancelled() && self.broker.is_connected() {
            let entries = match self.store.lease_outbox(lease_ms, PAGE as i64).await {
                Ok(e) if e.is_empty() => break,
                Ok(e) => e,
                Err(e) => {
                    slog::debug!(self.logger, "outbox lease failed"; "error" => e.to_string());
                    break;
                }
            };
            if !self.send(entries).await {
                break;
            }
        }
    }

    /// Publishes `entries` (their confirms awaited together) and marks the sent ones; false
    /// when the broker refused one (those are retried a second later, from the store).
    async fn send(&self, entries: Vec<OutboxEntry>) -> bool {
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
            return false;
        }
        true
    }
}
