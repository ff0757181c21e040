//! Quarter-hour slots of UTC time: the grain activity totals are kept at.
//!
//! Every time zone in use today is a whole number of quarter hours from UTC, so a slot lies in
//! one local calendar day almost always, and a window edge set in minutes falls inside at most
//! one slot per edge. What a slot cannot answer (a slot cut by a window edge, or one that
//! straddles a local midnight in an odd historic offset) is answered from the raw records of
//! just that slot.
use super::activity::{INVITE, LOGIN};
use super::conditions::Facts;
use super::event::Window;
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

pub const SLOT_MS: i64 = 15 * 60 * 1000;
pub const DAY_MS: i64 = 24 * 60 * 60 * 1000;
pub const SLOTS_PER_DAY: u32 = 96;

/// The UTC day (days since 1970-01-01) and slot (0..96) an instant falls in.
pub fn slot_of(t: DateTime<Utc>) -> (i64, u32) {
    let ms = t.timestamp_millis();
    let day = ms.div_euclid(DAY_MS);
    (day, (ms.rem_euclid(DAY_MS) / SLOT_MS) as u32)
}

/// The half-open interval a slot covers.
pub fn slot_window(day: i64, slot: u32) -> Window {
    let start = day * DAY_MS + i64::from(slot) * SLOT_MS;
    let at = |ms: i64| DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default();
    Window {
        starts_at: at(start),
        ends_at: at(start + SLOT_MS),
    }
}

/// The UTC days any slot overlapping the window lies in (inclusive).
pub fn days_of(w: Window) -> (i64, i64) {
    let last = w.ends_at - Duration::milliseconds(1);
    (slot_of(w.starts_at).0, slot_of(last.max(w.starts_at)).0)
}

/// How a slot's totals count for a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotUse {
    /// No instant of the slot is in the window.
    Outside,
    /// The whole slot is in the window (and in one local day of `tz`): its totals count as is.
    Whole,
    /// Only the raw records inside this part of the slot can say what counts.
    Records(Window),
}

/// `login_day_matters`: whether the slot's local day is read (a login), so a slot that
/// straddles a local midnight must be read record by record.
pub fn slot_use(day: i64, slot: u32, w: Window, tz: Tz, login_day_matters: bool) -> SlotUse {
    let s = slot_window(day, slot);
    if s.ends_at <= w.starts_at || s.starts_at >= w.ends_at {
        return SlotUse::Outside;
    }
    let inside = w.starts_at <= s.starts_at && s.ends_at <= w.ends_at;
    let one_day = || {
        let last = s.ends_at - Duration::milliseconds(1);
        s.starts_at.with_timezone(&tz).date_naive() == last.with_timezone(&tz).date_naive()
    };
    if inside && (!login_day_matters || one_day()) {
        return SlotUse::Whole;
    }
    SlotUse::Records(Window {
        starts_at: s.starts_at.max(w.starts_at),
        ends_at: s.ends_at.min(w.ends_at),
    })
}

/// Adds records of `key` to a user's facts: their sum, their largest value, and an instant
/// inside the window of the same local day as each of them (a login's day is all that counts).
pub fn absorb(f: &mut Facts, key: &str, sum: i64, max: i64, at: DateTime<Utc>) {
    if key == LOGIN {
        f.login_instants.push(at);
    }
    if key == INVITE {
        f.invite_count = f.invite_count.saturating_add(sum);
    }
    let c = f.counters.entry(key.to_string()).or_default();
    c.sum = c.sum.saturating_add(sum);
    c.max = c.max.max(max);
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, m: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, mi, 0).unwrap()
    }
    fn w(a: DateTime<Utc>, b: DateTime<Utc>) -> Window {
        Window {
            starts_at: a,
            ends_at: b,
        }
    }

    #[test]
    fn slots_cover_the_day_in_quarter_hours() {
        let (day, slot) = slot_of(utc(2026, 11, 2, 13, 44));
        assert_eq!(slot, 13 * 4 + 2);
        let s = slot_window(day, slot);
        assert_eq!(s.starts_at, utc(2026, 11, 2, 13, 30));
        assert_eq!(s.ends_at, utc(2026, 11, 2, 13, 45));
        assert_eq!(slot_of(utc(1969, 12, 31, 23, 59)), (-1, 95));
        let window = w(utc(2026, 11, 1, 15, 0), utc(2026, 11, 3, 0, 0));
        assert_eq!(days_of(window).1 - days_of(window).0, 1);
    }

    #[test]
    fn edges_inside_a_slot_need_its_records() {
        let window = w(utc(2026, 11, 1, 10, 7), utc(2026, 11, 1, 12, 0));
        let (day, _) = slot_of(window.starts_at);
        let tz = chrono_tz::UTC;
        assert_eq!(slot_use(day, 39, window, tz, true), SlotUse::Outside);
        assert_eq!(
            slot_use(day, 40, window, tz, true),
            SlotUse::Records(w(utc(2026, 11, 1, 10, 7), utc(2026, 11, 1, 10, 15)))
        );
        assert_eq!(slot_use(day, 41, window, tz, true), SlotUse::Whole);
        assert_eq!(slot_use(day, 47, window, tz, true), SlotUse::Whole);
        assert_eq!(slot_use(day, 48, window, tz, true), SlotUse::Outside);
    }

    #[test]
    fn a_slot_across_a_local_midnight_is_read_by_record_for_logins_only() {
        // Asia/Kolkata is UTC+5:30: local midnight is 18:30Z, a slot edge, so no slot straddles.
        let window = w(utc(2026, 11, 1, 0, 0), utc(2026, 11, 5, 0, 0));
        let (day, _) = slot_of(utc(2026, 11, 2, 0, 0));
        let kolkata = chrono_tz::Asia::Kolkata;
        assert_eq!(slot_use(day, 73, window, kolkata, true), SlotUse::Whole);
        // In 1900 Kolkata kept Madras time, UTC+5:21:10: local midnight fell inside a slot.
        let old = w(utc(1900, 1, 1, 0, 0), utc(1900, 1, 3, 0, 0));
        let (d, _) = slot_of(utc(1900, 1, 1, 18, 0));
        let straddling = (0..SLOTS_PER_DAY)
            .filter(|s| matches!(slot_use(d, *s, old, kolkata, true), SlotUse::Records(_)))
            .count();
        assert_eq!(straddling, 1);
        let for_counters = (0..SLOTS_PER_DAY)
            .filter(|s| matches!(slot_use(d, *s, old, kolkata, false), SlotUse::Records(_)))
            .count();
        assert_eq!(for_counters, 0);
    }

    #[test]
    fn absorbed_totals_add_up() {
        let mut f = Facts::default();
        absorb(&mut f, "kills", 5, 4, utc(2026, 11, 1, 0, 0));
        absorb(&mut f, "kills", 2, 2, utc(2026, 11, 2, 0, 0));
        absorb(&mut f, LOGIN, 3, 1, utc(2026, 11, 2, 0, 0));
        absorb(&mut f, INVITE, 2, 1, utc(2026, 11, 2, 0, 0));
        assert_eq!((f.counters["kills"].sum, f.counters["kills"].max), (7, 4));
        assert_eq!(f.login_instants.len(), 1);
        assert_eq!(f.invite_count, 2);
    }
}
