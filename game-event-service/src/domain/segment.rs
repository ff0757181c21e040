//! Segments: named sets of players an event's audience can name. Membership is one record per
//! (segment, user), never a list inside one document, so a segment can hold millions.
use super::errors::{FieldError, FieldErrors};
use super::ids::{SegmentId, UserId};
use chrono::{DateTime, Utc};
use paperclip::actix::Apiv2Schema;
use serde::{Deserialize, Serialize};

/// The most user ids one members call takes.
pub const MAX_MEMBERS_PER_CALL: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Apiv2Schema)]
#[serde(rename_all = "camelCase")]
pub struct Segment {
    pub id: SegmentId,
    pub name: String,
    pub description: String,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
    /// Shown when one segment is read (a count over its member records).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_count: Option<u64>,
}

/// Body of `POST /segments`.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewSegment {
    pub name: String,
    #[serde(default)]
    pub description: String,
}

impl Segment {
    pub fn create(
        new: NewSegment,
        id: SegmentId,
        by: UserId,
        now: DateTime<Utc>,
    ) -> Result<Segment, FieldErrors> {
        let mut errs = Vec::new();
        let name = new.name.trim().to_string();
        if name.is_empty() || name.chars().count() > 200 {
            errs.push(FieldError::new("name", "must be 1 to 200 characters"));
        }
        if new.description.chars().count() > 2000 {
            errs.push(FieldError::new(
                "description",
                "must be at most 2000 characters",
            ));
        }
        if !errs.is_empty() {
            return Err(errs);
        }
        Ok(Segment {
            id,
            name,
            description: new.description,
            created_by: by,
            created_at: now,
            member_count: None,
        })
    }
}

/// Body of `POST|DELETE /segments/{id}/members`.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MemberIds {
    pub user_ids: Vec<UserId>,
}

impl MemberIds {
    /// 1 to 10,000 ids, duplicates dropped (each is one membership either way).
    pub fn validated(self) -> Result<Vec<UserId>, FieldErrors> {
        if self.user_ids.is_empty() || self.user_ids.len() > MAX_MEMBERS_PER_CALL {
            return Err(vec![FieldError::new(
                "userIds",
                "must list 1 to 10000 user ids",
            )]);
        }
        let mut seen = std::collections::HashSet::new();
        Ok(self
            .user_ids
            .into_iter()
            .filter(|u| seen.insert(u.clone()))
            .collect())
    }
}
