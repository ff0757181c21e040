//! A forecast before (or while) an event runs: how many known users are in its audience, how
//! many of them meet every condition now, and the rewards that would go out.
use super::audience::audience_admits;
use super::conditions::{evaluate, Facts};
use super::event::{Event, Reward, Window};
use chrono::{DateTime, Utc};
use paperclip::actix::Apiv2Schema;
use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// Users are read in this many groups: 256 keeps each group's document under 16 MB up to
/// tens of millions of users (ids are at most 128 bytes).
pub const USER_SHARDS: i32 = 256;

/// A user's group: the first byte of SHA-256(user id), fixed at registration.
pub fn user_shard(user: &str) -> i32 {
    use sha2::{Digest, Sha256};
    i32::from(Sha256::digest(user.as_bytes())[0])
}

#[derive(Debug, Clone, PartialEq, Serialize, Apiv2Schema)]
#[serde(rename_all = "camelCase")]
pub struct Forecast {
    /// Known users the audience admits.
    pub audience: u64,
    /// Of those, how many meet every condition now.
    pub qualifying: u64,
    /// Each reward's quantity times the qualifying users, capped by the stock left.
    pub rewards: Vec<Reward>,
}

/// The window conditions are counted over now: the current period of a recurring event (the
/// first one before it starts), else the whole window.
pub fn counting_window(e: &Event, now: DateTime<Utc>) -> Window {
    e.periods_from(now, 1)
        .first()
        .map_or(e.window(), |p| Window {
            starts_at: p.starts_at,
            ends_at: p.ends_at,
        })
}

/// `users`: every known user and their registration time (`None` when the audience has no
/// registration bound, so it was not read); `members`: the users in any of the
/// audience's segments; `facts`: each user's facts in `window`; `stock_left`: units the event
/// can still give (`None`: unlimited).
pub fn forecast(
    e: &Event,
    window: Window,
    users: &[(String, Option<DateTime<Utc>>)],
    members: &HashSet<String>,
    facts: &HashMap<String, Facts>,
    stock_left: Option<i64>,
) -> Forecast {
    let tz = e.tz();
    // Most users have no activity in the window: their verdict is the same for all of them.
    let idle_met = evaluate(&e.conditions, &Facts::default(), window, tz).all_met;
    let (mut audience, mut qualifying) = (0u64, 0u64);
    for (user, registered) in users {
        let admitted = match &e.audience {
            None => true,
            Some(a) => {
                let segs: Vec<&str> = a
                    .segments
                    .iter()
                    .flatten()
                    .filter(|_| members.contains(user))
                    .map(String::as_str)
                    .collect();
                audience_admits(a, e.id.as_str(), user, &segs, *registered)
            }
        };
        if !admitted {
            continue;
        }
        audience += 1;
        let met = match facts.get(user) {
            Some(f) => evaluate(&e.conditions, f, window, tz).all_met,
            None => idle_met,
        };
        if met {
            qualifying += 1;
        }
    }
    let granted = match stock_left {
        Some(left) => qualifying.min(left.max(0) as u64),
        None => qualifying,
    };
    let rewards = e
        .rewards
        .iter()
        .map(|r| Reward {
            quantity: r.quantity.saturating_mul(granted as i64),
            ..r.clone()
        })
        .collect();
    Forecast {
        audience,
        qualifying,
        rewards,
    }
}
