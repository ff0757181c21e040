//! The claim windows of an event: one for a plain event, one per day, week or month for a
//! recurring one, computed on the calendar of the event's time zone.
//!
//! A period runs from one reset to the next, and resets happen at `resetAt` local wall-clock time,
//! so a day of 23 or 25 hours (DST) is one period of that length. All instants are UTC; periods
//! are half-open `[startsAt, endsAt)` and clipped to the event's own window.
use super::recurrence::{Every, Recurrence};
use chrono::{DateTime, Datelike, Days, Months, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone};
use chrono::{Duration, Offset, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// The most periods one listing returns (`GET /events/{id}/periods?count=N`).
pub const MAX_PERIODS: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Period {
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

impl Period {
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.starts_at <= t && t < self.ends_at
    }

    /// A stable name for the period in unique indexes (one approval per user, event and period)
    /// and stock shards: its start as RFC 3339 UTC with milliseconds, the precision stored dates
    /// keep, so two periods of one event never share a key.
    pub fn key(&self) -> String {
        self.starts_at.to_rfc3339_opts(SecondsFormat::Millis, true)
    }
}

/// The period of an event (window `[starts_at, ends_at)`, time zone `tz`) that holds `instant`,
/// or `None` outside the window. Without a recurrence the whole window is the one period.
pub fn period_at(
    recurrence: Option<&Recurrence>,
    tz: Tz,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    instant: DateTime<Utc>,
) -> Option<Period> {
    if !(starts_at <= instant && instant < ends_at) {
        return None;
    }
    let Some(rec) = recurrence else {
        return Some(Period { starts_at, ends_at });
    };
    let (start, end) = calendar_period(rec, tz, instant);
    Some(Period {
        starts_at: start.max(starts_at),
        ends_at: end.min(ends_at),
    })
}

/// The period holding `instant` (the first one while the event has not started) and those after
/// it, at most `count` and never more than [`MAX_PERIODS`]; empty once the event has ended.
pub fn periods_from(
    recurrence: Option<&Recurrence>,
    tz: Tz,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    instant: DateTime<Utc>,
    count: usize,
) -> Vec<Period> {
    let count = count.min(MAX_PERIODS);
    let mut out = Vec::with_capacity(count);
    let mut cursor = instant.max(starts_at);
    while out.len() < count {
        let Some(p) = period_at(recurrence, tz, starts_at, ends_at, cursor) else {
            break;
        };
        cursor = p.ends_at;
        out.push(p);
    }
    out
}

/// The unclipped calendar period `[reset, next reset)` that holds `t`.
fn calendar_period(rec: &Recurrence, tz: Tz, t: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let mut anchor = anchor_on_or_before(rec, t.with_timezone(&tz).date_naive());
    // The reset on the local date of `t` may still be ahead of `t` (before resetAt), and in a
    // zone that skipped whole days a reset can land on a later date; walk to the last reset <= t.
    while reset_instant(rec, tz, anchor) > t {
        anchor = step(rec, anchor, false);
    }
    loop {
        let next = step(rec, anchor, true);
        if reset_instant(rec, tz, next) > t {
            return (reset_instant(rec, tz, anchor), reset_instant(rec, tz, next));
        }
        anchor = next;
    }
}

/// The latest local date on or before `date` on which the recurrence resets.
fn anchor_on_or_before(rec: &Recurrence, date: NaiveDate) -> NaiveDate {
    match rec.every {
        Every::Day => date,
        Every::Week => {
            let back = (7 + date.weekday().num_days_from_monday()
                - rec.weekday().num_days_from_monday())
                % 7;
            date - Days::new(back.into())
        }
        Every::Month => {
            let day = u32::from(rec.month_day());
            let this_month = date
                .with_day(day)
                .expect("days 1..=28 exist in every month");
            if date.day() >= day {
                this_month
            } else {
                this_month - Months::new(1)
            }
        }
    }
}

/// The reset date after (`forward`) or before `anchor`.
fn step(rec: &Recurrence, anchor: NaiveDate, forward: bool) -> NaiveDate {
    let moved = match (rec.every, forward) {
        (Every::Day, true) => anchor.checked_add_days(Days::new(1)),
        (Every::Day, false) => anchor.checked_sub_days(Days::new(1)),
        (Every::Week, true) => anchor.checked_add_days(Days::new(7)),
        (Every::Week, false) => anchor.checked_sub_days(Days::new(7)),
        // The day is 1..=28, so adding a month keeps it.
        (Every::Month, true) => anchor.checked_add_months(Months::new(1)),
        (Every::Month, false) => anchor.checked_sub_months(Months::new(1)),
    };
    moved.expect("event windows lie far inside chrono's date range")
}

/// The UTC instant the recurrence resets on local date `date`.
fn reset_instant(rec: &Recurrence, tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    let local = date.and_time(rec.reset_at.as_time());
    // Why the first occurrence when the clock falls back through resetAt: the new period opens
    // the moment players first see resetAt on their clock, and the period before it is not
    // stretched by the repeated hour (the long day is the new period, like a 25-hour day).
    match tz.from_local_datetime(&local).earliest() {
        Some(t) => t.with_timezone(&Utc),
        None => first_instant_after_gap(tz, local),
    }
}

/// For a local time the clock skipped (spring forward), the instant the clock jumped: the first
/// instant whose local time is past `local`.
fn first_instant_after_gap(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    let wall = |secs: i64| {
        let utc = DateTime::from_timestamp(secs, 0)
            .expect("in range")
            .naive_utc();
        tz.from_utc_datetime(&utc).naive_local()
    };
    // Reading `local` with the offsets in force a day before and a day after brackets the jump:
    // under the later offset it is an instant before the jump, under the earlier one after it.
    let offset_at = |utc: NaiveDateTime| -> i64 {
        tz.offset_from_utc_datetime(&utc)
            .fix()
            .local_minus_utc()
            .into()
    };
    let naive_secs = local.and_utc().timestamp();
    let before = offset_at(local - Duration::days(1));
    let after = offset_at(local + Duration::days(1));
    let (mut lo, mut hi) = (naive_secs - after, naive_secs - before);
    if !(lo < hi && wall(lo) < local && wall(hi) >= local) {
        // No single jump between those offsets (never seen in the tz database since 1900):
        // offsets stay within a day of UTC, so a day either side still brackets it.
        (lo, hi) = (naive_secs - 86_400, naive_secs + 86_400);
    }
    // Invariant: wall(lo) < local <= wall(hi).
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if wall(mid) >= local {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    DateTime::from_timestamp(hi, 0).expect("in range")
}

#[cfg(test)]
mod tests;
