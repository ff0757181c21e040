//! What one request carries between the edge middleware and the handlers: its id (set before
//! routing) and what the proxy learnt about it (read back for the access log).

use actix_web::{HttpMessage, HttpRequest};

/// Set on every request before routing.
#[derive(Clone, Debug)]
pub struct RequestContext {
    pub request_id: String,
}

/// Set by the proxy on its responses; read back by the edge for the access log.
#[derive(Clone, Debug, Default)]
pub struct AccessInfo {
    pub route: Option<String>,
    pub upstream: Option<String>,
    pub instance: Option<String>,
    pub user_id: Option<String>,
}

pub fn request_id(req: &HttpRequest) -> Option<String> {
    req.extensions()
        .get::<RequestContext>()
        .map(|c| c.request_id.clone())
}
