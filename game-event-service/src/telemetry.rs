//! JSON-lines logging through slog, request ids and the access log.
use crate::request_id::REQUEST_ID;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::HttpMessage;
use slog::{o, Drain, Logger};
use std::time::Instant;

pub fn get_logger(level: &str) -> Logger {
    let level = match level.to_ascii_lowercase().as_str() {
        "trace" => slog::Level::Trace,
        "debug" => slog::Level::Debug,
        "warn" | "warning" => slog::Level::Warning,
        "error" => slog::Level::Error,
        "critical" | "off" => slog::Level::Critical,
        _ => slog::Level::Info,
    };
    let drain = slog_json::Json::new(std::io::stdout())
        .add_default_keys()
        .build()
        .fuse();
    let drain = slog_async::Async::new(drain)
        .chan_size(4096)
        .overflow_strategy(slog_async::OverflowStrategy::DropAndReport)
        .build()
        .fuse();
    let drain = drain.filter_level(level).fuse();
    Logger::root(drain, o!("service" => "game-event-service"))
}

/// Request-scoped logger, available to handlers through request extensions.
#[derive(Clone)]
pub struct RequestLogger(pub Logger);

#[derive(Clone, Debug)]
pub struct RequestId(pub String);

fn valid_request_id(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 128
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

/// Assigns the request id, records metrics and writes one access-log line per request.
pub async fn request_middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| valid_request_id(v))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let state = req
        .app_data::<actix_web::web::Data<crate::state::AppState>>()
        .cloned();
    let root = state
        .as_ref()
        .map(|s| s.logger.clone())
        .unwrap_or_else(|| Logger::root(slog::Discard, o!()));
    let log = root.new(o!("requestId" => request_id.clone()));
    req.extensions_mut().insert(RequestLogger(log.clone()));
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let method = req.method().to_string();
    let path = req.path().to_string();

    let res = REQUEST_ID.scope(request_id.clone(), next.call(req)).await;
    let mut res = match res {
        Ok(r) => r,
        Err(e) => {
            // Errors that escaped handlers still become problem+json responses.
            let r = e.error_response();
            return Err(actix_web::error::InternalError::from_response(e, r).into());
        }
    };
    res.headers_mut().insert(
        HeaderName::from_static("x-request-id"),
        HeaderValue::from_str(&request_id).unwrap_or(HeaderValue::from_static("invalid")),
    );
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_string());
    let status = res.status().as_u16();
    let elapsed = started.elapsed();
    if let Some(state) = &state {
        state.metrics.observe_http(&method, &route, status, elapsed);
    }
    if status >= 500 {
        if let Some(err) = res.response().error() {
            slog::error!(log, "request failed"; "error" => format!("{err:?}"));
        }
    }
    let user_id = res
        .request()
        .extensions()
        .get::<crate::auth::Identity>()
        .map(|i| i.user_id.to_string())
        .unwrap_or_default();
    slog::info!(log, "request";
        "method" => &method, "path" => &path, "route" => &route, "status" => status,
        "latencyMs" => elapsed.as_secs_f64() * 1000.0, "userId" => user_id);
    Ok(res)
}
