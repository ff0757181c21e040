use crate::helpers::{raw_chunked_post, spawn_app_with, write_routes};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};

#[tokio::test]
async fn bodies_over_the_limit_are_413_whether_sized_or_streamed() {
    let app = spawn_app_with(|s, _| s.limits.body_limit_bytes = 1024).await;
    let t = app.token(&["USER"]);
    let r = app
        .http
        .post(app.url("/events/1/claims"))
        .bearer_auth(&t)
        .body(vec![b'a'; 2048])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["code"], "PAYLOAD_TOO_LARGE");
    assert_eq!(app.game.hits(), 0, "rejected before reaching the upstream");

    // Chunked (no Content-Length): cut off while streaming.
    let auth = format!("Bearer {t}");
    let chunks: Vec<Vec<u8>> = (0..8).map(|_| vec![b'b'; 512]).collect();
    let (status, body) = raw_chunked_post(
        app.port,
        "/events/1/claims",
        &[("Authorization", &auth)],
        chunks,
    )
    .await;
    assert_eq!(status, 413, "{}", String::from_utf8_lossy(&body));

    // Within the limit passes.
    let r = app
        .http
        .post(app.url("/events/1/claims"))
        .bearer_auth(&t)
        .body(vec![b'c'; 1000])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_large_streamed_body_passes_intact() {
    let app = spawn_app_with(|s, _| s.limits.body_limit_bytes = 32 * 1024 * 1024).await;
    let t = app.token(&["ADMIN"]);
    let mut hasher = Sha256::new();
    let chunks: Vec<Vec<u8>> = (0..160u32)
        .map(|i| {
            let c: Vec<u8> = (0..65_536u32).map(|j| ((i * 31 + j) % 251) as u8).collect();
            hasher.update(&c);
            c
        })
        .collect();
    let expected = STANDARD.encode(hasher.finalize());
    let auth = format!("Bearer {t}");
    let (status, body) =
        raw_chunked_post(app.port, "/activities", &[("Authorization", &auth)], chunks).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let b: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(b["bodyLen"], 160 * 65_536);
    assert_eq!(b["bodySha256"], expected);
}

#[tokio::test]
async fn per_route_body_limit_override_applies() {
    let routes = write_routes(
        "routes:\n  - name: tiny\n    path: /tiny\n    upstream: game-event-service\n    access: public\n    body_limit_bytes: 10\n  - name: rest\n    path: /**\n    upstream: game-event-service\n    access: public\n",
    );
    let app = spawn_app_with(move |s, _| s.routes_file = routes).await;
    let r = app
        .http
        .post(app.url("/tiny"))
        .body("01234567890")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let r = app
        .http
        .post(app.url("/other"))
        .body("01234567890")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn per_client_rate_limit_answers_429_with_retry_after() {
    let app = spawn_app_with(|s, _| {
        s.limits.rate_limit_per_minute = 60;
        s.limits.rate_limit_burst = 3;
    })
    .await;
    let alice = app.token(&["USER"]);
    for i in 0..3 {
        let r = app.get("/events", Some(&alice)).await;
        assert_eq!(r.status(), 200, "request {i}");
        assert_eq!(r.headers()["ratelimit-limit"], "3");
        assert_eq!(
            r.headers()["ratelimit-remaining"].to_str().unwrap(),
            (2 - i).to_string()
        );
    }
    let r = app.get("/events", Some(&alice)).await;
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry));
    assert_eq!(r.headers()["ratelimit-remaining"], "0");
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["code"], "TOO_MANY_REQUESTS");
    // Keyed per user: another user on the same IP is not throttled.
    let bob = app.token(&["USER"]);
    assert_eq!(app.get("/events", Some(&bob)).await.status(), 200);
    // Anonymous callers are keyed by IP.
    for _ in 0..3 {
        assert_eq!(
            app.http
                .post(app.url("/auth/login"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    assert_eq!(
        app.http
            .post(app.url("/auth/login"))
            .send()
            .await
            .unwrap()
            .status(),
        429
    );
}

#[tokio::test]
async fn per_route_rate_limit_override_applies() {
    let routes = write_routes(
        "routes:\n  - name: strict\n    path: /strict\n    upstream: game-event-service\n    access: public\n    rate_limit: {per_minute: 60, burst: 1}\n  - name: rest\n    path: /**\n    upstream: game-event-service\n    access: public\n",
    );
    let app = spawn_app_with(move |s, _| s.routes_file = routes).await;
    assert_eq!(app.get("/strict", None).await.status(), 200);
    assert_eq!(app.get("/strict", None).await.status(), 429);
    for _ in 0..5 {
        assert_eq!(app.get("/lenient", None).await.status(), 200);
    }
}

async fn login(app: &crate::helpers::TestApp) -> u16 {
    app.http
        .post(app.url("/auth/login"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn small_budget(s: &mut api_gateway::configuration::Settings) {
    s.limits.rate_limit_per_minute = 60;
    s.limits.rate_limit_burst = 3;
}

#[tokio::test]
async fn two_gateway_instances_share_one_budget_per_client() {
    let prefix = format!("test:gw:{}:", uuid::Uuid::new_v4());
    let (p1, p2) = (prefix.clone(), prefix.clone());
    let one = spawn_app_with(move |s, _| {
        small_budget(s);
        s.limits.redis_prefix = p1;
    })
    .await;
    let two = spawn_app_with(move |s, _| {
        small_budget(s);
        s.limits.redis_prefix = p2;
    })
    .await;
    // The same anonymous client (127.0.0.1) spends its budget of 3 across both instances.
    assert_eq!(login(&one).await, 200);
    assert_eq!(login(&two).await, 200);
    let r = one.http.post(one.url("/auth/login")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["ratelimit-remaining"], "0");
    let r = two.http.post(two.url("/auth/login")).send().await.unwrap();
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    assert_eq!(login(&one).await, 429);
    assert_eq!(two.state.limits.shared_store_up(), Some(true));
    let ready: Value = one.get("/readyz", None).await.json().await.unwrap();
    assert_eq!(ready["checks"]["rateLimitStore"], "up");
}

#[tokio::test]
async fn with_redis_unreachable_each_instance_limits_on_its_own_without_delay() {
    let closed = crate::helpers::closed_port_url().replace("http://", "redis://");
    let (c1, c2) = (closed.clone(), closed.clone());
    let one = spawn_app_with(move |s, _| {
        small_budget(s);
        s.limits.redis_url = Some(secrecy::SecretString::from(c1));
    })
    .await;
    let two = spawn_app_with(move |s, _| {
        small_budget(s);
        s.limits.redis_url = Some(secrecy::SecretString::from(c2));
    })
    .await;
    let started = std::time::Instant::now();
    for _ in 0..3 {
        assert_eq!(login(&one).await, 200);
    }
    assert_eq!(login(&one).await, 429);
    // Per instance now: the other one still has its own budget.
    assert_eq!(login(&two).await, 200);
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    assert_eq!(one.state.limits.shared_store_up(), Some(false));
    let ready = one.get("/readyz", None).await;
    assert_eq!(ready.status(), 200, "a down store does not fail readiness");
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["checks"]["rateLimitStore"], "down");
}
