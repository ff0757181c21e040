//! Event stock without a hot or growing document: per (event, period) `SHARDS` counter
//! documents, each with its share of `maxClaims`, plus one reservation document per unit
//! holder keyed by the claim id.
//!
//! A counter and a reservation are two documents and there are no transactions, so every take
//! and release first leaves a marker on the shard it changes, in the same atomic update as the
//! count (`ops.<key of claim>` = `+:<claimId>` or `-:<claimId>`). A retry after a crash reads
//! the marker and knows whether the count already moved; the marker is removed once the
//! reservation is written (or deleted). Markers exist only for operations in flight, so a
//! shard stays a few hundred bytes whatever the stock.
use super::{duplicate_indices, Store, StoreResult};
use crate::domain::event::Event;
use crate::domain::period::Period;
use crate::domain::stock::{self, SHARDS};
use crate::domain::{ClaimId, EventId};
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, DateTime as BsonDateTime, Document};
use mongodb::options::InsertManyOptions;
use rand::Rng;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};

pub const SHARD_COLLECTION: &str = "stock_shards";
pub const RESERVATIONS: &str = "stock_reservations";

/// Rounds of compare-and-set before a take gives up (each round someone makes progress).
const MAX_ROUNDS: usize = 32;

fn shard_id(event_id: &EventId, period: &str, n: u32) -> String {
    format!("{event_id}:{period}:{n}")
}

/// A claim id as a field name: hashed, so no id ever becomes a field path.
fn op_key(claim_id: &ClaimId) -> String {
    let h = Sha256::digest(claim_id.as_str().as_bytes());
    let hex: String = h[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("ops.k{hex}")
}

fn take_marker(c: &ClaimId) -> String {
    format!("+:{c}")
}
fn release_marker(c: &ClaimId) -> String {
    format!("-:{c}")
}

#[derive(Debug, Clone)]
struct Shard {
    n: u32,
    taken: i64,
    ops: HashSet<String>,
}

fn as_i64(b: Option<&Bson>) -> i64 {
    match b {
        Some(Bson::Int64(v)) => *v,
        Some(Bson::Int32(v)) => i64::from(*v),
        _ => 0,
    }
}

impl Store {
    fn shard_docs(&self) -> mongodb::Collection<Document> {
        self.db.collection(SHARD_COLLECTION)
    }
    fn reservations(&self) -> mongodb::Collection<Document> {
        self.db.collection(RESERVATIONS)
    }

    async fn read_shards(&self, event_id: &EventId, period: &str) -> StoreResult<Vec<Shard>> {
        // By computed ids, so a sharded cluster targets the shards' own chunks.
        let ids: Vec<String> = (0..SHARDS).map(|n| shard_id(event_id, period, n)).collect();
        let docs: Vec<Document> = self
            .shard_docs()
            .find(doc! {"_id": {"$in": ids}})
            .await?
            .try_collect()
            .await?;
        Ok(docs
            .into_iter()
            .map(|d| Shard {
                n: as_i64(d.get("n")) as u32,
                taken: as_i64(d.get("taken")),
                ops: d
                    .get_document("ops")
                    .map(|o| {
                        o.values()
                            .filter_map(|v| v.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect())
    }

    /// The event's shards, created on first use (concurrent creators collide harmlessly).
    async fn shards(&self, event_id: &EventId, period: &str) -> StoreResult<Vec<Shard>> {
        let shards = self.read_shards(event_id, period).await?;
        if shards.len() as u32 >= SHARDS {
            return Ok(shards);
        }
        let have: HashSet<u32> = shards.iter().map(|s| s.n).collect();
        let missing: Vec<Document> = (0..SHARDS)
            .filter(|n| !have.contains(n))
            .map(|n| {
                doc! {"_id": shard_id(event_id, period, n), "eventId": event_id.as_str(),
                "period": period, "n": i64::from(n), "taken": 0_i64, "ops": {}}
            })
            .collect();
        let res = self
            .shard_docs()
            .insert_many(missing)
            .with_options(InsertManyOptions::builder().ordered(false).build())
            .await
            .map(|_| ());
        duplicate_indices(res)?;
        self.read_shards(event_id, period).await
    }

    /// Takes one unit for each of `claims` while the stock lasts; returns the claims that hold
    /// a unit afterwards (including those that held one before: a retry takes nothing twice).
    pub async fn take_units(
        &self,
        event_id: &EventId,
        period: &str,
        max: i64,
        claims: &[ClaimId],
    ) -> StoreResult<HashSet<ClaimId>> {
        let ids: Vec<&str> = claims.iter().map(|c| c.as_str()).collect();
        let mut held: HashSet<ClaimId> = self
            .reservations()
            .find(doc! {"_id": {"$in": &ids}})
            .await?
            .try_collect::<Vec<Document>>()
            .await?
            .into_iter()
            .filter_map(|d| d.get_str("_id").ok().map(|s| ClaimId::stored(s.into())))
            .collect();
        let mut shards = self.shards(event_id, period).await?;
        // (claim, shard) whose count moved but whose reservation is not written yet.
        let mut moved: Vec<(ClaimId, u32)> = Vec::new();
        let marked = |shards: &[Shard], c: &ClaimId| {
            shards
                .iter()
                .find(|s| s.ops.contains(&take_marker(c)))
                .map(|s| s.n)
        };
        let mut wanted: Vec<ClaimId> = Vec::new();
        for c in claims {
            if held.contains(c) {
                continue;
            }
            match marked(&shards, c) {
                Some(n) => moved.push((c.clone(), n)),
                None => wanted.push(c.clone()),
            }
        }
        for _ in 0..MAX_ROUNDS {
            if wanted.is_empty() {
                break;
            }
            let taken: Vec<(u32, i64)> = shards.iter().map(|s| (s.n, s.taken)).collect();
            let start = rand::rng().random_range(0..taken.len().max(1));
            let plan = stock::plan(max, &taken, wanted.len(), start);
            if plan.is_empty() {
                break; // sold out
            }
            let mut statements = Vec::new();
            let mut rest = wanted.iter();
            for (n, units) in &plan {
                let shard = shards.iter().find(|s| s.n == *n).expect("planned shard");
                let mut set = Document::new();
                for c in rest.by_ref().take(*units) {
                    set.insert(op_key(c), take_marker(c));
                }
                statements.push((
                    doc! {"_id": shard_id(event_id, period, *n), "taken": shard.taken},
                    doc! {"$inc": {"taken": *units as i64}, "$set": set},
                ));
            }
            self.update_each(SHARD_COLLECTION, statements).await?;
            // The markers say which compare-and-sets won; losers try again on fresh counts.
            shards = self.read_shards(event_id, period).await?;
            let mut still = Vec::new();
            for c in wanted {
                match marked(&shards, &c) {
                    Some(n) => moved.push((c, n)),
                    None => still.push(c),
                }
            }
            wanted = still;
        }
        if !wanted.is_empty() && shards.iter().any(|s| stock::free(max, s.n, s.taken) > 0) {
            return Err(super::StoreError::Other(anyhow::anyhow!(
                "stock of {event_id} too contended; retry"
            )));
        }
        self.record_reservations(event_id, period, &moved).await?;
        held.extend(moved.into_iter().map(|(c, _)| c));
        Ok(held)
    }

    /// Writes the reservations of units whose counts moved, then clears their markers.
    async fn record_reservations(
        &self,
        event_id: &EventId,
        period: &str,
        moved: &[(ClaimId, u32)],
    ) -> StoreResult<()> {
        if moved.is_empty() {
            return Ok(());
        }
        let docs: Vec<Document> = moved
            .iter()
            .map(|(c, n)| {
                doc! {"_id": c.as_str(), "eventId": event_id.as_str(), "period": period,
                "shard": i64::from(*n), "at": BsonDateTime::now()}
            })
            .collect();
        let res = self
            .reservations()
            .insert_many(docs)
            .with_options(InsertManyOptions::builder().ordered(false).build())
            .await
            .map(|_| ());
        duplicate_indices(res)?;
        let mut per_shard: HashMap<u32, Document> = HashMap::new();
        for (c, n) in moved {
            per_shard.entry(*n).or_default().insert(op_key(c), "");
        }
        let statements = per_shard
            .into_iter()
            .map(|(n, unset)| {
                (
                    doc! {"_id": shard_id(event_id, period, n)},
                    doc! {"$unset": unset},
                )
            })
            .collect();
        self.update_each(SHARD_COLLECTION, statements).await?;
        Ok(())
    }

    /// `None` while the stock has a unit left; once it has none, which of `holders` hold one
    /// (reserved, or counted by an attempt that stopped before its reservation). Two reads.
    pub async fn sold_out_holding(
        &self,
        event_id: &EventId,
        period: &str,
        max: i64,
        holders: &[ClaimId],
    ) -> StoreResult<Option<HashSet<ClaimId>>> {
        let shards = self.read_shards(event_id, period).await?;
        let taken: i64 = shards.iter().map(|s| s.taken).sum();
        if shards.len() < SHARDS as usize || taken < max {
            return Ok(None);
        }
        let ids: Vec<&str> = holders.iter().map(|c| c.as_str()).collect();
        let mut holding = self
            .claim_ids_where(RESERVATIONS, doc! {"_id": {"$in": &ids}})
            .await?;
        let marked: HashSet<&String> = shards.iter().flat_map(|s| &s.ops).collect();
        holding.extend(
            holders
                .iter()
                .filter(|h| marked.contains(&take_marker(h)) || marked.contains(&release_marker(h)))
                .cloned(),
        );
        Ok(Some(holding))
    }

    /// One unit for one claim (see `take_units`).
    pub async fn reserve_stock(
        &self,
        event_id: &EventId,
        claim_id: &ClaimId,
        max: i64,
    ) -> StoreResult<Reservation> {
        let held = self
            .take_units(
                event_id,
                stock::ALL_TIME,
                max,
                std::slice::from_ref(claim_id),
            )
            .await?;
        Ok(if held.contains(claim_id) {
            Reservation::Reserved
        } else {
            Reservation::SoldOut
        })
    }

    /// Gives the claim's unit back; a no-op when it holds none, so it is safe to repeat.
    pub async fn release_stock(&self, event_id: &EventId, claim_id: &ClaimId) -> StoreResult<()> {
        let key = op_key(claim_id);
        let (take, release) = (take_marker(claim_id), release_marker(claim_id));
        let reservation = self
            .reservations()
            .find_one(doc! {"_id": claim_id.as_str()})
            .await?;
        let shards: Vec<Document> = match &reservation {
            Some(r) => {
                let (period, n) = (
                    r.get_str("period").unwrap_or(stock::ALL_TIME).to_string(),
                    as_i64(r.get("shard")) as u32,
                );
                // Counted once, marked in the same update: a retry cannot count it back twice.
                self.shard_docs()
                    .update_one(
                        doc! {"_id": shard_id(event_id, &period, n),
                        "$or": [{&key: {"$exists": false}}, {&key: &take}]},
                        doc! {"$inc": {"taken": -1_i64}, "$set": {&key: &release}},
                    )
                    .await?;
                self.reservations()
                    .delete_one(doc! {"_id": claim_id.as_str()})
                    .await?;
                vec![doc! {"_id": shard_id(event_id, &period, n)}]
            }
            None => {
                // A take whose reservation was never written, or a release cut short.
                let marked: Vec<Document> = self
                    .shard_docs()
                    .find(doc! {"eventId": event_id.as_str(), &key: {"$exists": true}})
                    .await?
                    .try_collect()
                    .await?;
                for d in &marked {
                    let id = d.get_str("_id").unwrap_or_default();
                    self.shard_docs()
                        .update_one(
                            doc! {"_id": id, &key: &take},
                            doc! {"$inc": {"taken": -1_i64}, "$set": {&key: &release}},
                        )
                        .await?;
                }
                marked
                    .iter()
                    .filter_map(|d| d.get_str("_id").ok().map(|id| doc! {"_id": id}))
                    .collect()
            }
        };
        for filter in shards {
            self.shard_docs()
                .update_one(filter, doc! {"$unset": {&key: ""}})
                .await?;
        }
        Ok(())
    }

    /// Gives back the units any of `claims` hold (see `release_stock`); two reads when none
    /// does, which is the common case for rejected claims.
    pub async fn release_units(
        &self,
        event_id: &EventId,
        stock: &str,
        claims: &[ClaimId],
    ) -> StoreResult<()> {
        if claims.is_empty() {
            return Ok(());
        }
        let ids: Vec<&str> = claims.iter().map(|c| c.as_str()).collect();
        let reserved: HashSet<String> = self
            .reservations()
            .find(doc! {"_id": {"$in": &ids}})
            .projection(doc! {"_id": 1})
            .await?
            .try_collect::<Vec<Document>>()
            .await?
            .into_iter()
            .filter_map(|d| d.get_str("_id").ok().map(str::to_owned))
            .collect();
        let marked: HashSet<String> = self
            .read_shards(event_id, stock)
            .await?
            .into_iter()
            .flat_map(|s| s.ops)
            .collect();
        for c in claims {
            let holds = reserved.contains(c.as_str())
                || marked.contains(&take_marker(c))
                || marked.contains(&release_marker(c));
            if holds {
                self.release_stock(event_id, c).await?;
            }
        }
        Ok(())
    }

    /// Units taken of the event's all-time stock.
    pub async fn stock_count(&self, event_id: &EventId) -> StoreResult<i64> {
        self.stock_taken(event_id, stock::ALL_TIME).await
    }

    /// Units taken of one of the event's stocks (`ALL_TIME` or a period's key).
    pub async fn stock_taken(&self, event_id: &EventId, stock: &str) -> StoreResult<i64> {
        Ok(self
            .read_shards(event_id, stock)
            .await?
            .iter()
            .map(|s| s.taken)
            .sum())
    }

    /// Units a claim made now could still take: the smaller of the event's and its period's
    /// stock left, `None` when neither is limited.
    pub async fn stock_left(&self, e: &Event, period: Option<&Period>) -> StoreResult<Option<i64>> {
        let mut left: Option<i64> = None;
        if let Some(max) = e.max_claims {
            left = Some((max - self.stock_count(&e.id).await?).max(0));
        }
        if let (Some(max), Some(p)) = (e.max_claims_per_period, period) {
            let l = (max - self.stock_taken(&e.id, &p.key()).await?).max(0);
            left = Some(left.map_or(l, |a| a.min(l)));
        }
        Ok(left)
    }

    /// Reservation documents of the event (each is one unit's holder).
    pub async fn count_reservations(&self, event_id: &EventId) -> StoreResult<u64> {
        Ok(self
            .reservations()
            .count_documents(doc! {"eventId": event_id.as_str()})
            .await?)
    }
}

/// Outcome of trying to take one unit of an event's stock for a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    Reserved,
    SoldOut,
}
