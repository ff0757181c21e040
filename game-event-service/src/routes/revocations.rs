//! Revoking an approved claim (OPERATOR, ADMIN).
use super::events::require_manager;
use super::{json, resource};
use crate::audit::{record, Change};
use crate::auth::Identity;
use crate::claims::revoke::{revoke, RevokeError};
use crate::domain::audit::EntityType;
use crate::domain::revocation::{RevokeRefusal, RevokeRequest};
use crate::domain::ClaimId;
use crate::error::ApiError;
use crate::extract::{path_id, ValidJson};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use paperclip::actix::{api_v2_operation, web};

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/claims/{id}/revoke").route(web::post().to(revoke_claim)));
}

impl From<RevokeError> for ApiError {
    fn from(e: RevokeError) -> Self {
        match e {
            RevokeError::NotFound => ApiError::NotFound("claim not found".into()),
            RevokeError::Refused(RevokeRefusal::NotApproved(s)) => {
                ApiError::ClaimNotApproved(s.as_str())
            }
            RevokeError::Store(s) => s.into(),
        }
    }
}

/// Take an approval back: APPROVED -> REVOKED, its stock unit returned (unless `keepStock`),
/// `reward.revoked` published through the outbox. Revoking again answers the same claim.
#[api_v2_operation(tags(Claims))]
pub async fn revoke_claim(
    state: web::Data<AppState>,
    id: Identity,
    path: web::Path<String>,
    body: ValidJson<RevokeRequest>,
) -> Result<HttpResponse, ApiError> {
    require_manager(&id)?;
    let claim_id = path_id(&path, ClaimId::parse)?;
    body.0.validate().map_err(ApiError::Validation)?;
    let done = revoke(&state.store, &claim_id, &body.0, &id.user_id).await?;
    if let Some(before) = &done.before {
        let change = Change::new("claim.revoked", EntityType::Claim, claim_id.as_str())
            .before(before)
            .after(&done.claim);
        record(&state, &id, change).await;
        state.outbox_wakeup.notify_one();
        state.live.publish(std::slice::from_ref(&done.claim));
    }
    Ok(json(StatusCode::OK, &done.claim))
}
