//! Claims and their decisions.
use super::conditions::ConditionProgress;
use super::event::Reward;
use super::ids::{ClaimId, EventId, UserId};
use chrono::{DateTime, Utc};
use paperclip::actix::Apiv2Schema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Apiv2Schema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ClaimStatus {
    Pending,
    Approved,
    Rejected,
}

impl ClaimStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            ClaimStatus::Pending => "PENDING",
            ClaimStatus::Approved => "APPROVED",
            ClaimStatus::Rejected => "REJECTED",
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Apiv2Schema)]
#[serde(rename_all = "camelCase")]
pub struct Claim {
    pub id: ClaimId,
    pub event_id: EventId,
    pub user_id: UserId,
    pub status: ClaimStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<RejectReason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<Vec<ConditionProgress>>,
    pub rewards: Vec<Reward>,
    pub requested_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<DateTime<Utc>>,
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
    /// A new PENDING claim of `user_id` for the event's current rewards.
    pub fn request(
        event_id: EventId,
        user_id: UserId,
        rewards: Vec<Reward>,
        at: DateTime<Utc>,
    ) -> Claim {
        Claim {
            id: ClaimId::mint(),
            event_id,
            user_id,
            status: ClaimStatus::Pending,
            reason: None,
            progress: None,
            rewards,
            requested_at: at,
            decided_at: None,
        }
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

/// Key of the "one open claim / one approval per user and event" documents.
pub fn user_event_key(event_id: &EventId, user_id: &UserId) -> String {
    format!("{event_id}:{user_id}")
}
