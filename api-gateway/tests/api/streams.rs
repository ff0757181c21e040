//! Server-Sent Events through the gateway (SPEC §8): a real streaming upstream proves that
//! events reach the client before the upstream finishes (no buffering), that no upstream
//! timeout cuts a stream once its head arrived, that `Last-Event-ID` is forwarded, that a
//! client hanging up closes the upstream connection, and that a long stream never counts
//! against the upstream's circuit.
use crate::helpers::{base_settings, fixture, spawn_with_settings, wait_until, TestApp};
use actix_web::web::Bytes;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use api_gateway::upstream::CircuitState;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::broadcast;

/// An upstream whose `/claims/me/stream` and `/events/{id}/stats/stream` stream whatever the
/// test sends, with a `: ping` comment every 200 ms (which is how it notices a hang-up).
#[derive(Clone)]
struct SseUpstream {
    events: broadcast::Sender<String>,
    last_event_ids: Arc<Mutex<Vec<Option<String>>>>,
    open: Arc<AtomicUsize>,
    hits: Arc<AtomicUsize>,
}

/// Counts an open upstream stream until the server drops it.
struct OpenGuard(Arc<AtomicUsize>, Arc<AtomicBool>);
impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
        self.1.store(true, Ordering::SeqCst);
    }
}

async fn stream(req: HttpRequest, st: web::Data<SseUpstream>) -> HttpResponse {
    st.hits.fetch_add(1, Ordering::SeqCst);
    let last = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    st.last_event_ids.lock().unwrap().push(last);
    st.open.fetch_add(1, Ordering::SeqCst);
    let guard = OpenGuard(st.open.clone(), Arc::new(AtomicBool::new(false)));
    let rx = st.events.subscribe();
    let mut ping = tokio::time::interval(Duration::from_millis(200));
    ping.reset();
    let body = futures_util::stream::unfold(
        (rx, ping, guard, true),
        |(mut rx, mut ping, guard, first)| async move {
            if first {
                let b = Bytes::from_static(b"retry: 1000\n\n");
                return Some((Ok::<_, actix_web::Error>(b), (rx, ping, guard, false)));
            }
            let chunk = tokio::select! {
                _ = ping.tick() => Bytes::from_static(b": ping\n\n"),
                m = rx.recv() => match m {
                    Ok(frame) => Bytes::from(frame),
                    Err(_) => return None,
                },
            };
            Some((Ok(chunk), (rx, ping, guard, false)))
        },
    );
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("cache-control", "no-cache"))
        .insert_header(("x-accel-buffering", "no"))
        .streaming(body)
}

async fn start_sse_upstream() -> (SseUpstream, String, actix_web::dev::ServerHandle) {
    let st = SseUpstream {
        events: broadcast::channel(16).0,
        last_event_ids: Arc::default(),
        open: Arc::default(),
        hits: Arc::default(),
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let data = st.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(data.clone()))
            .route("/claims/me/stream", web::get().to(stream))
            .route("/events/{id}/stats/stream", web::get().to(stream))
            .default_service(web::to(|| async { HttpResponse::Ok().body("{}") }))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    (st, format!("http://127.0.0.1:{port}"), handle)
}

/// The gateway in front of the streaming upstream, with a 1 s upstream timeout (streams must
/// outlive it).
async fn gateway() -> (TestApp, SseUpstream, actix_web::dev::ServerHandle) {
    let (up, url, handle) = start_sse_upstream().await;
    let fx = fixture().await;
    let mut s = base_settings(&fx);
    s.upstreams
        .instances
        .insert("game-event-service".into(), url);
    s.upstreams.timeout = Duration::from_secs(1);
    (spawn_with_settings(fx, s).await, up, handle)
}

/// Reads until `needle` arrived (or the deadline passed); returns what was read.
async fn read_until(
    res: &mut reqwest::Response,
    buf: &mut String,
    needle: &str,
    within: Duration,
) -> bool {
    let deadline = Instant::now() + within;
    while !buf.contains(needle) {
        let Some(left) = deadline.checked_duration_since(Instant::now()) else {
            return false;
        };
        match tokio::time::timeout(left, res.chunk()).await {
            Ok(Ok(Some(c))) => buf.push_str(std::str::from_utf8(&c).unwrap()),
            _ => return false,
        }
    }
    true
}

#[tokio::test]
async fn events_stream_through_unbuffered_past_the_upstream_timeout() {
    let (app, up, handle) = gateway().await;
    let token = app.token(&["USER"]);
    let mut res = app
        .http
        .get(app.url("/claims/me/stream"))
        .bearer_auth(&token)
        .header("Last-Event-ID", "1700000000000-0190abcd")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    assert_eq!(res.headers()["cache-control"], "no-cache");
    assert_eq!(res.headers()["x-accel-buffering"], "no");
    assert!(res.headers().get("content-length").is_none());
    let mut buf = String::new();
    assert!(read_until(&mut res, &mut buf, "retry: 1000", Duration::from_secs(3)).await);
    assert_eq!(
        up.last_event_ids.lock().unwrap().as_slice(),
        &[Some("1700000000000-0190abcd".to_owned())],
        "Last-Event-ID reaches the upstream"
    );

    // Each event arrives while the upstream is still streaming.
    for (i, wait) in [(1, 0), (2, 1500), (3, 1200)] {
        tokio::time::sleep(Duration::from_millis(wait)).await;
        let frame = format!("event: claim\nid: {i}\ndata: {{\"n\":{i}}}\n\n");
        let sent = Instant::now();
        up.events.send(frame.clone()).unwrap();
        assert!(
            read_until(&mut res, &mut buf, &frame, Duration::from_secs(2)).await,
            "event {i} not delivered: {buf:?}"
        );
        assert!(
            sent.elapsed() < Duration::from_millis(1000),
            "event {i} was held back"
        );
    }
    assert!(buf.contains(": ping"), "comments pass through");
    // 2.7 s of stream behind a 1 s upstream timeout, and the circuit never opened.
    let upstream = app.state.upstreams.get("game-event-service").unwrap();
    assert_eq!(upstream.circuit.state(), CircuitState::Closed);
    drop(res);
    handle.stop(false).await;
}

#[tokio::test]
async fn a_client_hanging_up_closes_the_upstream_stream() {
    let (app, up, handle) = gateway().await;
    let token = app.token(&["OPERATOR"]);
    let mut res = app
        .http
        .get(app.url("/events/e-1/stats/stream"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut buf = String::new();
    assert!(read_until(&mut res, &mut buf, "retry", Duration::from_secs(3)).await);
    assert_eq!(up.open.load(Ordering::SeqCst), 1);
    drop(res);
    let closed = wait_until(Duration::from_secs(5), || async {
        up.open.load(Ordering::SeqCst) == 0
    })
    .await;
    assert!(closed, "upstream stream still open after the client left");
    let upstream = app.state.upstreams.get("game-event-service").unwrap();
    assert_eq!(upstream.circuit.state(), CircuitState::Closed);
    // The next request is served as usual.
    let r = app.get("/claims/me/stream", Some(&token)).await;
    assert_eq!(r.status(), 200);
    drop(r);
    handle.stop(false).await;
}

#[tokio::test]
async fn the_stream_routes_check_tokens_and_roles_at_the_edge() {
    let (app, up, handle) = gateway().await;
    let r = app.get("/claims/me/stream", None).await;
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let user = app.token(&["USER"]);
    let r = app.get("/events/e-1/stats/stream", Some(&user)).await;
    assert_eq!(r.status(), 403);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    assert_eq!(
        up.hits.load(Ordering::SeqCst),
        0,
        "refused before the upstream"
    );
    for roles in [["OPERATOR"], ["AUDITOR"], ["ADMIN"]] {
        let t = app.token(&roles);
        let r = app.get("/events/e-1/stats/stream", Some(&t)).await;
        assert_eq!(r.status(), 200, "{roles:?}");
    }
    let r = app.get("/claims/me/stream", Some(&user)).await;
    assert_eq!(r.status(), 200);
    handle.stop(false).await;
}
