//! How an event comes to be and changes: every change yields a whole new version that passes
//! `validate`, or every problem with it.
use super::{validate, Condition, Event, EventStatus, Reward, MAX_REWARDS};
use crate::domain::audience::Audience;
use crate::domain::errors::{FieldError, FieldErrors};
use crate::domain::ids::{EventId, UserId};
use crate::domain::recurrence::Recurrence;
use chrono::{DateTime, Utc};
use paperclip::actix::Apiv2Schema;
use serde::{Deserialize, Deserializer};

/// Body of `POST /events`.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewEvent {
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub status: Option<EventStatus>,
    #[serde(default)]
    pub conditions: Vec<Condition>,
    #[serde(default)]
    pub rewards: Vec<Reward>,
    #[serde(default)]
    pub max_claims: Option<i64>,
    #[serde(default)]
    pub recurrence: Option<Recurrence>,
    #[serde(default)]
    pub max_claims_per_period: Option<i64>,
    #[serde(default)]
    pub audience: Option<Audience>,
}

/// `null` and absent differ for `maxClaims`: absent keeps it, `null` removes the limit.
fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Body of `PATCH /events/{id}`: absent fields stay as they are.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventPatch {
    /// The version this change was based on (or `If-Match`).
    #[serde(default)]
    pub version: Option<i64>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub ends_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub status: Option<EventStatus>,
    #[serde(default)]
    pub conditions: Option<Vec<Condition>>,
    #[serde(default)]
    pub rewards: Option<Vec<Reward>>,
    /// `null` removes the stock limit.
    #[serde(default, deserialize_with = "double_option")]
    pub max_claims: Option<Option<i64>>,
    /// `null` makes the event a single-period one.
    #[serde(default, deserialize_with = "double_option")]
    pub recurrence: Option<Option<Recurrence>>,
    /// `null` removes the per-period stock limit.
    #[serde(default, deserialize_with = "double_option")]
    pub max_claims_per_period: Option<Option<i64>>,
    /// `null` opens the event to everyone.
    #[serde(default, deserialize_with = "double_option")]
    pub audience: Option<Option<Audience>>,
}

impl Event {
    /// Version 1 of a new event (DRAFT and UTC unless given).
    pub fn create(
        new: NewEvent,
        id: EventId,
        by: UserId,
        now: DateTime<Utc>,
    ) -> Result<Event, FieldErrors> {
        if new.status == Some(EventStatus::Paused) {
            return Err(vec![FieldError::new(
                "status",
                "an event is created DRAFT, ACTIVE or INACTIVE; PAUSED is reached from ACTIVE",
            )]);
        }
        let e = Event {
            id,
            title: new.title.trim().to_string(),
            description: new.description,
            starts_at: new.starts_at,
            ends_at: new.ends_at,
            timezone: new.timezone.unwrap_or_else(|| "UTC".into()),
            status: new.status.unwrap_or(EventStatus::Draft),
            conditions: new.conditions,
            rewards: new.rewards,
            max_claims: new.max_claims,
            recurrence: new.recurrence,
            max_claims_per_period: new.max_claims_per_period,
            audience: new.audience.filter(|a| !a.is_everyone()),
            version: 1,
            created_by: by,
            created_at: now,
            updated_at: now,
            archived_at: None,
        };
        validate(&e)?;
        Ok(e.normalized())
    }

    /// The next version with the patched fields (`patch.version` is checked by the caller).
    pub fn apply(&self, patch: EventPatch, now: DateTime<Utc>) -> Result<Event, FieldErrors> {
        let mut e = self.clone();
        if let Some(v) = patch.title {
            e.title = v.trim().to_string();
        }
        if let Some(v) = patch.description {
            e.description = v;
        }
        if let Some(v) = patch.starts_at {
            e.starts_at = v;
        }
        if let Some(v) = patch.ends_at {
            e.ends_at = v;
        }
        if let Some(v) = patch.timezone {
            e.timezone = v;
        }
        if let Some(v) = patch.status {
            if let Some(err) = transition_error(self.status, v) {
                return Err(vec![err]);
            }
            e.status = v;
        }
        if let Some(v) = patch.conditions {
            e.conditions = v;
        }
        if let Some(v) = patch.rewards {
            e.rewards = v;
        }
        if let Some(v) = patch.max_claims {
            e.max_claims = v;
        }
        if let Some(v) = patch.recurrence {
            e.recurrence = v;
        }
        if let Some(v) = patch.max_claims_per_period {
            e.max_claims_per_period = v;
        }
        if let Some(v) = patch.audience {
            e.audience = v.filter(|a| !a.is_everyone());
        }
        self.next_version(e, now)
    }

    /// The next version with one more reward; field names are the reward's own.
    pub fn with_reward(&self, reward: Reward, now: DateTime<Utc>) -> Result<Event, FieldErrors> {
        if self.rewards.len() >= MAX_REWARDS {
            return Err(vec![FieldError::new("rewards", "at most 20 rewards")]);
        }
        let mut e = self.clone();
        e.rewards.push(reward);
        self.next_version(e, now).map_err(|errs| {
            errs.into_iter()
                .map(|mut f| {
                    if let Some((_, tail)) = f
                        .field
                        .strip_prefix("rewards[")
                        .and_then(|rest| rest.split_once("]."))
                    {
                        f.field = tail.to_string();
                    }
                    f
                })
                .collect()
        })
    }

    /// The next version, archived: hidden from lists and reads, its claims and history kept.
    pub fn archived(&self, now: DateTime<Utc>) -> Result<Event, FieldErrors> {
        let mut e = self.clone();
        e.archived_at = Some(now);
        self.next_version(e, now)
    }

    /// Defaults written out only once the rule was checked as given: a `resetDay` of the wrong
    /// kind is an error, not something to replace with the default.
    fn normalized(mut self) -> Event {
        self.recurrence = self.recurrence.map(Recurrence::normalized);
        self
    }

    fn next_version(&self, mut e: Event, now: DateTime<Utc>) -> Result<Event, FieldErrors> {
        e.version = self.version + 1;
        e.updated_at = now;
        validate(&e)?;
        Ok(e.normalized())
    }
}

/// PAUSED is a hold on an ACTIVE event: reached only from ACTIVE, left only back to ACTIVE.
fn transition_error(from: EventStatus, to: EventStatus) -> Option<FieldError> {
    use EventStatus::{Active, Paused};
    match (from, to) {
        (a, b) if a == b => None,
        (Active, Paused) | (Paused, Active) => None,
        (_, Paused) => Some(FieldError::new(
            "status",
            "only an ACTIVE event can be PAUSED",
        )),
        (Paused, _) => Some(FieldError::new(
            "status",
            "a PAUSED event can only go back to ACTIVE",
        )),
        _ => None,
    }
}
