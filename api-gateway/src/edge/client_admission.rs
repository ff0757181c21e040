//! Refuses a request whose client already holds too many connections or requests in flight.

use crate::app::AppState;
use crate::client_limits::{ConnectionSlot, InFlight};
use crate::problem::Problem;
use actix_web::dev::ServiceRequest;
use actix_web::http::header;
use actix_web::http::{ConnectionType, StatusCode};
use actix_web::HttpResponse;

#[derive(Debug, Clone, Copy)]
pub enum Refusal {
    Connections,
    InFlight,
}

impl Refusal {
    pub fn into_response(self, state: &AppState, rid: &str) -> HttpResponse {
        let (kind, detail) = match self {
            Refusal::Connections => (
                "connection_limit",
                "too many connections from this client; retry on an open one",
            ),
            Refusal::InFlight => (
                "in_flight_limit",
                "too many requests in flight from this client",
            ),
        };
        state.metrics.client_faults.with_label_values(&[kind]).inc();
        let mut resp = Problem::new(StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_REQUESTS", detail)
            .header(header::RETRY_AFTER, "1")
            .request_id(Some(rid))
            .into_response();
        if matches!(self, Refusal::Connections) {
            // Closing this connection is what frees the client's slot.
            resp.head_mut().set_connection_type(ConnectionType::Close);
        }
        resp
    }
}

/// The in-flight slot to hold until the response is ready.
pub fn admit(req: &ServiceRequest, state: &AppState) -> Result<Option<InFlight>, Refusal> {
    if req
        .conn_data::<ConnectionSlot>()
        .is_some_and(|slot| slot.over_limit)
    {
        return Err(Refusal::Connections);
    }
    let Some(ip) = req.peer_addr().map(|a| a.ip()) else {
        return Ok(None);
    };
    state
        .client_limits
        .enter(ip)
        .map(Some)
        .ok_or(Refusal::InFlight)
}
