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
use super::outbox_relay::Handoff;
use super::RETRY_PAUSE;
use crate::cache::Catalog;
use crate::claims::ClaimMessage;
use crate::domain::claim::{Claim, ClaimStatus, Decision, RejectReason};
use crate::domain::conditions::Facts;
use crate::domain::eligibility::{verdict, Stock};
use crate::domain::event::Event;
use crate::domain::stock::{takes, ALL_TIME};
use crate::domain::{BatchId, ClaimId, EventId};
use crate::metrics::Metrics;
use crate::mq::{Delivery, Outcome};
use crate::store::activity_totals::FactsWanted;
use crate::store::claims::Evaluation;
use crate::store::grant_outbox::reward_granted;
use crate::store::Store;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// Per (event, stock): its size and the (batch index, unit holder) pairs that want a unit.
type StockGroups = HashMap<(EventId, String), (i64, Vec<(usize, ClaimId)>)>;

/// The batch's events from the catalog; `None` for one that no longer exists.
type Events = HashMap<EventId, Option<Arc<Event>>>;

/// A claim on its way through the batch.
struct Pending {
    claim: Claim,
    /// Evaluated under this batch's lease (it may take or give back stock).
    leased: bool,
    /// Its event's stock has no unit left and it holds none: rejected without a lease.
    sold_out: bool,
    decision: Option<Decision>,
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
        let sold_out = self.sold_out(&claims, &events).await?;
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
                let leased = leased.contains(&claim.id);
                let sold_out = sold_out.contains(&claim.id);
                // A claim that takes stock and is leased by another batch is theirs to decide.
                (leased || sold_out || !may_take_stock(&events, &claim)).then_some(Pending {
                    claim,
                    leased,
                    sold_out,
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
            let stock = if p.leased {
                Stock::TakenOnApproval
            } else if p.sold_out {
                Stock::Remaining(0)
            } else {
                Stock::Unlimited
            };
            let window = event.claim_window(c.period.as_ref());
            // The claim holds its key (`openKey`): no other claim of the user is open.
            let v = verdict(event, window, now, f, false, stock);
            if v.eligible() && p.leased {
                needs_stock.push(i);
            }
            p.decision = Some(v.decision());
        }

        // Stock: one take per stock for all of its eligible claims; a claim that needs the
        // event's and its period's unit takes the event's first (round 0), then the period's.
        let t = Instant::now();
        for round in 0..2 {
            let mut groups: StockGroups = HashMap::new();
            for &i in &needs_stock {
                let p = &batch[i];
                let Some(event) = events.get(&p.claim.event_id).and_then(|e| e.as_ref()) else {
                    continue;
                };
                if !approved(p) {
                    continue;
                }
                if let Some(take) = takes(event, &p.claim).into_iter().nth(round) {
                    groups
                        .entry((event.id.clone(), take.stock))
                        .or_insert((take.max, Vec::new()))
                        .1
                        .push((i, take.holder));
                }
            }
            for ((event_id, stock), (max, wanted)) in groups {
                let ids: Vec<ClaimId> = wanted.iter().map(|(_, h)| h.clone()).collect();
                let held = store.take_units(&event_id, &stock, max, &ids).await?;
                for (i, h) in wanted {
                    if !held.contains(&h) {
                        let p = &mut batch[i];
                        p.decision = Some(rejected(RejectReason::OutOfStock, progress_of(p)));
                    }
                }
            }
        }
        m.step("stock", t);
        self.give_back_stock(&batch, events, owner).await?;

        let decided_at = chrono::Utc::now();
        let batch_id = BatchId::mint();
        let decided: Vec<(Claim, Evaluation)> = batch
            .into_iter()
            .map(|p| {
                let d = p.decision.expect("every claim has a verdict");
                let how = match p.leased {
                    true => Evaluation::Leased(owner),
                    false => Evaluation::Unleased,
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

    /// Claims whose event's stock has no unit left and that hold none: those are rejected
    /// without a lease, since their decision moves no stock (a launch's claims after the last
    /// unit). A claim that holds a unit (an attempt that crashed), or whose event also has a
    /// stock per period, is left to the leased path.
    async fn sold_out(
        &self,
        claims: &[Claim],
        events: &Events,
    ) -> anyhow::Result<HashSet<ClaimId>> {
        let mut stocks: StockGroups = HashMap::new();
        for (i, c) in claims.iter().enumerate() {
            let Some(Some(e)) = events.get(&c.event_id) else {
                continue;
            };
            if let [take] = takes(e, c).as_slice() {
                stocks
                    .entry((e.id.clone(), take.stock.clone()))
                    .or_insert((take.max, Vec::new()))
                    .1
                    .push((i, take.holder.clone()));
            }
        }
        let mut out = HashSet::new();
        for ((event_id, stock), (max, wanted)) in stocks {
            let holders: Vec<ClaimId> = wanted.iter().map(|(_, h)| h.clone()).collect();
            let Some(holding) = self
                .store
                .sold_out_holding(&event_id, &stock, max, &holders)
                .await?
            else {
                continue;
            };
            out.extend(
                wanted
                    .into_iter()
                    .filter(|(_, h)| !holding.contains(h))
                    .map(|(i, _)| claims[i].id.clone()),
            );
        }
        Ok(out)
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

    /// Rejected claims of limited events give back any unit they hold (from this batch or an
    /// attempt that crashed); a no-op for the others.
    async fn give_back_stock(
        &self,
        batch: &[Pending],
        events: &Events,
        owner: &str,
    ) -> anyhow::Result<()> {
        let mut per_stock: HashMap<(&EventId, String), Vec<(ClaimId, ClaimId)>> = HashMap::new();
        for p in batch.iter().filter(|p| p.leased && !approved(p)) {
            let c = &p.claim;
            // An event gone from the catalog may still have had a stock.
            let held: Vec<(String, ClaimId)> =
                match events.get(&c.event_id).and_then(|e| e.as_ref()) {
                    Some(e) => takes(e, c)
                        .into_iter()
                        .map(|t| (t.stock, t.holder))
                        .collect(),
                    None => vec![(ALL_TIME.to_string(), c.id.clone())],
                };
            for (stock, holder) in held {
                per_stock
                    .entry((&c.event_id, stock))
                    .or_default()
                    .push((c.id.clone(), holder));
            }
        }
        if per_stock.is_empty() {
            return Ok(());
        }
        // Should this batch's lease have run out, the claim's new owner decides its stock.
        let mut all: Vec<ClaimId> = per_stock
            .values()
            .flatten()
            .map(|(c, _)| c.clone())
            .collect();
        all.sort();
        all.dedup();
        let ours = self.store.still_leased(&all, owner).await?;
        for ((event_id, stock), held) in per_stock {
            let holders: Vec<ClaimId> = held
                .into_iter()
                .filter(|(c, _)| ours.contains(c))
                .map(|(_, h)| h)
                .collect();
            self.store.release_units(event_id, &stock, &holders).await?;
        }
        Ok(())
    }
}

/// Whether deciding the claim may move stock: its event is limited, or gone (it may have been).
fn may_take_stock(events: &Events, c: &Claim) -> bool {
    match events.get(&c.event_id) {
        Some(Some(e)) => !takes(e, c).is_empty(),
        _ => true,
    }
}

fn approved(p: &Pending) -> bool {
    matches!(p.decision, Some(Decision::Approved { .. }))
}

fn progress_of(p: &Pending) -> Option<Vec<crate::domain::conditions::ConditionProgress>> {
    match &p.decision {
        Some(Decision::Approved { progress }) => Some(progress.clone()),
        Some(Decision::Rejected { progress, .. }) => progress.clone(),
        None => None,
    }
}

fn rejected(
    reason: RejectReason,
    progress: Option<Vec<crate::domain::conditions::ConditionProgress>>,
) -> Decision {
    Decision::Rejected { reason, progress }
}
