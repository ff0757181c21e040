//! Live decisions (SPEC §8): the in-process hub that the Server-Sent Events streams subscribe
//! to, fed by a RabbitMQ fanout so that a decision made on any instance reaches a stream held
//! by any other.
//!
//! The decision worker hands its stored decisions to `LiveFeed::publish` (non-blocking: a
//! bounded queue to one publisher task). Every instance's own server-named queue on the
//! fanout exchange brings the notification back to `LiveFeed::receive`, which reads the named
//! claims of users with a stream open here from the store (the store, not the message, is what
//! a stream pushes) and broadcasts them in-process. Streams hold a bounded receiver each: one
//! that falls behind resynchronises from the store instead of buffering.
pub mod claims;
pub mod fanout;
pub mod sse;
pub mod stats;

use crate::auth::Verifier;
use crate::configuration::StreamSettings;
use crate::domain::claim::{Claim, ClaimStatus};
use crate::domain::{EventId, UserId};
use crate::mq::Broker;
use crate::store::Store;
use fanout::Notification;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

/// Notifications waiting for the publisher; past this, new ones are dropped (streams catch up
/// from the store on reconnect) rather than slowing the decision worker down.
const PUBLISH_QUEUE: usize = 1024;

/// What the in-process channel of decided claims carries.
#[derive(Debug, Clone)]
pub enum Update {
    /// Decided claims of users with a stream open on this instance.
    Claims(Arc<[Claim]>),
    /// Decisions were announced but could not be read: streams re-read their own from the store.
    Missed,
}

struct Inner {
    store: Option<Store>,
    exchange: String,
    settings: StreamSettings,
    logger: slog::Logger,
    outgoing: Option<mpsc::Sender<Notification>>,
    outgoing_rx: Mutex<Option<mpsc::Receiver<Notification>>>,
    /// Notifications dropped because the publish queue was full.
    dropped: AtomicU64,
    claims: broadcast::Sender<Update>,
    events: broadcast::Sender<Arc<[EventId]>>,
    /// Open claim streams per user: claims of nobody streaming here are never read.
    interest: Mutex<HashMap<UserId, usize>>,
    /// Ends every stream (shutdown must not wait for clients that never hang up).
    closing: CancellationToken,
}

#[derive(Clone)]
pub struct LiveFeed(Arc<Inner>);

impl Default for LiveFeed {
    /// A feed that publishes nothing (a `Decider` built without one, e.g. by a tool).
    fn default() -> Self {
        let logger = slog::Logger::root(slog::Discard, slog::o!());
        let settings = StreamSettings::default();
        Self::build(
            None,
            String::new(),
            settings,
            logger,
            CancellationToken::new(),
        )
    }
}

impl LiveFeed {
    /// `shutdown` also ends the streams; `close_streams` may end them earlier.
    pub fn new(
        store: Store,
        exchange: String,
        settings: StreamSettings,
        logger: slog::Logger,
        shutdown: &CancellationToken,
    ) -> Self {
        Self::build(
            Some(store),
            exchange,
            settings,
            logger,
            shutdown.child_token(),
        )
    }

    fn build(
        store: Option<Store>,
        exchange: String,
        settings: StreamSettings,
        logger: slog::Logger,
        closing: CancellationToken,
    ) -> Self {
        let buffer = settings.buffer.max(1);
        let (tx, rx) = match store {
            Some(_) => {
                let (tx, rx) = mpsc::channel(PUBLISH_QUEUE);
                (Some(tx), Some(rx))
            }
            None => (None, None),
        };
        LiveFeed(Arc::new(Inner {
            store,
            exchange,
            settings,
            logger,
            outgoing: tx,
            outgoing_rx: Mutex::new(rx),
            dropped: AtomicU64::new(0),
            claims: broadcast::channel(buffer).0,
            events: broadcast::channel(buffer).0,
            interest: Mutex::default(),
            closing,
        }))
    }

    /// Announces decided (or otherwise changed: revoked) claims to every instance's streams.
    /// Never blocks: with the publish queue full the notification is dropped and counted.
    pub fn publish(&self, changed: &[Claim]) {
        let Some(tx) = &self.0.outgoing else { return };
        let n = Notification::of(changed);
        if n.claims.is_empty() {
            return;
        }
        if tx.try_send(n).is_err() {
            let dropped = self.0.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            slog::warn!(self.0.logger, "decision notification dropped (publish queue full)";
                "dropped" => dropped);
        }
    }

    /// The publisher: sends queued notifications to the fanout exchange until shutdown. With
    /// the broker unreachable a notification still reaches this instance's own streams.
    pub async fn run_publisher(self, broker: Broker, token: CancellationToken) {
        let logger = self.0.logger.clone();
        let rx = self
            .0
            .outgoing_rx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let Some(mut rx) = rx else { return };
        loop {
            let n = tokio::select! {
                _ = token.cancelled() => return,
                n = rx.recv() => match n { Some(n) => n, None => return },
            };
            let body = n.to_bytes();
            let id = crate::domain::new_id();
            if let Err(e) = broker.publish(&self.0.exchange, "", body, &id).await {
                slog::debug!(logger, "decision notification not published, delivered here only";
                    "error" => e.to_string());
                self.deliver(n).await;
            }
        }
    }

    /// A fanout message from any instance (this one included).
    pub async fn receive(&self, body: &[u8]) {
        match Notification::parse(body) {
            Ok(n) => self.deliver(n).await,
            Err(e) => {
                slog::warn!(self.0.logger, "malformed decision notification"; "error" => e.to_string())
            }
        }
    }

    async fn deliver(&self, n: Notification) {
        if self.0.events.receiver_count() > 0 {
            let mut events: Vec<EventId> = n.claims.iter().map(|c| c.event_id.clone()).collect();
            events.sort();
            events.dedup();
            let _ = self.0.events.send(events.into());
        }
        let wanted: Vec<_> = {
            let interest = self.0.interest.lock().unwrap_or_else(|e| e.into_inner());
            n.claims
                .iter()
                .filter(|c| interest.contains_key(&c.user_id))
                .map(|c| c.id.clone())
                .collect()
        };
        let Some(store) = &self.0.store else { return };
        if wanted.is_empty() {
            return;
        }
        let update = match store.claims_by_ids(&wanted).await {
            Ok(claims) => Update::Claims(
                claims
                    .into_iter()
                    .filter(|c| c.status != ClaimStatus::Pending)
                    .collect::<Vec<_>>()
                    .into(),
            ),
            Err(e) => {
                slog::warn!(self.0.logger, "decided claims not readable for live streams"; "error" => e.to_string());
                Update::Missed
            }
        };
        let _ = self.0.claims.send(update);
    }

    /// Subscribes a claim stream of `user` (counted until the guard drops).
    pub fn watch_claims(&self, user: &UserId) -> (broadcast::Receiver<Update>, Interest) {
        let rx = self.0.claims.subscribe();
        *self
            .0
            .interest
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(user.clone())
            .or_default() += 1;
        let guard = Interest {
            feed: self.clone(),
            user: user.clone(),
        };
        (rx, guard)
    }

    /// Subscribes to "these events' claims changed".
    pub fn watch_events(&self) -> broadcast::Receiver<Arc<[EventId]>> {
        self.0.events.subscribe()
    }

    pub fn heartbeat(&self) -> Duration {
        Duration::from_secs(self.0.settings.heartbeat_seconds.max(1))
    }

    pub fn closing(&self) -> CancellationToken {
        self.0.closing.clone()
    }

    /// Ends every open stream (before the HTTP server waits for in-flight requests).
    pub fn close_streams(&self) {
        self.0.closing.cancel();
    }

    /// Claim streams open on this instance.
    pub fn open_claim_streams(&self) -> usize {
        self.0
            .interest
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .sum()
    }
}

/// Keeps a user's claims read for this instance's streams while a stream of theirs is open.
pub struct Interest {
    feed: LiveFeed,
    user: UserId,
}

impl Drop for Interest {
    fn drop(&mut self) {
        let mut interest = self
            .feed
            .0
            .interest
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(n) = interest.get_mut(&self.user) {
            *n -= 1;
            if *n == 0 {
                interest.remove(&self.user);
            }
        }
    }
}

/// The bearer token a stream was opened with, verified again at every heartbeat: a stream ends
/// once its token has expired or its session was revoked, as any request with it would fail
/// (the client reconnects with a fresh token).
#[derive(Clone)]
pub struct Credential {
    verifier: Arc<Verifier>,
    token: String,
}

impl Credential {
    pub fn new(verifier: Arc<Verifier>, token: String) -> Self {
        Credential { verifier, token }
    }

    pub async fn still_valid(&self) -> bool {
        self.verifier.verify(&self.token).await.is_ok()
    }
}
