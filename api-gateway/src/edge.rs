//! Edge middleware wrapped around every request: request id, CORS, security headers, banner
//! removal, the Swagger UI path guard, the access log line and request metrics.

use crate::domain::RequestId;
use crate::problem::Problem;
use crate::startup::AppState;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpMessage, HttpRequest, HttpResponse};
use std::time::Instant;

/// Set on every request before routing.
#[derive(Clone, Debug)]
pub struct RequestContext {
    pub request_id: String,
}

/// Set by the proxy on its responses; read back here for the access log.
#[derive(Clone, Debug, Default)]
pub struct AccessInfo {
    pub route: Option<String>,
    pub upstream: Option<String>,
    pub instance: Option<String>,
    pub user_id: Option<String>,
}

pub fn request_id(req: &HttpRequest) -> Option<String> {
    req.extensions()
        .get::<RequestContext>()
        .map(|c| c.request_id.clone())
}

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

/// Helmet's default Content-Security-Policy.
const CSP: &str = "default-src 'self';base-uri 'self';font-src 'self' https: data:;\
form-action 'self';frame-ancestors 'self';img-src 'self' data:;object-src 'none';\
script-src 'self';script-src-attr 'none';style-src 'self' https: 'unsafe-inline';\
upgrade-insecure-requests";

/// Swagger UI's page boots with an inline script; only /docs gets this relaxation.
const DOCS_CSP: &str = "default-src 'self';base-uri 'self';font-src 'self' https: data:;\
form-action 'self';frame-ancestors 'self';img-src 'self' data:;object-src 'none';\
script-src 'self' 'unsafe-inline';script-src-attr 'none';style-src 'self' https: 'unsafe-inline';\
connect-src 'self'";

fn security_headers(h: &mut HeaderMap, docs: bool, hsts: &HeaderValue) {
    let set = |h: &mut HeaderMap, k: &'static str, v: &'static str| {
        h.insert(HeaderName::from_static(k), HeaderValue::from_static(v));
    };
    set(
        h,
        "content-security-policy",
        if docs { DOCS_CSP } else { CSP },
    );
    set(h, "cross-origin-opener-policy", "same-origin");
    set(h, "cross-origin-resource-policy", "same-origin");
    set(h, "origin-agent-cluster", "?1");
    set(h, "referrer-policy", "no-referrer");
    h.insert(header::STRICT_TRANSPORT_SECURITY, hsts.clone());
    set(h, "x-content-type-options", "nosniff");
    set(h, "x-dns-prefetch-control", "off");
    set(h, "x-download-options", "noopen");
    set(h, "x-frame-options", "SAMEORIGIN");
    set(h, "x-permitted-cross-domain-policies", "none");
    set(h, "x-xss-protection", "0");
    h.remove(header::SERVER);
    h.remove("x-powered-by");
}

fn origin_allowed(state: &AppState, origin: &str) -> bool {
    let allowed = &state.settings.cors_allowed_origins;
    allowed
        .iter()
        .any(|a| a == "*" || a.eq_ignore_ascii_case(origin))
}

const EXPOSED: &str =
    "X-Request-Id, Location, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset";

fn own_get_only(path: &str) -> bool {
    matches!(path, "/openapi.json" | "/swagger.json" | "/docs" | "/docs/")
        || path.starts_with("/docs/")
}

fn early_response(req: &ServiceRequest, rid: &str, cors: Option<&str>) -> Option<HttpResponse> {
    let path = req.path();
    let method = req.method();
    if method == Method::OPTIONS {
        let preflight = req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
        if let (Some(origin), true) = (cors, preflight) {
            let mut r = HttpResponse::NoContent();
            r.insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin))
                .insert_header((header::VARY, "Origin"))
                .insert_header((
                    header::ACCESS_CONTROL_ALLOW_METHODS,
                    "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS",
                ))
                .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"));
            if let Some(h) = req.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
                r.insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, h.clone()));
            }
            return Some(r.finish());
        }
    }
    if !own_get_only(path) {
        return None;
    }
    if method != Method::GET && method != Method::HEAD {
        return Some(
            Problem::method_not_allowed(method.as_str(), path)
                .header(header::ALLOW, "GET")
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

pub async fn edge(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let start = Instant::now();
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .expect("AppState registered");
    let rid = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .and_then(RequestId::parse)
        .unwrap_or_else(RequestId::generate)
        .as_str()
        .to_owned();
    req.extensions_mut().insert(RequestContext {
        request_id: rid.clone(),
    });
    let method = req.method().clone();
    let path = req.path().to_owned();
    let docs = path == "/docs" || path.starts_with("/docs/");
    let cors_origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|o| origin_allowed(&state, o))
        .map(str::to_owned);

    let mut res = match early_response(&req, &rid, cors_origin.as_deref()) {
        Some(r) => req.into_response(r).map_into_boxed_body(),
        None => next.call(req).await?.map_into_boxed_body(),
    };

    let status = res.status();
    let own_pattern = res.request().match_pattern();
    {
        let h = res.headers_mut();
        security_headers(h, docs, &state.hsts);
        if let Ok(v) = HeaderValue::from_str(&rid) {
            h.insert(HeaderName::from_static("x-request-id"), v);
        }
        if let Some(origin) = &cors_origin {
            if let Ok(v) = HeaderValue::from_str(origin) {
                h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
                h.append(header::VARY, HeaderValue::from_static("Origin"));
                h.insert(
                    header::ACCESS_CONTROL_EXPOSE_HEADERS,
                    HeaderValue::from_static(EXPOSED),
                );
            }
        }
    }

    let info = res
        .response()
        .extensions()
        .get::<AccessInfo>()
        .cloned()
        .unwrap_or_default();
    let route = info
        .route
        .clone()
        .or(own_pattern)
        .unwrap_or_else(|| "unmatched".to_owned());
    let elapsed = start.elapsed();
    let status_s = status.as_str();
    state
        .metrics
        .requests
        .with_label_values(&[route.as_str(), method.as_str(), status_s])
        .inc();
    state
        .metrics
        .latency
        .with_label_values(&[route.as_str()])
        .observe(elapsed.as_secs_f64());
    slog::info!(state.logger, "request";
        "method" => method.as_str(),
        "route" => &route,
        "path" => &path,
        "status" => status.as_u16(),
        "latency_ms" => (elapsed.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
        "upstream" => info.upstream.as_deref().unwrap_or("-"),
        "instance" => info.instance.as_deref().unwrap_or("-"),
        "request_id" => &rid,
        "user_id" => info.user_id.as_deref().unwrap_or("-"),
    );
    Ok(res)
}
