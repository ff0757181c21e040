//! What a forecast reads: every known user with their registration time, the members of the
//! audience's segments, and every user's facts inside one window, each in a single query
//! (never one query per user), so the cost grows with the data read, not with round trips.
use super::activities::{ActivityDoc, COLLECTION as ACTIVITIES};
use super::segments::MEMBERS;
use super::users::{UserDoc, COLLECTION as USERS};
use super::{to_bson_dt, Store, StoreResult};
use crate::domain::activity::{INVITE, LOGIN};
use crate::domain::conditions::Facts;
use crate::domain::event::{Condition, ConditionType, Window};
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Document};
use std::collections::{HashMap, HashSet};

impl Store {
    /// Every user this service has heard register, with when.
    pub async fn known_users(&self) -> StoreResult<Vec<(String, DateTime<Utc>)>> {
        let mut cursor = self.db.collection::<UserDoc>(USERS).find(doc! {}).await?;
        let mut out = Vec::new();
        while let Some(u) = cursor.try_next().await? {
            out.push((u.id, u.registered_at.to_chrono()));
        }
        Ok(out)
    }

    /// Users who are members of at least one of `segments`.
    pub async fn members_of_any(&self, segments: &[String]) -> StoreResult<HashSet<String>> {
        let mut cursor = self
            .db
            .collection::<Document>(MEMBERS)
            .find(doc! {"segmentId": {"$in": segments}})
            .await?;
        let mut out = HashSet::new();
        while let Some(d) = cursor.try_next().await? {
            if let Ok(u) = d.get_str("userId") {
                out.insert(u.to_string());
            }
        }
        Ok(out)
    }

    /// Every user's facts for `conditions` inside `window`, from one pass over the window's
    /// activity records of the keys the conditions read.
    pub async fn facts_in(
        &self,
        window: Window,
        conditions: &[Condition],
    ) -> StoreResult<HashMap<String, Facts>> {
        let mut keys: Vec<String> = conditions
            .iter()
            .filter_map(|c| match c.kind {
                ConditionType::LoginDays | ConditionType::ConsecutiveLoginDays => {
                    Some(LOGIN.to_string())
                }
                ConditionType::InviteCount => Some(INVITE.to_string()),
                ConditionType::Counter => c.key.clone(),
            })
            .collect();
        keys.sort();
        keys.dedup();
        let mut facts: HashMap<String, Facts> = HashMap::new();
        if keys.is_empty() {
            return Ok(facts);
        }
        let range = doc! {"$gte": to_bson_dt(window.starts_at), "$lt": to_bson_dt(window.ends_at)};
        let mut cursor = self
            .db
            .collection::<ActivityDoc>(ACTIVITIES)
            .find(doc! {"key": {"$in": keys}, "occurredAt": range})
            .await?;
        while let Some(d) = cursor.try_next().await? {
            let f = facts.entry(d.user_id).or_default();
            if d.key == LOGIN {
                f.login_instants.push(d.occurred_at.to_chrono());
            }
            if d.key == INVITE {
                f.invite_count = f.invite_count.saturating_add(d.value);
            }
            let c = f.counters.entry(d.key).or_default();
            c.sum = c.sum.saturating_add(d.value);
            c.max = c.max.max(d.value);
        }
        Ok(facts)
    }
}
