//! Request context: request id (scoped for error bodies and logs), access log, metrics,
//! problem+json for framework-made 404/405, and a guard for the Swagger UI file route.

use crate::error::problem_response;
use crate::extract::AuthenticatedUser;
use crate::state::AppState;
use crate::telemetry::REQUEST_ID;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpMessage};
use std::time::Instant;

/// Files paperclip's Swagger UI can serve; anything else under /docs would panic the worker.
const DOCS_FILES: &[&str] = &[
    "index.html",
    "oauth2-redirect.html",
    "swagger-ui.css",
    "swagger-ui.js",
    "swagger-ui-bundle.js",
    "swagger-ui-standalone-preset.js",
    "swagger-ui-es-bundle.js",
    "swagger-ui-es-bundle-core.js",
    "favicon-16x16.png",
    "favicon-32x32.png",
    "swagger-ui.css.map",
    "swagger-ui.js.map",
    "swagger-ui-bundle.js.map",
    "swagger-ui-standalone-preset.js.map",
    "swagger-ui-es-bundle.js.map",
    "swagger-ui-es-bundle-core.js.map",
];

fn valid_request_id(v: &str) -> bool {
    (1..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn docs_path_allowed(path: &str, query: &str) -> bool {
    match path.strip_prefix("/docs") {
        None => true,
        Some("") | Some("/") => query.is_empty(),
        Some(rest) => match rest.strip_prefix('/') {
            Some(file) => DOCS_FILES.contains(&file),
            // e.g. /docsfoo: not the docs route at all.
            None => true,
        },
    }
}

pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| valid_request_id(v))
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let started = Instant::now();
    let method = req.method().to_string();
    let path = req.path().to_string();

    let id = request_id.clone();
    let mut res = REQUEST_ID
        .scope(id, async move {
            if !docs_path_allowed(req.path(), req.query_string()) {
                let resp = problem_response(
                    StatusCode::NOT_FOUND,
                    "ROUTE_NOT_FOUND",
                    "no such documentation file".into(),
                    None,
                    None,
                );
                return Ok::<_, Error>(req.into_response(resp));
            }
            let res = next.call(req).await?.map_into_boxed_body();
            let status = res.status();
            let bare = !res.headers().contains_key(header::CONTENT_TYPE);
            if bare && (status == StatusCode::NOT_FOUND || status == StatusCode::METHOD_NOT_ALLOWED)
            {
                let (code, detail) = if status == StatusCode::NOT_FOUND {
                    ("ROUTE_NOT_FOUND", "no route for this path")
                } else {
                    ("METHOD_NOT_ALLOWED", "method not allowed for this path")
                };
                let resp = problem_response(status, code, detail.into(), None, None);
                return Ok(res.into_response(resp));
            }
            Ok(res)
        })
        .await?;

    let status = res.status();
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_string());
    if let Ok(v) = header::HeaderValue::from_str(&request_id) {
        res.headers_mut()
            .insert(header::HeaderName::from_static("x-request-id"), v);
    }
    let elapsed = started.elapsed();
    if let Some(state) = state {
        let labels = [method.as_str(), route.as_str(), status.as_str()];
        state.metrics.http_requests.with_label_values(&labels).inc();
        state
            .metrics
            .http_latency
            .with_label_values(&labels)
            .observe(elapsed.as_secs_f64());
    }
    let user_id = res
        .request()
        .extensions()
        .get::<AuthenticatedUser>()
        .map(|u| u.0.to_string())
        .unwrap_or_default();
    if route != "/healthz" && route != "/metrics" {
        slog::info!(crate::telemetry::root(), "request";
            "request_id" => &request_id,
            "method" => &method,
            "path" => &path,
            "route" => &route,
            "user_id" => &user_id,
            "status" => status.as_u16(),
            "latency_ms" => elapsed.as_secs_f64() * 1000.0,
        );
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_checked() {
        assert!(valid_request_id("abc-1.2_3"));
        assert!(!valid_request_id(""));
        assert!(!valid_request_id("a b"));
        assert!(!valid_request_id(&"a".repeat(129)));
    }

    #[test]
    fn docs_guard() {
        assert!(docs_path_allowed("/docs", ""));
        assert!(!docs_path_allowed("/docs", "x=1"));
        assert!(docs_path_allowed("/docs/index.html", "url=/swagger.json"));
        assert!(!docs_path_allowed("/docs/nope.js", ""));
        assert!(docs_path_allowed("/users", ""));
    }
}
