//! The claim decision worker: the deliveries a consumer has are decided as one batch, with a
//! handful of store round trips for the whole batch instead of about nine per claim.
//!
//! Every write is keyed by the claim id (or by event and user for the approval) and the
//! decision is stored last, only by the batch that holds the claim's lease: processing a claim
//! again after a crash at any point never approves twice nor leaks stock.
use super::outbox_relay::Handoff;
use super::RETRY_PAUSE;
use crate::cache::Catalog;
use crate::claims::ClaimMessage;
use crate::domain::claim::{Claim, Decision, RejectReason};
use crate::domain::conditions::{keys_needed, Facts, Window};
use crate::domain::eligibility::{verdict, Stock};
use crate::domain::event::Event;
use crate::domain::stock::{takes, ALL_TIME};
use crate::domain::{ClaimId, EventId, UserId};
use crate::metrics::Metrics;
use crate::mq::{Delivery, Outcome};
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
}

/// Per (event, stock): its size and the (batch index, unit holder) pairs that want a unit.
type StockGroups = HashMap<(EventId, String), (i64, Vec<(usize, ClaimId)>)>;

/// A claim on its way through the batch.
struct Pending {
    claim: Claim,
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
        }
    }

    /// One outcome per delivery. A failing batch is retried claim by claim, so one claim the
    /// store cannot decide does not hold back the others.
    pub async fn handle_batch(&self, deliveries: Vec<Delivery>) -> Vec<Outcome> {
        let mut outcomes = vec![Outcome::Ack; deliveries.len()];
        let mut ids: Vec<(usize, ClaimId)> = Vec::new();
        for (i, d) in deliveries.iter().enumerate() {
            match ClaimMessage::parse(&d.body) {
                Ok(m) => ids.push((i, m.claim_id)),
                Err(e) => {
                    slog::warn!(self.logger, "malformed claim message"; "error" => e.to_string());
                    outcomes[i] = Outcome::DeadLetter;
                }
            }
        }
        let all: Vec<ClaimId> = ids.iter().map(|(_, c)| c.clone()).collect();
        let Err(e) = self.process_batch(&all).await else {
            return outcomes;
        };
        if let [(i, id)] = ids.as_slice() {
            slog::warn!(self.logger, "claim processing failed";
                "claimId" => id.as_str(), "error" => format!("{e:#}"));
            outcomes[*i] = Outcome::Requeue;
            tokio::time::sleep(RETRY_PAUSE).await;
            return outcomes;
        }
        let mut failed = false;
        for (i, id) in ids {
            if let Err(e) = self.process_batch(std::slice::from_ref(&id)).await {
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
        let owner = crate::domain::new_id();
        let t = Instant::now();
        let leased = self
            .store
            .lease_claims(ids, self.lease.as_millis() as i64, &owner)
            .await;
        self.metrics.step("lease", t);
        let res = match leased {
            Ok(leased) if leased.is_empty() => return Ok(()),
            Ok(leased) => self.decide(leased, &owner).await,
            Err(e) => Err(e.into()),
        };
        if res.is_err() {
            // Redelivery may start over at once (and count against the delivery limit).
            let _ = self.store.release_leases(ids, &owner).await;
        }
        res
    }

    async fn decide(&self, claims: Vec<Claim>, owner: &str) -> anyhow::Result<()> {
        let (store, m) = (&self.store, &self.metrics);
        let now = chrono::Utc::now();
        let mut batch: Vec<Pending> = claims
            .into_iter()
            .map(|claim| Pending {
                claim,
                decision: None,
            })
            .collect();

        // A previous attempt got as far as the approval: finish that, never re-evaluate.
        let t = Instant::now();
        let refs: Vec<&Claim> = batch.iter().map(|p| &p.claim).collect();
        let holders = store.approval_holders(&refs).await?;
        m.step("approval_check", t);
        let events = self.events_of(&batch).await?;
        let t = Instant::now();
        let facts = self.facts_of(&batch, &events, &holders, now).await?;
        m.step("facts", t);

        // The verdict of every claim; eligible ones of limited events wait for their stock.
        let mut needs_stock: Vec<usize> = Vec::new();
        for (i, p) in batch.iter_mut().enumerate() {
            let c = &p.claim;
            let holder = holders.get(&c.key());
            if holder == Some(&c.id) {
                p.decision = Some(Decision::Approved { progress: vec![] });
                continue;
            }
            let Some(event) = events.get(&c.event_id).and_then(|e| e.as_ref()) else {
                p.decision = Some(rejected(RejectReason::EventNotActive, None));
                continue;
            };
            let no_facts = Facts::default();
            let f = facts.get(&c.id).unwrap_or(&no_facts);
            let limited = !takes(event, c).is_empty();
            let stock = match limited {
                true => Stock::TakenOnApproval,
                false => Stock::Unlimited,
            };
            let window = event.claim_window(c.period.as_ref());
            let v = verdict(event, window, now, f, holder.is_some(), stock);
            if v.eligible() && limited {
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

        // The unique approval `_id` is what makes "one approval per user and event" hold.
        let t = Instant::now();
        let approving: Vec<&Claim> = batch
            .iter()
            .filter(|p| approved(p) && holders.get(&p.claim.key()) != Some(&p.claim.id))
            .map(|p| &p.claim)
            .collect();
        let won = store.insert_approvals(&approving).await?;
        m.step("approval_insert", t);
        for p in batch.iter_mut() {
            if won.get(&p.claim.id).is_some_and(|h| h != &p.claim.id) {
                p.decision = Some(rejected(RejectReason::AlreadyClaimed, progress_of(p)));
            }
        }

        // Grant and outbox entry first: once the claim says APPROVED the reward is on its way.
        let t = Instant::now();
        let granted: Vec<&Claim> = batch
            .iter()
            .filter(|p| approved(p))
            .map(|p| &p.claim)
            .collect();
        let lease = self.outbox.lease();
        let outbox = store.record_grants_leased(&granted, Some(&lease)).await?;
        m.step("grant_outbox", t);
        self.give_back_stock(&batch, &events, owner).await?;

        let t = Instant::now();
        let decided_at = chrono::Utc::now();
        let decided: Vec<Claim> = batch
            .into_iter()
            .map(|p| {
                let d = p.decision.expect("every claim has a verdict");
                p.claim.decided(&d, decided_at)
            })
            .collect();
        let stored = store.store_decisions(&decided, owner).await?;
        m.step("decision", t);
        if stored > 0 {
            self.feed.publish(&decided);
            for c in &decided {
                let reason = c.reason.map(|r| r.as_str()).unwrap_or("");
                self.metrics
                    .claims_decided
                    .with_label_values(&[c.status.as_str(), reason])
                    .inc();
            }
        }
        // Also when no decision was stored: the entries are leased to this relay either way.
        self.outbox.hand_over(outbox);
        Ok(())
    }

    /// Events from the in-process catalog (read from the store at most once per TTL).
    async fn events_of(
        &self,
        batch: &[Pending],
    ) -> anyhow::Result<HashMap<EventId, Option<Arc<Event>>>> {
        let t = Instant::now();
        let mut events = HashMap::new();
        for p in batch {
            let id = &p.claim.event_id;
            if !events.contains_key(id) {
                events.insert(id.clone(), self.catalog.get(&self.store, id).await?);
            }
        }
        self.metrics.step("event", t);
        Ok(events)
    }

    /// The facts of every claim that needs them, from one query for the whole batch.
    async fn facts_of(
        &self,
        batch: &[Pending],
        events: &HashMap<EventId, Option<Arc<Event>>>,
        holders: &HashMap<String, ClaimId>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> anyhow::Result<HashMap<ClaimId, Facts>> {
        let mut users: Vec<UserId> = Vec::new();
        let mut keys: HashSet<String> = HashSet::new();
        let mut window: Option<Window> = None;
        let mut wanted: Vec<(&Claim, &Event)> = Vec::new();
        for p in batch {
            let c = &p.claim;
            let Some(e) = events.get(&c.event_id).and_then(|e| e.as_deref()) else {
                continue;
            };
            if !e.is_open_at(now) || holders.contains_key(&c.key()) || e.conditions.is_empty() {
                continue;
            }
            users.push(c.user_id.clone());
            keys.extend(keys_needed(&e.conditions));
            let w = e.claim_window(c.period.as_ref());
            window = Some(match window {
                None => w,
                Some(u) => Window {
                    starts_at: u.starts_at.min(w.starts_at),
                    ends_at: u.ends_at.max(w.ends_at),
                },
            });
            wanted.push((c, e));
        }
        let Some(window) = window else {
            return Ok(HashMap::new());
        };
        users.sort();
        users.dedup();
        let keys: Vec<String> = keys.into_iter().collect();
        let records = self.store.records_of(&users, &keys, window).await?;
        Ok(wanted
            .into_iter()
            .map(|(c, e)| {
                let mine = records.get(&c.user_id).map(Vec::as_slice).unwrap_or(&[]);
                let f = Facts::gather(mine, e.claim_window(c.period.as_ref()), &e.conditions);
                (c.id.clone(), f)
            })
            .collect())
    }

    /// Rejected claims of limited events give back any unit they hold (from this batch or an
    /// attempt that crashed); a no-op for the others.
    async fn give_back_stock(
        &self,
        batch: &[Pending],
        events: &HashMap<EventId, Option<Arc<Event>>>,
        owner: &str,
    ) -> anyhow::Result<()> {
        let mut per_stock: HashMap<(&EventId, String), Vec<(ClaimId, ClaimId)>> = HashMap::new();
        for p in batch.iter().filter(|p| !approved(p)) {
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
