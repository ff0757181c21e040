//! Accepting a claim: take the one-open-claim lock, store the claim PENDING, publish it.
//! Stored first, published second: a publish that fails is repaired by the sweeper.
use super::queue::ClaimQueue;
use crate::domain::claim::{Claim, ClaimStatus};
use crate::domain::event::Event;
use crate::domain::{ClaimId, UserId};
use crate::metrics::Metrics;
use crate::store::claims::LockOutcome;
use crate::store::{Store, StoreError, StoreResult};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    /// The user already has this PENDING or APPROVED claim for the event.
    #[error("a claim for this event is already pending or approved")]
    Exists(Box<Claim>),
    /// Another request of the same user for the same event is being accepted right now.
    #[error("another claim request for this event is in progress")]
    Busy,
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Clone)]
pub struct Acceptor {
    store: Store,
    queue: ClaimQueue,
    metrics: Metrics,
    logger: slog::Logger,
}

impl Acceptor {
    pub fn new(store: Store, queue: ClaimQueue, metrics: Metrics, logger: slog::Logger) -> Self {
        Acceptor {
            store,
            queue,
            metrics,
            logger,
        }
    }

    /// The stored PENDING claim, durable before this returns.
    pub async fn accept(&self, event: &Event, user: &UserId) -> Result<Claim, AcceptError> {
        let claim = Claim::request(
            event.id.clone(),
            user.clone(),
            event.rewards.clone(),
            chrono::Utc::now(),
        );
        match self
            .store
            .acquire_claim_lock(&event.id, user, &claim.id)
            .await?
        {
            LockOutcome::Acquired => {}
            LockOutcome::Busy => return Err(AcceptError::Busy),
            LockOutcome::Held(existing) => {
                self.count("exists");
                return Err(AcceptError::Exists(Box::new(existing)));
            }
        }
        if let Err(e) = self.store.insert_claim(&claim).await {
            let _ = self
                .store
                .release_claim_lock(&event.id, user, &claim.id)
                .await;
            return Err(e.into());
        }
        self.count("accepted");
        if let Err(e) = self.queue.publish(&claim.id).await {
            slog::warn!(self.logger, "claim publish failed; sweeper will retry";
                "claimId" => claim.id.as_str(), "error" => e.to_string());
        }
        Ok(claim)
    }

    /// The claim once decided, if that happens within `wait` (`Prefer: wait=N`).
    pub async fn decided_within(&self, id: &ClaimId, wait: Duration) -> StoreResult<Option<Claim>> {
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
            if let Some(c) = self.store.get_claim(id).await? {
                if c.status != ClaimStatus::Pending {
                    return Ok(Some(c));
                }
            }
        }
        Ok(None)
    }

    fn count(&self, outcome: &str) {
        self.metrics
            .claims_requested
            .with_label_values(&[outcome])
            .inc();
    }
}
