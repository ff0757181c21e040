//! The stock part of deciding a batch: which claims of a sold-out stock need no lease, the
//! units the batch's eligible claims take, and the units its rejected claims give back.
use super::batch::{approved, progress_of, rejected, Events, Path, Pending};
use crate::domain::claim::{Claim, RejectReason};
use crate::domain::stock::{takes, ALL_TIME};
use crate::domain::{ClaimId, EventId};
use crate::store::Store;
use std::collections::{HashMap, HashSet};

/// Per (event, stock): its size and the (batch index, unit holder) pairs that want a unit.
type StockGroups = HashMap<(EventId, String), (i64, Vec<(usize, ClaimId)>)>;

/// Claims whose event's stock has no unit left and that hold none: those are rejected
/// without a lease, since their decision moves no stock (a launch's claims after the last
/// unit). A claim that holds a unit (an attempt that crashed), or whose event also has a
/// stock per period, is left to the leased path.
pub async fn sold_out(
    store: &Store,
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
        let Some(holding) = store
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

/// Takes one unit per stock for every eligible claim of `needs_stock`, one take per stock
/// for all of them; a claim that gets none is REJECTED `OUT_OF_STOCK`.
pub async fn take(
    store: &Store,
    batch: &mut [Pending],
    needs_stock: &[usize],
    events: &Events,
) -> anyhow::Result<()> {
    // Stock: one take per stock for all of its eligible claims; a claim that needs the
    // event's and its period's unit takes the event's first (round 0), then the period's.
    for round in 0..2 {
        let mut groups: StockGroups = HashMap::new();
        for &i in needs_stock {
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
    Ok(())
}

/// Rejected claims of limited events give back any unit they hold (from this batch or an
/// attempt that crashed); a no-op for the others.
pub async fn give_back(
    store: &Store,
    batch: &[Pending],
    events: &Events,
    owner: &str,
) -> anyhow::Result<()> {
    let mut per_stock: HashMap<(&EventId, String), Vec<(ClaimId, ClaimId)>> = HashMap::new();
    for p in batch
        .iter()
        .filter(|p| p.path == Path::Leased && !approved(p))
    {
        let c = &p.claim;
        // An event gone from the catalog may still have had a stock.
        let held: Vec<(String, ClaimId)> = match events.get(&c.event_id).and_then(|e| e.as_ref()) {
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
    let ours = store.still_leased(&all, owner).await?;
    for ((event_id, stock), held) in per_stock {
        let holders: Vec<ClaimId> = held
            .into_iter()
            .filter(|(c, _)| ours.contains(c))
            .map(|(_, h)| h)
            .collect();
        store.release_units(event_id, &stock, &holders).await?;
    }
    Ok(())
}

/// Whether deciding the claim may move stock: its event is limited, or gone (it may have been).
pub fn may_take_stock(events: &Events, c: &Claim) -> bool {
    match events.get(&c.event_id) {
        Some(Some(e)) => !takes(e, c).is_empty(),
        _ => true,
    }
}
