use crate::app::AppState;
use crate::context::request_id;
use crate::problem::Problem;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use paperclip::actix::{api_v2_operation, web as pweb};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

pub fn config(cfg: &mut pweb::ServiceConfig) {
    cfg.service(super::get_resource!("/metrics", metrics));
}

/// Prometheus text exposition, for scrapers holding `METRICS_TOKEN` as a bearer token: the
/// figures (routes, upstreams, failure rates) are not for the public.
#[api_v2_operation(summary = "Prometheus metrics (bearer METRICS_TOKEN)", tags(Probes))]
pub async fn metrics(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, actix_web::Error> {
    if let Some(refusal) = refusal(&req, state.settings.metrics_token.as_ref()) {
        return Ok(refusal);
    }
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

/// The answer for a caller without the metrics token, if it lacks it.
fn refusal(req: &HttpRequest, expected: Option<&SecretString>) -> Option<HttpResponse> {
    let rid = request_id(req);
    let Some(expected) = expected else {
        return Some(
            Problem::new(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                "metrics are not served: no METRICS_TOKEN is configured",
            )
            .request_id(rid.as_deref())
            .into_response(),
        );
    };
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    match presented {
        Some(t) if same_secret(t, expected.expose_secret()) => None,
        _ => Some(
            Problem::new(
                StatusCode::UNAUTHORIZED,
                "UNAUTHENTICATED",
                "metrics need the METRICS_TOKEN bearer token",
            )
            .header(header::WWW_AUTHENTICATE, "Bearer")
            .request_id(rid.as_deref())
            .into_response(),
        ),
    }
}

/// Compares digests so the time taken says nothing about how much of the token matched.
fn same_secret(a: &str, b: &str) -> bool {
    let (da, db) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    da.iter()
        .zip(db.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// The merged OpenAPI 3 document of the gateway and every upstream.
pub async fn merged_openapi(state: web::Data<AppState>) -> HttpResponse {
    let doc = state.openapi.merged(&state.table, &state.upstreams).await;
    HttpResponse::Ok().json(doc)
}
