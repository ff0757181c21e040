//! Probes and metrics.
use super::resource;
use crate::error::problem_response;
use crate::state::AppState;
use actix_web::{http::StatusCode, HttpResponse};
use paperclip::actix::{api_v2_operation, web};
use serde_json::json;
use std::time::Duration;

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/healthz").route(web::get().to(healthz)))
        .service(resource("/readyz").route(web::get().to(readyz)))
        .service(resource("/metrics").route(web::get().to(metrics)));
}

/// Process is alive.
#[api_v2_operation(tags(Probes))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(r#"{"status":"ok"}"#)
}

async fn check_redis(state: &AppState) -> bool {
    let fut = async {
        let mut conn = state.redis.get().await.ok()?;
        let pong: String = deadpool_redis::redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .ok()?;
        Some(pong == "PONG")
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), fut).await,
        Ok(Some(true))
    )
}

/// Every dependency answers (MongoDB ping, Redis PING, RabbitMQ connection).
#[api_v2_operation(tags(Probes))]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let mongo = async {
        matches!(
            tokio::time::timeout(Duration::from_secs(2), state.store.ping()).await,
            Ok(Ok(()))
        )
    };
    let (mongo_ok, redis_ok) = tokio::join!(mongo, check_redis(&state));
    let rabbit_ok = state.broker.is_connected();
    let up = |b: bool| if b { "up" } else { "down" };
    let checks = json!({"mongodb": up(mongo_ok), "redis": up(redis_ok), "rabbitmq": up(rabbit_ok)});
    if mongo_ok && redis_ok && rabbit_ok {
        return HttpResponse::Ok()
            .content_type("application/json")
            .body(json!({"status": "ready", "checks": checks}).to_string());
    }
    let failing: Vec<&str> = [
        ("mongodb", mongo_ok),
        ("redis", redis_ok),
        ("rabbitmq", rabbit_ok),
    ]
    .into_iter()
    .filter(|(_, ok)| !ok)
    .map(|(n, _)| n)
    .collect();
    let mut extra = serde_json::Map::new();
    extra.insert("checks".into(), checks);
    problem_response(
        StatusCode::SERVICE_UNAVAILABLE,
        "SERVICE_UNAVAILABLE",
        &format!("unavailable: {}", failing.join(", ")),
        Some(extra),
    )
}

/// Prometheus text exposition.
#[api_v2_operation(tags(Probes))]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(format!(
            "{}# HELP mongodb_commands_total MongoDB commands sent (one round trip each)\n# TYPE mongodb_commands_total counter\nmongodb_commands_total {}\n",
            state.metrics.render(),
            state.store.commands_sent()
        ))
}
