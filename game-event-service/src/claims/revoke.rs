//! Revoking an approval: the claim turns REVOKED in one conditional write that also marks the
//! follow-up pending; then `reward.revoked` goes into the outbox, the stock unit comes back
//! (unless kept). A reclaim, when allowed, needs no step of its own: the revoked claim no
//! longer holds its key. Each step is safe to repeat, so a second revoke, or the sweeper after
//! a crash, finishes what was left.
use crate::domain::claim::Claim;
use crate::domain::revocation::{RevokeRefusal, RevokeRequest};
use crate::domain::stock::period_holder;
use crate::domain::{ClaimId, UserId};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum RevokeError {
    #[error("claim not found")]
    NotFound,
    #[error("only an APPROVED claim can be revoked")]
    Refused(RevokeRefusal),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a revoke did: the claim before (when this call revoked it) and after.
pub struct Revoked {
    pub before: Option<Claim>,
    pub claim: Claim,
}

/// Revokes the claim, or answers the already REVOKED claim (finishing its steps).
pub async fn revoke(
    store: &Store,
    id: &ClaimId,
    req: &RevokeRequest,
    by: &UserId,
) -> Result<Revoked, RevokeError> {
    let claim = store.get_claim(id).await?.ok_or(RevokeError::NotFound)?;
    if claim.revocation.is_some() {
        finish(store, &claim).await?;
        return Ok(Revoked {
            before: None,
            claim,
        });
    }
    let revoked = claim
        .clone()
        .revoke(req, by.clone(), chrono::Utc::now())
        .map_err(RevokeError::Refused)?;
    if !store.mark_revoked(&revoked).await? {
        // Someone else revoked it (or it changed) in between: answer what is stored now.
        let now = store.get_claim(id).await?.ok_or(RevokeError::NotFound)?;
        return match now.revocation {
            Some(_) => {
                finish(store, &now).await?;
                Ok(Revoked {
                    before: None,
                    claim: now,
                })
            }
            None => Err(RevokeError::Refused(RevokeRefusal::NotApproved(now.status))),
        };
    }
    finish(store, &revoked).await?;
    Ok(Revoked {
        before: Some(claim),
        claim: revoked,
    })
}

/// The follow-up steps of a revoked claim, idempotent.
pub async fn finish(store: &Store, claim: &Claim) -> Result<(), StoreError> {
    let Some(rev) = &claim.revocation else {
        return Ok(());
    };
    store.record_revocation_outbox(claim).await?;
    if !rev.keep_stock {
        // Whichever units the claim holds: of the event's stock and of its period's.
        store.release_stock(&claim.event_id, &claim.id).await?;
        store
            .release_stock(&claim.event_id, &period_holder(&claim.id))
            .await?;
    }
    store.finish_revocation(&claim.id).await
}
