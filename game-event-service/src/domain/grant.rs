//! Grants (`POST /events/{id}/grants`): staff give listed users an APPROVED claim without
//! evaluating conditions (compensation, backfill), as a job that reports its progress.
use super::errors::{FieldError, FieldErrors};
use super::ids::{EventId, JobId, UserId};
use super::revocation::MAX_REASON;
use chrono::{DateTime, Utc};
use paperclip::actix::Apiv2Schema;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// The most users one grant lists.
pub const MAX_GRANT_USERS: usize = 10_000;

/// Body of `POST /events/{id}/grants`.
#[derive(Debug, Clone, Deserialize, Apiv2Schema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GrantRequest {
    pub user_ids: Vec<UserId>,
    pub reason: String,
    /// Grant beyond the event's stock (`maxClaims`, `maxClaimsPerPeriod`).
    #[serde(default)]
    pub ignore_stock: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Apiv2Schema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobStatus {
    Queued,
    Running,
    Done,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Apiv2Schema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobType {
    Grant,
}

/// A grant job as `GET /jobs/{id}` shows it. `done` users got their APPROVED claim, `skipped`
/// ones already had a claim for the event (and period), `failed` ones found no stock left.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Apiv2Schema)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub id: JobId,
    #[serde(rename = "type")]
    pub kind: JobType,
    pub event_id: EventId,
    pub status: JobStatus,
    pub total: i64,
    pub done: i64,
    pub skipped: i64,
    pub failed: i64,
    pub reason: String,
    pub ignore_stock: bool,
    /// Why the job stopped, when it is FAILED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What one slice of a job did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    pub done: i64,
    pub skipped: i64,
    pub failed: i64,
}

impl GrantRequest {
    /// The users to grant (1 to 10,000, duplicates dropped, first occurrence kept) and the
    /// trimmed reason.
    pub fn validated(self) -> Result<(Vec<UserId>, String, bool), FieldErrors> {
        let mut errs = Vec::new();
        if self.user_ids.is_empty() || self.user_ids.len() > MAX_GRANT_USERS {
            errs.push(FieldError::new(
                "userIds",
                format!("must list 1 to {MAX_GRANT_USERS} user ids"),
            ));
        }
        let reason = self.reason.trim().to_string();
        if reason.is_empty() || reason.chars().count() > MAX_REASON {
            errs.push(FieldError::new(
                "reason",
                format!("must be 1 to {MAX_REASON} characters"),
            ));
        }
        if !errs.is_empty() {
            return Err(errs);
        }
        let mut seen = HashSet::new();
        let users = self
            .user_ids
            .into_iter()
            .filter(|u| seen.insert(u.clone()))
            .collect();
        Ok((users, reason, self.ignore_stock))
    }
}

impl Job {
    pub fn grant(
        event_id: EventId,
        total: usize,
        reason: String,
        ignore_stock: bool,
        by: UserId,
        now: DateTime<Utc>,
    ) -> Job {
        Job {
            id: JobId::mint(),
            kind: JobType::Grant,
            event_id,
            status: JobStatus::Queued,
            total: total as i64,
            done: 0,
            skipped: 0,
            failed: 0,
            reason,
            ignore_stock,
            error: None,
            created_by: by,
            created_at: now,
            updated_at: now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(ids: &[&str], reason: &str) -> GrantRequest {
        GrantRequest {
            user_ids: ids.iter().map(|i| UserId::parse(i).unwrap()).collect(),
            reason: reason.into(),
            ignore_stock: false,
        }
    }

    #[test]
    fn grants_list_1_to_10000_distinct_users_and_a_reason() {
        let (users, reason, _) = req(&["a", "b", "a"], " outage ").validated().unwrap();
        assert_eq!(users.len(), 2);
        assert_eq!(reason, "outage");
        let e = req(&[], "").validated().unwrap_err();
        assert_eq!(e[0].field, "userIds");
        assert_eq!(e[1].field, "reason");
        let many: Vec<String> = (0..=MAX_GRANT_USERS).map(|i| format!("u{i}")).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(req(&refs, "x").validated().unwrap_err()[0].field, "userIds");
    }
}
