//! The claim decision worker: one claims-queue message, one decision.
use super::RETRY_PAUSE;
use crate::claims::ClaimMessage;
use crate::domain::claim::{Claim, Decision, RejectReason};
use crate::domain::conditions::{ConditionProgress, Facts};
use crate::domain::eligibility::{verdict, Stock};
use crate::domain::ClaimId;
use crate::metrics::Metrics;
use crate::mq::{Delivery, Outcome};
use crate::store::stock::Reservation;
use crate::store::Store;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

#[derive(Clone)]
pub struct Decider {
    store: Store,
    metrics: Metrics,
    logger: slog::Logger,
    lease: Duration,
    /// Wakes the outbox relay once a grant was recorded.
    outbox_wakeup: Arc<Notify>,
}

impl Decider {
    pub fn new(
        store: Store,
        metrics: Metrics,
        logger: slog::Logger,
        lease: Duration,
        outbox_wakeup: Arc<Notify>,
    ) -> Self {
        Decider {
            store,
            metrics,
            logger,
            lease: lease.max(Duration::from_secs(1)),
            outbox_wakeup,
        }
    }

    pub async fn handle(&self, d: Delivery) -> Outcome {
        let msg = match ClaimMessage::parse(&d.body) {
            Ok(m) => m,
            Err(e) => {
                slog::warn!(self.logger, "malformed claim message"; "error" => e.to_string());
                return Outcome::DeadLetter;
            }
        };
        match self.process(&msg.claim_id).await {
            Ok(()) => Outcome::Ack,
            Err(e) => {
                slog::warn!(self.logger, "claim processing failed";
                    "claimId" => msg.claim_id.as_str(), "error" => format!("{e:#}"));
                let _ = self.store.release_claim_lease(&msg.claim_id).await;
                tokio::time::sleep(RETRY_PAUSE).await;
                Outcome::Requeue
            }
        }
    }

    /// Decides one claim. Every step is idempotent and keyed by the claim id, so processing the
    /// same claim again after a crash at any point never approves twice nor leaks stock.
    pub async fn process(&self, claim_id: &ClaimId) -> anyhow::Result<()> {
        let (store, m) = (&self.store, &self.metrics);
        // Decided already, unknown, or another worker is on it right now: nothing to do.
        let t = Instant::now();
        let Some(claim) = store
            .lease_claim(claim_id, self.lease.as_millis() as i64)
            .await?
        else {
            return Ok(());
        };
        m.step("lease", t);
        let now = chrono::Utc::now();

        // A previous attempt got as far as the approval: finish that, never re-evaluate.
        let t = Instant::now();
        let previous = store
            .approval_holder(&claim.event_id, &claim.user_id)
            .await?;
        m.step("approval_check", t);
        if previous.as_ref() == Some(&claim.id) {
            return self.approve(claim, Vec::new()).await;
        }

        let t = Instant::now();
        let event = store.get_event(&claim.event_id).await?;
        m.step("event", t);
        let Some(event) = event else {
            return self.reject(claim, RejectReason::EventNotActive, None).await;
        };
        let facts = if event.is_open_at(now) && previous.is_none() {
            let t = Instant::now();
            let f = store
                .facts_for(&claim.user_id, event.window(), &event.conditions)
                .await?;
            m.step("facts", t);
            f
        } else {
            Facts::default()
        };
        let stock = match event.max_claims {
            Some(_) => Stock::TakenOnApproval,
            None => Stock::Unlimited,
        };
        let v = verdict(&event, now, &facts, previous.is_some(), stock);
        if !v.eligible() {
            return match v.decision() {
                Decision::Rejected { reason, progress } => {
                    self.reject(claim, reason, progress).await
                }
                Decision::Approved { progress } => self.approve(claim, progress).await,
            };
        }
        let progress = v.progress;
        if let Some(max) = event.max_claims {
            let t = Instant::now();
            let reserved = store.reserve_stock(&event.id, &claim.id, max).await?;
            m.step("stock", t);
            if reserved == Reservation::SoldOut {
                return self
                    .reject(claim, RejectReason::OutOfStock, Some(progress))
                    .await;
            }
        }
        // The unique `_id` of the approval is what makes "one approval per user and event" hold.
        let t = Instant::now();
        let holder = store.insert_approval(&claim).await?;
        m.step("approval_insert", t);
        if holder != claim.id {
            return self
                .reject(claim, RejectReason::AlreadyClaimed, Some(progress))
                .await;
        }
        self.approve(claim, progress).await
    }

    async fn approve(&self, claim: Claim, progress: Vec<ConditionProgress>) -> anyhow::Result<()> {
        // Grant and outbox entry first: once the claim says APPROVED the reward is on its way.
        let t = Instant::now();
        self.store.record_grant(&claim).await?;
        self.metrics.step("grant_outbox", t);
        let decided = claim.decided(&Decision::Approved { progress }, chrono::Utc::now());
        let t = Instant::now();
        let stored = self.store.store_decision(&decided).await?;
        self.metrics.step("decision", t);
        if stored {
            self.decided("APPROVED", "");
        }
        self.outbox_wakeup.notify_one();
        Ok(())
    }

    async fn reject(
        &self,
        claim: Claim,
        reason: RejectReason,
        progress: Option<Vec<ConditionProgress>>,
    ) -> anyhow::Result<()> {
        let store = &self.store;
        // Should a lease ever expire mid-evaluation, a concurrent evaluation of this same claim
        // may have approved it already: never undo that.
        let holder = store
            .approval_holder(&claim.event_id, &claim.user_id)
            .await?;
        if holder.as_ref() == Some(&claim.id) {
            return self.approve(claim, progress.unwrap_or_default()).await;
        }
        // Any unit this claim took earlier goes back (no-op when it holds none).
        store.release_stock(&claim.event_id, &claim.id).await?;
        let (event_id, user_id, claim_id) = (
            claim.event_id.clone(),
            claim.user_id.clone(),
            claim.id.clone(),
        );
        let decided = claim.decided(&Decision::Rejected { reason, progress }, chrono::Utc::now());
        if store.store_decision(&decided).await? {
            self.decided("REJECTED", reason.as_str());
        }
        // Frees the user to claim again; a crash before this is repaired by the next request.
        store
            .release_claim_lock(&event_id, &user_id, &claim_id)
            .await?;
        Ok(())
    }

    fn decided(&self, status: &str, reason: &str) {
        self.metrics
            .claims_decided
            .with_label_values(&[status, reason])
            .inc();
    }
}
