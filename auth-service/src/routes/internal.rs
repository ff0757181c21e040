//! `/internal/*`: what the other services sync from us (not routed by the gateway).

use super::dto::*;
use crate::error::AppError;
use crate::extract::InternalCaller;
use crate::service::sessions;
use crate::state::AppState;
use paperclip::actix::{api_v2_operation, web};

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/internal/revocations").route(web::get().to(revocations)));
}

/// Every revoked session whose tokens may still be alive. Needs `Bearer <INTERNAL_TOKEN>` or
/// an ADMIN/AUDITOR access token; while no internal token is configured, an anonymous caller
/// gets only `sessionId`, `jti` and `expiresAt` (what a verifier needs, nothing personal).
#[api_v2_operation(tags(internal))]
pub async fn revocations(
    state: web::Data<AppState>,
    caller: InternalCaller,
) -> Result<web::Json<RevocationList>, AppError> {
    let items = sessions::revocations(&state).await?;
    let full = caller == InternalCaller::Trusted;
    Ok(web::Json(RevocationList {
        items: items
            .into_iter()
            .map(|r| RevocationItem::new(r, full))
            .collect(),
    }))
}
