//! Claims and their decisions.
use super::conditions::ConditionProgress;
use super::event::{Event, Reward};
use super::ids::{ClaimId, EventId, UserId};
use super::period::Period;
use chrono::{DateTime, Utc};
use paperclip::actix::Apiv2Schema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Apiv2Schema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ClaimStatus {
    Pending,
    Approved,
    Rejected,
    /// An approval taken back by staff (`POST /claims/{id}/revoke`).
    Revoked,
}

impl ClaimStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            ClaimStatus::Pending => "PENDING",
            ClaimStatus::Approved => "APPROVED",
            ClaimStatus::Rejected => "REJECTED",
            ClaimStatus::Revoked => "REVOKED",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Apiv2Schema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RejectReason {
    ConditionNotMet,
    OutOfStock,
    EventNotActive,
    /// Another claim of the same user already holds the approval for this event.
    AlreadyClaimed,
}

impl RejectReason {
    pub fn as_str(&self) -> &'static str {
        match self {
            RejectReason::ConditionNotMet => "CONDITION_NOT_MET",
            RejectReason::OutOfStock => "OUT_OF_STOCK",
            RejectReason::EventNotActive => "EVENT_NOT_ACTIVE",
            RejectReason::AlreadyClaimed => "ALREADY_CLAIMED",
        }
    }
}

/// How a claim came to be: a player's request, or a staff grant (compensation, backfill).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, Apiv2Schema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ClaimSource {
    #[default]
    Request,
    Grant,
}

/// Why and how an approval was taken back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Apiv2Schema)]
#[serde(rename_all = "camelCase")]
pub struct Revocation {
    pub at: DateTime<Utc>,
    pub by: UserId,
    pub reason: String,
    /// The user may claim this event (and period) again.
    pub allow_reclaim: bool,
    /// The stock unit stays taken.
    pub keep_stock: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Apiv2Schema)]
#[serde(rename_all = "camelCase")]
pub struct Claim {
    pub id: ClaimId,
    pub event_id: EventId,
    pub user_id: UserId,
    pub status: ClaimStatus,
    #[serde(default)]
    pub source: ClaimSource,
    /// The period of a recurring event the claim is for (its own claim window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<Period>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<RejectReason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<Vec<ConditionProgress>>,
    pub rewards: Vec<Reward>,
    pub requested_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation: Option<Revocation>,
}

/// What the worker concluded about a pending claim.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Approved {
        progress: Vec<ConditionProgress>,
    },
    Rejected {
        reason: RejectReason,
        progress: Option<Vec<ConditionProgress>>,
    },
}

impl Claim {
    /// A new PENDING claim of `user_id` for the event's current rewards, in the period that
    /// holds `at` when the event recurs.
    pub fn request(event: &Event, user_id: UserId, at: DateTime<Utc>) -> Claim {
        Claim {
            id: ClaimId::mint(),
            event_id: event.id.clone(),
            user_id,
            status: ClaimStatus::Pending,
            source: ClaimSource::Request,
            period: event.claim_period(at),
            reason: None,
            progress: None,
            rewards: event.rewards.clone(),
            requested_at: at,
            decided_at: None,
            revocation: None,
        }
    }

    /// An APPROVED claim granted by staff without evaluating conditions. Its id is derived
    /// from the grant job and the user (timed at the job's creation), so running the job again
    /// writes nothing twice.
    pub fn granted(
        event: &Event,
        user_id: UserId,
        job_id: &str,
        job_created: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Claim {
        Claim {
            id: ClaimId::derived(
                &format!("grant:{job_id}:{user_id}"),
                job_created.timestamp_millis(),
            ),
            source: ClaimSource::Grant,
            status: ClaimStatus::Approved,
            progress: Some(Vec::new()),
            decided_at: Some(at),
            ..Claim::request(event, user_id, at)
        }
    }

    /// The "one open claim, one approval per user, event and period" key.
    pub fn key(&self) -> String {
        claim_key(&self.event_id, &self.user_id, self.period.as_ref())
    }

    pub fn decided(mut self, decision: &Decision, at: DateTime<Utc>) -> Claim {
        match decision {
            Decision::Approved { progress } => {
                self.status = ClaimStatus::Approved;
                self.reason = None;
                self.progress = Some(progress.clone());
            }
            Decision::Rejected { reason, progress } => {
                self.status = ClaimStatus::Rejected;
                self.reason = Some(*reason);
                self.progress = progress.clone();
            }
        }
        self.decided_at = Some(at);
        self
    }
}

/// Key of the "one open claim / one approval per user, event and period" documents: the
/// event and user, plus the period's start when the event recurs.
pub fn claim_key(event_id: &EventId, user_id: &UserId, period: Option<&Period>) -> String {
    match period {
        Some(p) => format!("{event_id}:{user_id}:{}", p.key()),
        None => format!("{event_id}:{user_id}"),
    }
}
