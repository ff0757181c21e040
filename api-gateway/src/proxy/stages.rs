//! The stages before forwarding: match route -> authenticate -> authorize -> rate-limit ->
//! admit the body. Each either lets the request on or returns the `GatewayError` that ends it.

use super::body::BodyLimits;
use super::error::GatewayError;
use crate::auth::{bearer_token, Identity, Verifier};
use crate::domain::{Access, Route, RouteMatch, RouteTable};
use crate::ratelimit::{Decision, RateLimits};
use actix_web::http::header;
use actix_web::HttpRequest;
use std::sync::Arc;

pub fn match_route<'t>(
    table: &'t RouteTable,
    req: &HttpRequest,
) -> Result<&'t Route, GatewayError> {
    let path = req.path();
    match table.find(req.method(), path) {
        RouteMatch::Found(r) => Ok(r),
        RouteMatch::NotFound => Err(GatewayError::RouteNotFound {
            path: path.to_owned(),
        }),
        RouteMatch::MethodNotAllowed(allowed) => Err(GatewayError::MethodNotAllowed {
            method: req.method().clone(),
            path: path.to_owned(),
            allowed,
        }),
    }
}

/// The verified caller of a non-public route; `None` on public routes. Finer rules live
/// upstream, which verifies the same token itself.
pub async fn authenticate(
    verifier: &Verifier,
    route: &Route,
    req: &HttpRequest,
) -> Result<Option<Arc<Identity>>, GatewayError> {
    if !route.access.needs_token() {
        return Ok(None);
    }
    let auth_header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let token = bearer_token(auth_header).map_err(GatewayError::Unauthenticated)?;
    let identity = verifier
        .verify(token)
        .await
        .map_err(GatewayError::Unauthenticated)?;
    Ok(Some(identity))
}

/// Coarse, path-level role check.
pub fn authorize(route: &Route, identity: &Identity) -> Result<(), GatewayError> {
    match &route.access {
        Access::Roles(roles) if !identity.has_any_role(roles) => Err(GatewayError::Forbidden {
            roles: roles.clone(),
        }),
        _ => Ok(()),
    }
}

/// What the `RateLimit-*` headers of a proxied response say.
#[derive(Debug, Clone, Copy)]
pub struct Quota {
    pub limit: u32,
    pub remaining: u32,
    pub reset_secs: u64,
}

/// Keyed by user id when authenticated, else by peer IP.
pub async fn rate_limit(
    limits: &RateLimits,
    route: &Route,
    identity: Option<&Identity>,
    peer_ip: Option<&str>,
) -> Result<Option<Quota>, GatewayError> {
    let Some(budget) = limits.for_route(&route.name) else {
        return Ok(None);
    };
    let key = match (identity, peer_ip) {
        (Some(id), _) => format!("u:{}", id.user_id),
        (None, Some(ip)) => format!("ip:{ip}"),
        (None, None) => "ip:unknown".to_owned(),
    };
    match limits.check(budget, &key).await {
        Decision::Allowed {
            limit,
            remaining,
            reset_secs,
        } => Ok(Some(Quota {
            limit,
            remaining,
            reset_secs,
        })),
        Decision::Denied {
            limit,
            retry_after_secs,
        } => Err(GatewayError::RateLimited {
            route: route.name.clone(),
            limit,
            retry_after_secs,
        }),
    }
}

/// How the request body will be sent, known from the headers alone.
#[derive(Debug, Clone, Copy)]
pub struct BodyPlan {
    pub limits: BodyLimits,
    pub content_length: Option<u64>,
    pub chunked: bool,
}

impl BodyPlan {
    pub fn has_body(&self) -> bool {
        self.chunked || self.content_length.is_some_and(|n| n > 0)
    }
}

/// A declared `Content-Length` over the limit is refused before the upstream is contacted;
/// chunked bodies are counted while streaming.
pub fn admit_body(req: &HttpRequest, limits: BodyLimits) -> Result<BodyPlan, GatewayError> {
    let limit = limits.max_bytes;
    let content_length: Option<u64> = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok());
    if content_length.is_some_and(|n| n > limit as u64) {
        return Err(GatewayError::PayloadTooLarge { limit });
    }
    Ok(BodyPlan {
        limits,
        content_length,
        chunked: req.headers().contains_key(header::TRANSFER_ENCODING),
    })
}
