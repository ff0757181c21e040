use crate::helpers::{closed_port_url, spawn_app, spawn_app_with, wait_until};
use serde_json::Value;
use std::time::Duration;

#[tokio::test]
async fn healthz_answers_ok() {
    let app = spawn_app().await;
    let r = app.get("/healthz", None).await;
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["status"], "ok");
}

#[tokio::test]
async fn readyz_is_200_when_every_upstream_has_an_instance() {
    let app = spawn_app().await;
    let r = app.get("/readyz", None).await;
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["status"], "ready");
    assert_eq!(b["checks"]["auth-service"], "up");
    assert_eq!(b["checks"]["game-event-service"], "up");
    assert_eq!(b["checks"]["jwks"], "up");
}

#[tokio::test]
async fn readyz_is_503_naming_the_upstream_without_a_healthy_instance() {
    let app = spawn_app_with(|s, _| {
        s.upstreams
            .instances
            .insert("game-event-service".into(), closed_port_url());
        s.upstreams.health_check_interval = Some(Duration::from_millis(100));
    })
    .await;
    let ok = wait_until(Duration::from_secs(5), || async {
        app.get("/readyz", None).await.status() == 503
    })
    .await;
    assert!(ok, "readyz never turned 503");
    let r = app.get("/readyz", None).await;
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["code"], "SERVICE_UNAVAILABLE");
    assert!(b["detail"].as_str().unwrap().contains("game-event-service"));
    assert_eq!(b["checks"]["game-event-service"], "down");
    assert_eq!(b["checks"]["auth-service"], "up");
}

#[tokio::test]
async fn metrics_expose_per_route_counts_and_latency() {
    let app = spawn_app().await;
    let token = app.token(&["USER"]);
    assert_eq!(app.get("/events", Some(&token)).await.status(), 200);
    let text = app.metrics().await;
    assert!(
        text.contains(r#"gateway_http_requests_total{method="GET",route="events",status="200"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"gateway_http_request_duration_seconds_bucket{route="events""#));
    assert!(text.contains("gateway_upstream_circuit_state"));
}

#[tokio::test]
async fn own_routes_answer_405_problem_for_other_methods() {
    let app = spawn_app().await;
    let r = app.http.post(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["code"], "METHOD_NOT_ALLOWED");
}

#[tokio::test]
async fn graceful_shutdown_finishes_the_in_flight_request() {
    let app = spawn_app().await;
    let token = app.token(&["USER"]);
    let http = app.http.clone();
    let url = app.url("/events");
    let in_flight = tokio::spawn(async move {
        http.get(url)
            .bearer_auth(token)
            .header("x-test-delay-ms", "800")
            .send()
            .await
    });
    // Let the request reach the upstream before stopping.
    let reached = wait_until(Duration::from_secs(5), || async { app.game.hits() > 0 }).await;
    assert!(reached);
    let stop = tokio::spawn({
        let h = app.handle.clone();
        async move { h.stop(true).await }
    });
    let resp = in_flight
        .await
        .unwrap()
        .expect("in-flight request completes");
    assert_eq!(resp.status(), 200);
    stop.await.unwrap();
    // New connections are refused once stopped.
    let after = reqwest::Client::new()
        .get(app.url("/healthz"))
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    assert!(after.is_err());
}

#[tokio::test]
async fn readiness_recovers_when_the_upstream_comes_back() {
    let app = crate::helpers::spawn_app_with(|s, _| {
        s.upstreams.health_check_interval = Some(Duration::from_millis(100));
    })
    .await;
    let port = app.game.port();
    app.game.stop().await;
    let down = wait_until(Duration::from_secs(5), || async {
        app.get("/readyz", None).await.status() == 503
    })
    .await;
    assert!(down, "readyz never noticed the upstream going away");
    let t = app.token(&["USER"]);
    assert_eq!(app.get("/events", Some(&t)).await.status(), 503);
    let revived = crate::helpers::TestUpstream::start_on(
        port,
        "game-event-service",
        app.keys.clone(),
        crate::helpers::game_openapi(),
    )
    .await;
    let up = wait_until(Duration::from_secs(5), || async {
        app.get("/readyz", None).await.status() == 200
    })
    .await;
    assert!(up, "readyz never recovered");
    assert_eq!(app.get("/events", Some(&t)).await.status(), 200);
    assert!(revived.hits() >= 1);
}
