//! Prometheus metrics: HTTP traffic per route pattern and the domain counters.
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};
use std::time::Duration;

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_latency: HistogramVec,
    pub claims_requested: IntCounterVec,
    pub claims_decided: IntCounterVec,
    pub activities: IntCounterVec,
    pub outbox_published: IntCounterVec,
    /// Time spent in each step of a claim decision (shows where the time goes).
    pub claim_steps: HistogramVec,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let http_requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests"),
            &["method", "route", "status"],
        )
        .expect("metric");
        let http_latency = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP latency").buckets(vec![
                0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["method", "route", "status"],
        )
        .expect("metric");
        let claims_requested = IntCounterVec::new(
            Opts::new("claims_requested_total", "Claim requests by outcome"),
            &["outcome"],
        )
        .expect("metric");
        let claims_decided = IntCounterVec::new(
            Opts::new("claims_decided_total", "Claim decisions"),
            &["status", "reason"],
        )
        .expect("metric");
        let activities = IntCounterVec::new(
            Opts::new("activities_ingested_total", "Activity records"),
            &["source", "result"],
        )
        .expect("metric");
        let outbox_published = IntCounterVec::new(
            Opts::new("outbox_publish_total", "reward.granted publish attempts"),
            &["result"],
        )
        .expect("metric");
        let claim_steps = HistogramVec::new(
            HistogramOpts::new("claim_step_duration_seconds", "Claim decision steps").buckets(
                vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
                ],
            ),
            &["step"],
        )
        .expect("metric");
        registry
            .register(Box::new(claim_steps.clone()))
            .expect("register");
        for c in [
            &http_requests,
            &claims_requested,
            &claims_decided,
            &activities,
            &outbox_published,
        ] {
            registry.register(Box::new(c.clone())).expect("register");
        }
        registry
            .register(Box::new(http_latency.clone()))
            .expect("register");
        Metrics {
            registry,
            http_requests,
            http_latency,
            claims_requested,
            claims_decided,
            activities,
            outbox_published,
            claim_steps,
        }
    }

    pub fn step(&self, step: &str, started: std::time::Instant) {
        self.claim_steps
            .with_label_values(&[step])
            .observe(started.elapsed().as_secs_f64());
    }

    pub fn observe_http(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let status = status.to_string();
        self.http_requests
            .with_label_values(&[method, route, &status])
            .inc();
        self.http_latency
            .with_label_values(&[method, route, &status])
            .observe(elapsed.as_secs_f64());
    }

    /// `(step, count, mean seconds)` of the claim-decision step histogram.
    pub fn claim_step_summary(&self) -> Vec<(String, u64, f64)> {
        let mut out = Vec::new();
        for fam in self.registry.gather() {
            if fam.name() != "claim_step_duration_seconds" {
                continue;
            }
            for m in fam.get_metric() {
                let step = m
                    .get_label()
                    .iter()
                    .find(|l| l.name() == "step")
                    .map(|l| l.value().to_string())
                    .unwrap_or_default();
                let h = m.get_histogram();
                let n = h.get_sample_count();
                let mean = if n > 0 {
                    h.get_sample_sum() / n as f64
                } else {
                    0.0
                };
                out.push((step, n, mean));
            }
        }
        out
    }

    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn step_summary_reports_observed_steps() {
        let m = super::Metrics::new();
        m.step("lease", std::time::Instant::now());
        let s = m.claim_step_summary();
        assert_eq!(s.len(), 1, "{}", m.render());
        assert_eq!(s[0].0, "lease");
        assert_eq!(s[0].1, 1);
    }
}
