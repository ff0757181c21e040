use super::*;
use crate::domain::recurrence::ResetAt;
use chrono::{NaiveTime, Weekday};
use chrono_tz::America::New_York;
use chrono_tz::Asia::Seoul;
use chrono_tz::Australia::Lord_Howe;
use chrono_tz::Europe::London;
use proptest::prelude::*;

const ZONES: [Tz; 4] = [New_York, London, Seoul, Lord_Howe];

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn at(h: u8, m: u8) -> ResetAt {
    ResetAt::new(h, m).unwrap()
}

fn wall(tz: Tz, t: DateTime<Utc>) -> NaiveDateTime {
    t.with_timezone(&tz).naive_local()
}

fn offset_secs(tz: Tz, t: DateTime<Utc>) -> i64 {
    t.with_timezone(&tz).offset().fix().local_minus_utc().into()
}

/// Local midnight, 2027-01-01 to 2028-01-01: every DST boundary of 2027 lies inside.
fn year_2027(tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
    let midnight = |y| {
        tz.with_ymd_and_hms(y, 1, 1, 0, 0, 0)
            .single()
            .unwrap()
            .with_timezone(&Utc)
    };
    (midnight(2027), midnight(2028))
}

fn hours(p: &Period) -> f64 {
    (p.ends_at - p.starts_at).num_seconds() as f64 / 3600.0
}

/// All periods of the window, walked one after another.
fn walk(rec: &Recurrence, tz: Tz, s: DateTime<Utc>, e: DateTime<Utc>) -> Vec<Period> {
    let mut out = Vec::new();
    let mut cursor = s;
    while let Some(p) = period_at(Some(rec), tz, s, e, cursor) {
        assert!(p.contains(cursor), "{p:?} misses {cursor}");
        cursor = p.ends_at;
        out.push(p);
    }
    out
}

/// Whether `start` is where the recurrence resets on its local date: the first instant the
/// clock shows resetAt, or, on a day the clock skips resetAt, the first instant after the gap.
fn is_reset_instant(rec: &Recurrence, tz: Tz, start: DateTime<Utc>) -> bool {
    let date = wall(tz, start).date();
    let local = date.and_time(rec.reset_at.as_time());
    match tz.from_local_datetime(&local).earliest() {
        Some(first) => first.with_timezone(&Utc) == start,
        None => wall(tz, start - Duration::seconds(1)) < local && wall(tz, start) > local,
    }
}

fn is_reset_date(rec: &Recurrence, date: NaiveDate) -> bool {
    match rec.every {
        Every::Day => true,
        Every::Week => date.weekday() == rec.weekday(),
        Every::Month => date.day() == u32::from(rec.month_day()),
    }
}

/// Every rule a window's periods must keep; returns them for further checks.
fn check_window(rec: &Recurrence, tz: Tz, s: DateTime<Utc>, e: DateTime<Utc>) -> Vec<Period> {
    let periods = walk(rec, tz, s, e);
    assert_eq!(
        periods.first().unwrap().starts_at,
        s,
        "first period starts at startsAt"
    );
    assert_eq!(
        periods.last().unwrap().ends_at,
        e,
        "last period ends at endsAt"
    );
    for pair in periods.windows(2) {
        assert_eq!(pair[0].ends_at, pair[1].starts_at, "contiguous: {pair:?}");
        // The next reset is the very next reset date: no period is skipped.
        let d0 = wall(tz, pair[1].starts_at).date();
        let d1 = wall(tz, pair[1].ends_at).date();
        if pair[1].ends_at != e {
            assert_eq!(
                step(rec, d0, true),
                d1,
                "{rec:?} {tz} skips from {d0} to {d1}"
            );
        }
    }
    for p in &periods {
        assert!(p.starts_at < p.ends_at, "empty period {p:?}");
        if p.starts_at != s {
            assert!(is_reset_instant(rec, tz, p.starts_at), "{rec:?} {tz} {p:?}");
            assert!(
                is_reset_date(rec, wall(tz, p.starts_at).date()),
                "{rec:?} {p:?}"
            );
        }
        if p.starts_at != s && p.ends_at != e {
            let days = (wall(tz, p.ends_at).date() - wall(tz, p.starts_at).date()).num_days();
            let nominal = days * 86_400;
            let len = (p.ends_at - p.starts_at).num_seconds();
            let exact = |t| wall(tz, t).time() == rec.reset_at.as_time();
            if exact(p.starts_at) && exact(p.ends_at) {
                // Calendar days, stretched or shrunk by exactly the DST shift between them.
                let shift = offset_secs(tz, p.ends_at) - offset_secs(tz, p.starts_at);
                assert_eq!(len, nominal - shift, "{rec:?} {tz} {p:?}");
            } else {
                assert!((len - nominal).abs() <= 3600, "{rec:?} {tz} {p:?}");
            }
            if rec.every == Every::Day {
                // A reset moved to the end of a gap shares the skipped time between the two
                // periods beside it (23.5 h + 23.5 h for 02:30 in New York), so only periods
                // between exact resets have the lengths DST alone dictates.
                let allowed = if exact(p.starts_at) && exact(p.ends_at) {
                    [23.0, 23.5, 24.0, 24.5, 25.0].contains(&hours(p))
                } else {
                    (23.0..=25.0).contains(&hours(p))
                };
                assert!(allowed, "{rec:?} {tz} {p:?} lasts {}h", hours(p));
            }
        }
    }
    periods
}

#[test]
fn new_york_spring_forward_resets_after_the_gap() {
    // 2027-03-14 the clock jumps 02:00 EST -> 03:00 EDT: 02:30 does not exist that day.
    let rec = Recurrence::daily(at(2, 30));
    let (s, e) = year_2027(New_York);
    let p = period_at(Some(&rec), New_York, s, e, utc("2027-03-14T12:00:00Z")).unwrap();
    assert_eq!(p.starts_at, utc("2027-03-14T07:00:00Z"), "03:00 EDT");
    assert_eq!(
        wall(New_York, p.starts_at).time(),
        NaiveTime::from_hms_opt(3, 0, 0).unwrap()
    );
    assert_eq!(p.ends_at, utc("2027-03-15T06:30:00Z"), "02:30 EDT next day");
    let before = period_at(Some(&rec), New_York, s, e, utc("2027-03-14T06:59:59Z")).unwrap();
    assert_eq!(before.starts_at, utc("2027-03-13T07:30:00Z"), "02:30 EST");
    assert_eq!(before.ends_at, p.starts_at);

    let midnight = Recurrence::daily(at(0, 0));
    let day = period_at(Some(&midnight), New_York, s, e, utc("2027-03-14T12:00:00Z"));
    assert_eq!(hours(&day.unwrap()), 23.0);
}

#[test]
fn new_york_fall_back_is_one_25_hour_day_resetting_at_the_first_occurrence() {
    let (s, e) = year_2027(New_York);
    let midnight = Recurrence::daily(at(0, 0));
    let day = period_at(Some(&midnight), New_York, s, e, utc("2027-11-07T12:00:00Z")).unwrap();
    assert_eq!(day.starts_at, utc("2027-11-07T04:00:00Z"));
    assert_eq!(day.ends_at, utc("2027-11-08T05:00:00Z"));
    assert_eq!(hours(&day), 25.0);

    // 01:30 happens twice on 2027-11-07 (EDT, then EST): the reset is the first one.
    let rec = Recurrence::daily(at(1, 30));
    let p = period_at(Some(&rec), New_York, s, e, utc("2027-11-07T06:00:00Z")).unwrap();
    assert_eq!(p.starts_at, utc("2027-11-07T05:30:00Z"), "01:30 EDT");
    assert_eq!(p.ends_at, utc("2027-11-08T06:30:00Z"), "01:30 EST next day");
    let prev = period_at(Some(&rec), New_York, s, e, utc("2027-11-07T05:29:59Z")).unwrap();
    assert_eq!(hours(&prev), 24.0);
}

#[test]
fn lord_howe_shifts_by_half_an_hour() {
    let (s, e) = year_2027(Lord_Howe);
    let midnight = Recurrence::daily(at(0, 0));
    // 2027-04-04 02:00 (+11:00) -> 01:30 (+10:30): a 24.5-hour day.
    let april = period_at(
        Some(&midnight),
        Lord_Howe,
        s,
        e,
        utc("2027-04-04T01:00:00Z"),
    );
    let april = april.unwrap();
    assert_eq!(april.starts_at, utc("2027-04-03T13:00:00Z"));
    assert_eq!(april.ends_at, utc("2027-04-04T13:30:00Z"));
    assert_eq!(hours(&april), 24.5);
    // 01:45 happens twice that night: the reset is the first, still at +11:00.
    let folded = Recurrence::daily(at(1, 45));
    let p = period_at(Some(&folded), Lord_Howe, s, e, utc("2027-04-03T15:00:00Z")).unwrap();
    assert_eq!(p.starts_at, utc("2027-04-03T14:45:00Z"));
    assert_eq!(p.ends_at, utc("2027-04-04T15:15:00Z"));
    assert_eq!(hours(&p), 24.5);

    // 2027-10-03 02:00 (+10:30) -> 02:30 (+11:00): a 23.5-hour day.
    let october = period_at(
        Some(&midnight),
        Lord_Howe,
        s,
        e,
        utc("2027-10-03T01:00:00Z"),
    );
    let october = october.unwrap();
    assert_eq!(october.starts_at, utc("2027-10-02T13:30:00Z"));
    assert_eq!(october.ends_at, utc("2027-10-03T13:00:00Z"));
    assert_eq!(hours(&october), 23.5);
    // 02:15 does not exist that day: the reset is 02:30 (+11:00), the end of the gap.
    let gapped = Recurrence::daily(at(2, 15));
    let p = period_at(Some(&gapped), Lord_Howe, s, e, utc("2027-10-02T16:00:00Z")).unwrap();
    assert_eq!(p.starts_at, utc("2027-10-02T15:30:00Z"));
    assert_eq!(
        wall(Lord_Howe, p.starts_at).time(),
        NaiveTime::from_hms_opt(2, 30, 0).unwrap()
    );
}

#[test]
fn every_dst_boundary_of_2027_makes_one_longer_or_shorter_day() {
    let midnight = Recurrence::daily(at(0, 0));
    let expected: [(Tz, &[(&str, f64)]); 4] = [
        (New_York, &[("2027-03-14", 23.0), ("2027-11-07", 25.0)]),
        (London, &[("2027-03-28", 23.0), ("2027-10-31", 25.0)]),
        (Seoul, &[]),
        (Lord_Howe, &[("2027-04-04", 24.5), ("2027-10-03", 23.5)]),
    ];
    for (tz, odd_days) in expected {
        let (s, e) = year_2027(tz);
        let periods = check_window(&midnight, tz, s, e);
        assert_eq!(periods.len(), 365, "{tz}");
        let odd: Vec<(String, f64)> = periods
            .iter()
            .filter(|p| hours(p) != 24.0)
            .map(|p| (wall(tz, p.starts_at).date().to_string(), hours(p)))
            .collect();
        let want: Vec<(String, f64)> = odd_days.iter().map(|(d, h)| (d.to_string(), *h)).collect();
        assert_eq!(odd, want, "{tz}");
    }
}

#[test]
fn daily_periods_hold_for_every_quarter_hour_in_every_zone() {
    for tz in ZONES {
        let (s, e) = year_2027(tz);
        for quarter in 0..96u8 {
            let rec = Recurrence::daily(at(quarter / 4, quarter % 4 * 15));
            // Midnight splits the year into its 365 days; any other time clips two ends.
            let want = if quarter == 0 { 365 } else { 366 };
            assert_eq!(check_window(&rec, tz, s, e).len(), want, "{tz} {quarter}");
        }
        // Minutes inside the gaps and folds of London and Lord Howe, not only quarter hours.
        for minute in 0..60 {
            for hour in [1, 2] {
                check_window(&Recurrence::daily(at(hour, minute)), tz, s, e);
            }
        }
    }
}

#[test]
fn weekly_and_monthly_periods_start_on_their_reset_day() {
    let (s, e) = year_2027(London);
    let weekly = Recurrence::weekly(at(9, 0), Weekday::Mon);
    let periods = check_window(&weekly, London, s, e);
    // 2027-01-01 is a Friday: the first period runs to Monday 2027-01-04 09:00 GMT.
    assert_eq!(periods[0].ends_at, utc("2027-01-04T09:00:00Z"));
    assert_eq!(periods[1].ends_at, utc("2027-01-11T09:00:00Z"));
    assert_eq!(periods.len(), 53);
    // The week holding 2027-03-28 (BST starts) is an hour short.
    let spring = period_at(Some(&weekly), London, s, e, utc("2027-03-28T12:00:00Z"));
    assert_eq!(hours(&spring.unwrap()), 7.0 * 24.0 - 1.0);

    let monthly = Recurrence::monthly(at(4, 0), 15).unwrap();
    let periods = check_window(&monthly, Seoul, s, e);
    let starts: Vec<String> = periods[1..]
        .iter()
        .map(|p| wall(Seoul, p.starts_at).to_string())
        .collect();
    assert_eq!(starts[0], "2027-01-15 04:00:00");
    assert_eq!(starts.len(), 12);
    assert!(starts.iter().all(|s| s[8..] == *"15 04:00:00"));
    let february = period_at(Some(&monthly), Seoul, s, e, utc("2027-02-20T00:00:00Z"));
    assert_eq!(hours(&february.unwrap()), 28.0 * 24.0);
}

#[test]
fn window_clips_the_first_and_last_period() {
    let rec = Recurrence::daily(at(5, 0));
    let s = utc("2027-06-01T10:17:00Z");
    let e = utc("2027-06-03T01:02:03Z");
    let periods = periods_from(Some(&rec), Seoul, s, e, s, 10);
    assert_eq!(
        periods,
        vec![
            Period {
                starts_at: s,
                ends_at: utc("2027-06-01T20:00:00Z")
            },
            // 05:00 in Seoul (+09:00) is 20:00 UTC the day before.
            Period {
                starts_at: utc("2027-06-01T20:00:00Z"),
                ends_at: utc("2027-06-02T20:00:00Z")
            },
            Period {
                starts_at: utc("2027-06-02T20:00:00Z"),
                ends_at: e
            },
        ]
    );
    assert_eq!(
        period_at(Some(&rec), Seoul, s, e, e),
        None,
        "endsAt is outside"
    );
    let just_before = s - Duration::milliseconds(1);
    assert_eq!(period_at(Some(&rec), Seoul, s, e, just_before), None);
}

#[test]
fn listing_starts_at_the_current_or_first_period_and_stops_at_the_end() {
    let rec = Recurrence::daily(at(0, 0));
    let (s, e) = year_2027(New_York);
    let before = periods_from(Some(&rec), New_York, s, e, s - Duration::days(30), 3);
    assert_eq!(before.len(), 3);
    assert_eq!(before[0].starts_at, s);
    let now = utc("2027-12-30T17:00:00Z");
    let tail = periods_from(Some(&rec), New_York, s, e, now, 50);
    assert_eq!(tail.len(), 2, "Dec 30 and Dec 31 are left");
    assert!(tail[0].contains(now));
    assert_eq!(periods_from(Some(&rec), New_York, s, e, e, 5), vec![]);
    assert_eq!(periods_from(Some(&rec), New_York, s, e, now, 0), vec![]);
    assert_eq!(
        periods_from(Some(&rec), New_York, s, e, s, 1000).len(),
        MAX_PERIODS
    );
}

#[test]
fn a_plain_event_is_one_period() {
    let (s, e) = (utc("2027-03-01T00:00:00Z"), utc("2027-04-01T00:00:00Z"));
    let whole = Period {
        starts_at: s,
        ends_at: e,
    };
    assert_eq!(
        period_at(None, New_York, s, e, utc("2027-03-14T07:00:00Z")),
        Some(whole)
    );
    assert_eq!(
        periods_from(None, New_York, s, e, s - Duration::days(1), 50),
        vec![whole]
    );
    assert_eq!(period_at(None, New_York, s, e, e), None);
}

#[test]
fn keys_are_the_start_in_utc_and_periods_serialize_as_the_api_shows_them() {
    let p = Period {
        starts_at: utc("2027-03-14T07:00:00Z"),
        ends_at: utc("2027-03-15T06:30:00Z"),
    };
    assert_eq!(p.key(), "2027-03-14T07:00:00.000Z");
    let clipped = Period {
        starts_at: utc("2027-03-14T07:00:00.25Z"),
        ..p
    };
    assert_ne!(clipped.key(), p.key());
    assert_eq!(
        serde_json::to_value(p).unwrap(),
        serde_json::json!({"startsAt": "2027-03-14T07:00:00Z", "endsAt": "2027-03-15T06:30:00Z"})
    );
}

fn any_recurrence() -> impl Strategy<Value = Recurrence> {
    (0..3u8, 0..24u8, 0..60u8, 0..7u8, 1..=28u8).prop_map(|(kind, h, m, wd, md)| {
        let reset_at = at(h, m);
        match kind {
            0 => Recurrence::daily(reset_at),
            1 => Recurrence::weekly(reset_at, Weekday::try_from(wd).unwrap()),
            _ => Recurrence::monthly(reset_at, md).unwrap(),
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn periods_tile_any_window_and_hold_any_instant(
        rec in any_recurrence(),
        zone in 0..ZONES.len(),
        start_secs in 0i64..366 * 86_400,
        len_secs in 1i64..400 * 86_400,
        probes in proptest::collection::vec(0.0f64..1.0, 8),
    ) {
        let tz = ZONES[zone];
        let s = utc("2027-01-01T00:00:00Z") + Duration::seconds(start_secs);
        let e = s + Duration::seconds(len_secs);
        let periods = check_window(&rec, tz, s, e);
        for f in probes {
            let t = s + Duration::milliseconds(((e - s).num_milliseconds() as f64 * f) as i64);
            let p = period_at(Some(&rec), tz, s, e, t).unwrap();
            prop_assert!(p.contains(t));
            prop_assert!(periods.contains(&p), "{:?} is not one of the window's periods", p);
            let listed = periods_from(Some(&rec), tz, s, e, t, 3);
            let i = periods.iter().position(|q| *q == p).unwrap();
            prop_assert_eq!(&listed[..], &periods[i..(i + 3).min(periods.len())]);
        }
    }
}
