//! An event's claim periods: the whole window, or one per day, week or month when it recurs.
use super::Event;
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
}
