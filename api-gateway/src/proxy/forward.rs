//! Forwarding: the upstream's circuit, instance choice (round robin), connect retries on
//! another instance, and streaming the request body under its limits.

use super::body::BodyWatch;
use super::error::GatewayError;
use super::stages::BodyPlan;
use crate::context::AccessInfo;
use crate::metrics::Metrics;
use crate::upstream::{Permit, Upstream, Upstreams};
use actix_web::body::{BodyStream, SizedStream};
use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::http::header::HeaderMap;
use actix_web::http::Method;
use actix_web::HttpRequest;
use awc::error::SendRequestError;
use bytes::Bytes;
use futures_util::Stream;
use std::sync::Arc;
use std::time::Duration;

/// An upstream whose circuit let this request through.
pub struct Admitted {
    pub upstream: Arc<Upstream>,
    _trial: TrialGuard,
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

pub fn admit(upstreams: &Upstreams, name: &str) -> Result<Admitted, GatewayError> {
    let upstream =
        upstreams
            .get(name)
            .cloned()
            .ok_or_else(|| GatewayError::UpstreamNotConfigured {
                upstream: name.to_owned(),
            })?;
    match upstream.circuit.permit() {
        Permit::Allowed { trial } => Ok(Admitted {
            _trial: TrialGuard(trial.then(|| upstream.clone())),
            upstream,
        }),
        Permit::Rejected { retry_after } => Err(GatewayError::CircuitOpen {
            upstream: upstream.name.clone(),
            retry_after,
        }),
    }
}

/// What goes to the upstream, however many instances are tried.
pub struct Outgoing<'a> {
    pub req: &'a HttpRequest,
    pub headers: HeaderMap,
    pub timeout: Duration,
    pub retry_attempts: u32,
    pub body: BodyPlan,
}

impl Outgoing<'_> {
    /// HEAD goes upstream as GET: the upstreams route GET only, and the client's connection
    /// (which knows it asked HEAD) sends the headers, Content-Length included, but no body.
    fn upstream_method(&self) -> Method {
        match self.req.method() {
            &Method::HEAD => Method::GET,
            m => m.clone(),
        }
    }

    /// Only idempotent requests without a body are retried on another instance.
    fn max_attempts(&self) -> usize {
        let idempotent = matches!(
            *self.req.method(),
            Method::GET | Method::HEAD | Method::OPTIONS
        );
        if idempotent && !self.body.has_body() {
            1 + self.retry_attempts as usize
        } else {
            1
        }
    }
}

enum Failure {
    Client(GatewayError),
    Upstream(SendRequestError),
}

pub async fn forward(
    client: &awc::Client,
    target: &Admitted,
    out: Outgoing<'_>,
    payload: Payload,
    metrics: &Metrics,
    info: &mut AccessInfo,
) -> Result<awc::ClientResponse<impl Stream<Item = Result<Bytes, PayloadError>>>, GatewayError> {
    let upstream = &target.upstream;
    let max_attempts = out.max_attempts();
    let path_and_query = out
        .req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let watch = BodyWatch::new();
    let mut payload = Some(payload);
    let mut tried: Vec<usize> = Vec::new();
    let mut last_connect_error: Option<String> = None;
    loop {
        let Some(idx) = upstream.pick(&tried) else {
            return Err(match last_connect_error {
                Some(cause) => GatewayError::Unreachable {
                    upstream: upstream.name.clone(),
                    cause,
                },
                None => GatewayError::NoHealthyInstance {
                    upstream: upstream.name.clone(),
                },
            });
        };
        tried.push(idx);
        let inst = &upstream.instances[idx];
        info.instance = Some(inst.base_url.clone());
        let mut up = client
            .request(
                out.upstream_method(),
                format!("{}{}", inst.base_url, path_and_query),
            )
            // Bounds the wait for the response head only: awc does not apply it to a body
            // read as a stream, so a Server-Sent Events stream lives as long as both ends do.
            .timeout(out.timeout)
            .no_decompress();
        *up.headers_mut() = out.headers.clone();
        let sent = if out.body.has_body() {
            let body = watch.stream(payload.take().expect("body sent once"), out.body.limits);
            match out.body.content_length {
                Some(n) if !out.body.chunked => up.send_body(SizedStream::new(n, body)).await,
                _ => up.send_body(BodyStream::new(body)).await,
            }
        } else {
            up.send().await
        };
        let sent = sent.map_err(|e| {
            let timed_out = matches!(e, SendRequestError::Timeout);
            match watch.client_fault(timed_out, &out.body.limits) {
                Some(client_fault) => Failure::Client(client_fault),
                None => Failure::Upstream(e),
            }
        });
        match sent {
            Ok(resp) => {
                upstream.circuit.on_success();
                return Ok(resp);
            }
            // The client's fault says nothing about the upstream: no ejection, no circuit.
            Err(Failure::Client(e)) => return Err(e),
            Err(Failure::Upstream(SendRequestError::Connect(e))) => {
                inst.mark_down(upstream.cooloff);
                upstream.circuit.on_failure();
                metrics
                    .upstream_errors
                    .with_label_values(&[&upstream.name, "connect"])
                    .inc();
                if tried.len() >= max_attempts {
                    return Err(GatewayError::ConnectFailed {
                        upstream: upstream.name.clone(),
                        cause: e.to_string(),
                    });
                }
                last_connect_error = Some(e.to_string());
            }
            Err(Failure::Upstream(SendRequestError::Timeout)) => {
                upstream.circuit.on_failure();
                return Err(GatewayError::UpstreamTimeout {
                    upstream: upstream.name.clone(),
                });
            }
            Err(Failure::Upstream(other)) => {
                upstream.circuit.on_failure();
                return Err(GatewayError::UpstreamBroken {
                    upstream: upstream.name.clone(),
                    cause: other.to_string(),
                });
            }
        }
    }
}
