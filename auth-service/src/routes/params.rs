//! Query parameter types shared by the routes: they parse, refuse with the parameter's name,
//! and document themselves in OpenAPI.

use crate::domain::Page;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use paperclip::v2::models::{DataType, DataTypeFormat};
use paperclip::v2::schema::TypedData;
use serde::de::{Deserializer, Error};
use serde::Deserialize;

/// Page size: 1..=100, 20 when absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(usize);

impl Limit {
    pub const MAX: usize = 100;

    pub fn get(limit: Option<Limit>) -> usize {
        limit.map_or(20, |l| l.0)
    }
}

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        raw.parse::<usize>()
            .ok()
            .filter(|n| (1..=Self::MAX).contains(n))
            .map(Limit)
            .ok_or_else(|| D::Error::custom("must be an integer from 1 to 100"))
    }
}

impl TypedData for Limit {
    fn data_type() -> DataType {
        DataType::Integer
    }
    fn format() -> Option<DataTypeFormat> {
        Some(DataTypeFormat::Int32)
    }
    fn min() -> Option<f32> {
        Some(1.0)
    }
    fn max() -> Option<f32> {
        Some(Self::MAX as f32)
    }
}

/// Opaque position in a listing: base64url of the id of the last item already seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(String);

impl Cursor {
    pub fn after(id: &str) -> String {
        URL_SAFE_NO_PAD.encode(id.as_bytes())
    }

    /// `nextCursor` of a page: after its last item, when more follow.
    pub fn next<T>(page: &Page<T>, id: impl Fn(&T) -> &str) -> Option<String> {
        page.has_more
            .then(|| page.items.last().map(|last| Cursor::after(id(last))))
            .flatten()
    }

    /// The id the next page starts after.
    pub fn id(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Cursor {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        URL_SAFE_NO_PAD
            .decode(raw)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .filter(|s| uuid::Uuid::parse_str(s).is_ok())
            .map(Cursor)
            .ok_or_else(|| D::Error::custom("malformed cursor"))
    }
}

impl TypedData for Cursor {
    fn data_type() -> DataType {
        DataType::String
    }
}

/// An instant given as RFC 3339 (`2026-12-02T17:00:00Z`; an offset is converted to UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp(pub chrono::DateTime<chrono::Utc>);

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        chrono::DateTime::parse_from_rfc3339(raw.trim())
            .map(|t| Timestamp(t.with_timezone(&chrono::Utc)))
            .map_err(|_| D::Error::custom("must be an RFC 3339 time, e.g. 2026-12-02T17:00:00Z"))
    }
}

impl TypedData for Timestamp {
    fn data_type() -> DataType {
        DataType::String
    }
    fn format() -> Option<DataTypeFormat> {
        Some(DataTypeFormat::DateTime)
    }
}

/// A free-text filter value (an id or a name): 1..=200 characters, no control characters, so a
/// filter can never carry an operator or a surprise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterText(pub String);

impl<'de> Deserialize<'de> for FilterText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        let ok = (1..=200).contains(&raw.chars().count()) && !raw.chars().any(char::is_control);
        ok.then_some(FilterText(raw))
            .ok_or_else(|| D::Error::custom("must be 1 to 200 printable characters"))
    }
}

impl TypedData for FilterText {
    fn data_type() -> DataType {
        DataType::String
    }
}
