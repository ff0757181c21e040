//! Thin HTTP handlers: parse, authorize, call one domain or service function, shape the
//! response. Every module registers its own routes (`config`).
pub mod audit;
pub mod claims;
pub mod eligibility;
pub mod events;
pub mod forecast;
pub mod grants;
pub mod health;
pub mod lookup;
pub mod periods;
pub mod progress;
pub mod revocations;
pub mod rewards;
pub mod segments;
pub mod stats;
pub mod streams;

use crate::error::ApiError;
use actix_web::HttpResponse;
use paperclip::actix::web;
use serde::Serialize;

/// Every route of the service.
pub fn config(cfg: &mut web::ServiceConfig) {
    health::config(cfg);
    events::config(cfg);
    rewards::config(cfg);
    eligibility::config(cfg);
    claims::config(cfg);
    revocations::config(cfg);
    grants::config(cfg);
    progress::config(cfg);
    periods::config(cfg);
    segments::config(cfg);
    audit::config(cfg);
    stats::config(cfg);
    streams::config(cfg);
    forecast::config(cfg);
}

/// A resource whose other methods answer 405 problem+json.
pub fn resource(path: &str) -> web::Resource {
    web::resource(path).default_service(actix_web::web::to(method_not_allowed))
}

pub fn json<T: Serialize>(status: actix_web::http::StatusCode, body: &T) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("application/json")
        .body(serde_json::to_string(body).unwrap_or_else(|_| "{}".into()))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListResponse<T: Serialize> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T: Serialize> ListResponse<T> {
    /// `next_cursor` only when the page was full (`last_id` is the page's last stored id).
    pub fn page(items: Vec<T>, full: bool, last_id: Option<String>) -> Self {
        let next_cursor = if full {
            last_id.map(|id| crate::extract::encode_cursor(&id))
        } else {
            None
        };
        ListResponse { items, next_cursor }
    }
}

/// Builds a page response; `next_cursor` only when the page was full.
pub fn page_of<T: Serialize>(
    items: Vec<T>,
    limit: i64,
    id_of: impl Fn(&T) -> String,
) -> ListResponse<T> {
    let full = items.len() as i64 == limit;
    let last = items.last().map(id_of);
    ListResponse::page(items, full, last)
}

pub async fn route_not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::RouteNotFound)
}

async fn method_not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed)
}
