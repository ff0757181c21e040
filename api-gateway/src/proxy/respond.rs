//! The upstream's answer as the client sees it: status and end-to-end headers kept, the
//! `RateLimit-*` headers added, the body streamed (none for 1xx, 204, 304).

use super::error::{RATELIMIT_LIMIT, RATELIMIT_REMAINING, RATELIMIT_RESET};
use super::headers::{connection_listed, drop_response_header};
use super::stages::Quota;
use actix_web::body::{BodyStream, SizedStream};
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use bytes::Bytes;
use futures_util::Stream;

pub fn respond<S>(resp: awc::ClientResponse<S>, quota: Option<Quota>) -> HttpResponse
where
    S: Stream<Item = Result<Bytes, PayloadError>> + Unpin + 'static,
{
    let status = resp.status();
    let mut builder = HttpResponse::build(status);
    let listed = connection_listed(resp.headers());
    for (name, value) in resp.headers() {
        if !drop_response_header(name, &listed) {
            builder.append_header((name.clone(), value.clone()));
        }
    }
    if let Some(q) = quota {
        builder.insert_header((RATELIMIT_LIMIT.clone(), q.limit.to_string()));
        builder.insert_header((RATELIMIT_REMAINING.clone(), q.remaining.to_string()));
        builder.insert_header((RATELIMIT_RESET.clone(), q.reset_secs.to_string()));
    }
    // A HEAD's body is streamed too: the connection drops it but keeps its Content-Length.
    let body_less = status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    let upstream_len: Option<u64> = resp
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok());
    // Streamed chunk by chunk, never collected: `text/event-stream` responses reach the client
    // as the upstream writes them, and a client hanging up drops the upstream connection.
    if body_less {
        builder.finish()
    } else {
        match upstream_len {
            Some(n) => builder.body(SizedStream::new(n, resp)),
            None => builder.body(BodyStream::new(resp)),
        }
    }
}
