//! Live decisions over Server-Sent Events (SPEC §8): the claim stream and the stats stream,
//! across two instances sharing MongoDB, Redis and RabbitMQ, with replay, heartbeats, and a
//! stream that fell behind.
use crate::helpers::{spawn_app_with, spawn_sibling, TestApp};
use game_event_service::domain::decision_cursor::DecisionCursor;
use game_event_service::domain::UserId;
use game_event_service::streams::claims::ClaimStream;
use game_event_service::streams::Credential;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// One SSE frame: an event (name, id, data) or a comment.
#[derive(Debug, Clone, Default)]
pub struct Frame {
    pub event: Option<String>,
    pub id: Option<String>,
    pub data: Option<String>,
    pub comment: Option<String>,
}

impl Frame {
    pub fn json(&self) -> Value {
        serde_json::from_str(self.data.as_deref().unwrap_or("null")).unwrap()
    }
}

pub struct Sse {
    res: reqwest::Response,
    buf: String,
}

fn parse_frame(block: &str) -> Frame {
    let mut f = Frame::default();
    for line in block.lines() {
        if let Some(c) = line.strip_prefix(':') {
            f.comment = Some(c.trim().to_string());
        } else if let Some((k, v)) = line.split_once(':') {
            let v = v.strip_prefix(' ').unwrap_or(v).to_string();
            match k {
                "event" => f.event = Some(v),
                "id" => f.id = Some(v),
                "data" => f.data = Some(v),
                _ => {}
            }
        }
    }
    f
}

impl Sse {
    pub async fn open(app: &TestApp, path: &str, token: &str, last_id: Option<&str>) -> Sse {
        let mut rb = app
            .client
            .get(format!("{}{}", app.address, path))
            .bearer_auth(token)
            .timeout(Duration::from_secs(120));
        if let Some(id) = last_id {
            rb = rb.header("Last-Event-ID", id);
        }
        let res = rb.send().await.expect("stream request");
        assert_eq!(res.status(), 200, "{path}");
        let h = res.headers();
        assert_eq!(h["content-type"], "text/event-stream");
        assert_eq!(h["cache-control"], "no-cache");
        assert_eq!(h["x-accel-buffering"], "no");
        Sse {
            res,
            buf: String::new(),
        }
    }

    /// The next frame within `timeout` (comments and `retry:` included).
    pub async fn frame(&mut self, timeout: Duration) -> Option<Frame> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                return Some(parse_frame(&block));
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            match tokio::time::timeout(left, self.res.chunk()).await {
                Ok(Ok(Some(chunk))) => self.buf.push_str(std::str::from_utf8(&chunk).unwrap()),
                Ok(_) | Err(_) => return None,
            }
        }
    }

    /// Whether the server ends the stream within `timeout` (frames before the end are skipped).
    pub async fn ends_within(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return false;
            };
            match tokio::time::timeout(left, self.res.chunk()).await {
                Ok(Ok(Some(_))) => continue,
                Ok(Ok(None)) | Ok(Err(_)) => return true,
                Err(_) => return false,
            }
        }
    }

    /// The next event named `name` within `timeout`, skipping comments and other frames.
    pub async fn event(&mut self, name: &str, timeout: Duration) -> Option<Frame> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let f = self.frame(left).await?;
            if f.event.as_deref() == Some(name) {
                return Some(f);
            }
        }
    }
}

async fn fast_app() -> TestApp {
    spawn_app_with(|s| s.streams.heartbeat_seconds = 1).await
}

fn event_id(e: &Value) -> &str {
    e["id"].as_str().unwrap()
}

async fn claim_id(app: &TestApp, event: &Value, token: &str) -> String {
    let r = app.claim(event_id(event), token, &[]).await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_decision_made_on_one_instance_reaches_a_stream_held_on_another() {
    let a = fast_app().await;
    let mut b = spawn_sibling(&a, |s| s.claims.worker_enabled = false).await;
    let user = a.token("u-live", &["USER"]);
    let mut stream = Sse::open(&b, "/claims/me/stream", &user, None).await;
    let first = stream.frame(Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        first.data, None,
        "the stream starts with its retry hint only"
    );
    // B's own fanout queue is bound once its consumers run.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let e = a.create_event(json!({})).await;
    let other = a.token("u-other", &["USER"]);
    let theirs = claim_id(&a, &e, &other).await;
    let mine = claim_id(&a, &e, &user).await;
    let f = stream
        .event("claim", Duration::from_secs(20))
        .await
        .expect("decision pushed to instance B");
    let pushed = f.json();
    assert_eq!(pushed["id"], mine.as_str(), "only the caller's own claims");
    assert_ne!(pushed["id"], theirs.as_str());
    assert_eq!(pushed["status"], "APPROVED");
    // Exactly the JSON of GET /claims/{id}.
    let stored = b.get(&format!("/claims/{mine}"), &user).await;
    assert_eq!(pushed, stored.body);
    let cursor = DecisionCursor::parse(f.id.as_deref().unwrap()).unwrap();
    assert_eq!(cursor.claim_id.as_str(), mine);
    b.stop().await;
    a.cleanup().await;
}

#[tokio::test]
async fn last_event_id_replays_the_decisions_made_after_it() {
    let app = fast_app().await;
    let user = app.token("u-replay", &["USER"]);
    let mut live = Sse::open(&app, "/claims/me/stream", &user, None).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let e = app.create_event(json!({})).await;
        let c = claim_id(&app, &e, &user).await;
        app.wait_decided(&c).await;
    }
    for _ in 0..3 {
        let f = live.event("claim", Duration::from_secs(20)).await.unwrap();
        ids.push((f.id.clone().unwrap(), f.json()));
    }
    drop(live);

    // Reconnecting after the first: the second and the third, in order, then live.
    let mut again = Sse::open(&app, "/claims/me/stream", &user, Some(&ids[0].0)).await;
    for (id, body) in &ids[1..] {
        let f = again.event("claim", Duration::from_secs(10)).await.unwrap();
        assert_eq!(f.id.as_ref(), Some(id));
        assert_eq!(&f.json(), body);
    }
    let none = again.event("claim", Duration::from_millis(2500)).await;
    assert!(none.is_none(), "nothing before the cursor: {none:?}");

    // After the last: nothing to replay, heartbeats only.
    let mut last = Sse::open(&app, "/claims/me/stream", &user, Some(&ids[2].0)).await;
    let mut comments = 0;
    let until = Instant::now() + Duration::from_millis(2500);
    while let Some(f) = last
        .frame(until.saturating_duration_since(Instant::now()))
        .await
    {
        assert!(f.event.is_none(), "unexpected {f:?}");
        comments += usize::from(f.comment.as_deref() == Some("keepalive"));
        if Instant::now() >= until {
            break;
        }
    }
    assert!(
        comments >= 1,
        "a keepalive comment within the heartbeat interval"
    );

    // A Last-Event-ID this stream never sent: 400 naming the header.
    for bad in ["garbage", "12-{\"$gt\":\"\"}"] {
        let r = app
            .request(
                reqwest::Method::GET,
                "/claims/me/stream",
                Some(&user),
                None,
                &[("Last-Event-ID", bad)],
            )
            .await;
        assert_eq!(r.status, 400, "{bad}");
        assert_eq!(r.headers["content-type"], "application/problem+json");
        assert!(r.body.to_string().contains("Last-Event-ID"), "{:?}", r.body);
    }
    app.cleanup().await;
}

#[tokio::test]
async fn heartbeats_keep_an_idle_stream_open() {
    let app = fast_app().await;
    let user = app.token("u-idle", &["USER"]);
    let mut s = Sse::open(&app, "/claims/me/stream", &user, None).await;
    let retry = s.frame(Duration::from_secs(2)).await.unwrap();
    assert!(retry.comment.is_none() && retry.event.is_none());
    let started = Instant::now();
    for _ in 0..2 {
        let f = s.frame(Duration::from_secs(3)).await.expect("keepalive");
        assert_eq!(f.comment.as_deref(), Some("keepalive"));
    }
    assert!(started.elapsed() >= Duration::from_millis(1500));
    app.cleanup().await;
}

#[tokio::test]
async fn streams_need_a_token_and_the_stats_stream_needs_staff() {
    let app = fast_app().await;
    let e = app.create_event(json!({})).await;
    let stats = format!("/events/{}/stats/stream", event_id(&e));
    for path in ["/claims/me/stream", stats.as_str()] {
        let r = app
            .request(reqwest::Method::GET, path, None, None, &[])
            .await;
        assert_eq!(r.status, 401, "{path}");
        assert_eq!(r.headers["content-type"], "application/problem+json");
    }
    let user = app.token("u-nosy", &["USER"]);
    let r = app.get(&stats, &user).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.headers["content-type"], "application/problem+json");
    let auditor = app.token("aud-1", &["AUDITOR"]);
    let r = app.get("/events/nope-404/stats/stream", &auditor).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.headers["content-type"], "application/problem+json");
    let r = app
        .request(reqwest::Method::POST, &stats, Some(&auditor), None, &[])
        .await;
    assert_eq!(r.status, 405);
    app.cleanup().await;
}

#[tokio::test]
async fn the_stats_stream_pushes_a_snapshot_then_changes_at_most_once_a_second() {
    let app = fast_app().await;
    let e = app.create_event(json!({"maxClaims": 10})).await;
    let path = format!("/events/{}/stats", event_id(&e));
    let auditor = app.token("aud-2", &["AUDITOR"]);
    let mut s = Sse::open(&app, &format!("{path}/stream"), &auditor, None).await;
    let first = s.event("stats", Duration::from_secs(5)).await.unwrap();
    assert_eq!(first.json(), app.get(&path, &auditor).await.body);
    assert_eq!(first.json()["approved"], 0);
    assert_eq!(first.json()["stockLeft"], 10);

    let mut claims = Vec::new();
    for u in ["s1", "s2", "s3"] {
        let t = app.token(u, &["USER"]);
        claims.push(claim_id(&app, &e, &t).await);
    }
    let mut pushes: Vec<(Instant, Value)> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while pushes.last().is_none_or(|(_, v)| v["approved"] != 3) && Instant::now() < deadline {
        if let Some(f) = s.event("stats", Duration::from_secs(10)).await {
            pushes.push((Instant::now(), f.json()));
        }
    }
    let (_, last) = pushes.last().expect("stats pushed");
    assert_eq!(last["approved"], 3, "{pushes:?}");
    assert_eq!(last["stockLeft"], 7);
    assert_eq!(last, &app.get(&path, &auditor).await.body);
    for w in pushes.windows(2) {
        assert_ne!(w[0].1, w[1].1, "only changes are pushed");
        assert!(
            w[1].0 - w[0].0 >= Duration::from_millis(900),
            "at most once a second"
        );
    }
    app.cleanup().await;
}

#[tokio::test]
async fn a_stream_that_fell_behind_catches_up_from_the_store_once_each() {
    let app = spawn_app_with(|s| s.streams.buffer = 2).await;
    let user = UserId::parse("u-slow").unwrap();
    let token = app.token("u-slow", &["USER"]);
    // Not polled while decisions are made: its receiver falls behind the channel.
    let stream = ClaimStream::open(
        &app.state.live,
        app.state.store.clone(),
        user,
        None,
        Credential::new(app.state.auth.clone(), token.clone()),
        slog::Logger::root(slog::Discard, slog::o!()),
    );
    let mut ids = Vec::new();
    for _ in 0..4 {
        let e = app.create_event(json!({})).await;
        let c = claim_id(&app, &e, &token).await;
        app.wait_decided(&c).await;
        ids.push(c);
    }
    let n = json!({"claims": [{"id": ids[0], "userId": "u-slow", "eventId": "x", "status": "APPROVED"}]});
    for _ in 0..5 {
        app.state.live.receive(n.to_string().as_bytes()).await;
    }
    let mut got: Vec<String> = Vec::new();
    let mut s = stream;
    while got.len() < 4 {
        let (bytes, next) = tokio::time::timeout(Duration::from_secs(10), s.next())
            .await
            .expect("stream step")
            .expect("stream open");
        s = next;
        for block in std::str::from_utf8(&bytes).unwrap().split("\n\n") {
            let f = parse_frame(block);
            if f.event.as_deref() == Some("claim") {
                got.push(f.json()["id"].as_str().unwrap().to_string());
            }
        }
    }
    assert_eq!(got, ids, "each decision once, oldest first");
    drop(s);
    assert_eq!(app.state.live.open_claim_streams(), 0);
    app.cleanup().await;
}

#[tokio::test]
async fn the_openapi_document_says_both_streams_are_event_streams() {
    let app = fast_app().await;
    let doc = app
        .request(reqwest::Method::GET, "/openapi.json", None, None, &[])
        .await
        .body;
    for path in ["/claims/me/stream", "/events/{id}/stats/stream"] {
        let op = &doc["paths"][path]["get"];
        let ok = &op["responses"]["200"]["content"];
        assert!(ok["text/event-stream"].is_object(), "{path}: {op}");
        assert!(ok["application/json"].is_null(), "{path}: {op}");
        for status in ["400", "401", "403"] {
            let c = &op["responses"][status]["content"];
            assert!(c["application/problem+json"].is_object(), "{path} {status}");
        }
        assert_eq!(op["security"][0]["bearerAuth"], json!([]));
    }
    let op = &doc["paths"]["/events/{id}/stats/stream"]["get"];
    assert!(op["responses"]["404"].is_object());
    let v2 = app
        .request(reqwest::Method::GET, "/swagger.json", None, None, &[])
        .await
        .body;
    let produces = &v2["paths"]["/claims/me/stream"]["get"]["produces"];
    assert_eq!(produces[0], "text/event-stream", "{produces}");
    app.cleanup().await;
}

#[tokio::test]
async fn a_stream_ends_once_its_session_is_revoked() {
    let app = fast_app().await;
    let e = app.create_event(json!({})).await;
    let sid = uuid::Uuid::new_v4().to_string();
    let user = app.auth.token_with("u-revoked", &["USER"], &sid, |_| {});
    let staff_sid = uuid::Uuid::new_v4().to_string();
    let staff = app
        .auth
        .token_with("op-revoked", &["OPERATOR"], &staff_sid, |_| {});
    let mut mine = Sse::open(&app, "/claims/me/stream", &user, None).await;
    let stats = format!("/events/{}/stats/stream", event_id(&e));
    let mut theirs = Sse::open(&app, &stats, &staff, None).await;
    assert!(
        !mine.ends_within(Duration::from_millis(1500)).await,
        "open while valid"
    );
    let until = chrono::Utc::now() + chrono::Duration::hours(1);
    app.state.auth.revoke(&sid, until);
    app.state.auth.revoke(&staff_sid, until);
    assert!(
        mine.ends_within(Duration::from_secs(5)).await,
        "claim stream ended"
    );
    assert!(
        theirs.ends_within(Duration::from_secs(5)).await,
        "stats stream ended"
    );
    let r = app.get("/claims/me/stream", &user).await;
    assert_eq!(r.status, 401, "and cannot be reopened");
    app.cleanup().await;
}
