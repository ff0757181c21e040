//! The message on the decisions fanout exchange (documented in docs/contracts.md): which
//! claims changed, with the user and event of each so that an instance can tell at once whether
//! any stream it holds cares. It carries no claim body: receivers read the stored claim.
use crate::domain::claim::{Claim, ClaimStatus};
use crate::domain::{ClaimId, EventId, UserId};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub claims: Vec<Changed>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Changed {
    pub id: ClaimId,
    pub user_id: UserId,
    pub event_id: EventId,
    /// The status the claim was stored with (informative; the store is read anyway).
    pub status: ClaimStatus,
}

impl Notification {
    /// The claims of `changed` that are no longer PENDING.
    pub fn of(changed: &[Claim]) -> Notification {
        Notification {
            claims: changed
                .iter()
                .filter(|c| c.status != ClaimStatus::Pending)
                .map(|c| Changed {
                    id: c.id.clone(),
                    user_id: c.user_id.clone(),
                    event_id: c.event_id.clone(),
                    status: c.status,
                })
                .collect(),
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn parse(body: &[u8]) -> Result<Notification, serde_json::Error> {
        serde_json::from_slice(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::claim::{Decision, RejectReason};

    fn claim(user: &str) -> Claim {
        Claim {
            id: crate::domain::ClaimId::mint(),
            event_id: EventId::parse("e1").unwrap(),
            user_id: UserId::parse(user).unwrap(),
            status: crate::domain::claim::ClaimStatus::Pending,
            source: Default::default(),
            period: None,
            reason: None,
            progress: None,
            rewards: vec![],
            requested_at: chrono::Utc::now(),
            decided_at: None,
            revocation: None,
        }
    }

    #[test]
    fn names_decided_claims_only_and_round_trips() {
        let pending = claim("u1");
        let rejected = claim("u2").decided(
            &Decision::Rejected {
                reason: RejectReason::OutOfStock,
                progress: None,
            },
            chrono::Utc::now(),
        );
        let n = Notification::of(&[pending, rejected.clone()]);
        assert_eq!(n.claims.len(), 1);
        assert_eq!(n.claims[0].id, rejected.id);
        let json: serde_json::Value = serde_json::from_slice(&n.to_bytes()).unwrap();
        assert_eq!(json["claims"][0]["userId"], "u2");
        assert_eq!(json["claims"][0]["eventId"], "e1");
        assert_eq!(json["claims"][0]["status"], "REJECTED");
        assert_eq!(Notification::parse(&n.to_bytes()).unwrap(), n);
    }

    #[test]
    fn refuses_ids_that_are_not_ids() {
        let body =
            br#"{"claims":[{"id":{"$gt":""},"userId":"u","eventId":"e","status":"APPROVED"}]}"#;
        assert!(Notification::parse(body).is_err());
    }
}
