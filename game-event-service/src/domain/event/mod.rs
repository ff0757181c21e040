//! Events, their conditions and rewards. How an event is created and changed is in `change`,
//! the rules every version must satisfy in `rules`.
mod change;
mod rules;
mod schedule;

pub use change::{EventPatch, NewEvent};
pub use rules::{validate, MAX_CONDITIONS, MAX_REWARDS};

use super::audience::Audience;
use super::ids::{EventId, UserId};
use super::recurrence::Recurrence;
use chrono::{DateTime, Utc};
use paperclip::actix::Apiv2Schema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Apiv2Schema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventStatus {
    Draft,
    Active,
    /// Still visible, but taking no new claims; only from and back to ACTIVE.
    Paused,
    Inactive,
}

impl EventStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            EventStatus::Draft => "DRAFT",
            EventStatus::Active => "ACTIVE",
            EventStatus::Paused => "PAUSED",
            EventStatus::Inactive => "INACTIVE",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Apiv2Schema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConditionType {
    LoginDays,
    ConsecutiveLoginDays,
    InviteCount,
    Counter,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Apiv2Schema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Aggregate {
    Sum,
    Max,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Apiv2Schema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Condition {
    #[serde(rename = "type")]
    pub kind: ConditionType,
    pub threshold: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregate: Option<Aggregate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Apiv2Schema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RewardType {
    Point,
    Item,
    Coupon,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Apiv2Schema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Reward {
    #[serde(rename = "type")]
    pub kind: RewardType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_code: Option<String>,
    pub quantity: i64,
}

/// The half-open interval `[startsAt, endsAt)` in which an event counts activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

impl Window {
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.starts_at <= t && t < self.ends_at
    }
}

/// An event as the API shows it (and as the store round-trips it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Apiv2Schema)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub id: EventId,
    pub title: String,
    pub description: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub timezone: String,
    pub status: EventStatus,
    pub conditions: Vec<Condition>,
    pub rewards: Vec<Reward>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_claims: Option<i64>,
    /// Each period is its own claim window (SPEC §8, recurring events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurrence: Option<Recurrence>,
    /// Global stock of one period; `maxClaims` stays the whole event's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_claims_per_period: Option<i64>,
    /// Who the event is for; absent admits everyone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<Audience>,
    pub version: i64,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archived_at: Option<DateTime<Utc>>,
}

impl Event {
    pub fn tz(&self) -> chrono_tz::Tz {
        self.timezone.parse().unwrap_or(chrono_tz::UTC)
    }
    pub fn window(&self) -> Window {
        Window {
            starts_at: self.starts_at,
            ends_at: self.ends_at,
        }
    }
    /// Claimable now: ACTIVE, not archived, and `now` inside the half-open window.
    pub fn is_open_at(&self, now: DateTime<Utc>) -> bool {
        self.status == EventStatus::Active
            && self.archived_at.is_none()
            && self.starts_at <= now
            && now < self.ends_at
    }
}
