//! Probes and metrics.

use super::dto::Health;
use crate::error::problem_json;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use paperclip::actix::{api_v2_operation, web};
use std::sync::atomic::Ordering;

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/healthz").route(web::get().to(healthz)))
        .service(web::resource("/readyz").route(web::get().to(readyz)))
        .service(web::resource("/metrics").route(web::get().to(metrics)));
}

/// Liveness: the process is up.
#[api_v2_operation(tags(probes))]
pub async fn healthz() -> web::Json<Health> {
    web::Json(Health {
        status: "ok".into(),
    })
}

/// Readiness: MongoDB, Redis and RabbitMQ all answer.
#[api_v2_operation(tags(probes))]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let (mongo, redis) = tokio::join!(crate::store::ping(&state.db), state.redis.ping());
    // Keys and indexes come from MongoDB: until they are in place MongoDB counts as not ready.
    let mongo = mongo && state.is_ready_flag();
    let rabbit = state.amqp_connected.load(Ordering::SeqCst);
    let word = |up: bool| if up { "up" } else { "down" };
    let checks = serde_json::json!({
        "mongodb": word(mongo),
        "redis": word(redis),
        "rabbitmq": word(rabbit),
    });
    let failing: Vec<&str> = [("mongodb", mongo), ("redis", redis), ("rabbitmq", rabbit)]
        .iter()
        .filter(|(_, up)| !up)
        .map(|(n, _)| *n)
        .collect();
    if failing.is_empty() {
        return HttpResponse::Ok().json(serde_json::json!({"status": "ready", "checks": checks}));
    }
    let mut body = problem_json(
        StatusCode::SERVICE_UNAVAILABLE,
        "SERVICE_UNAVAILABLE",
        format!("dependency down: {}", failing.join(", ")),
        None,
        None,
    );
    body["checks"] = checks;
    HttpResponse::ServiceUnavailable()
        .content_type("application/problem+json")
        .json(body)
}

/// Prometheus metrics.
#[api_v2_operation(tags(probes))]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}
