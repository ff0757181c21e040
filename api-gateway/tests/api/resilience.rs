use crate::helpers::{
    base_settings, closed_port_url, fixture, game_openapi, spawn_app_with, spawn_with_settings,
    write_routes, TestUpstream,
};
use serde_json::Value;
use std::time::{Duration, Instant};

async fn code(r: reqwest::Response) -> (u16, String) {
    let s = r.status().as_u16();
    let b: Value = r.json().await.unwrap_or(Value::Null);
    (s, b["code"].as_str().unwrap_or("").to_owned())
}

#[tokio::test]
async fn closed_port_is_502_then_fast_503_while_the_instance_cools_off() {
    let app = spawn_app_with(|s, _| {
        s.upstreams
            .instances
            .insert("game-event-service".into(), closed_port_url());
    })
    .await;
    let t = app.token(&["USER"]);
    assert_eq!(
        code(app.get("/events", Some(&t)).await).await,
        (502, "BAD_GATEWAY".into())
    );
    let started = Instant::now();
    let r = app.get("/events", Some(&t)).await;
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(code(r).await, (503, "SERVICE_UNAVAILABLE".into()));
    assert!(started.elapsed() < Duration::from_millis(500));
    // The other upstream is unaffected.
    assert_eq!(app.get("/auth/me", Some(&t)).await.status(), 200);
}

#[tokio::test]
async fn circuit_opens_after_repeated_failures_and_answers_503_fast() {
    let app = spawn_app_with(|s, _| {
        s.upstreams
            .instances
            .insert("game-event-service".into(), closed_port_url());
        s.upstreams.instance_cooloff = Duration::ZERO;
        s.upstreams.circuit_failure_threshold = 2;
        s.upstreams.circuit_open_duration = Duration::from_secs(30);
    })
    .await;
    let t = app.token(&["USER"]);
    assert_eq!(app.get("/events", Some(&t)).await.status(), 502);
    assert_eq!(app.get("/events", Some(&t)).await.status(), 502);
    let r = app.get("/events", Some(&t)).await;
    let (s, c) = code(r).await;
    assert_eq!((s, c.as_str()), (503, "SERVICE_UNAVAILABLE"));
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"gateway_upstream_circuit_state{upstream="game-event-service"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn slow_upstream_is_504_at_the_route_timeout() {
    let routes = write_routes(
        "routes:\n  - name: quick\n    path: /quick/**\n    upstream: game-event-service\n    access: public\n    timeout_ms: 200\n  - name: rest\n    path: /**\n    upstream: game-event-service\n    access: public\n",
    );
    let app = spawn_app_with(move |s, _| {
        s.routes_file = routes;
        s.upstreams.timeout = Duration::from_millis(600);
    })
    .await;
    let started = Instant::now();
    let r = app
        .http
        .get(app.url("/quick/x"))
        .header("x-test-delay-ms", "2000")
        .send()
        .await
        .unwrap();
    assert_eq!(code(r).await, (504, "GATEWAY_TIMEOUT".into()));
    assert!(started.elapsed() < Duration::from_millis(1500));
    // The global default applies elsewhere.
    let r = app
        .http
        .get(app.url("/other"))
        .header("x-test-delay-ms", "300")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = app
        .http
        .get(app.url("/other"))
        .header("x-test-delay-ms", "2000")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 504);
}

#[tokio::test]
async fn requests_are_balanced_across_two_instances() {
    let fx = fixture().await;
    let second = TestUpstream::start("game-event-service", fx.keys.clone(), game_openapi()).await;
    let mut s = base_settings(&fx);
    s.upstreams.instances.insert(
        "game-event-service".into(),
        format!("{},{}", fx.game.url, second.url),
    );
    let app = spawn_with_settings(fx, s).await;
    let t = app.token(&["USER"]);
    for _ in 0..10 {
        assert_eq!(app.get("/events", Some(&t)).await.status(), 200);
    }
    assert_eq!(app.game.hits(), 5);
    assert_eq!(second.hits(), 5);
}

#[tokio::test]
async fn a_dead_instance_is_skipped_and_idempotent_requests_retry() {
    let fx = fixture().await;
    let mut s = base_settings(&fx);
    s.upstreams.instances.insert(
        "game-event-service".into(),
        format!("{},{}", closed_port_url(), fx.game.url),
    );
    let app = spawn_with_settings(fx, s).await;
    let t = app.token(&["USER"]);
    for i in 0..6 {
        assert_eq!(app.get("/events", Some(&t)).await.status(), 200, "GET {i}");
    }
    assert_eq!(app.game.hits(), 6);
    // The dead instance is out of rotation, so even non-idempotent requests succeed.
    for i in 0..4 {
        let r = app
            .http
            .post(app.url("/events/1/claims"))
            .bearer_auth(&t)
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "POST {i}");
    }
    let b: Value = app.get("/readyz", None).await.json().await.unwrap();
    assert_eq!(b["checks"]["game-event-service"], "up");
}
