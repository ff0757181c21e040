//! Activity totals per (user, key, UTC day), kept in quarter-hour slots (`domain::slots`) and
//! updated with `$inc`/`$max` when an activity record is applied: what claim decisions, the
//! eligibility preview and forecasts read instead of the raw records. A document holds at most
//! 96 slots of three numbers whatever the number of players or records: `c{n}` records, `s{n}`
//! their sum, `m{n}` their largest value. A user's documents have computed ids, so the facts
//! of a batch of claims are one read by `_id`, whatever the records stored.
use super::activities::{ActivityDoc, COLLECTION as ACTIVITIES};
use super::{Store, StoreResult};
use crate::domain::activity::LOGIN;
use crate::domain::conditions::{keys_needed, Facts};
use crate::domain::event::{Condition, Window};
use crate::domain::slots::{absorb, days_of, slot_of, slot_use, slot_window, SlotUse};
use crate::domain::UserId;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};
use std::collections::{BTreeMap, HashMap};

pub const COLLECTION: &str = "activity_totals";

/// Users per raw-record query of one slot (keeps each `$in` small).
const RECORDS_BATCH: usize = 5_000;
/// Totals ids per read (a long window of a big batch is read in a few queries).
const IDS_PER_READ: usize = 5_000;

/// One user's facts wanted: the keys of `conditions` inside `window`, days in `tz`.
pub struct FactsWanted<'a> {
    pub user: &'a UserId,
    pub window: Window,
    pub tz: Tz,
    pub conditions: &'a [Condition],
}

/// The slots of one totals document as they count for `window` (days in `tz`): whole slots go
/// into `facts`; the parts of slots a window edge cuts are returned, for the raw records of
/// just those parts to answer.
fn fold(d: &Document, key: &str, window: Window, tz: Tz, facts: &mut Facts) -> Vec<Window> {
    let day = as_i64(d.get("day"));
    let mut cut = Vec::new();
    for slot in d.keys().filter_map(|k| slot_field(k)) {
        if as_i64(d.get(format!("c{slot}"))) <= 0 {
            continue;
        }
        match slot_use(day, slot, window, tz, key == LOGIN) {
            SlotUse::Outside => {}
            SlotUse::Whole => absorb(
                facts,
                key,
                as_i64(d.get(format!("s{slot}"))),
                as_i64(d.get(format!("m{slot}"))),
                slot_window(day, slot).starts_at,
            ),
            SlotUse::Records(part) => cut.push(part),
        }
    }
    cut
}

/// `/` is outside the id and key alphabets, so the triple reads one way only.
fn total_id(user: &str, key: &str, day: i64) -> String {
    format!("{user}/{key}/{day}")
}

fn as_i64(b: Option<&Bson>) -> i64 {
    match b {
        Some(Bson::Int64(v)) => *v,
        Some(Bson::Int32(v)) => i64::from(*v),
        Some(Bson::Double(v)) => *v as i64,
        _ => 0,
    }
}

/// A slot field's number: `c17` -> 17.
fn slot_field(name: &str) -> Option<u32> {
    name.strip_prefix('c')?.parse().ok()
}

impl Store {
    /// Adds one record to its slot. Called once per applied record (`insert_activity` keeps a
    /// marker on the record until this is done, so a crash in between is finished later).
    pub(super) async fn add_to_totals(
        &self,
        user: &str,
        key: &str,
        value: i64,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let (day, slot) = slot_of(at);
        let update = doc! {
            "$setOnInsert": {"userId": user, "key": key, "day": day},
            "$inc": {format!("c{slot}"): 1_i64, format!("s{slot}"): value},
            "$max": {format!("m{slot}"): value},
        };
        self.db
            .collection::<Document>(COLLECTION)
            .update_one(doc! {"_id": total_id(user, key, day)}, update)
            .upsert(true)
            .await?;
        Ok(())
    }

    /// Every user's facts for `conditions` inside `window` (days in `tz`), from the totals of
    /// the window's days; only slots cut by the window's edges are read from raw records.
    pub async fn facts_in(
        &self,
        window: Window,
        conditions: &[Condition],
        tz: chrono_tz::Tz,
    ) -> StoreResult<HashMap<String, Facts>> {
        let keys = keys_needed(conditions);
        let mut facts: HashMap<String, Facts> = HashMap::new();
        if keys.is_empty() || window.ends_at <= window.starts_at {
            return Ok(facts);
        }
        let (first, last) = days_of(window);
        let mut cursor = self
            .db
            .collection::<Document>(COLLECTION)
            .find(doc! {"key": {"$in": &keys}, "day": {"$gte": first, "$lte": last}})
            .await?;
        // Slots only raw records can answer: which users, per part-slot.
        let mut by_records: BTreeMap<(DateTime<Utc>, DateTime<Utc>), Vec<String>> = BTreeMap::new();
        while let Some(d) = cursor.try_next().await? {
            let (Ok(user), Ok(key)) = (d.get_str("userId"), d.get_str("key")) else {
                continue;
            };
            let f = facts.entry(user.to_string()).or_default();
            for part in fold(&d, key, window, tz, f) {
                by_records
                    .entry((part.starts_at, part.ends_at))
                    .or_default()
                    .push(user.to_string());
            }
        }
        for ((from, to), mut users) in by_records {
            users.sort();
            users.dedup();
            for batch in users.chunks(RECORDS_BATCH) {
                let filter = doc! {"userId": {"$in": batch}, "key": {"$in": &keys},
                "occurredMs": super::activities::ms_range(from, to)};
                let mut records = self
                    .db
                    .collection::<ActivityDoc>(ACTIVITIES)
                    .find(filter)
                    .await?;
                while let Some(r) = records.try_next().await? {
                    let at = r.occurred_at.to_chrono();
                    absorb(
                        facts.entry(r.user_id).or_default(),
                        &r.key,
                        r.value,
                        r.value,
                        at,
                    );
                }
            }
        }
        Ok(facts)
    }

    /// One user's facts for `conditions` inside `window` (see `facts_of`).
    pub async fn facts_for(
        &self,
        user: &UserId,
        window: Window,
        tz: Tz,
        conditions: &[Condition],
    ) -> StoreResult<Facts> {
        let wanted = FactsWanted {
            user,
            window,
            tz,
            conditions,
        };
        Ok(self.facts_of(&[wanted]).await?.pop().unwrap_or_default())
    }

    /// The facts of each of `wanted`, from its user's totals documents of the keys and window
    /// days it needs, read by `_id` for all of them at once (point reads on any store, and
    /// nothing read grows with the records or players stored); only slots cut by a window
    /// edge are read from raw records.
    pub async fn facts_of(&self, wanted: &[FactsWanted<'_>]) -> StoreResult<Vec<Facts>> {
        let mut out = vec![Facts::default(); wanted.len()];
        let needs: Vec<Vec<(String, i64)>> = wanted
            .iter()
            .map(|w| {
                if w.window.ends_at <= w.window.starts_at {
                    return Vec::new();
                }
                let (first, last) = days_of(w.window);
                keys_needed(w.conditions)
                    .into_iter()
                    .flat_map(|k| (first..=last).map(move |day| (k.clone(), day)))
                    .collect()
            })
            .collect();
        let mut ids: Vec<String> = wanted
            .iter()
            .zip(&needs)
            .flat_map(|(w, n)| n.iter().map(|(k, day)| total_id(w.user.as_str(), k, *day)))
            .collect();
        ids.sort();
        ids.dedup();
        let mut totals: HashMap<String, Document> = HashMap::new();
        for chunk in ids.chunks(IDS_PER_READ) {
            let mut cursor = self
                .db
                .collection::<Document>(COLLECTION)
                .find(doc! {"_id": {"$in": chunk}})
                .await?;
            while let Some(d) = cursor.try_next().await? {
                if let Ok(id) = d.get_str("_id") {
                    totals.insert(id.to_string(), d);
                }
            }
        }
        // (which wanted, key, part of a slot) only raw records can answer.
        let mut cut: Vec<(usize, String, Window)> = Vec::new();
        for (i, (w, n)) in wanted.iter().zip(&needs).enumerate() {
            for (key, day) in n {
                if let Some(d) = totals.get(&total_id(w.user.as_str(), key, *day)) {
                    for part in fold(d, key, w.window, w.tz, &mut out[i]) {
                        cut.push((i, key.clone(), part));
                    }
                }
            }
        }
        if cut.is_empty() {
            return Ok(out);
        }
        let mut users: Vec<UserId> = cut
            .iter()
            .map(|(i, _, _)| wanted[*i].user.clone())
            .collect();
        users.sort();
        users.dedup();
        let mut keys: Vec<String> = cut.iter().map(|(_, k, _)| k.clone()).collect();
        keys.sort();
        keys.dedup();
        let span = Window {
            starts_at: cut
                .iter()
                .map(|(_, _, p)| p.starts_at)
                .min()
                .unwrap_or_default(),
            ends_at: cut
                .iter()
                .map(|(_, _, p)| p.ends_at)
                .max()
                .unwrap_or_default(),
        };
        let records = self.records_of(&users, &keys, span).await?;
        for (i, key, part) in cut {
            let mine = records
                .get(wanted[i].user)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            for r in mine
                .iter()
                .filter(|r| r.key == key && part.contains(r.occurred_at))
            {
                absorb(&mut out[i], &r.key, r.value, r.value, r.occurred_at);
            }
        }
        Ok(out)
    }
}
