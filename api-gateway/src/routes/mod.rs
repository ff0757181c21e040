//! The gateway's own endpoints (everything else is proxied). Each module registers its routes
//! with `get_resource!`; the 405 fallback is set here, once.

pub mod console;
mod health;
mod observability;

use crate::context::request_id;
use crate::problem::Problem;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use paperclip::actix::web as pweb;

pub use observability::merged_openapi;

/// Every own route is read-only.
const ALLOW: &str = "GET, HEAD";

/// The documented own routes (paperclip records them in the gateway's OpenAPI document).
pub fn config(cfg: &mut pweb::ServiceConfig) {
    health::config(cfg);
    observability::config(cfg);
}

/// A GET resource that admits HEAD (the connection sends the GET's headers without its body)
/// and answers other methods 405 with `Allow`.
macro_rules! get_resource {
    ($path:expr, $handler:expr) => {
        super::resource($path)
            .route(paperclip::actix::web::get().to($handler))
            .route(paperclip::actix::web::head().to($handler))
    };
}
use get_resource;

fn resource(path: &str) -> pweb::Resource {
    pweb::resource(path).default_service(web::to(method_not_allowed))
}

async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    let rid = request_id(&req);
    Problem::method_not_allowed(req.method().as_str(), req.path())
        .header(header::ALLOW, ALLOW)
        .request_id(rid.as_deref())
        .into_response()
}
