//! An event's claim periods: the whole window, or one per day, week or month when it recurs.
use super::{Event, Window};
use crate::domain::period::{period_at, periods_from, Period};
use chrono::{DateTime, Utc};

impl Event {
    /// The period holding `instant`, `None` outside the window.
    pub fn period_at(&self, instant: DateTime<Utc>) -> Option<Period> {
        period_at(
            self.recurrence.as_ref(),
            self.tz(),
            self.starts_at,
            self.ends_at,
            instant,
        )
    }

    /// The period holding `instant` (the first one before the event starts) and up to
    /// `count - 1` after it.
    pub fn periods_from(&self, instant: DateTime<Utc>, count: usize) -> Vec<Period> {
        periods_from(
            self.recurrence.as_ref(),
            self.tz(),
            self.starts_at,
            self.ends_at,
            instant,
            count,
        )
    }

    /// Where a claim's conditions are counted: its period for a recurring event (the one that
    /// holds `at` when the claim has none), else the whole window.
    pub fn claim_window(&self, period: Option<&Period>) -> Window {
        match period {
            Some(p) if self.recurrence.is_some() => Window {
                starts_at: p.starts_at,
                ends_at: p.ends_at,
            },
            _ => self.window(),
        }
    }

    /// The period a claim made at `at` is for: `None` unless the event recurs.
    pub fn claim_period(&self, at: DateTime<Utc>) -> Option<Period> {
        self.recurrence.as_ref().and(self.period_at(at))
    }
}
