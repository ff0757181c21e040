use crate::app::AppState;
use crate::context::request_id;
use crate::problem::Problem;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use paperclip::actix::{api_v2_operation, web as pweb};
use serde_json::{json, Map, Value};
use std::sync::atomic::Ordering;

pub fn config(cfg: &mut pweb::ServiceConfig) {
    cfg.service(super::get_resource!("/healthz", healthz))
        .service(super::get_resource!("/readyz", readyz));
}

/// Liveness: the process is up and serving.
#[api_v2_operation(summary = "Liveness probe", tags(Probes))]
pub async fn healthz() -> Result<HttpResponse, actix_web::Error> {
    Ok(HttpResponse::Ok().json(json!({"status": "ok"})))
}

/// Readiness: every upstream has at least one instance in rotation. `jwks` and
/// `revocationFeed` are reported for operators but do not fail readiness (the gateway still
/// serves public routes, and revocations are also synced over HTTP).
#[api_v2_operation(
    summary = "Readiness probe (503 names the upstream without a healthy instance)",
    tags(Probes)
)]
pub async fn readyz(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, actix_web::Error> {
    let mut checks = Map::new();
    let mut failing = Vec::new();
    for up in state.upstreams.iter() {
        let healthy = up.healthy_count();
        checks.insert(
            up.name.clone(),
            Value::from(if healthy > 0 { "up" } else { "down" }),
        );
        if healthy == 0 {
            failing.push(up.name.clone());
        }
    }
    checks.insert(
        "jwks".into(),
        Value::from(if state.verifier.key_count() > 0 {
            "up"
        } else {
            "down"
        }),
    );
    checks.insert(
        "revocationFeed".into(),
        Value::from(if state.revocation_feed_up.load(Ordering::Relaxed) {
            "up"
        } else {
            "down"
        }),
    );
    if let Some(up) = state.limits.shared_store_up() {
        checks.insert(
            "rateLimitStore".into(),
            Value::from(if up { "up" } else { "down" }),
        );
    }
    if failing.is_empty() {
        return Ok(HttpResponse::Ok().json(json!({"status": "ready", "checks": checks})));
    }
    let rid = request_id(&req);
    Ok(Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "SERVICE_UNAVAILABLE",
        format!("no healthy instance: {}", failing.join(", ")),
    )
    .checks(Value::Object(checks))
    .request_id(rid.as_deref())
    .into_response())
}
