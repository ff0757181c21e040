//! Publishes what the outboxes hold until the broker confirms it: `reward.granted` of every
//! batch of approvals (`store::grant_outbox`) and the entries of the outbox collection
//! (`reward.revoked`).
//!
//! The decider writes its batch's record already leased to this instance's relay and hands
//! the messages over in memory, so the relay publishes them and deletes the record without
//! reading anything back (one store write per batch). The store is still searched every
//! `POLL` for what nobody handed over: records of a crashed instance once their lease ran
//! out, of a publish that failed, of a full handoff, of grant jobs, and outbox entries.
use crate::domain::BatchId;
use crate::metrics::Metrics;
use crate::mq::Broker;
use crate::store::grant_outbox::GrantBatch;
use crate::store::outbox::{OutboxEntry, OutboxLease};
use crate::store::{now_ms, Store};
use futures_util::future::join_all;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Records or entries leased and published together.
const PAGE: usize = 100;
/// How often the store is searched while handed-over batches keep the relay busy.
const POLL: Duration = Duration::from_millis(500);
/// Messages waiting in memory at most; beyond it they wait for their record's lease to run out.
const HANDOFF_MAX: usize = 10_000;
/// A failed publish is tried again after this long.
const RETRY_MS: i64 = 1000;
/// A record whose claims are not all decided yet is looked at again after this long.
const UNSETTLED_MS: i64 = 2000;

/// The `reward.granted` messages of one batch's stored approvals.
struct Handed {
    batch: BatchId,
    messages: Vec<OutboxEntry>,
}

/// Batches decided for this instance's relay, and the signal that wakes it.
#[derive(Clone)]
pub struct Handoff {
    wakeup: Arc<Notify>,
    handed: Arc<Mutex<(Vec<Handed>, usize)>>,
    owner: Arc<str>,
    lease: Duration,
}

impl Handoff {
    pub fn new(wakeup: Arc<Notify>, lease: Duration) -> Self {
        Handoff {
            wakeup,
            handed: Arc::default(),
            owner: format!("relay-{}", crate::domain::new_id()).into(),
            lease,
        }
    }

    /// The lease to write records with, so that only this relay sends them for a while.
    pub fn lease(&self) -> OutboxLease {
        OutboxLease {
            owner: self.owner.to_string(),
            until_ms: now_ms() + self.lease.as_millis() as i64,
        }
    }

    /// The messages of a batch whose record was written with `lease()` (none when none of its
    /// approvals landed: the record is dropped all the same).
    pub fn hand_over(&self, batch: BatchId, messages: Vec<OutboxEntry>) {
        {
            let mut handed = self.handed.lock().unwrap_or_else(|p| p.into_inner());
            if handed.1 + messages.len() > HANDOFF_MAX {
                return; // its lease runs out and the store search finds it
            }
            handed.1 += messages.len();
            handed.0.push(Handed { batch, messages });
        }
        self.wakeup.notify_one();
    }

    fn take(&self) -> Vec<Handed> {
        let mut handed = self.handed.lock().unwrap_or_else(|p| p.into_inner());
        handed.1 = 0;
        std::mem::take(&mut handed.0)
    }
}

pub struct OutboxRelay {
    pub store: Store,
    pub broker: Broker,
    pub exchange: String,
    pub metrics: Metrics,
    pub logger: slog::Logger,
    /// Rung when a batch was handed over, a record or entry was written, or the broker came
    /// back.
    pub handoff: Handoff,
}

impl OutboxRelay {
    pub async fn run(self, token: CancellationToken) {
        let mut searched = Instant::now() - POLL;
        loop {
            let handed = self.handoff.take();
            let woken_for_store = handed.is_empty();
            let mut sending = true;
            for h in handed {
                sending = sending
                    && self.broker.is_connected()
                    && self.send_batch(&h.batch, h.messages).await;
                if !sending {
                    // Due again in a second, from the store.
                    let _ = self.store.retry_grant_batch_after(&h.batch, RETRY_MS).await;
                }
            }
            if woken_for_store || searched.elapsed() >= POLL {
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

    /// Sends what the store holds, a leased page at a time, until nothing is due, the broker
    /// refuses a message, or shutdown.
    async fn drain(&self, token: &CancellationToken) {
        // The same lease as the records handed over: one relay lease per instance.
        let lease_ms = self.handoff.lease.as_millis() as i64;
        // Leave records to instances that can publish them right now.
        while !token.is_cancelled() && self.broker.is_connected() {
            let batches = match self.store.lease_grant_batches(lease_ms, PAGE as i64).await {
                Ok(b) if b.is_empty() => break,
                Ok(b) => b,
                Err(e) => {
                    slog::debug!(self.logger, "grant outbox lease failed"; "error" => e.to_string());
                    return;
                }
            };
            for b in batches {
                if !self.send_stored_batch(&b).await {
                    return;
                }
            }
        }
        while !token.is_cancelled() && self.broker.is_connected() {
            let entries = match self.store.lease_outbox(lease_ms, PAGE as i64).await {
                Ok(e) if e.is_empty() => break,
                Ok(e) => e,
                Err(e) => {
                    slog::debug!(self.logger, "outbox lease failed"; "error" => e.to_string());
                    break;
                }
            };
            if !self.send_entries(entries).await {
                break;
            }
        }
    }

    /// A record found in the store: sent once settled, else looked at again later.
    async fn send_stored_batch(&self, b: &GrantBatch) -> bool {
        match self.store.granted_messages(b).await {
            Ok(Some(messages)) => {
                let sent = self.send_batch(&b.id, messages).await;
                if !sent {
                    let _ = self.store.retry_grant_batch_after(&b.id, RETRY_MS).await;
                }
                sent
            }
            Ok(None) => {
                let _ = self
                    .store
                    .retry_grant_batch_after(&b.id, UNSETTLED_MS)
                    .await;
                true
            }
            Err(e) => {
                slog::debug!(self.logger, "grant outbox read failed"; "batch" => b.id.as_str(), "error" => e.to_string());
                let _ = self.store.retry_grant_batch_after(&b.id, RETRY_MS).await;
                false
            }
        }
    }

    /// Publishes a batch's `reward.granted` messages and drops its record once all are
    /// confirmed; false when the broker refused one (the caller has the whole record retried:
    /// consumers dedupe on the message id).
    async fn send_batch(&self, batch: &BatchId, messages: Vec<OutboxEntry>) -> bool {
        let (_, failed) = self.publish(messages).await;
        if !failed.is_empty() {
            return false;
        }
        if let Err(e) = self.store.finish_grant_batch(batch).await {
            // The lease expires and the batch is sent again: consumers dedupe on the message
            // id.
            slog::warn!(self.logger, "grant outbox record not removed"; "batch" => batch.as_str(), "error" => e.to_string());
        }
        true
    }

    /// Publishes outbox entries and marks the sent ones; false when the broker refused one
    /// (those are retried a second later, from the store).
    async fn send_entries(&self, entries: Vec<OutboxEntry>) -> bool {
        let (sent, failed) = self.publish(entries).await;
        if let Err(e) = self.store.mark_outbox_sent(&sent).await {
            slog::warn!(self.logger, "outbox mark failed"; "error" => e.to_string());
        }
        if !failed.is_empty() {
            let _ = self.store.retry_outbox_after(&failed, RETRY_MS).await;
            return false;
        }
        true
    }

    /// Publishes `entries` with their confirms awaited together; the ids sent and failed.
    async fn publish(&self, entries: Vec<OutboxEntry>) -> (Vec<String>, Vec<String>) {
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
        (sent, failed)
    }
}
