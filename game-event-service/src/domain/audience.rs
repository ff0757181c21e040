//! Who an event is for: `{segments?, rolloutPercent?, registeredAfter?, registeredBefore?}`.
//!
//! Every part given must hold; a part left out admits everyone. The rules here are pure: the
//! caller looks up the user's segments and registration time and passes them in.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// An audience rule that does not hold: the field as the API spells it, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct AudienceError {
    pub field: String,
    pub message: String,
}

impl AudienceError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// More segments than this on one event is a mistake better made into a new segment.
pub const MAX_SEGMENTS: usize = 100;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Audience {
    /// Members of at least one of these segments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segments: Option<Vec<String>>,
    /// The share of users (1..=100) admitted, by a stable hash of event and user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout_percent: Option<u8>,
    /// Users registered at or after this instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered_after: Option<DateTime<Utc>>,
    /// Users registered before this instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered_before: Option<DateTime<Utc>>,
}

impl Audience {
    /// Every broken rule, each naming its field (`audience.rolloutPercent`, ...).
    pub fn validate(&self) -> Result<(), Vec<AudienceError>> {
        let mut errors = Vec::new();
        if let Some(segments) = &self.segments {
            if segments.is_empty() {
                // An empty list would admit nobody; leaving `segments` out admits everyone.
                errors.push(AudienceError::new(
                    "audience.segments",
                    "must name at least one segment (leave it out to admit everyone)",
                ));
            }
            if segments.len() > MAX_SEGMENTS {
                errors.push(AudienceError::new(
                    "audience.segments",
                    format!("at most {MAX_SEGMENTS} segments"),
                ));
            }
            for (i, id) in segments.iter().enumerate() {
                if !is_segment_id(id) {
                    errors.push(AudienceError::new(
                        format!("audience.segments[{i}]"),
                        "a segment id is 1..128 characters of A-Z a-z 0-9 - _ . :",
                    ));
                }
            }
        }
        if let Some(p) = self.rollout_percent {
            if !(1..=100).contains(&p) {
                errors.push(AudienceError::new(
                    "audience.rolloutPercent",
                    "must be from 1 to 100",
                ));
            }
        }
        if let (Some(after), Some(before)) = (self.registered_after, self.registered_before) {
            if after >= before {
                errors.push(AudienceError::new(
                    "audience.registeredBefore",
                    "must be later than registeredAfter",
                ));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Whether the audience admits everyone (no part given), so callers can skip look-ups.
    pub fn is_everyone(&self) -> bool {
        self == &Audience::default()
    }
}

/// Segment ids go into store filters: the same bounded alphabet as every other id, so no
/// operator character (`$`, `.` at the start of a key, spaces) reaches a query.
fn is_segment_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// The user's bucket 0..=99 for an event: the first 8 bytes of SHA-256("eventId:userId") mod 100.
/// Hashing the event id in spreads each event's rollout over different users.
pub fn rollout_bucket(event_id: &str, user_id: &str) -> u8 {
    let digest = Sha256::new()
        .chain_update(event_id.as_bytes())
        .chain_update(b":")
        .chain_update(user_id.as_bytes())
        .finalize();
    let head: [u8; 8] = digest[..8]
        .try_into()
        .expect("a SHA-256 digest has 32 bytes");
    // 2^64 mod 100 = 16, so buckets 0..15 are likelier by one part in 10^17: uniform enough.
    (u64::from_be_bytes(head) % 100) as u8
}

/// Whether the user is inside a `percent` rollout of the event. The bucket never changes, so
/// raising the percent only ever lets users in, and lowering it only ever lets users out.
pub fn in_rollout(event_id: &str, user_id: &str, percent: u8) -> bool {
    rollout_bucket(event_id, user_id) < percent
}

/// Whether the audience admits the user. `user_segments` are the ids of segments the user is a
/// member of (passing only those among `audience.segments` is enough); `registered_at` is when
/// the user registered, `None` when unknown, which fails any registration bound: an event meant
/// for new players must not open to everyone whose registration we never heard of.
pub fn audience_admits<S: AsRef<str>>(
    audience: &Audience,
    event_id: &str,
    user_id: &str,
    user_segments: &[S],
    registered_at: Option<DateTime<Utc>>,
) -> bool {
    let in_segments = audience.segments.as_ref().is_none_or(|wanted| {
        user_segments
            .iter()
            .any(|have| wanted.iter().any(|w| w == have.as_ref()))
    });
    let in_rollout_share = audience
        .rollout_percent
        .is_none_or(|p| in_rollout(event_id, user_id, p));
    let after_ok = audience
        .registered_after
        .is_none_or(|after| registered_at.is_some_and(|r| r >= after));
    let before_ok = audience
        .registered_before
        .is_none_or(|before| registered_at.is_some_and(|r| r < before));
    in_segments && in_rollout_share && after_ok && before_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn parse(v: serde_json::Value) -> Audience {
        serde_json::from_value(v).unwrap()
    }

    fn fields(a: &Audience) -> Vec<String> {
        a.validate()
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn parses_and_round_trips_the_wire_shape() {
        let v = json!({
            "segments": ["whales", "vip-2027"],
            "rolloutPercent": 25,
            "registeredAfter": "2027-01-01T00:00:00Z",
            "registeredBefore": "2027-02-01T00:00:00Z"
        });
        let a = parse(v.clone());
        assert_eq!(a.validate(), Ok(()));
        assert_eq!(serde_json::to_value(&a).unwrap(), v);
        assert!(parse(json!({})).is_everyone());
        assert_eq!(
            serde_json::to_value(Audience::default()).unwrap(),
            json!({})
        );
        assert!(serde_json::from_value::<Audience>(json!({"country": "KR"})).is_err());
        assert!(serde_json::from_value::<Audience>(json!({"rolloutPercent": -5})).is_err());
        assert!(serde_json::from_value::<Audience>(json!({"rolloutPercent": 50.5})).is_err());
    }

    #[test]
    fn validation_names_each_bad_field() {
        assert_eq!(
            fields(&parse(json!({"rolloutPercent": 0}))),
            ["audience.rolloutPercent"]
        );
        assert_eq!(
            fields(&parse(json!({"rolloutPercent": 101}))),
            ["audience.rolloutPercent"]
        );
        assert_eq!(
            fields(&parse(json!({"rolloutPercent": 100}))),
            Vec::<String>::new()
        );
        assert_eq!(
            fields(&parse(json!({"segments": []}))),
            ["audience.segments"]
        );
        assert_eq!(
            fields(&parse(json!({"segments": ["ok", "$where", ""]}))),
            ["audience.segments[1]", "audience.segments[2]"]
        );
        let too_many: Vec<String> = (0..=MAX_SEGMENTS).map(|i| format!("s{i}")).collect();
        assert_eq!(
            fields(&parse(json!({"segments": too_many}))),
            ["audience.segments"]
        );
        let reversed = parse(json!({
            "registeredAfter": "2027-02-01T00:00:00Z",
            "registeredBefore": "2027-02-01T00:00:00Z"
        }));
        assert_eq!(fields(&reversed), ["audience.registeredBefore"]);
    }

    #[test]
    fn every_given_part_must_hold() {
        let none: [&str; 0] = [];
        let everyone = Audience::default();
        assert!(audience_admits(&everyone, "e1", "u1", &none, None));

        let vip = parse(json!({"segments": ["vip", "whales"]}));
        assert!(audience_admits(&vip, "e1", "u1", &["whales"], None));
        assert!(!audience_admits(&vip, "e1", "u1", &["minnows"], None));
        assert!(!audience_admits(&vip, "e1", "u1", &none, None));

        let newcomers = parse(json!({
            "registeredAfter": "2027-01-01T00:00:00Z",
            "registeredBefore": "2027-02-01T00:00:00Z"
        }));
        let admits = |r: Option<&str>| audience_admits(&newcomers, "e1", "u1", &none, r.map(utc));
        assert!(
            admits(Some("2027-01-01T00:00:00Z")),
            "the lower bound is inclusive"
        );
        assert!(admits(Some("2027-01-31T23:59:59Z")));
        assert!(
            !admits(Some("2027-02-01T00:00:00Z")),
            "the upper bound is exclusive"
        );
        assert!(!admits(Some("2026-12-31T23:59:59Z")));
        assert!(!admits(None), "an unknown registration fails a bound");
        let only_before = parse(json!({"registeredBefore": "2027-02-01T00:00:00Z"}));
        assert!(!audience_admits(&only_before, "e1", "u1", &none, None));

        // Find one user inside a 50% rollout and one outside, then combine with a segment.
        let half = parse(json!({"rolloutPercent": 50, "segments": ["vip"]}));
        let ids: Vec<String> = (0..100).map(|i| format!("user-{i}")).collect();
        let inside = ids.iter().find(|u| in_rollout("e1", u, 50)).unwrap();
        let outside = ids.iter().find(|u| !in_rollout("e1", u, 50)).unwrap();
        assert!(audience_admits(&half, "e1", inside, &["vip"], None));
        assert!(!audience_admits(&half, "e1", outside, &["vip"], None));
        assert!(!audience_admits(&half, "e1", inside, &none, None));
    }

    #[test]
    fn buckets_are_pinned() {
        // Pinned values (SHA-256("e1:u1") starts f5aefccd4269ea63, 0xf5aefccd4269ea63 % 100 = 35):
        // a change of hash would move users in and out of every running rollout.
        assert_eq!(rollout_bucket("e1", "u1"), 35);
        assert_eq!(rollout_bucket("summer-2027", "user-0"), 53);
        assert_eq!(rollout_bucket("summer-2027", "user-1"), 67);
        assert!(in_rollout("e1", "u1", 36));
        assert!(!in_rollout("e1", "u1", 35));
        assert!(in_rollout("e1", "u1", 100));
        assert!(!in_rollout("e1", "u1", 0));
    }

    #[test]
    fn thirty_percent_of_ten_thousand_users_is_about_three_thousand() {
        let inside = (0..10_000)
            .filter(|i| in_rollout("summer-2027", &format!("user-{i}"), 30))
            .count();
        assert!(
            (2_700..=3_300).contains(&inside),
            "{inside} of 10,000 at 30%"
        );
    }

    proptest! {
        #[test]
        fn raising_the_percent_never_lets_a_user_out(
            event in "[a-z0-9-]{1,40}",
            user in "[a-z0-9-]{1,40}",
            low in 0u8..=100,
            high in 0u8..=100,
        ) {
            let (low, high) = (low.min(high), low.max(high));
            prop_assert!(!in_rollout(&event, &user, low) || in_rollout(&event, &user, high));
        }

        #[test]
        fn any_event_rolls_out_to_roughly_its_percent(event in "[a-z0-9-]{1,40}", percent in 1u8..=100) {
            let inside = (0..2_000)
                .filter(|i| in_rollout(&event, &format!("u{i}"), percent))
                .count() as f64;
            let expected = 2_000.0 * f64::from(percent) / 100.0;
            // Five standard deviations of a binomial(2000, p): failing by chance is ~1 in 10^6.
            let sd = (expected * (1.0 - f64::from(percent) / 100.0)).sqrt();
            prop_assert!((inside - expected).abs() <= 5.0 * sd + 1.0, "{} vs {}", inside, expected);
        }
    }
}
