//! Activity totals per (user, key, UTC day), kept in quarter-hour slots (`domain::slots`) and
//! updated with `$inc`/`$max` when an activity record is applied: what a forecast reads instead
//! of the raw records. A document holds at most 96 slots of three numbers whatever the number
//! of players or records: `c{n}` records, `s{n}` their sum, `m{n}` their largest value.
use super::activities::{ActivityDoc, COLLECTION as ACTIVITIES};
use super::{Store, StoreResult};
use crate::domain::activity::LOGIN;
use crate::domain::conditions::{keys_needed, Facts};
use crate::domain::event::{Condition, Window};
use crate::domain::slots::{absorb, days_of, slot_of, slot_use, slot_window, SlotUse};
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};
use std::collections::{BTreeMap, HashMap};

pub const COLLECTION: &str = "activity_totals";

/// Users per raw-record query of one slot (keeps each `$in` small).
const RECORDS_BATCH: usize = 5_000;

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
            let day = as_i64(d.get("day"));
            for slot in d.keys().filter_map(|k| slot_field(k)) {
                if as_i64(d.get(format!("c{slot}"))) <= 0 {
                    continue;
                }
                match slot_use(day, slot, window, tz, key == LOGIN) {
                    SlotUse::Outside => {}
                    SlotUse::Whole => absorb(
                        facts.entry(user.to_string()).or_default(),
                        key,
                        as_i64(d.get(format!("s{slot}"))),
                        as_i64(d.get(format!("m{slot}"))),
                        slot_window(day, slot).starts_at,
                    ),
                    SlotUse::Records(part) => by_records
                        .entry((part.starts_at, part.ends_at))
                        .or_default()
                        .push(user.to_string()),
                }
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
}
