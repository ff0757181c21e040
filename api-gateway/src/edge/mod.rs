//! Edge middleware wrapped around every request: request id, per-client connection and
//! in-flight caps, CORS, security headers, banner removal, the Swagger UI path guard, the access log line and request metrics.

mod client_admission;
mod cors;
mod headers;
mod own_paths;

use crate::app::AppState;
use crate::context::{AccessInfo, RequestContext};
use crate::domain::RequestId;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpMessage};
use std::time::{Duration, Instant};

pub async fn edge(
    mut req: ServiceRequest,
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
    let cors_origin = cors::allowed_origin(&req, &state.settings.edge.cors_allowed_origins);

    own_paths::head_as_get(&mut req);
    let (_in_flight, refused) = match client_admission::admit(&req, &state) {
        Ok(slot) => (slot, None),
        Err(refusal) => (None, Some(refusal.into_response(&state, &rid))),
    };
    let early = refused
        .or_else(|| cors::preflight(&req, cors_origin.as_deref()))
        .or_else(|| own_paths::early_response(&req, &rid));
    let mut res = match early {
        Some(r) => req.into_response(r).map_into_boxed_body(),
        None => next.call(req).await?.map_into_boxed_body(),
    };

    let status = res.status();
    let own_pattern = res.request().match_pattern();
    {
        let h = res.headers_mut();
        headers::security_headers(h, headers::Page::of(&path), &state.hsts);
        if let Ok(v) = HeaderValue::from_str(&rid) {
            h.insert(HeaderName::from_static("x-request-id"), v);
        }
        if let Some(origin) = &cors_origin {
            cors::allow_origin(h, origin);
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
    AccessLine {
        method: &method,
        route: &route,
        path: &path,
        status,
        elapsed: start.elapsed(),
        info: &info,
        request_id: &rid,
    }
    .record(&state);
    Ok(res)
}

/// What the access log line and the request metrics say about one request.
struct AccessLine<'a> {
    method: &'a Method,
    route: &'a str,
    path: &'a str,
    status: StatusCode,
    elapsed: Duration,
    info: &'a AccessInfo,
    request_id: &'a str,
}

impl AccessLine<'_> {
    fn record(&self, state: &AppState) {
        let route = self.route;
        state
            .metrics
            .requests
            .with_label_values(&[route, self.method.as_str(), self.status.as_str()])
            .inc();
        state
            .metrics
            .latency
            .with_label_values(&[route])
            .observe(self.elapsed.as_secs_f64());
        slog::info!(state.logger, "request";
            "method" => self.method.as_str(),
            "route" => route,
            "path" => self.path,
            "status" => self.status.as_u16(),
            "latency_ms" => (self.elapsed.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
            "upstream" => self.info.upstream.as_deref().unwrap_or("-"),
            "instance" => self.info.instance.as_deref().unwrap_or("-"),
            "request_id" => self.request_id,
            "user_id" => self.info.user_id.as_deref().unwrap_or("-"),
        );
    }
}
