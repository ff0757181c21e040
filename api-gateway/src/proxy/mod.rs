//! The reverse proxy, as named stages: match route -> authenticate -> authorize -> rate-limit
//! -> admit body -> forward (watching the body) -> respond. Every stage returns `GatewayError`, turned into
//! problem+json in one place (`error`).

mod body;
mod error;
mod forward;
mod headers;
mod respond;
mod stages;

pub use error::GatewayError;

use crate::app::AppState;
use crate::context::{AccessInfo, RequestContext};
use crate::domain::RequestId;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use body::BodyLimits;
use forward::Outgoing;

pub async fn proxy(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    client: web::Data<awc::Client>,
) -> HttpResponse {
    let request_id = req
        .extensions()
        .get::<RequestContext>()
        .map(|c| c.request_id.clone())
        .unwrap_or_else(|| RequestId::generate().as_str().to_owned());
    let mut info = AccessInfo::default();
    let mut resp = match run(&req, payload, &state, &client, &request_id, &mut info).await {
        Ok(resp) => resp,
        Err(e) => {
            e.record(&state.metrics);
            e.into_problem()
                .request_id(Some(&request_id))
                .into_response()
        }
    };
    resp.extensions_mut().insert(info);
    resp
}

async fn run(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    client: &awc::Client,
    request_id: &str,
    info: &mut AccessInfo,
) -> Result<HttpResponse, GatewayError> {
    let route = stages::match_route(&state.table, req)?;
    info.route = Some(route.name.clone());
    let identity = stages::authenticate(&state.verifier, route, req).await?;
    if let Some(id) = &identity {
        info.user_id = Some(id.user_id.clone());
        stages::authorize(route, id)?;
    }
    let peer = req.peer_addr().map(|a| a.ip());
    let peer_ip = peer.map(|ip| ip.to_string());
    let quota = stages::rate_limit(
        &state.limits,
        route,
        identity.as_deref(),
        peer_ip.as_deref(),
    )
    .await?;
    let settings = &state.settings;
    let limits = &settings.limits;
    let body = stages::admit_body(
        req,
        BodyLimits {
            max_bytes: route.body_limit_bytes.unwrap_or(limits.body_limit_bytes),
            idle: limits.body_idle_timeout,
            total: limits.body_timeout,
        },
    )?;
    let target = forward::admit(&state.upstreams, &route.upstream)?;
    info.upstream = Some(target.upstream.name.clone());
    let out = Outgoing {
        req,
        headers: headers::upstream_headers(req, request_id, identity.as_deref(), peer),
        timeout: route.timeout.unwrap_or(settings.upstreams.timeout),
        retry_attempts: settings.upstreams.retry_attempts,
        body,
    };
    let resp = forward::forward(
        client,
        &target,
        out,
        payload.into_inner(),
        &state.metrics,
        info,
    )
    .await?;
    Ok(respond::respond(resp, quota))
}
