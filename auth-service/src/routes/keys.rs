use super::dto::*;
use crate::error::AppError;
use crate::events::rfc3339;
use crate::keys::Jwks;
use crate::service::AppState;
use actix_web::HttpResponse;
use paperclip::actix::{api_v2_operation, web};

/// Public keys that verify access tokens (all current keys; the first one signs).
#[api_v2_operation(tags(keys))]
pub async fn jwks(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let jwks: Jwks = state.key_ring()?.jwks();
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=60"))
        .json(jwks))
}

/// Internal (not routed by the gateway): every revoked session whose tokens may still be alive.
#[api_v2_operation(tags(internal))]
pub async fn revocations(
    state: web::Data<AppState>,
) -> Result<web::Json<RevocationList>, AppError> {
    let items = state
        .sessions
        .unexpired_revocations(chrono::Utc::now())
        .await?
        .into_iter()
        .map(|r| RevocationItem {
            session_id: r.session_id,
            user_id: r.user_id,
            jti: r.jti,
            revoked_at: rfc3339(r.revoked_at),
            expires_at: rfc3339(r.expires_at),
        })
        .collect();
    Ok(web::Json(RevocationList { items }))
}
