//! Prometheus metrics. One registry per application instance so parallel tests do not collide.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry, TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_latency: HistogramVec,
    pub logins: IntCounterVec,
    /// bcrypt evaluations at login (real or dummy hash): what throttling must bound.
    pub password_checks: IntCounter,
    pub throttle_unavailable: IntCounter,
    pub sessions_revoked: IntCounterVec,
    pub refresh_reuse: IntCounter,
    pub events_published: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let http_requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by route pattern and status",
            ),
            &["method", "route", "status"],
        )
        .unwrap();
        let http_latency = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency").buckets(
                vec![
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ],
            ),
            &["method", "route", "status"],
        )
        .unwrap();
        let logins = IntCounterVec::new(
            Opts::new("auth_logins_total", "Login attempts by outcome"),
            &["outcome"],
        )
        .unwrap();
        let password_checks = IntCounter::new(
            "auth_password_checks_total",
            "bcrypt verifications at login",
        )
        .unwrap();
        let throttle_unavailable = IntCounter::new(
            "auth_login_throttle_unavailable_total",
            "Logins let through because Redis could not be asked (fail open)",
        )
        .unwrap();
        let sessions_revoked = IntCounterVec::new(
            Opts::new("auth_sessions_revoked_total", "Revoked sessions by reason"),
            &["reason"],
        )
        .unwrap();
        let refresh_reuse = IntCounter::new(
            "auth_refresh_token_reuse_total",
            "Rotated refresh tokens presented again",
        )
        .unwrap();
        let events_published = IntCounterVec::new(
            Opts::new(
                "auth_events_published_total",
                "Domain events confirmed by RabbitMQ",
            ),
            &["routing_key"],
        )
        .unwrap();
        for c in [
            Box::new(http_requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(http_latency.clone()),
            Box::new(logins.clone()),
            Box::new(password_checks.clone()),
            Box::new(throttle_unavailable.clone()),
            Box::new(sessions_revoked.clone()),
            Box::new(refresh_reuse.clone()),
            Box::new(events_published.clone()),
        ] {
            registry.register(c).unwrap();
        }
        Metrics {
            registry,
            http_requests,
            http_latency,
            logins,
            password_checks,
            throttle_unavailable,
            sessions_revoked,
            refresh_reuse,
            events_published,
        }
    }

    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("text encoding cannot fail");
        String::from_utf8(buf).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
