//! Every way a proxied request can fail before the upstream's answer reaches the client, and
//! the one place that turns each into problem+json (status, code, detail, headers) and counts
//! it in the metrics.

use crate::auth::AuthError;
use crate::domain::Role;
use crate::metrics::Metrics;
use crate::problem::Problem;
use actix_web::http::header::{self, HeaderName};
use actix_web::http::{Method, StatusCode};
use std::time::Duration;

pub(super) static RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
pub(super) static RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
pub(super) static RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("no route for {path}")]
    RouteNotFound { path: String },
    #[error("{method} is not allowed on {path}")]
    MethodNotAllowed {
        method: Method,
        path: String,
        allowed: Vec<Method>,
    },
    #[error("{}", .0.detail())]
    Unauthenticated(AuthError),
    #[error("this route requires one of the roles: {}", role_list(.roles))]
    Forbidden { roles: Vec<Role> },
    #[error("rate limit exceeded; retry in {retry_after_secs} s")]
    RateLimited {
        route: String,
        limit: u32,
        retry_after_secs: u64,
    },
    #[error("request body exceeds {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("the request body did not arrive in time")]
    BodyTimeout,
    #[error("the request body ended before it was complete")]
    BodyIncomplete,
    #[error("upstream {upstream} is not configured")]
    UpstreamNotConfigured { upstream: String },
    #[error("{upstream} is unavailable (circuit open)")]
    CircuitOpen {
        upstream: String,
        retry_after: Duration,
    },
    #[error("no healthy instance of {upstream}")]
    NoHealthyInstance { upstream: String },
    /// Every instance in rotation refused the connection.
    #[error("no reachable instance of {upstream} ({cause})")]
    Unreachable { upstream: String, cause: String },
    /// The last allowed attempt failed to connect.
    #[error("could not connect to {upstream}: {cause}")]
    ConnectFailed { upstream: String, cause: String },
    #[error("{upstream} did not answer in time")]
    UpstreamTimeout { upstream: String },
    #[error("{upstream} failed: {cause}")]
    UpstreamBroken { upstream: String, cause: String },
}

fn role_list(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

impl GatewayError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        use GatewayError::*;
        match self {
            RouteNotFound { .. } => (StatusCode::NOT_FOUND, "ROUTE_NOT_FOUND"),
            MethodNotAllowed { .. } => (StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED"),
            Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED"),
            Forbidden { .. } => (StatusCode::FORBIDDEN, "FORBIDDEN"),
            RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_REQUESTS"),
            PayloadTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE"),
            BodyTimeout => (StatusCode::REQUEST_TIMEOUT, "REQUEST_TIMEOUT"),
            BodyIncomplete => (StatusCode::BAD_REQUEST, "BAD_REQUEST"),
            UpstreamNotConfigured { .. } | CircuitOpen { .. } | NoHealthyInstance { .. } => {
                (StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE")
            }
            Unreachable { .. } | ConnectFailed { .. } | UpstreamBroken { .. } => {
                (StatusCode::BAD_GATEWAY, "BAD_GATEWAY")
            }
            UpstreamTimeout { .. } => (StatusCode::GATEWAY_TIMEOUT, "GATEWAY_TIMEOUT"),
        }
    }

    /// The one conversion to problem+json.
    pub fn into_problem(self) -> Problem {
        let (status, code) = self.status_and_code();
        let mut p = Problem::new(status, code, self.to_string());
        match &self {
            GatewayError::MethodNotAllowed { allowed, .. } => {
                let allow = allowed
                    .iter()
                    .map(Method::as_str)
                    .collect::<Vec<_>>()
                    .join(", ");
                p = p.header(header::ALLOW, allow);
            }
            GatewayError::Unauthenticated(_) => {
                p = p.header(header::WWW_AUTHENTICATE, "Bearer");
            }
            GatewayError::RateLimited {
                limit,
                retry_after_secs,
                ..
            } => {
                p = p
                    .header(header::RETRY_AFTER, retry_after_secs.to_string())
                    .header(RATELIMIT_LIMIT.clone(), limit.to_string())
                    .header(RATELIMIT_REMAINING.clone(), "0")
                    .header(RATELIMIT_RESET.clone(), retry_after_secs.to_string());
            }
            GatewayError::CircuitOpen { retry_after, .. } => {
                let secs = retry_after.as_secs_f64().ceil().max(1.0);
                p = p.header(header::RETRY_AFTER, secs.to_string());
            }
            GatewayError::NoHealthyInstance { .. } => {
                p = p.header(header::RETRY_AFTER, "1");
            }
            _ => {}
        }
        p
    }

    /// Counts the failure. Connect errors are counted per attempt where they happen (a retry
    /// may still succeed), so they add nothing here.
    pub fn record(&self, metrics: &Metrics) {
        let upstream_error = |upstream: &str, kind: &str| {
            metrics
                .upstream_errors
                .with_label_values(&[upstream, kind])
                .inc();
        };
        match self {
            GatewayError::Unauthenticated(e) => metrics
                .auth_failures
                .with_label_values(&[e.metric_label()])
                .inc(),
            GatewayError::RateLimited { route, .. } => {
                metrics.rate_limited.with_label_values(&[route]).inc()
            }
            GatewayError::BodyTimeout => metrics
                .client_faults
                .with_label_values(&["body_timeout"])
                .inc(),
            GatewayError::BodyIncomplete => metrics
                .client_faults
                .with_label_values(&["body_incomplete"])
                .inc(),
            GatewayError::CircuitOpen { upstream, .. } => upstream_error(upstream, "circuit_open"),
            GatewayError::NoHealthyInstance { upstream } => upstream_error(upstream, "no_instance"),
            GatewayError::UpstreamTimeout { upstream } => upstream_error(upstream, "timeout"),
            GatewayError::UpstreamBroken { upstream, .. } => upstream_error(upstream, "io"),
            _ => {}
        }
    }
}
