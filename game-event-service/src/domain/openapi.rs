//! OpenAPI descriptions of domain types whose serde shape is hand-written (so paperclip cannot
//! derive it): each borrows the schema of a twin that has the same wire shape.
use super::audience::Audience;
use super::period::Period;
use super::recurrence::Recurrence;
use chrono::{DateTime, Utc};
use paperclip::actix::Apiv2Schema;
use paperclip::v2::models::DefaultSchemaRaw;
use paperclip::v2::schema::Apiv2Schema as Schema;

#[allow(dead_code)]
#[derive(serde::Serialize, Apiv2Schema)]
#[serde(rename_all = "camelCase")]
struct RecurrenceShape {
    /// DAY, WEEK or MONTH.
    every: String,
    /// Local wall-clock time "HH:MM" of the reset (default "00:00").
    reset_at: Option<String>,
    /// WEEK: MON..SUN (default MON); MONTH: 1..28 (default 1), as a string or a number.
    reset_day: Option<String>,
}

#[allow(dead_code)]
#[derive(serde::Serialize, Apiv2Schema)]
#[serde(rename_all = "camelCase")]
struct AudienceShape {
    /// Members of at least one of these segments.
    segments: Option<Vec<String>>,
    /// 1..100: the share of users admitted, by a stable hash of event and user id.
    rollout_percent: Option<u8>,
    /// Users registered at or after this instant.
    registered_after: Option<DateTime<Utc>>,
    /// Users registered before this instant.
    registered_before: Option<DateTime<Utc>>,
}

#[allow(dead_code)]
#[derive(serde::Serialize, Apiv2Schema)]
#[serde(rename_all = "camelCase")]
struct PeriodShape {
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
}

macro_rules! schema_like {
    ($ty:ty, $shape:ty, $name:literal) => {
        impl Schema for $ty {
            fn name() -> Option<String> {
                Some($name.into())
            }
            fn raw_schema() -> DefaultSchemaRaw {
                let mut s = <$shape as Schema>::raw_schema();
                s.name = Some($name.into());
                s
            }
        }
        impl paperclip::actix::OperationModifier for $ty {}
    };
}

schema_like!(Recurrence, RecurrenceShape, "Recurrence");
schema_like!(Audience, AudienceShape, "Audience");
schema_like!(Period, PeriodShape, "Period");
