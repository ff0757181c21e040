//! Whether a claim is approved: the one rule ladder behind both the eligibility preview
//! (`GET /events/{id}/eligibility`) and the worker's decision.
use super::claim::{Decision, RejectReason};
use super::conditions::{evaluate, ConditionProgress, Facts};
use super::event::{Event, Window};
use chrono::{DateTime, Utc};

/// The stock as the caller sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stock {
    /// The event has no `maxClaims`.
    Unlimited,
    /// Units left right now (the preview reads the counters).
    Remaining(i64),
    /// The worker takes a unit atomically once every other rule passed; running out then is
    /// an `OUT_OF_STOCK` decision of its own.
    TakenOnApproval,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub progress: Vec<ConditionProgress>,
    /// The first rule that failed, in the order: window and status, one claim per user,
    /// conditions, stock.
    pub rejection: Option<RejectReason>,
}

impl Verdict {
    pub fn eligible(&self) -> bool {
        self.rejection.is_none()
    }

    /// The decision a worker stores for this verdict.
    pub fn decision(self) -> Decision {
        match self.rejection {
            None => Decision::Approved {
                progress: self.progress,
            },
            // A closed event or an earlier approval says nothing about this user's progress.
            Some(reason @ (RejectReason::EventNotActive | RejectReason::AlreadyClaimed)) => {
                Decision::Rejected {
                    reason,
                    progress: None,
                }
            }
            Some(reason) => Decision::Rejected {
                reason,
                progress: Some(self.progress),
            },
        }
    }
}

/// `already_claimed`: the user holds another open or approved claim for this event (and
/// period); `window`: where the conditions count (`Event::claim_window`).
pub fn verdict(
    event: &Event,
    window: Window,
    now: DateTime<Utc>,
    facts: &Facts,
    already_claimed: bool,
    stock: Stock,
) -> Verdict {
    let eval = evaluate(&event.conditions, facts, window, event.tz());
    let rejection = if !event.is_open_at(now) {
        Some(RejectReason::EventNotActive)
    } else if already_claimed {
        Some(RejectReason::AlreadyClaimed)
    } else if !eval.all_met {
        Some(RejectReason::ConditionNotMet)
    } else if matches!(stock, Stock::Remaining(n) if n <= 0) {
        Some(RejectReason::OutOfStock)
    } else {
        None
    };
    Verdict {
        progress: eval.progress,
        rejection,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::{Condition, ConditionType, EventStatus};
    use crate::domain::{EventId, UserId};

    fn event(now: DateTime<Utc>) -> Event {
        Event {
            id: EventId::parse("e").unwrap(),
            title: "t".into(),
            description: String::new(),
            starts_at: now - chrono::Duration::days(1),
            ends_at: now + chrono::Duration::days(1),
            timezone: "UTC".into(),
            status: EventStatus::Active,
            conditions: vec![Condition {
                kind: ConditionType::LoginDays,
                threshold: 1,
                key: None,
                aggregate: None,
            }],
            rewards: vec![],
            max_claims: Some(1),
            recurrence: None,
            max_claims_per_period: None,
            audience: None,
            version: 1,
            created_by: UserId::parse("u").unwrap(),
            created_at: now,
            updated_at: now,
            archived_at: None,
        }
    }

    #[test]
    fn rules_apply_in_order_window_claim_conditions_stock() {
        let now = Utc::now();
        let met = Facts {
            login_instants: vec![now - chrono::Duration::hours(1)],
            ..Default::default()
        };
        let e = event(now);
        let v = |e: &Event, f: &Facts, claimed, stock| {
            verdict(e, e.window(), now, f, claimed, stock).rejection
        };
        assert_eq!(v(&e, &met, false, Stock::Remaining(1)), None);
        assert_eq!(v(&e, &met, false, Stock::TakenOnApproval), None);
        assert_eq!(
            v(&e, &met, false, Stock::Remaining(0)),
            Some(RejectReason::OutOfStock)
        );
        assert_eq!(
            v(&e, &Facts::default(), false, Stock::Remaining(0)),
            Some(RejectReason::ConditionNotMet)
        );
        assert_eq!(
            v(&e, &Facts::default(), true, Stock::Unlimited),
            Some(RejectReason::AlreadyClaimed)
        );
        let mut closed = e.clone();
        closed.status = EventStatus::Inactive;
        assert_eq!(
            v(&closed, &Facts::default(), true, Stock::Remaining(0)),
            Some(RejectReason::EventNotActive)
        );
    }

    #[test]
    fn decisions_keep_progress_only_when_it_explains_them() {
        let now = Utc::now();
        let e = event(now);
        let d = verdict(
            &e,
            e.window(),
            now,
            &Facts::default(),
            false,
            Stock::Unlimited,
        )
        .decision();
        assert!(matches!(
            d,
            Decision::Rejected {
                reason: RejectReason::ConditionNotMet,
                progress: Some(_)
            }
        ));
    }
}
