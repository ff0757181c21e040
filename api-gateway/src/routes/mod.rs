//! The gateway's own endpoints (everything else is proxied). Each module registers its routes;
//! the 405 fallback of a resource is set here, once.

mod health;
mod observability;

use crate::context::request_id;
use crate::problem::Problem;
use actix_web::{web, HttpRequest, HttpResponse};
use paperclip::actix::web as pweb;

pub use observability::merged_openapi;

/// The documented own routes (paperclip records them in the gateway's OpenAPI document).
pub fn config(cfg: &mut pweb::ServiceConfig) {
    health::config(cfg);
    observability::config(cfg);
}

/// A resource of the gateway's own: methods it does not route answer 405 problem+json.
fn resource(path: &str) -> pweb::Resource {
    pweb::resource(path).default_service(web::to(method_not_allowed))
}

async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    let rid = request_id(&req);
    Problem::method_not_allowed(req.method().as_str(), req.path())
        .request_id(rid.as_deref())
        .into_response()
}
