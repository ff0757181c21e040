//! Server-Sent Events framing (WHATWG HTML §9.2) and the response every stream answers with.
use actix_web::http::header::{HeaderName, HeaderValue, CACHE_CONTROL};
use actix_web::web::Bytes;
use actix_web::HttpResponse;
use futures_util::Stream;

pub const CONTENT_TYPE: &str = "text/event-stream";
/// Sent first: how long a client waits before reconnecting (milliseconds).
pub const RETRY_MS: u64 = 3000;

/// One event. `data` must be one line (compact JSON is).
pub fn event(name: &str, id: Option<&str>, data: &str) -> String {
    debug_assert!(!data.contains('\n'));
    let mut s = format!("event: {name}\n");
    if let Some(id) = id {
        s.push_str("id: ");
        s.push_str(id);
        s.push('\n');
    }
    s.push_str("data: ");
    s.push_str(data);
    s.push_str("\n\n");
    s
}

/// A comment line: ignored by clients, keeps proxies from timing the connection out.
pub fn keepalive() -> Bytes {
    Bytes::from_static(b": keepalive\n\n")
}

pub fn retry() -> Bytes {
    Bytes::from(format!("retry: {RETRY_MS}\n\n"))
}

/// 200 `text/event-stream`, not cached, not buffered by nginx-style proxies.
pub fn response<S>(body: S) -> HttpResponse
where
    S: Stream<Item = Result<Bytes, actix_web::Error>> + 'static,
{
    let mut r = HttpResponse::Ok()
        .content_type(CONTENT_TYPE)
        .insert_header((CACHE_CONTROL, HeaderValue::from_static("no-cache")))
        .streaming(body);
    r.headers_mut().insert(
        HeaderName::from_static("x-accel-buffering"),
        HeaderValue::from_static("no"),
    );
    r
}

/// Drives a stream machine (`next` returns the next bytes to send, `None` to end) as a body.
pub fn body<M, F, Fut>(machine: M, next: F) -> impl Stream<Item = Result<Bytes, actix_web::Error>>
where
    F: Fn(M) -> Fut + 'static,
    Fut: std::future::Future<Output = Option<(Bytes, M)>> + 'static,
    M: 'static,
{
    futures_util::stream::unfold(machine, move |m| {
        let fut = next(m);
        async move { fut.await.map(|(b, m)| (Ok(b), m)) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_events_and_comments() {
        assert_eq!(
            event("claim", Some("12-a"), r#"{"id":"a"}"#),
            "event: claim\nid: 12-a\ndata: {\"id\":\"a\"}\n\n"
        );
        assert_eq!(event("stats", None, "{}"), "event: stats\ndata: {}\n\n");
        assert_eq!(&keepalive()[..], b": keepalive\n\n");
    }
}
