//! The reverse proxy: route lookup, edge authentication and authorisation, rate and body
//! limits, identity forwarding, balancing/retries/circuit breaking, and response streaming.

use crate::auth::{bearer_token, Identity};
use crate::domain::{is_valid_traceparent, new_traceparent, Access, Route, RouteMatch};
use crate::edge::{AccessInfo, RequestContext};
use crate::problem::Problem;
use crate::ratelimit::Decision;
use crate::startup::AppState;
use crate::upstream::{Permit, Upstream};
use actix_web::body::{BodyStream, SizedStream};
use actix_web::error::PayloadError;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use awc::error::SendRequestError;
use futures_util::StreamExt;
use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;

static X_USER_ID: HeaderName = HeaderName::from_static("x-user-id");
static X_USER_ROLES: HeaderName = HeaderName::from_static("x-user-roles");
static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
static RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
static RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

/// RFC 9110 §7.6.1 connection-specific fields plus the de-facto `Proxy-*`/`Keep-Alive` ones.
fn is_hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
    ) || name.as_str().starts_with("proxy-")
}

/// Field names listed in `Connection` are hop-by-hop too.
fn connection_listed(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::CONNECTION)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Request headers the gateway never passes through as sent by the client.
fn drop_request_header(name: &HeaderName, listed: &[String]) -> bool {
    let n = name.as_str();
    is_hop_by_hop(name)
        || n.starts_with("x-user-")
        || matches!(
            n,
            "host"
                | "content-length"
                | "expect"
                | "x-request-id"
                | "traceparent"
                | "x-forwarded-for"
                | "x-forwarded-proto"
                | "x-forwarded-host"
                | "forwarded"
        )
        || listed.iter().any(|l| l == n)
}

fn drop_response_header(name: &HeaderName, listed: &[String]) -> bool {
    let n = name.as_str();
    is_hop_by_hop(name)
        || matches!(n, "server" | "x-powered-by" | "content-length" | "date")
        || listed.iter().any(|l| l == n)
}

struct Ctx {
    request_id: String,
    info: AccessInfo,
}

impl Ctx {
    fn respond(&self, mut resp: HttpResponse) -> HttpResponse {
        resp.extensions_mut().insert(self.info.clone());
        resp
    }

    fn problem(&self, p: Problem) -> HttpResponse {
        self.respond(p.request_id(Some(&self.request_id)).into_response())
    }
}

pub async fn proxy(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    client: web::Data<awc::Client>,
) -> HttpResponse {
    let request_id = req
        .extensions()
        .get::<RequestContext>()
        .map(|c| c.request_id.clone())
        .unwrap_or_else(|| crate::domain::RequestId::generate().as_str().to_owned());
    let mut ctx = Ctx {
        request_id,
        info: AccessInfo::default(),
    };
    let path = req.path();

    let route: &Route = match state.table.find(req.method(), path) {
        RouteMatch::Found(r) => r,
        RouteMatch::NotFound => return ctx.problem(Problem::route_not_found(path)),
        RouteMatch::MethodNotAllowed(allowed) => {
            let allow = allowed
                .iter()
                .map(Method::as_str)
                .collect::<Vec<_>>()
                .join(", ");
            return ctx.problem(
                Problem::method_not_allowed(req.method().as_str(), path)
                    .header(header::ALLOW, allow),
            );
        }
    };
    ctx.info.route = Some(route.name.clone());

    // Authentication and coarse, path-level authorisation. Finer rules live upstream, which
    // verifies the same token itself.
    let identity: Option<Arc<Identity>> = if route.access.needs_token() {
        let auth_header = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let verified = match bearer_token(auth_header) {
            Ok(t) => state.verifier.verify(t).await,
            Err(e) => Err(e),
        };
        match verified {
            Ok(id) => Some(id),
            Err(e) => {
                state
                    .metrics
                    .auth_failures
                    .with_label_values(&[e.metric_label()])
                    .inc();
                return ctx.problem(Problem::unauthenticated(e.detail()));
            }
        }
    } else {
        None
    };
    if let Some(id) = &identity {
        ctx.info.user_id = Some(id.user_id.clone());
        if let Access::Roles(roles) = &route.access {
            if !id.has_any_role(roles) {
                let need = roles
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                return ctx.problem(Problem::new(
                    StatusCode::FORBIDDEN,
                    "FORBIDDEN",
                    format!("this route requires one of the roles: {need}"),
                ));
            }
        }
    }

    let peer_ip = req.peer_addr().map(|a| a.ip().to_string());
    let mut rate_headers: Option<(u32, u32, u64)> = None;
    if let Some(limiter) = state.limits.for_route(&route.name) {
        let key = match (&identity, &peer_ip) {
            (Some(id), _) => format!("u:{}", id.user_id),
            (None, Some(ip)) => format!("ip:{ip}"),
            (None, None) => "ip:unknown".to_owned(),
        };
        match limiter.check(&key) {
            Decision::Allowed {
                limit,
                remaining,
                reset_secs,
            } => rate_headers = Some((limit, remaining, reset_secs)),
            Decision::Denied {
                limit,
                retry_after_secs,
            } => {
                state
                    .metrics
                    .rate_limited
                    .with_label_values(&[&route.name])
                    .inc();
                return ctx.problem(
                    Problem::new(
                        StatusCode::TOO_MANY_REQUESTS,
                        "TOO_MANY_REQUESTS",
                        format!("rate limit exceeded; retry in {retry_after_secs} s"),
                    )
                    .header(header::RETRY_AFTER, retry_after_secs.to_string())
                    .header(RATELIMIT_LIMIT.clone(), limit.to_string())
                    .header(RATELIMIT_REMAINING.clone(), "0")
                    .header(RATELIMIT_RESET.clone(), retry_after_secs.to_string()),
                );
            }
        }
    }

    let body_limit = route
        .body_limit_bytes
        .unwrap_or(state.settings.body_limit_bytes);
    let content_length: Option<u64> = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok());
    if content_length.is_some_and(|n| n > body_limit as u64) {
        return ctx.problem(too_large(body_limit));
    }
    let chunked = req.headers().contains_key(header::TRANSFER_ENCODING);
    let has_body = chunked || content_length.is_some_and(|n| n > 0);

    let Some(upstream) = state.upstreams.get(&route.upstream).cloned() else {
        return ctx.problem(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            format!("upstream {} is not configured", route.upstream),
        ));
    };
    ctx.info.upstream = Some(upstream.name.clone());

    let _trial_guard = match upstream.circuit.permit() {
        Permit::Allowed { trial } => TrialGuard(trial.then(|| upstream.clone())),
        Permit::Rejected { retry_after } => {
            state
                .metrics
                .upstream_errors
                .with_label_values(&[&upstream.name, "circuit_open"])
                .inc();
            return ctx.problem(
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "SERVICE_UNAVAILABLE",
                    format!("{} is unavailable (circuit open)", upstream.name),
                )
                .header(
                    header::RETRY_AFTER,
                    retry_after.as_secs_f64().ceil().max(1.0).to_string(),
                ),
            );
        }
    };

    let outgoing = build_upstream_headers(&req, &ctx.request_id, identity.as_deref(), peer_ip);
    let timeout = route.timeout.unwrap_or(state.settings.upstream_timeout);
    let idempotent = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let max_attempts = if idempotent && !has_body {
        1 + state.settings.retry_attempts as usize
    } else {
        1
    };
    let path_and_query = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");

    let exceeded = Rc::new(Cell::new(false));
    let mut payload = Some(payload.into_inner());
    let mut tried: Vec<usize> = Vec::new();
    let mut last_connect_error: Option<String> = None;
    let outcome = loop {
        let Some(idx) = upstream.pick(&tried) else {
            break None;
        };
        tried.push(idx);
        let inst = &upstream.instances[idx];
        ctx.info.instance = Some(inst.base_url.clone());
        let mut up = client
            .request(
                req.method().clone(),
                format!("{}{}", inst.base_url, path_and_query),
            )
            .timeout(timeout)
            .no_decompress();
        *up.headers_mut() = outgoing.clone();
        let sent = if has_body {
            let flag = exceeded.clone();
            let mut seen: usize = 0;
            let stream = payload.take().expect("body sent once").map(move |chunk| {
                let b = chunk?;
                seen += b.len();
                if seen > body_limit {
                    flag.set(true);
                    return Err(PayloadError::Overflow);
                }
                Ok(b)
            });
            match content_length {
                Some(n) if !chunked => up.send_body(SizedStream::new(n, stream)).await,
                _ => up.send_body(BodyStream::new(stream)).await,
            }
        } else {
            up.send().await
        };
        match sent {
            Ok(resp) => break Some(Ok(resp)),
            Err(SendRequestError::Connect(e)) => {
                inst.mark_down(upstream.cooloff);
                upstream.circuit.on_failure();
                record(&state, &upstream, "connect");
                last_connect_error = Some(e.to_string());
                if tried.len() >= max_attempts {
                    break Some(Err(SendRequestError::Connect(e)));
                }
            }
            Err(e) => break Some(Err(e)),
        }
    };

    let resp = match outcome {
        None => {
            let detail = match last_connect_error {
                Some(e) => format!("no reachable instance of {} ({e})", upstream.name),
                None => format!("no healthy instance of {}", upstream.name),
            };
            if !tried.is_empty() {
                return ctx.problem(Problem::new(StatusCode::BAD_GATEWAY, "BAD_GATEWAY", detail));
            }
            record(&state, &upstream, "no_instance");
            return ctx.problem(
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "SERVICE_UNAVAILABLE",
                    detail,
                )
                .header(header::RETRY_AFTER, "1"),
            );
        }
        Some(Err(e)) => {
            if exceeded.get() {
                return ctx.problem(too_large(body_limit));
            }
            return ctx.problem(map_send_error(&state, &upstream, e));
        }
        Some(Ok(resp)) => {
            upstream.circuit.on_success();
            resp
        }
    };

    let status = resp.status();
    let mut builder = HttpResponse::build(status);
    let listed = connection_listed(resp.headers());
    for (name, value) in resp.headers() {
        if !drop_response_header(name, &listed) {
            builder.append_header((name.clone(), value.clone()));
        }
    }
    if let Some((limit, remaining, reset)) = rate_headers {
        builder.insert_header((RATELIMIT_LIMIT.clone(), limit.to_string()));
        builder.insert_header((RATELIMIT_REMAINING.clone(), remaining.to_string()));
        builder.insert_header((RATELIMIT_RESET.clone(), reset.to_string()));
    }
    let body_less = req.method() == Method::HEAD
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    let upstream_len: Option<u64> = resp
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok());
    let out = if body_less {
        builder.finish()
    } else {
        match upstream_len {
            Some(n) => builder.body(SizedStream::new(n, resp)),
            None => builder.body(BodyStream::new(resp)),
        }
    };
    ctx.respond(out)
}

/// A half-open circuit lets exactly one trial request through; if that request ends without a
/// verdict (client gone, body rejected, no instance) the slot must be freed, or the circuit
/// would stay half-open and refuse everything forever.
struct TrialGuard(Option<Arc<Upstream>>);

impl Drop for TrialGuard {
    fn drop(&mut self) {
        if let Some(u) = self.0.take() {
            u.circuit.release_trial();
        }
    }
}

fn record(state: &AppState, upstream: &Upstream, kind: &str) {
    state
        .metrics
        .upstream_errors
        .with_label_values(&[&upstream.name, kind])
        .inc();
}

fn too_large(limit: usize) -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
        format!("request body exceeds {limit} bytes"),
    )
}

fn map_send_error(state: &AppState, upstream: &Upstream, e: SendRequestError) -> Problem {
    match e {
        SendRequestError::Timeout => {
            upstream.circuit.on_failure();
            record(state, upstream, "timeout");
            Problem::new(
                StatusCode::GATEWAY_TIMEOUT,
                "GATEWAY_TIMEOUT",
                format!("{} did not answer in time", upstream.name),
            )
        }
        SendRequestError::Connect(e) => Problem::new(
            StatusCode::BAD_GATEWAY,
            "BAD_GATEWAY",
            format!("could not connect to {}: {e}", upstream.name),
        ),
        other => {
            upstream.circuit.on_failure();
            record(state, upstream, "io");
            Problem::new(
                StatusCode::BAD_GATEWAY,
                "BAD_GATEWAY",
                format!("{} failed: {other}", upstream.name),
            )
        }
    }
}

fn build_upstream_headers(
    req: &HttpRequest,
    request_id: &str,
    identity: Option<&Identity>,
    peer_ip: Option<String>,
) -> HeaderMap {
    let incoming = req.headers();
    let listed = connection_listed(incoming);
    let mut h = HeaderMap::with_capacity(incoming.len() + 8);
    for (name, value) in incoming {
        if !drop_request_header(name, &listed) {
            h.append(name.clone(), value.clone());
        }
    }
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert(X_REQUEST_ID.clone(), v);
    }
    let tp = incoming
        .get(&TRACEPARENT)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_valid_traceparent(v))
        .map(str::to_owned)
        .unwrap_or_else(new_traceparent);
    if let Ok(v) = HeaderValue::from_str(&tp) {
        h.insert(TRACEPARENT.clone(), v);
    }
    let prior: Vec<&str> = incoming
        .get_all(&X_FORWARDED_FOR)
        .filter_map(|v| v.to_str().ok())
        .collect();
    let mut xff = prior.join(", ");
    if let Some(ip) = peer_ip {
        if !xff.is_empty() {
            xff.push_str(", ");
        }
        xff.push_str(&ip);
    }
    if let Ok(v) = HeaderValue::from_str(&xff) {
        if !xff.is_empty() {
            h.insert(X_FORWARDED_FOR.clone(), v);
        }
    }
    let proto = if req.app_config().secure() {
        "https"
    } else {
        "http"
    };
    h.insert(X_FORWARDED_PROTO.clone(), HeaderValue::from_static(proto));
    if let Some(host) = incoming.get(header::HOST) {
        h.insert(X_FORWARDED_HOST.clone(), host.clone());
    }
    if let Some(id) = identity {
        if let Ok(v) = HeaderValue::from_str(&id.user_id) {
            h.insert(X_USER_ID.clone(), v);
        }
        if let Ok(v) = HeaderValue::from_str(&id.roles.join(",")) {
            h.insert(X_USER_ROLES.clone(), v);
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_and_identity_headers_are_dropped() {
        let listed = vec!["x-custom-hop".to_string()];
        for n in [
            "connection",
            "keep-alive",
            "te",
            "trailer",
            "transfer-encoding",
            "upgrade",
            "proxy-authorization",
            "x-user-id",
            "x-user-roles",
            "x-user-anything",
            "x-custom-hop",
        ] {
            assert!(
                drop_request_header(&HeaderName::from_static(n), &listed),
                "{n}"
            );
        }
        for n in ["authorization", "content-type", "accept", "idempotency-key"] {
            assert!(
                !drop_request_header(&HeaderName::from_static(n), &listed),
                "{n}"
            );
        }
        assert!(drop_response_header(
            &HeaderName::from_static("server"),
            &[]
        ));
        assert!(drop_response_header(
            &HeaderName::from_static("x-powered-by"),
            &[]
        ));
        assert!(!drop_response_header(
            &HeaderName::from_static("location"),
            &[]
        ));
    }
}
