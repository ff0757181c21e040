use crate::app::AppState;
use actix_web::{web, HttpResponse};
use paperclip::actix::{api_v2_operation, web as pweb};

pub fn config(cfg: &mut pweb::ServiceConfig) {
    cfg.service(super::get_resource!("/metrics", metrics));
}

/// Prometheus text exposition.
#[api_v2_operation(summary = "Prometheus metrics", tags(Probes))]
pub async fn metrics(state: web::Data<AppState>) -> Result<HttpResponse, actix_web::Error> {
    for up in state.upstreams.iter() {
        state
            .metrics
            .circuit_state
            .with_label_values(&[&up.name])
            .set(up.circuit.state().as_gauge());
        state
            .metrics
            .healthy_instances
            .with_label_values(&[&up.name])
            .set(up.healthy_count() as i64);
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render()))
}

/// The merged OpenAPI 3 document of the gateway and every upstream.
pub async fn merged_openapi(state: web::Data<AppState>) -> HttpResponse {
    let doc = state.openapi.merged(&state.table, &state.upstreams).await;
    HttpResponse::Ok().json(doc)
}
