//! The claim decision worker: the deliveries a consumer has are decided as one batch, with a
//! fixed handful of store round trips for the whole batch instead of about nine per claim.
//!
//! The decision is the commit point: one conditional replace per claim, which also makes an
//! approval's `reward.granted` due (the claim names its batch, whose grant-outbox record was
//! written just before). Nothing else a player or the game can see is written before it, so
//! a crash before the write leaves the claim PENDING to be evaluated again, and a duplicate
//! delivery evaluated at the same time loses the write and changes nothing. The only earlier
//! writes are stock units: claims that take one are evaluated under a lease, so one
//! evaluation at a time moves their units, and units are held under the claim id, so a retry
//! takes nothing twice and a rejection gives back what an earlier attempt took.
mod batch;
mod stock;

use super::outbox_relay::Handoff;
use super::RETRY_PAUSE;
use crate::cache::Catalog;
use crate::claims::ClaimMessage;
use crate::domain::claim::{Claim, ClaimStatus, RejectReason};
use crate::domain::conditions::Facts;
use crate::domain::eligibility::verdict;
use crate::domain::{BatchId, ClaimId};
use crate::metrics::Metrics;
use crate::mq::{Delivery, Outcome};
use crate::store::activity_totals::FactsWanted;
use crate::store::decisions::Evaluation;
use crate::store::grant_outbox::reward_granted;
use crate::store::Store;
use batch::{rejected, Events, Path, Pending};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use stock::may_take_stock;

#[derive(Clone)]
pub struct Decider {
    store: Store,
    catalog: Catalog,
    metrics: Metrics,
    logger: slog::Logger,
    lease: Duration,
    /// Where grants' outbox entries go once recorded: this instance's relay.
    outbox: Handoff,
    /// Announces stored decisions to the live streams of every instance (`Decider::with_feed`).
    feed: crate::streams::LiveFeed,
    /// The broker user whose messages' claims are believed (`Decider::trusting`).
    trusted_publisher: Option<String>,
}

/// A claim to decide: carried by its message (as accepted, PENDING), or to be read first.
#[derive(Clone)]
enum Work {
    Carried(Box<Claim>),
    Read(ClaimId),
}

impl Work {
    fn id(&self) -> &ClaimId {
        match self {
            Work::Carried(c) => &c.id,
            Work::Read(id) => id,
        }
    }
}

impl Decider {
    pub fn new(
        store: Store,
        catalog: Catalog,
        metrics: Metrics,
        logger: slog::Logger,
        lease: Duration,
        outbox: Handoff,
    ) -> Self {
        Decider {
            store,
            catalog,
            metrics,
            logger,
            lease: lease.max(Duration::from_secs(1)),
            outbox,
            feed: Default::default(),
            trusted_publisher: None,
        }
    }

    /// One outcome per delivery. A failing batch is retried claim by claim, so one claim the
    /// store cannot decide does not hold back the others.
    pub async fn handle_batch(&self, deliveries: Vec<Delivery>) -> Vec<Outcome> {
        let mut outcomes = vec![Outcome::Ack; deliveries.len()];
        let mut work: Vec<(usize, Work)> = Vec::new();
        for (i, d) in deliveries.iter().enumerate() {
            match ClaimMessage::parse(&d.body) {
                Ok(m) => {
                    let id = m.claim_id.clone();
                    // Only another instance of this service is believed about the claim.
                    let trusted = self.trusted_publisher.is_some()
                        && d.user_id.as_deref() == self.trusted_publisher.as_deref();
                    let w = match m.pending_claim().filter(|_| trusted) {
                        Some(claim) => Work::Carried(Box::new(claim)),
                        None => Work::Read(id),
                    };
                    work.push((i, w));
                }
                Err(e) => {
                    slog::warn!(self.logger, "malformed claim message"; "error" => e.to_string());
                    outcomes[i] = Outcome::DeadLetter;
                }
            }
        }
        let all: Vec<Work> = work.iter().map(|(_, w)| w.clone()).collect();
        let Err(e) = self.process_work(all).await else {
            return outcomes;
        };
        if let [(i, w)] = work.as_slice() {
            slog::warn!(self.logger, "claim processing failed";
                "claimId" => w.id().as_str(), "error" => format!("{e:#}"));
            outcomes[*i] = Outcome::Requeue;
            tokio::time::sleep(RETRY_PAUSE).await;
            return outcomes;
        }
        let mut failed = false;
        for (i, w) in work {
            let id = w.id().clone();
            if let Err(e) = self.process_work(vec![w]).await {
                slog::warn!(self.logger, "claim processing failed";
                    "claimId" => id.as_str(), "error" => format!("{e:#}"));
                outcomes[i] = Outcome::Requeue;
                failed = true;
            }
        }
        if failed {
            tokio::time::sleep(RETRY_PAUSE).await;
        }
        outcomes
    }

    /// Believes the claims carried by messages this broker user published (the service's own
    /// instances; RabbitMQ refuses a `user_id` other than the publishing connection's):
    /// those are decided without reading them first.
    pub fn trusting(mut self, publisher: Option<String>) -> Self {
        self.trusted_publisher = publisher;
        self
    }

    /// Has the decider announce what it stores to the live streams.
    pub fn with_feed(mut self, feed: crate::streams::LiveFeed) -> Self {
        self.feed = feed;
        self
    }

    /// Decides one claim (as a batch of one).
    pub async fn process(&self, claim_id: &ClaimId) -> anyhow::Result<()> {
        self.process_batch(std::slice::from_ref(claim_id)).await
    }

    /// Decides the claims of `ids` that are PENDING and not leased by another batch.
    pub async fn process_batch(&self, ids: &[ClaimId]) -> anyhow::Result<()> {
        self.process_work(ids.iter().cloned().map(Work::Read).collect())
            .await
    }

    async fn process_work(&self, work: Vec<Work>) -> anyhow::Result<()> {
        let mut claims: Vec<Claim> = Vec::with_capacity(work.len());
        let mut to_read: Vec<ClaimId> = Vec::new();
        for w in work {
            match w {
                Work::Carried(c) => claims.push(*c),
                Work::Read(id) => to_read.push(id),
            }
        }
        if !to_read.is_empty() {
            let t = Instant::now();
            claims.extend(self.store.pending_claims(&to_read).await?);
            self.metrics.step("read", t);
        }
        // Two deliveries of one claim in one batch are one claim to decide.
        let mut seen = std::collections::HashSet::new();
        claims.retain(|c| seen.insert(c.id.clone()));
        if claims.is_empty() {
            return Ok(());
        }
        let events = self.events_of(&claims).await?;
        let t = Instant::now();
        let sold_out = stock::sold_out(&self.store, &claims, &events).await?;
        self.metrics.step("sold_out", t);
        let owner = crate::domain::new_id();
        let stock_takers: Vec<ClaimId> = claims
            .iter()
            .filter(|c| may_take_stock(&events, c) && !sold_out.contains(&c.id))
            .map(|c| c.id.clone())
            .collect();
        let t = Instant::now();
        let leased = self
            .store
            .lease_claims(&stock_takers, self.lease.as_millis() as i64, &owner)
            .await?;
        self.metrics.step("lease", t);
        let batch: Vec<Pending> = claims
            .into_iter()
            .filter_map(|claim| {
                let path = if leased.contains(&claim.id) {
                    Path::Leased
                } else if sold_out.contains(&claim.id) {
                    Path::SoldOut
                } else if !may_take_stock(&events, &claim) {
                    Path::NoStock
                } else {
                    // It takes stock and another batch holds its lease: theirs to decide.
                    return None;
                };
                Some(Pending {
                    claim,
                    path,
                    decision: None,
                })
            })
            .collect();
        let res = self.decide(batch, &events, &owner).await;
        if res.is_err() && !leased.is_empty() {
            // Redelivery may start over at once (and count against the delivery limit).
            let leased: Vec<ClaimId> = leased.into_iter().collect();
            let _ = self.store.release_leases(&leased, &owner).await;
        }
        res
    }

    async fn decide(
        &self,
        mut batch: Vec<Pending>,
        events: &Events,
        owner: &str,
    ) -> anyhow::Result<()> {
        let (store, m) = (&self.store, &self.metrics);
        let now = chrono::Utc::now();
        let t = Instant::now();
        let facts = self.facts_of(&batch, events, now).await?;
        m.step("facts", t);

        // The verdict of every claim; eligible ones of limited events wait for their stock.
        let mut needs_stock: Vec<usize> = Vec::new();
        for (i, p) in batch.iter_mut().enumerate() {
            let c = &p.claim;
            let Some(event) = events.get(&c.event_id).and_then(|e| e.as_ref()) else {
                p.decision = Some(rejected(RejectReason::EventNotActive, None));
                continue;
            };
            let no_facts = Facts::default();
            let f = facts.get(&c.id).unwrap_or(&no_facts);
            let window = event.claim_window(c.period.as_ref());
            // The claim holds its key (`openKey`): no other claim of the user is open.
            let v = verdict(event, window, now, f, false, p.path.stock());
            if v.eligible() && p.path == Path::Leased {
                needs_stock.push(i);
            }
            p.decision = Some(v.decision());
        }

        let t = Instant::now();
        stock::take(store, &mut batch, &needs_stock, events).await?;
        m.step("stock", t);
        stock::give_back(store, &batch, events, owner).await?;

        let decided_at = chrono::Utc::now();
        let batch_id = BatchId::mint();
        let decided: Vec<(Claim, Evaluation)> = batch
            .into_iter()
            .map(|p| {
                let d = p.decision.expect("every claim has a verdict");
                let how = match p.path {
                    Path::Leased => Evaluation::Leased(owner),
                    Path::SoldOut | Path::NoStock => Evaluation::Unleased,
                };
                (p.claim.decided(&d, decided_at), how)
            })
            .collect();
        let approvals: Vec<ClaimId> = decided
            .iter()
            .filter(|(c, _)| c.status == ClaimStatus::Approved)
            .map(|(c, _)| c.id.clone())
            .collect();
        // The outbox record first, so no approval is ever stored without its message.
        if !approvals.is_empty() {
            let t = Instant::now();
            let lease = self.outbox.lease();
            store
                .record_grant_batch(&batch_id, &approvals, &lease)
                .await?;
            m.step("grant_outbox", t);
        }
        let t = Instant::now();
        let landed = store.store_decisions(&batch_id, &decided).await?;
        m.step("decision", t);
        let stored: Vec<Claim> = decided
            .into_iter()
            .map(|(c, _)| c)
            .filter(|c| landed.contains(&c.id))
            .collect();
        if !approvals.is_empty() {
            // Also when none of them landed: the relay then has nothing to send and drops the
            // record.
            let messages = stored
                .iter()
                .filter(|c| c.status == ClaimStatus::Approved)
                .map(reward_granted)
                .collect();
            self.outbox.hand_over(batch_id, messages);
        }
        if !stored.is_empty() {
            self.feed.publish(&stored);
            for c in &stored {
                let reason = c.reason.map(|r| r.as_str()).unwrap_or("");
                self.metrics
                    .claims_decided
                    .with_label_values(&[c.status.as_str(), reason])
                    .inc();
            }
        }
        Ok(())
    }

    /// Events from the in-process catalog (read from the store at most once per TTL).
    async fn events_of(&self, claims: &[Claim]) -> anyhow::Result<Events> {
        let t = Instant::now();
        let mut events = HashMap::new();
        for c in claims {
            let id = &c.event_id;
            if !events.contains_key(id) {
                events.insert(id.clone(), self.catalog.get(&self.store, id).await?);
            }
        }
        self.metrics.step("event", t);
        Ok(events)
    }

    /// The facts of every claim that needs them, from one read for the whole batch.
    async fn facts_of(
        &self,
        batch: &[Pending],
        events: &Events,
        now: chrono::DateTime<chrono::Utc>,
    ) -> anyhow::Result<HashMap<ClaimId, Facts>> {
        let (claims, wanted): (Vec<&ClaimId>, Vec<FactsWanted>) = batch
            .iter()
            .filter_map(|p| {
                let c = &p.claim;
                let e = events.get(&c.event_id)?.as_deref()?;
                if !e.is_open_at(now) || e.conditions.is_empty() {
                    return None;
                }
                let wanted = FactsWanted {
                    user: &c.user_id,
                    window: e.claim_window(c.period.as_ref()),
                    tz: e.tz(),
                    conditions: &e.conditions,
                };
                Some((&c.id, wanted))
            })
            .unzip();
        if wanted.is_empty() {
            return Ok(HashMap::new());
        }
        let facts = self.store.facts_of(&wanted).await?;
        Ok(claims.into_iter().cloned().zip(facts).collect())
    }
}
