//! CORS for the configured origins: preflights are answered here, other responses get the
//! `Access-Control-Allow-Origin` of an allowed `Origin`.

use actix_web::dev::ServiceRequest;
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::Method;
use actix_web::HttpResponse;

const EXPOSED: &str =
    "X-Request-Id, Location, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset";

/// The request's `Origin` when it is one of `allowed` (or `allowed` holds `*`).
pub fn allowed_origin(req: &ServiceRequest, allowed: &[String]) -> Option<String> {
    req.headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|o| {
            allowed
                .iter()
                .any(|a| a == "*" || a.eq_ignore_ascii_case(o))
        })
        .map(str::to_owned)
}

/// Every preflight (`OPTIONS` with `Access-Control-Request-Method`) is answered here, before
/// routing and authentication: a browser never sends credentials on a preflight, so passing
/// it on would only earn a 401. An origin that is not allowed gets a 204 without
/// `Access-Control-Allow-Origin`, which the browser reads as a refusal.
pub fn preflight(req: &ServiceRequest, origin: Option<&str>) -> Option<HttpResponse> {
    if req.method() != Method::OPTIONS
        || !req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        return None;
    }
    let mut r = HttpResponse::NoContent();
    r.insert_header((header::VARY, "Origin"));
    let Some(origin) = origin else {
        return Some(r.finish());
    };
    r.insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin))
        .insert_header((
            header::ACCESS_CONTROL_ALLOW_METHODS,
            "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS",
        ))
        .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"));
    if let Some(h) = req.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        r.insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, h.clone()));
    }
    Some(r.finish())
}

/// Marks an ordinary response as readable by `origin`.
pub fn allow_origin(h: &mut HeaderMap, origin: &str) {
    if let Ok(v) = HeaderValue::from_str(origin) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        h.append(header::VARY, HeaderValue::from_static("Origin"));
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED),
        );
    }
}
