//! How a recurring event resets: every day, week or month at a local wall-clock time.
//!
//! The wire shape is `{every: DAY | WEEK | MONTH, resetAt?: "HH:MM", resetDay?: MON..SUN | 1..28}`.
//! `resetAt` and the range of `resetDay` are checked while parsing (so a bad value names its JSON
//! path); whether `resetDay` fits `every` is [`Recurrence::validate`]'s job.
use chrono::{NaiveTime, Weekday};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A recurrence rule that does not hold: the field as the API spells it, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct RecurrenceError {
    pub field: &'static str,
    pub message: String,
}

impl RecurrenceError {
    fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Every {
    Day,
    Week,
    Month,
}

/// A local wall-clock time of day, whole minutes, written "HH:MM" (00:00..23:59).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ResetAt {
    hour: u8,
    minute: u8,
}

impl ResetAt {
    pub fn new(hour: u8, minute: u8) -> Option<Self> {
        (hour < 24 && minute < 60).then_some(Self { hour, minute })
    }
    pub fn hour(&self) -> u8 {
        self.hour
    }
    pub fn minute(&self) -> u8 {
        self.minute
    }
    pub fn as_time(&self) -> NaiveTime {
        NaiveTime::from_hms_opt(self.hour.into(), self.minute.into(), 0)
            .expect("hour < 24 and minute < 60 by construction")
    }
}

const RESET_AT_EXPECTED: &str = "expected a local time \"HH:MM\" from 00:00 to 23:59";

impl FromStr for ResetAt {
    type Err = RecurrenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || RecurrenceError::new("recurrence.resetAt", RESET_AT_EXPECTED);
        let b = s.as_bytes();
        // Exactly two digits each side: "5:30" or "05:30:00" are typos, not times to guess at.
        if b.len() != 5 || b[2] != b':' {
            return Err(bad());
        }
        let two = |hi: u8, lo: u8| -> Option<u8> {
            (hi.is_ascii_digit() && lo.is_ascii_digit()).then(|| (hi - b'0') * 10 + (lo - b'0'))
        };
        let hour = two(b[0], b[1]).ok_or_else(bad)?;
        let minute = two(b[3], b[4]).ok_or_else(bad)?;
        ResetAt::new(hour, minute).ok_or_else(bad)
    }
}

impl fmt::Display for ResetAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour, self.minute)
    }
}

impl Serialize for ResetAt {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ResetAt {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|e: RecurrenceError| de::Error::custom(e.message))
    }
}

/// The last day of a month every month has: a reset on the 29th..31st would skip February.
pub const MAX_MONTH_DAY: u8 = 28;

/// `resetDay`: a weekday ("MON".."SUN") for weekly events, a day of the month (1..28) for monthly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResetDay {
    Weekday(Weekday),
    MonthDay(u8),
}

const WEEKDAY_CODES: [(&str, Weekday); 7] = [
    ("MON", Weekday::Mon),
    ("TUE", Weekday::Tue),
    ("WED", Weekday::Wed),
    ("THU", Weekday::Thu),
    ("FRI", Weekday::Fri),
    ("SAT", Weekday::Sat),
    ("SUN", Weekday::Sun),
];

const RESET_DAY_EXPECTED: &str = "expected a weekday MON..SUN or a day of the month 1..28";

impl Serialize for ResetDay {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ResetDay::Weekday(w) => {
                let code = WEEKDAY_CODES
                    .iter()
                    .find(|(_, day)| day == w)
                    .map(|(code, _)| *code)
                    .expect("every weekday has a code");
                s.serialize_str(code)
            }
            ResetDay::MonthDay(n) => s.serialize_u8(*n),
        }
    }
}

impl<'de> Deserialize<'de> for ResetDay {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ResetDay;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(RESET_DAY_EXPECTED)
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<ResetDay, E> {
                WEEKDAY_CODES
                    .iter()
                    .find(|(code, _)| *code == s)
                    .map(|(_, day)| ResetDay::Weekday(*day))
                    .ok_or_else(|| E::custom(RESET_DAY_EXPECTED))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<ResetDay, E> {
                match u8::try_from(n) {
                    Ok(n @ 1..=MAX_MONTH_DAY) => Ok(ResetDay::MonthDay(n)),
                    _ => Err(E::custom(RESET_DAY_EXPECTED)),
                }
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<ResetDay, E> {
                u64::try_from(n)
                    .map_err(|_| E::custom(RESET_DAY_EXPECTED))
                    .and_then(|n| self.visit_u64(n))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Recurrence {
    pub every: Every,
    #[serde(default)]
    pub reset_at: ResetAt,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_day: Option<ResetDay>,
}

impl Recurrence {
    pub fn daily(reset_at: ResetAt) -> Self {
        Self {
            every: Every::Day,
            reset_at,
            reset_day: None,
        }
    }
    pub fn weekly(reset_at: ResetAt, day: Weekday) -> Self {
        Self {
            every: Every::Week,
            reset_at,
            reset_day: Some(ResetDay::Weekday(day)),
        }
    }
    /// `None` when `day` is outside 1..=28.
    pub fn monthly(reset_at: ResetAt, day: u8) -> Option<Self> {
        (1..=MAX_MONTH_DAY).contains(&day).then_some(Self {
            every: Every::Month,
            reset_at,
            reset_day: Some(ResetDay::MonthDay(day)),
        })
    }

    /// `resetDay` must be of the kind `every` calls for, and absent for DAY.
    pub fn validate(&self) -> Result<(), RecurrenceError> {
        let field = "recurrence.resetDay";
        match (self.every, self.reset_day) {
            (_, None) | (Every::Week, Some(ResetDay::Weekday(_))) => Ok(()),
            (Every::Month, Some(ResetDay::MonthDay(n))) if (1..=MAX_MONTH_DAY).contains(&n) => {
                Ok(())
            }
            (Every::Day, Some(_)) => Err(RecurrenceError::new(
                field,
                "a DAY recurrence resets every day; leave resetDay out",
            )),
            (Every::Week, Some(_)) => Err(RecurrenceError::new(
                field,
                "a WEEK recurrence resets on a weekday MON..SUN",
            )),
            (Every::Month, Some(_)) => Err(RecurrenceError::new(
                field,
                "a MONTH recurrence resets on a day of the month 1..28",
            )),
        }
    }

    /// The same rule with its defaults written out (`resetDay` MON for WEEK, 1 for MONTH), so
    /// what the API shows and stores says exactly when the event resets.
    pub fn normalized(self) -> Self {
        let reset_day = match self.every {
            Every::Day => None,
            Every::Week => Some(ResetDay::Weekday(self.weekday())),
            Every::Month => Some(ResetDay::MonthDay(self.month_day())),
        };
        Self { reset_day, ..self }
    }

    /// The weekday a WEEK recurrence resets on (MON unless a weekday is given).
    pub fn weekday(&self) -> Weekday {
        match self.reset_day {
            Some(ResetDay::Weekday(w)) => w,
            _ => Weekday::Mon,
        }
    }

    /// The day of the month a MONTH recurrence resets on (1 unless a valid day is given).
    pub fn month_day(&self) -> u8 {
        match self.reset_day {
            Some(ResetDay::MonthDay(n)) if (1..=MAX_MONTH_DAY).contains(&n) => n,
            _ => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: serde_json::Value) -> Result<Recurrence, String> {
        serde_json::from_value(v).map_err(|e| e.to_string())
    }

    #[test]
    fn parses_the_wire_shape_with_defaults() {
        let r = parse(json!({"every": "DAY"})).unwrap();
        assert_eq!(r, Recurrence::daily(ResetAt::default()));
        assert_eq!(r.reset_at.to_string(), "00:00");

        let r = parse(json!({"every": "WEEK", "resetAt": "05:30", "resetDay": "FRI"})).unwrap();
        assert_eq!(
            r,
            Recurrence::weekly(ResetAt::new(5, 30).unwrap(), Weekday::Fri)
        );
        assert_eq!(r.validate(), Ok(()));

        let r = parse(json!({"every": "MONTH", "resetAt": "23:59", "resetDay": 28})).unwrap();
        assert_eq!(r.month_day(), 28);
        assert_eq!(r.validate(), Ok(()));
    }

    #[test]
    fn round_trips_through_json() {
        for r in [
            Recurrence::daily(ResetAt::new(4, 0).unwrap()),
            Recurrence::weekly(ResetAt::new(0, 5).unwrap(), Weekday::Sun),
            Recurrence::monthly(ResetAt::new(12, 45).unwrap(), 15).unwrap(),
        ] {
            let v = serde_json::to_value(r).unwrap();
            assert_eq!(parse(v).unwrap(), r);
        }
        let v = serde_json::to_value(Recurrence::monthly(ResetAt::default(), 3).unwrap()).unwrap();
        assert_eq!(
            v,
            json!({"every": "MONTH", "resetAt": "00:00", "resetDay": 3})
        );
    }

    #[test]
    fn rejects_malformed_values_while_parsing() {
        for bad in [
            json!({"every": "DAY", "resetAt": "24:00"}),
            json!({"every": "DAY", "resetAt": "12:60"}),
            json!({"every": "DAY", "resetAt": "5:30"}),
            json!({"every": "DAY", "resetAt": "05:30:00"}),
            json!({"every": "DAY", "resetAt": "+1:30"}),
            json!({"every": "DAY", "resetAt": 530}),
            json!({"every": "WEEK", "resetDay": "mon"}),
            json!({"every": "WEEK", "resetDay": "MONDAY"}),
            json!({"every": "MONTH", "resetDay": 0}),
            json!({"every": "MONTH", "resetDay": 29}),
            json!({"every": "MONTH", "resetDay": -1}),
            json!({"every": "MONTH", "resetDay": 1.5}),
            json!({"every": "HOUR"}),
            json!({"resetAt": "00:00"}),
            json!({"every": "DAY", "timezone": "UTC"}),
        ] {
            assert!(parse(bad.clone()).is_err(), "{bad} parsed");
        }
        let err = parse(json!({"every": "DAY", "resetAt": "25:00"})).unwrap_err();
        assert!(err.contains("HH:MM"), "{err}");
    }

    #[test]
    fn reset_day_must_fit_every() {
        for (r, ok) in [
            (json!({"every": "DAY", "resetDay": "MON"}), false),
            (json!({"every": "DAY", "resetDay": 1}), false),
            (json!({"every": "WEEK", "resetDay": 3}), false),
            (json!({"every": "MONTH", "resetDay": "TUE"}), false),
            (json!({"every": "WEEK", "resetDay": "SUN"}), true),
            (json!({"every": "MONTH", "resetDay": 1}), true),
            (json!({"every": "MONTH"}), true),
        ] {
            let res = parse(r.clone()).unwrap().validate();
            assert_eq!(res.is_ok(), ok, "{r}");
            if let Err(e) = res {
                assert_eq!(e.field, "recurrence.resetDay");
            }
        }
    }

    #[test]
    fn normalized_writes_out_the_defaults() {
        let w = parse(json!({"every": "WEEK"})).unwrap().normalized();
        assert_eq!(w.reset_day, Some(ResetDay::Weekday(Weekday::Mon)));
        let m = parse(json!({"every": "MONTH"})).unwrap().normalized();
        assert_eq!(m.reset_day, Some(ResetDay::MonthDay(1)));
        let d = parse(json!({"every": "DAY"})).unwrap().normalized();
        assert_eq!(d.reset_day, None);
    }

    #[test]
    fn reset_at_errors_name_the_field() {
        let e = "7h".parse::<ResetAt>().unwrap_err();
        assert_eq!(e.field, "recurrence.resetAt");
        assert_eq!(
            "07:05".parse::<ResetAt>().unwrap(),
            ResetAt::new(7, 5).unwrap()
        );
    }
}
