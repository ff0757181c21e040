//! How an event's stock is split over counter shards, so that no single document takes every
//! claim's write: shard `n` of `count` owns its share of `maxClaims`; a claim takes a unit from
//! a shard with room, starting at a random one and moving on when it is empty.
//!
//! Shards are keyed by event and period: a per-period stock (SPEC maxClaimsPerPeriod) is the
//! same design with a period key such as `2026-11-27` instead of [`ALL_TIME`].

use super::claim::Claim;
use super::event::Event;
use super::ids::ClaimId;

/// The period key of a stock that never resets.
pub const ALL_TIME: &str = "all";

/// One unit a claim needs: from the stock named `stock` ([`ALL_TIME`] or a period's key), of
/// `max` units, held under `holder`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Take {
    pub stock: String,
    pub max: i64,
    pub holder: ClaimId,
}

/// The units an approval of `claim` takes, the event's own stock first: `maxClaims` (held
/// under the claim id) and, for a recurring event, `maxClaimsPerPeriod` (held under the claim
/// id and `:period`, so one claim can hold one unit of each).
pub fn takes(event: &Event, claim: &Claim) -> Vec<Take> {
    let mut out = Vec::new();
    if let Some(max) = event.max_claims {
        out.push(Take {
            stock: ALL_TIME.to_string(),
            max,
            holder: claim.id.clone(),
        });
    }
    if let (Some(max), Some(p)) = (event.max_claims_per_period, &claim.period) {
        out.push(Take {
            stock: p.key(),
            max,
            holder: period_holder(&claim.id),
        });
    }
    out
}

/// The holder id of a claim's unit of its period's stock.
pub fn period_holder(claim: &ClaimId) -> ClaimId {
    ClaimId::stored(format!("{claim}:period"))
}

/// Shards per event and period: contention on one shard is at most 1/SHARDS of the claims.
pub const SHARDS: u32 = 16;

/// Units shard `n` owns: `max` split as evenly as possible (the first `max % count` get one
/// more), so the shards always add up to `max`.
pub fn capacity(max: i64, n: u32) -> i64 {
    let count = i64::from(SHARDS);
    let max = max.max(0);
    max / count + i64::from(i64::from(n) < max % count)
}

/// Units a shard has left.
pub fn free(max: i64, n: u32, taken: i64) -> i64 {
    (capacity(max, n) - taken).max(0)
}

/// Splits `wanted` units over the shards with room, visiting them from `start` on (wrapping):
/// `(shard, units)` pairs, fewer units in total when the stock runs out.
pub fn plan(max: i64, taken: &[(u32, i64)], wanted: usize, start: usize) -> Vec<(u32, usize)> {
    let mut out = Vec::new();
    let mut left = wanted;
    let len = taken.len();
    for i in 0..len {
        if left == 0 {
            break;
        }
        let (n, t) = taken[(start + i) % len];
        let room = free(max, n, t) as usize;
        let take = room.min(left);
        if take > 0 {
            out.push((n, take));
            left -= take;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up_to_the_stock_even_when_it_is_tiny_or_huge() {
        for max in [0, 1, 3, 15, 16, 17, 500, 10_000_000] {
            let total: i64 = (0..SHARDS).map(|n| capacity(max, n)).sum();
            assert_eq!(total, max);
        }
        assert_eq!(capacity(3, 2), 1);
        assert_eq!(capacity(3, 3), 0);
    }

    #[test]
    fn plans_take_what_is_left_from_the_start_shard_on() {
        let taken: Vec<(u32, i64)> = (0..SHARDS).map(|n| (n, 0)).collect();
        // 32 units: 2 per shard.
        assert_eq!(plan(32, &taken, 3, 5), vec![(5, 2), (6, 1)]);
        let mut full = taken.clone();
        for t in full.iter_mut() {
            t.1 = 2;
        }
        full[0].1 = 1;
        assert_eq!(plan(32, &full, 4, 9), vec![(0, 1)]);
        assert!(plan(0, &taken, 1, 0).is_empty());
    }
}
