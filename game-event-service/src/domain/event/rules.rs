//! The rules every version of an event must satisfy; all problems are collected at once.
use super::{ConditionType, Event, EventStatus, RewardType};
use crate::domain::errors::{FieldError, FieldErrors};

pub const MAX_CONDITIONS: usize = 20;
pub const MAX_REWARDS: usize = 20;

/// Checks the whole event (after a create or a merged patch); collects every problem.
pub fn validate(event: &Event) -> Result<(), FieldErrors> {
    let mut errs = Vec::new();
    let title = event.title.trim();
    if title.is_empty() || title.chars().count() > 200 {
        errs.push(FieldError::new("title", "must be 1 to 200 characters"));
    }
    if event.description.chars().count() > 5000 {
        errs.push(FieldError::new(
            "description",
            "must be at most 5000 characters",
        ));
    }
    if event.timezone.parse::<chrono_tz::Tz>().is_err() {
        errs.push(FieldError::new(
            "timezone",
            "must be an IANA time zone such as Asia/Seoul",
        ));
    }
    if event.starts_at >= event.ends_at {
        errs.push(FieldError::new("endsAt", "must be after startsAt"));
    }
    if let Some(m) = event.max_claims {
        if m < 1 {
            errs.push(FieldError::new("maxClaims", "must be at least 1"));
        }
    }
    if let Some(r) = &event.recurrence {
        if let Err(e) = r.validate() {
            errs.push(FieldError::new(e.field, e.message));
        }
    }
    if let Some(m) = event.max_claims_per_period {
        if m < 1 {
            errs.push(FieldError::new("maxClaimsPerPeriod", "must be at least 1"));
        }
        if event.recurrence.is_none() {
            errs.push(FieldError::new(
                "maxClaimsPerPeriod",
                "only a recurring event has periods; use maxClaims",
            ));
        }
    }
    if let Some(a) = &event.audience {
        if let Err(list) = a.validate() {
            errs.extend(
                list.into_iter()
                    .map(|e| FieldError::new(e.field, e.message)),
            );
        }
    }
    if event.conditions.len() > MAX_CONDITIONS {
        errs.push(FieldError::new("conditions", "at most 20 conditions"));
    }
    for (i, c) in event.conditions.iter().enumerate() {
        if c.threshold < 1 {
            errs.push(FieldError::new(
                format!("conditions[{i}].threshold"),
                "must be at least 1",
            ));
        }
        match c.kind {
            ConditionType::Counter => match &c.key {
                None => errs.push(FieldError::new(
                    format!("conditions[{i}].key"),
                    "is required for COUNTER",
                )),
                Some(k) if !crate::domain::activity::valid_key(k) => errs.push(FieldError::new(
                    format!("conditions[{i}].key"),
                    "must match ^[a-z0-9_.:-]{1,64}$",
                )),
                _ => {}
            },
            _ => {
                if c.key.is_some() {
                    errs.push(FieldError::new(
                        format!("conditions[{i}].key"),
                        "only COUNTER conditions take a key",
                    ));
                }
                if c.aggregate.is_some() {
                    errs.push(FieldError::new(
                        format!("conditions[{i}].aggregate"),
                        "only COUNTER conditions take an aggregate",
                    ));
                }
            }
        }
    }
    if event.rewards.len() > MAX_REWARDS {
        errs.push(FieldError::new("rewards", "at most 20 rewards"));
    }
    for (i, r) in event.rewards.iter().enumerate() {
        if r.quantity < 1 {
            errs.push(FieldError::new(
                format!("rewards[{i}].quantity"),
                "must be at least 1",
            ));
        }
        match (r.kind, &r.item_code) {
            (RewardType::Item | RewardType::Coupon, None) => errs.push(FieldError::new(
                format!("rewards[{i}].itemCode"),
                "is required for ITEM and COUPON rewards",
            )),
            (RewardType::Item | RewardType::Coupon, Some(code))
                if code.trim().is_empty() || code.len() > 64 =>
            {
                errs.push(FieldError::new(
                    format!("rewards[{i}].itemCode"),
                    "must be 1 to 64 characters",
                ))
            }
            (RewardType::Point, Some(_)) => errs.push(FieldError::new(
                format!("rewards[{i}].itemCode"),
                "POINT rewards take no itemCode",
            )),
            _ => {}
        }
    }
    if event.status == EventStatus::Active && event.rewards.is_empty() {
        errs.push(FieldError::new(
            "rewards",
            "an ACTIVE event needs at least one reward",
        ));
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::{Condition, Reward};
    use chrono::{TimeZone, Utc};

    fn base() -> Event {
        let t = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
        Event {
            id: crate::domain::EventId::parse("e").unwrap(),
            title: "t".into(),
            description: String::new(),
            starts_at: t,
            ends_at: t + chrono::Duration::days(7),
            timezone: "Asia/Seoul".into(),
            status: EventStatus::Active,
            conditions: vec![Condition {
                kind: ConditionType::LoginDays,
                threshold: 3,
                key: None,
                aggregate: None,
            }],
            rewards: vec![Reward {
                kind: RewardType::Point,
                item_code: None,
                quantity: 100,
            }],
            max_claims: None,
            recurrence: None,
            max_claims_per_period: None,
            audience: None,
            version: 1,
            created_by: crate::domain::UserId::parse("u").unwrap(),
            created_at: t,
            updated_at: t,
            archived_at: None,
        }
    }

    fn fields(e: &Event) -> Vec<String> {
        validate(e)
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|f| f.field)
            .collect()
    }

    #[test]
    fn valid_event_passes() {
        assert!(validate(&base()).is_ok());
    }

    #[test]
    fn active_needs_reward_and_ordered_window() {
        let mut e = base();
        e.rewards.clear();
        e.ends_at = e.starts_at;
        let f = fields(&e);
        assert!(f.contains(&"rewards".to_string()));
        assert!(f.contains(&"endsAt".to_string()));
        e.status = EventStatus::Draft;
        assert!(!fields(&e).contains(&"rewards".to_string()));
    }

    #[test]
    fn rejects_bad_timezone_thresholds_keys_and_rewards() {
        let mut e = base();
        e.timezone = "Mars/Olympus".into();
        e.conditions = vec![
            Condition {
                kind: ConditionType::Counter,
                threshold: 0,
                key: None,
                aggregate: None,
            },
            Condition {
                kind: ConditionType::LoginDays,
                threshold: 1,
                key: Some("x".into()),
                aggregate: None,
            },
        ];
        e.rewards = vec![Reward {
            kind: RewardType::Item,
            item_code: None,
            quantity: 0,
        }];
        e.max_claims = Some(0);
        let f = fields(&e);
        for want in [
            "timezone",
            "conditions[0].threshold",
            "conditions[0].key",
            "conditions[1].key",
            "rewards[0].quantity",
            "rewards[0].itemCode",
            "maxClaims",
        ] {
            assert!(f.contains(&want.to_string()), "missing {want} in {f:?}");
        }
    }

    #[test]
    fn window_is_half_open() {
        let e = base();
        assert!(e.is_open_at(e.starts_at));
        assert!(!e.is_open_at(e.ends_at));
        assert!(!e.is_open_at(e.starts_at - chrono::Duration::milliseconds(1)));
    }
}
