//! Taking an approval back (`POST /claims/{id}/revoke`): what staff may ask for and what the
//! claim looks like afterwards.
use super::claim::{Claim, ClaimStatus, Revocation};
use super::errors::{FieldError, FieldErrors};
use super::ids::UserId;
use chrono::{DateTime, SubsecRound, Utc};
use paperclip::actix::Apiv2Schema;
use serde::Deserialize;

/// The longest reason kept.
pub const MAX_REASON: usize = 500;

/// Body of `POST /claims/{id}/revoke`.
#[derive(Debug, Clone, Deserialize, Apiv2Schema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RevokeRequest {
    pub reason: String,
    /// Let the user claim this event (and period) again.
    #[serde(default)]
    pub allow_reclaim: bool,
    /// Keep the stock unit taken instead of returning it.
    #[serde(default)]
    pub keep_stock: bool,
}

/// Why a claim cannot be revoked.
#[derive(Debug, Clone, PartialEq)]
pub enum RevokeRefusal {
    /// Only an APPROVED claim can be revoked.
    NotApproved(ClaimStatus),
}

impl RevokeRequest {
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let reason = self.reason.trim();
        if reason.is_empty() {
            return Err(vec![FieldError::new("reason", "must not be empty")]);
        }
        if reason.chars().count() > MAX_REASON {
            return Err(vec![FieldError::new(
                "reason",
                format!("must be at most {MAX_REASON} characters"),
            )]);
        }
        Ok(())
    }
}

impl Claim {
    /// The claim REVOKED by `by`; refused unless it is APPROVED.
    pub fn revoke(
        mut self,
        req: &RevokeRequest,
        by: UserId,
        at: DateTime<Utc>,
    ) -> Result<Claim, RevokeRefusal> {
        if self.status != ClaimStatus::Approved {
            return Err(RevokeRefusal::NotApproved(self.status));
        }
        self.status = ClaimStatus::Revoked;
        self.revocation = Some(Revocation {
            // The precision stored dates keep: the answer equals what a re-read shows.
            at: at.trunc_subsecs(3),
            by,
            reason: req.reason.trim().to_string(),
            allow_reclaim: req.allow_reclaim,
            keep_stock: req.keep_stock,
        });
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ClaimId, EventId};

    fn claim(status: ClaimStatus) -> Claim {
        let now = Utc::now();
        Claim {
            id: ClaimId::mint(),
            event_id: EventId::parse("e").unwrap(),
            user_id: UserId::parse("u").unwrap(),
            status,
            source: Default::default(),
            period: None,
            reason: None,
            progress: None,
            rewards: vec![],
            requested_at: now,
            decided_at: Some(now),
            revocation: None,
        }
    }

    fn req(reason: &str) -> RevokeRequest {
        RevokeRequest {
            reason: reason.into(),
            allow_reclaim: false,
            keep_stock: false,
        }
    }

    #[test]
    fn only_an_approved_claim_is_revoked_and_the_reason_is_required() {
        let by = UserId::parse("op").unwrap();
        let r = claim(ClaimStatus::Approved)
            .revoke(&req(" fraud "), by.clone(), Utc::now())
            .unwrap();
        assert_eq!(r.status, ClaimStatus::Revoked);
        assert_eq!(r.revocation.unwrap().reason, "fraud");
        for s in [
            ClaimStatus::Pending,
            ClaimStatus::Rejected,
            ClaimStatus::Revoked,
        ] {
            assert_eq!(
                claim(s).revoke(&req("x"), by.clone(), Utc::now()),
                Err(RevokeRefusal::NotApproved(s))
            );
        }
        assert_eq!(req("  ").validate().unwrap_err()[0].field, "reason");
        assert!(req(&"x".repeat(MAX_REASON + 1)).validate().is_err());
        assert!(req("ok").validate().is_ok());
    }
}
