//! `/.well-known/jwks.json`: the public keys every verifier uses.

use crate::error::AppError;
use crate::state::AppState;
use actix_web::HttpResponse;
use paperclip::actix::{api_v2_operation, web};

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/.well-known/jwks.json").route(web::get().to(jwks)));
}

/// Public keys that verify access tokens (all current keys; the first one signs).
#[api_v2_operation(tags(keys))]
pub async fn jwks(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let jwks = state.key_ring()?.jwks();
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=60"))
        .json(jwks))
}
