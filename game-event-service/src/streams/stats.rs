//! `GET /events/{id}/stats/stream`: the event's stats (the JSON of `GET /events/{id}/stats`)
//! as `event: stats`, first as a snapshot and then whenever they changed, at most once a
//! second. A decision on the event (from any instance, via the fanout) marks them changed;
//! every `RESYNC` they are read anyway, for what no decision announces (new PENDING claims,
//! a period rolling over, a stock change).
use super::{sse, Credential, LiveFeed};
use crate::domain::EventId;
use actix_web::web::Bytes;
use futures_util::future::LocalBoxFuture;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::{error::RecvError, Receiver};
use tokio::time::{Instant, Interval, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

/// The shortest time between two pushes.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// The longest time between two reads of unannounced changes.
pub const RESYNC: Duration = Duration::from_secs(5);

/// What reading the stats gave.
pub enum Snapshot {
    Json(String),
    /// The event is gone (archived): the stream ends.
    Gone,
    /// The store failed: the stream ends, the client reconnects.
    Failed,
}

pub type Reader = Box<dyn Fn() -> LocalBoxFuture<'static, Snapshot>>;

pub struct StatsStream {
    event: EventId,
    read: Reader,
    rx: Receiver<Arc<[EventId]>>,
    last: Option<String>,
    changed: bool,
    last_read: Instant,
    tick: Interval,
    heartbeat: Interval,
    closing: CancellationToken,
    started: bool,
    credential: Credential,
}

impl StatsStream {
    /// `first` is the snapshot the handler read already (so an unknown event was a 404).
    pub fn open(
        feed: &LiveFeed,
        event: EventId,
        first: String,
        read: Reader,
        credential: Credential,
    ) -> StatsStream {
        let rx = feed.watch_events();
        let now = Instant::now();
        let mut tick = tokio::time::interval_at(now + MIN_INTERVAL, MIN_INTERVAL);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let every = feed.heartbeat();
        let mut heartbeat = tokio::time::interval_at(now + every, every);
        heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        StatsStream {
            event,
            read,
            rx,
            last: Some(first),
            changed: false,
            last_read: now,
            tick,
            heartbeat,
            closing: feed.closing(),
            started: false,
            credential,
        }
    }

    fn frame(json: &str) -> Bytes {
        Bytes::from(sse::event("stats", None, json))
    }

    /// The retry hint and the first snapshot.
    fn preamble(&self) -> Bytes {
        let mut b = sse::retry().to_vec();
        b.extend_from_slice(&Self::frame(self.last.as_deref().unwrap_or("{}")));
        Bytes::from(b)
    }

    /// The next bytes to send; `None` ends the stream.
    pub async fn next(mut self) -> Option<(Bytes, Self)> {
        if !self.started {
            self.started = true;
            return Some((self.preamble(), self));
        }
        loop {
            tokio::select! {
                _ = self.closing.cancelled() => return None,
                _ = self.heartbeat.tick() => {
                    if !self.credential.still_valid().await {
                        return None;
                    }
                    return Some((sse::keepalive(), self));
                }
                m = self.rx.recv() => match m {
                    Ok(events) => self.changed |= events.contains(&self.event),
                    // Fell behind the channel: whatever it missed, read again.
                    Err(RecvError::Lagged(_)) => self.changed = true,
                    Err(RecvError::Closed) => return None,
                },
                _ = self.tick.tick() => {
                    if !self.changed && self.last_read.elapsed() < RESYNC {
                        continue;
                    }
                    self.changed = false;
                    self.last_read = Instant::now();
                    match (self.read)().await {
                        Snapshot::Json(json) if self.last.as_ref() != Some(&json) => {
                            let frame = Self::frame(&json);
                            self.last = Some(json);
                            return Some((frame, self));
                        }
                        Snapshot::Json(_) => {}
                        Snapshot::Gone | Snapshot::Failed => return None,
                    }
                }
            }
        }
    }
}
