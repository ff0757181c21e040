//! `/internal/*`: what the other services sync from us (not routed by the gateway).

use super::dto::*;
use crate::error::AppError;
use crate::service::sessions;
use crate::state::AppState;
use paperclip::actix::{api_v2_operation, web};

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/internal/revocations").route(web::get().to(revocations)));
}

/// Every revoked session whose tokens may still be alive.
#[api_v2_operation(tags(internal))]
pub async fn revocations(
    state: web::Data<AppState>,
) -> Result<web::Json<RevocationList>, AppError> {
    let items = sessions::revocations(&state).await?;
    Ok(web::Json(RevocationList {
        items: items.into_iter().map(RevocationItem::from).collect(),
    }))
}
