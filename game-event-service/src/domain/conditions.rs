//! The condition engine: pure functions from activity facts to progress against thresholds.
//!
//! Days are calendar days in the event's time zone; only activity inside the half-open window
//! `[startsAt, endsAt)` counts.
use super::activity::{INVITE, LOGIN};
pub use super::event::Window;
use super::event::{Aggregate, Condition, ConditionType};
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use paperclip::actix::Apiv2Schema;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CounterFacts {
    pub sum: i64,
    pub max: i64,
}

/// What the store knows about one user inside one window.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub login_instants: Vec<DateTime<Utc>>,
    pub invite_count: i64,
    pub counters: HashMap<String, CounterFacts>,
}

/// One activity record, as far as conditions care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fact {
    pub key: String,
    pub value: i64,
    pub occurred_at: DateTime<Utc>,
}

/// The activity keys `conditions` read (`login` and `invite` included when counted).
pub fn keys_needed(conditions: &[Condition]) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for c in conditions {
        let k = match c.kind {
            ConditionType::LoginDays | ConditionType::ConsecutiveLoginDays => Some(LOGIN),
            ConditionType::InviteCount => Some(INVITE),
            ConditionType::Counter => c.key.as_deref(),
        };
        if let Some(k) = k {
            if !keys.iter().any(|have| have == k) {
                keys.push(k.to_string());
            }
        }
    }
    keys
}

impl Facts {
    /// The facts of one user for `conditions` from that user's records: only records inside
    /// the window and of a key the conditions read count.
    pub fn gather<'a>(
        records: impl IntoIterator<Item = &'a Fact>,
        window: Window,
        conditions: &[Condition],
    ) -> Facts {
        let keys = keys_needed(conditions);
        let counted = |k: &str| {
            conditions.iter().any(|c| {
                (c.kind == ConditionType::Counter && c.key.as_deref() == Some(k))
                    || (c.kind == ConditionType::InviteCount && k == INVITE)
            })
        };
        let mut facts = Facts::default();
        for r in records {
            if !window.contains(r.occurred_at) || !keys.iter().any(|k| k == &r.key) {
                continue;
            }
            if r.key == LOGIN && keys.iter().any(|k| k == LOGIN) {
                facts.login_instants.push(r.occurred_at);
            }
            if counted(&r.key) {
                let f = facts.counters.entry(r.key.clone()).or_default();
                f.sum = f.sum.saturating_add(r.value);
                f.max = f.max.max(r.value);
            }
        }
        if let Some(f) = facts.counters.get(INVITE) {
            facts.invite_count = f.sum;
        }
        facts
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Apiv2Schema)]
#[serde(rename_all = "camelCase")]
pub struct ConditionProgress {
    #[serde(rename = "type")]
    pub kind: ConditionType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregate: Option<Aggregate>,
    pub current: i64,
    pub threshold: i64,
    pub met: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub progress: Vec<ConditionProgress>,
    pub all_met: bool,
}

/// Distinct calendar days (in `tz`) with a login inside the window.
pub fn login_days(instants: &[DateTime<Utc>], window: Window, tz: Tz) -> BTreeSet<NaiveDate> {
    instants
        .iter()
        .filter(|t| window.contains(**t))
        .map(|t| t.with_timezone(&tz).date_naive())
        .collect()
}

/// Longest run of consecutive calendar days in a set of days.
pub fn longest_streak(days: &BTreeSet<NaiveDate>) -> i64 {
    let mut best = 0;
    let mut run = 0;
    let mut prev: Option<NaiveDate> = None;
    for d in days {
        run = match prev {
            Some(p) if p.succ_opt() == Some(*d) => run + 1,
            _ => 1,
        };
        best = best.max(run);
        prev = Some(*d);
    }
    best
}

pub fn evaluate(conditions: &[Condition], facts: &Facts, window: Window, tz: Tz) -> Evaluation {
    let days = login_days(&facts.login_instants, window, tz);
    let progress: Vec<ConditionProgress> = conditions
        .iter()
        .map(|c| {
            let current = match c.kind {
                ConditionType::LoginDays => days.len() as i64,
                ConditionType::ConsecutiveLoginDays => longest_streak(&days),
                ConditionType::InviteCount => facts.invite_count,
                ConditionType::Counter => {
                    let f = c
                        .key
                        .as_ref()
                        .and_then(|k| facts.counters.get(k))
                        .copied()
                        .unwrap_or_default();
                    match c.aggregate.unwrap_or(Aggregate::Sum) {
                        Aggregate::Sum => f.sum,
                        Aggregate::Max => f.max,
                    }
                }
            };
            ConditionProgress {
                kind: c.kind,
                key: c.key.clone(),
                aggregate: c.aggregate,
                current,
                threshold: c.threshold,
                met: current >= c.threshold,
            }
        })
        .collect();
    let all_met = progress.iter().all(|p| p.met);
    Evaluation { progress, all_met }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, m: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, mi, 0).unwrap()
    }
    fn cond(kind: ConditionType, threshold: i64) -> Condition {
        Condition {
            kind,
            threshold,
            key: None,
            aggregate: None,
        }
    }
    fn window(a: DateTime<Utc>, b: DateTime<Utc>) -> Window {
        Window {
            starts_at: a,
            ends_at: b,
        }
    }

    #[test]
    fn login_days_use_the_event_timezone() {
        // 15:30Z and 14:59Z on Nov 1 are Nov 2 00:30 and Nov 1 23:59 in Seoul (UTC+9).
        let logins = vec![utc(2026, 11, 1, 14, 59), utc(2026, 11, 1, 15, 30)];
        let w = window(utc(2026, 10, 1, 0, 0), utc(2026, 12, 1, 0, 0));
        assert_eq!(login_days(&logins, w, chrono_tz::Asia::Seoul).len(), 2);
        assert_eq!(login_days(&logins, w, chrono_tz::UTC).len(), 1);
    }

    #[test]
    fn window_edges_are_half_open() {
        let start = utc(2026, 11, 1, 0, 0);
        let end = utc(2026, 11, 8, 0, 0);
        let logins = vec![
            start - chrono::Duration::seconds(1),
            start,
            end - chrono::Duration::seconds(1),
            end,
        ];
        let days = login_days(&logins, window(start, end), chrono_tz::UTC);
        let got: Vec<_> = days.iter().map(|d| d.to_string()).collect();
        assert_eq!(got, vec!["2026-11-01", "2026-11-07"]);
    }

    #[test]
    fn streak_is_longest_run_of_consecutive_days() {
        let d = |day| NaiveDate::from_ymd_opt(2026, 11, day).unwrap();
        let days: BTreeSet<_> = [1, 2, 3, 5, 6, 7, 8, 10].into_iter().map(d).collect();
        assert_eq!(longest_streak(&days), 4);
        assert_eq!(longest_streak(&BTreeSet::new()), 0);
        let single: BTreeSet<_> = [d(3)].into_iter().collect();
        assert_eq!(longest_streak(&single), 1);
    }

    #[test]
    fn streak_crosses_month_boundary() {
        let days: BTreeSet<_> = [
            NaiveDate::from_ymd_opt(2026, 10, 31).unwrap(),
            NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
        ]
        .into_iter()
        .collect();
        assert_eq!(longest_streak(&days), 2);
    }

    #[test]
    fn dst_transition_days_count_once_each() {
        // America/New_York falls back on 2026-11-01: 01:30 local happens twice.
        let tz = chrono_tz::America::New_York;
        let logins = vec![
            utc(2026, 11, 1, 5, 30), // 01:30 EDT
            utc(2026, 11, 1, 6, 30), // 01:30 EST
            utc(2026, 11, 2, 4, 30), // Nov 1 23:30 EST
            utc(2026, 11, 2, 5, 30), // Nov 2 00:30 EST
        ];
        let w = window(utc(2026, 10, 1, 0, 0), utc(2026, 12, 1, 0, 0));
        let days = login_days(&logins, w, tz);
        assert_eq!(days.len(), 2);
        assert_eq!(longest_streak(&days), 2);
        // Spring forward: 2026-03-08 has 23 hours; 23:30 local on Mar 8 is 03:30Z on Mar 9.
        let spring = vec![utc(2026, 3, 8, 6, 0), utc(2026, 3, 9, 3, 30)];
        let w = window(utc(2026, 3, 1, 0, 0), utc(2026, 4, 1, 0, 0));
        assert_eq!(login_days(&spring, w, tz).len(), 1);
    }

    #[test]
    fn evaluation_ands_conditions_and_reports_progress() {
        let w = window(utc(2026, 11, 1, 0, 0), utc(2026, 11, 30, 0, 0));
        let mut facts = Facts {
            login_instants: vec![utc(2026, 11, 2, 10, 0), utc(2026, 11, 3, 10, 0)],
            invite_count: 1,
            ..Default::default()
        };
        facts
            .counters
            .insert("kills".into(), CounterFacts { sum: 12, max: 7 });
        let conditions = vec![
            cond(ConditionType::LoginDays, 2),
            cond(ConditionType::ConsecutiveLoginDays, 2),
            cond(ConditionType::InviteCount, 2),
            Condition {
                kind: ConditionType::Counter,
                threshold: 10,
                key: Some("kills".into()),
                aggregate: None,
            },
            Condition {
                kind: ConditionType::Counter,
                threshold: 8,
                key: Some("kills".into()),
                aggregate: Some(Aggregate::Max),
            },
        ];
        let ev = evaluate(&conditions, &facts, w, chrono_tz::UTC);
        assert!(!ev.all_met);
        let cur: Vec<(i64, bool)> = ev.progress.iter().map(|p| (p.current, p.met)).collect();
        assert_eq!(
            cur,
            vec![(2, true), (2, true), (1, false), (12, true), (7, false)]
        );
        facts.invite_count = 2;
        facts
            .counters
            .insert("kills".into(), CounterFacts { sum: 12, max: 8 });
        assert!(evaluate(&conditions, &facts, w, chrono_tz::UTC).all_met);
    }

    #[test]
    fn gathered_facts_keep_only_needed_keys_inside_the_window() {
        let w = window(utc(2026, 11, 1, 0, 0), utc(2026, 11, 30, 0, 0));
        let f = |key: &str, value, at| Fact {
            key: key.into(),
            value,
            occurred_at: at,
        };
        let records = [
            f("login", 1, utc(2026, 11, 2, 0, 0)),
            f("login", 1, utc(2026, 10, 2, 0, 0)),
            f("kills", 5, utc(2026, 11, 3, 0, 0)),
            f("kills", 7, utc(2026, 12, 3, 0, 0)),
            f("invite", 1, utc(2026, 11, 4, 0, 0)),
            f("deaths", 9, utc(2026, 11, 4, 0, 0)),
        ];
        let conditions = vec![
            cond(ConditionType::LoginDays, 1),
            cond(ConditionType::InviteCount, 1),
            Condition {
                kind: ConditionType::Counter,
                threshold: 1,
                key: Some("kills".into()),
                aggregate: None,
            },
        ];
        let facts = Facts::gather(&records, w, &conditions);
        assert_eq!(facts.login_instants.len(), 1);
        assert_eq!(facts.invite_count, 1);
        assert_eq!(facts.counters["kills"], CounterFacts { sum: 5, max: 5 });
        assert!(!facts.counters.contains_key("deaths"));
    }

    #[test]
    fn no_conditions_means_met_and_unknown_counter_is_zero() {
        let w = window(utc(2026, 11, 1, 0, 0), utc(2026, 11, 30, 0, 0));
        assert!(evaluate(&[], &Facts::default(), w, chrono_tz::UTC).all_met);
        let c = Condition {
            kind: ConditionType::Counter,
            threshold: 1,
            key: Some("none".into()),
            aggregate: None,
        };
        let ev = evaluate(&[c], &Facts::default(), w, chrono_tz::UTC);
        assert_eq!(ev.progress[0].current, 0);
        assert!(!ev.all_met);
    }
}
