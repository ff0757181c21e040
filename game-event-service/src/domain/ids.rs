//! Typed ids: parsed once at the edge (path, query, token, message), opaque everywhere after.
use paperclip::v2::models::DataType;
use paperclip::v2::schema::TypedData;
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

/// Ids are opaque strings (UUID v7 for ids we mint); bounded and free of operator characters,
/// so an id can never turn into a query operator or a field path.
pub fn valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// A fresh, time-ordered id (UUID v7: `_id` order is creation order, which cursors rely on).
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// A UUID v7 whose time is `at_ms` and whose other bits come from `seed`: the same seed and
/// time give the same id, so work that is retried (a grant job) writes the same documents, and
/// the id still sorts by time like a minted one.
pub fn derived_id(seed: &str, at_ms: i64) -> String {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(seed.as_bytes());
    let mut bytes = [0u8; 10];
    bytes.copy_from_slice(&h[..10]);
    uuid::Builder::from_unix_timestamp_millis(at_ms.max(0) as u64, &bytes)
        .into_uuid()
        .to_string()
}

pub const INVALID_ID: &str = "is not a valid id";

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// None unless `s` is a valid id.
            pub fn parse(s: &str) -> Option<Self> {
                valid_id(s).then(|| Self(s.to_string()))
            }
            /// A fresh time-ordered id.
            pub fn mint() -> Self {
                Self(new_id())
            }
            /// A deterministic time-ordered id (see [`derived_id`]).
            pub fn derived(seed: &str, at_ms: i64) -> Self {
                Self(derived_id(seed, at_ms))
            }
            /// An id read back from our own store, written only after parsing.
            pub fn stored(s: String) -> Self {
                Self(s)
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                if valid_id(&s) {
                    Ok(Self(s))
                } else {
                    Err(serde::de::Error::custom(INVALID_ID))
                }
            }
        }

        impl TypedData for $name {
            fn data_type() -> DataType {
                DataType::String
            }
        }
    };
}

id_type!(
    /// An event.
    EventId
);
id_type!(
    /// A claim (also the id of its `reward.granted` and `reward.revoked` messages).
    ClaimId
);
id_type!(
    /// A player or staff member (the `sub` of an access token).
    UserId
);
id_type!(
    /// A segment of players (an audience names segments).
    SegmentId
);
id_type!(
    /// A background job (a grant run).
    JobId
);
id_type!(
    /// Decisions stored together (a worker's batch, a grant job's slice): the approvals of
    /// one batch share one `reward.granted` outbox record.
    BatchId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_reject_operator_characters() {
        assert!(valid_id("0190a1b2-0000-7000-8000-000000000000"));
        assert!(!valid_id(""));
        assert!(!valid_id("$gt"));
        assert!(!valid_id("a b"));
        assert!(!valid_id(&"a".repeat(129)));
    }

    #[test]
    fn ids_parse_once_and_deserialize_only_when_valid() {
        assert!(EventId::parse("e-1").is_some());
        assert!(EventId::parse("{\"$gt\":\"\"}").is_none());
        assert!(serde_json::from_str::<UserId>("\"u.1\"").is_ok());
        assert!(serde_json::from_str::<UserId>("\"a.b[$x]\"").is_err());
    }
}
