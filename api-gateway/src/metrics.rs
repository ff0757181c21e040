//! Prometheus metrics of the gateway.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub latency: HistogramVec,
    pub upstream_errors: IntCounterVec,
    pub circuit_state: IntGaugeVec,
    pub healthy_instances: IntGaugeVec,
    pub rate_limited: IntCounterVec,
    pub auth_failures: IntCounterVec,
    pub client_faults: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "gateway_http_requests_total",
                "Requests by route, method and status",
            ),
            &["route", "method", "status"],
        )
        .expect("metric");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "gateway_http_request_duration_seconds",
                "Time to response headers, by route",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0,
            ]),
            &["route"],
        )
        .expect("metric");
        let upstream_errors = IntCounterVec::new(
            Opts::new(
                "gateway_upstream_errors_total",
                "Upstream failures by upstream and kind (connect, timeout, io, circuit_open, no_instance)",
            ),
            &["upstream", "kind"],
        )
        .expect("metric");
        let circuit_state = IntGaugeVec::new(
            Opts::new(
                "gateway_upstream_circuit_state",
                "Circuit breaker state per upstream: 0 closed, 1 open, 2 half-open",
            ),
            &["upstream"],
        )
        .expect("metric");
        let healthy_instances = IntGaugeVec::new(
            Opts::new(
                "gateway_upstream_healthy_instances",
                "Instances in rotation",
            ),
            &["upstream"],
        )
        .expect("metric");
        let rate_limited = IntCounterVec::new(
            Opts::new(
                "gateway_rate_limited_total",
                "Requests refused with 429, by route",
            ),
            &["route"],
        )
        .expect("metric");
        let auth_failures = IntCounterVec::new(
            Opts::new(
                "gateway_auth_failures_total",
                "Refused bearer tokens by reason",
            ),
            &["reason"],
        )
        .expect("metric");
        let client_faults = IntCounterVec::new(
            Opts::new(
                "gateway_client_faults_total",
                "Requests ended by the client's own fault (body_timeout, body_incomplete, connection_limit, in_flight_limit)",
            ),
            &["kind"],
        )
        .expect("metric");
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(upstream_errors.clone()),
            Box::new(circuit_state.clone()),
            Box::new(healthy_instances.clone()),
            Box::new(rate_limited.clone()),
            Box::new(auth_failures.clone()),
            Box::new(client_faults.clone()),
        ] {
            registry.register(c).expect("register metric");
        }
        Metrics {
            registry,
            requests,
            latency,
            upstream_errors,
            circuit_state,
            healthy_instances,
            rate_limited,
            auth_failures,
            client_faults,
        }
    }

    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("encode metrics");
        String::from_utf8(buf).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
