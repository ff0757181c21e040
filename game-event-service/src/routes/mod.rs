//! Thin HTTP handlers: parse, authorize, call the store/domain, shape the response.
pub mod claims;
pub mod events;
pub mod health;
pub mod progress;

use crate::error::ApiError;
use actix_web::HttpResponse;
use serde::Serialize;

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

/// Builds a page response; `next_cursor` only when the page was full.
pub fn page_of<T: Serialize>(
    items: Vec<T>,
    limit: i64,
    id_of: impl Fn(&T) -> String,
) -> ListResponse<T> {
    let next_cursor = if items.len() as i64 == limit {
        items
            .last()
            .map(|i| crate::extract::encode_cursor(&id_of(i)))
    } else {
        None
    };
    ListResponse { items, next_cursor }
}

pub async fn route_not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::RouteNotFound)
}

pub async fn method_not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed)
}
