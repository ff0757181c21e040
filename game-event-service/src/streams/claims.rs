//! `GET /claims/me/stream`: the caller's claim decisions as they are stored, each as
//! `event: claim` with the claim JSON of `GET /claims/{id}` and its `DecisionCursor` as `id:`.
//!
//! A stream first replays from the store what was decided after the client's `Last-Event-ID`,
//! then pushes live decisions. It is subscribed before the replay starts, so nothing decided
//! meanwhile is missed; a claim sent twice (replay and live) is dropped by id and status.
//! Falling behind the in-process channel means the store is read again from the stream's
//! position: memory per stream stays bounded whatever the client's speed.
use super::{sse, Credential, Interest, LiveFeed, Update};
use crate::domain::claim::{Claim, ClaimStatus};
use crate::domain::decision_cursor::DecisionCursor;
use crate::domain::{ClaimId, UserId};
use crate::store::Store;
use actix_web::web::Bytes;
use std::collections::VecDeque;
use tokio::sync::broadcast::{error::RecvError, Receiver};
use tokio::time::{Instant, Interval, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

/// Decisions read per replay round trip.
const REPLAY_PAGE: i64 = 100;
/// Recently sent (claim, status) pairs remembered to drop duplicates.
const RECENT: usize = 64;

pub struct ClaimStream {
    store: Store,
    user: UserId,
    rx: Receiver<Update>,
    _interest: Interest,
    /// The newest decision sent (or the client's `Last-Event-ID`).
    position: Option<DecisionCursor>,
    /// When set, the next step reads the store after `position`.
    replaying: bool,
    recent: VecDeque<(ClaimId, ClaimStatus)>,
    connected_ms: i64,
    started: bool,
    heartbeat: Interval,
    closing: CancellationToken,
    logger: slog::Logger,
    credential: Credential,
}

impl ClaimStream {
    /// Subscribes at once (before the response is sent), so the stream misses nothing decided
    /// after this call.
    pub fn open(
        feed: &LiveFeed,
        store: Store,
        user: UserId,
        last_event_id: Option<DecisionCursor>,
        credential: Credential,
        logger: slog::Logger,
    ) -> ClaimStream {
        let (rx, interest) = feed.watch_claims(&user);
        let every = feed.heartbeat();
        let mut heartbeat = tokio::time::interval_at(Instant::now() + every, every);
        heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        ClaimStream {
            store,
            user,
            rx,
            _interest: interest,
            replaying: last_event_id.is_some(),
            position: last_event_id,
            recent: VecDeque::with_capacity(RECENT),
            connected_ms: chrono::Utc::now().timestamp_millis(),
            started: false,
            heartbeat,
            closing: feed.closing(),
            logger,
            credential,
        }
    }

    /// The next bytes to send; `None` ends the stream.
    pub async fn next(mut self) -> Option<(Bytes, Self)> {
        if !self.started {
            self.started = true;
            return Some((sse::retry(), self));
        }
        loop {
            if self.replaying {
                let page = self.replay_page().await?;
                if !page.is_empty() {
                    return Some((page, self));
                }
                continue;
            }
            let update = tokio::select! {
                _ = self.closing.cancelled() => return None,
                _ = self.heartbeat.tick() => {
                    if !self.credential.still_valid().await {
                        return None;
                    }
                    return Some((sse::keepalive(), self));
                }
                u = self.rx.recv() => u,
            };
            match update {
                Ok(Update::Claims(claims)) => {
                    let mine: Vec<&Claim> =
                        claims.iter().filter(|c| c.user_id == self.user).collect();
                    let frames = self.frames(mine);
                    if !frames.is_empty() {
                        return Some((frames, self));
                    }
                }
                Ok(Update::Missed) | Err(RecvError::Lagged(_)) => self.resync(),
                Err(RecvError::Closed) => return None,
            }
        }
    }

    /// Reads the store from the stream's position from now on (what a reconnect would do).
    fn resync(&mut self) {
        if self.position.is_none() {
            self.position = Some(DecisionCursor {
                at_ms: self.connected_ms,
                claim_id: ClaimId::stored(String::new()),
            });
        }
        self.replaying = true;
    }

    /// One page of stored decisions after the position; `None` when the store failed (the
    /// stream ends and the client reconnects with its `Last-Event-ID`).
    async fn replay_page(&mut self) -> Option<Bytes> {
        let after = self.position.clone()?;
        match self
            .store
            .decided_after(&self.user, &after, REPLAY_PAGE)
            .await
        {
            Ok(page) => {
                if (page.len() as i64) < REPLAY_PAGE {
                    self.replaying = false;
                }
                if let Some(last) = page.last().and_then(DecisionCursor::of) {
                    // Paging goes on from the page's end even when every claim was a duplicate.
                    self.position = self.position.clone().max(Some(last));
                }
                Some(self.frames(page.iter().collect()))
            }
            Err(e) => {
                slog::warn!(self.logger, "claim stream replay failed"; "error" => e.to_string());
                None
            }
        }
    }

    /// The frames of the claims not sent yet; moves the position forward.
    fn frames(&mut self, claims: Vec<&Claim>) -> Bytes {
        let mut out = String::new();
        for c in claims {
            let Some(cursor) = DecisionCursor::of(c) else {
                continue;
            };
            let key = (c.id.clone(), c.status);
            if c.status == ClaimStatus::Pending || self.recent.contains(&key) {
                continue;
            }
            if self.recent.len() == RECENT {
                self.recent.pop_front();
            }
            self.recent.push_back(key);
            let json = serde_json::to_string(c).unwrap_or_default();
            out.push_str(&sse::event("claim", Some(&cursor.to_string()), &json));
            if self.position.as_ref().is_none_or(|p| &cursor > p) {
                self.position = Some(cursor);
            }
        }
        Bytes::from(out)
    }
}
