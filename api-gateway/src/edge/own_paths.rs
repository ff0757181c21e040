//! The gateway's GET-only documents (`/openapi.json`, `/swagger.json`, `/docs/**`) answered or
//! refused before routing.

use crate::problem::Problem;
use actix_web::dev::ServiceRequest;
use actix_web::http::header;
use actix_web::http::{Method, StatusCode};
use actix_web::HttpResponse;

/// Files of paperclip's bundled Swagger UI. paperclip panics (killing the worker) on a GET for
/// any other file under the UI path, so everything else is answered 404 before routing.
const SWAGGER_FILES: &[&str] = &[
    "index.html",
    "oauth2-redirect.html",
    "swagger-ui.css",
    "swagger-ui.css.map",
    "swagger-ui.js",
    "swagger-ui.js.map",
    "swagger-ui-bundle.js",
    "swagger-ui-bundle.js.map",
    "swagger-ui-standalone-preset.js",
    "swagger-ui-standalone-preset.js.map",
    "swagger-ui-es-bundle.js",
    "swagger-ui-es-bundle.js.map",
    "swagger-ui-es-bundle-core.js",
    "swagger-ui-es-bundle-core.js.map",
    "favicon-16x16.png",
    "favicon-32x32.png",
];

fn own_get_only(path: &str) -> bool {
    matches!(path, "/openapi.json" | "/swagger.json" | "/docs" | "/docs/")
        || path.starts_with("/docs/")
        || crate::routes::console::is_console(path)
}

pub fn is_docs(path: &str) -> bool {
    path == "/docs" || path.starts_with("/docs/")
}

/// These documents are served by GET-only handlers (some inside paperclip): a HEAD becomes a
/// GET, and the connection, which knows it was asked HEAD, sends the headers without the body.
pub fn head_as_get(req: &mut ServiceRequest) {
    if req.method() == Method::HEAD && own_get_only(req.path()) {
        req.head_mut().method = Method::GET;
    }
}

/// 405 for other methods, the `/docs` redirect, and 404 for files the UI bundle lacks.
pub fn early_response(req: &ServiceRequest, rid: &str) -> Option<HttpResponse> {
    let path = req.path();
    let method = req.method();
    if !own_get_only(path) {
        return None;
    }
    if method != Method::GET && method != Method::HEAD {
        return Some(
            Problem::method_not_allowed(method.as_str(), path)
                .header(header::ALLOW, "GET, HEAD")
                .request_id(Some(rid))
                .into_response(),
        );
    }
    if path == "/docs" || path == "/docs/" {
        return Some(
            HttpResponse::PermanentRedirect()
                .insert_header((header::LOCATION, "/docs/index.html?url=/openapi.json"))
                .finish(),
        );
    }
    if let Some(file) = path.strip_prefix("/docs/") {
        if !SWAGGER_FILES.contains(&file) {
            return Some(
                Problem::new(
                    StatusCode::NOT_FOUND,
                    "NOT_FOUND",
                    format!("no such file {path}"),
                )
                .request_id(Some(rid))
                .into_response(),
            );
        }
    }
    None
}
