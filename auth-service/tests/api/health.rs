use crate::helpers::*;
use serde_json::{json, Value};
use std::time::Duration;

#[tokio::test]
async fn healthz_is_ok() {
    let app = spawn_app().await;
    let r = app.get("/healthz").await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("x-request-id"));
    let b: Value = r.json().await.unwrap();
    assert_eq!(b, json!({"status": "ok"}));
    app.cleanup().await;
}

#[tokio::test]
async fn readyz_is_200_when_every_dependency_answers() {
    let app = spawn_app().await;
    let r = app.get("/readyz").await.unwrap();
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    assert_eq!(
        b["checks"],
        json!({"mongodb": "up", "redis": "up", "rabbitmq": "up"})
    );
    app.cleanup().await;
}

async fn readyz_names(var: &str, url: String, name: &str) {
    let mut env = base_env();
    env.insert(var.to_string(), url);
    let app = spawn_app_with(env).await;
    // Healthz answers even with a dependency down.
    assert_eq!(app.get("/healthz").await.unwrap().status(), 200);
    // Give the other dependencies time to come up so only the broken one is named.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (status, body) = problem(app.get("/readyz").await.unwrap()).await;
        assert_eq!(status, 503);
        assert_eq!(body["code"], "SERVICE_UNAVAILABLE");
        assert_eq!(body["checks"][name], "down");
        let others_up = ["mongodb", "redis", "rabbitmq"]
            .iter()
            .filter(|n| **n != name)
            .all(|n| body["checks"][*n] == "up");
        if others_up {
            assert!(body["detail"].as_str().unwrap().contains(name));
            break;
        }
        if name == "mongodb" {
            // Requests that need the database say so instead of failing with a 500.
            let r = app
                .post_json(
                    "/auth/register",
                    &json!({"email": "down@example.com", "password": PASSWORD, "nickname": "down"}),
                )
                .await;
            let (s, b) = problem(r).await;
            assert_eq!(
                (s, b["code"].as_str().unwrap()),
                (503, "SERVICE_UNAVAILABLE")
            );
            let (s, _) = problem(app.login("down@example.com", PASSWORD).await).await;
            assert_eq!(s, 503);
        }
        assert!(tokio::time::Instant::now() < deadline, "{body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.cleanup().await;
}

#[tokio::test]
async fn readyz_503_names_mongodb_when_it_is_unreachable() {
    readyz_names(
        "MONGODB_URI",
        format!(
            "mongodb://127.0.0.1:{}/?serverSelectionTimeoutMS=500",
            closed_port()
        ),
        "mongodb",
    )
    .await;
}

#[tokio::test]
async fn readyz_503_names_redis_when_it_is_unreachable() {
    readyz_names(
        "REDIS_URL",
        format!("redis://127.0.0.1:{}", closed_port()),
        "redis",
    )
    .await;
}

#[tokio::test]
async fn readyz_503_names_rabbitmq_when_it_is_unreachable() {
    readyz_names(
        "AMQP_URL",
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", closed_port()),
        "rabbitmq",
    )
    .await;
}

#[tokio::test]
async fn metrics_docs_and_openapi_are_served() {
    let app = spawn_app().await;
    app.get("/healthz").await.unwrap();
    let m = app.get("/metrics").await.unwrap();
    assert_eq!(m.status(), 200);
    let text = m.text().await.unwrap();
    assert!(text.contains("http_requests_total"), "{text}");
    let spec: Value = app
        .get("/openapi.json")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(spec["paths"]["/auth/login"].is_object(), "{spec}");
    assert_eq!(app.get("/swagger.json").await.unwrap().status(), 200);
    let docs = app.get("/docs").await.unwrap();
    assert!(docs.status().is_redirection());
    assert_eq!(app.get("/docs/index.html").await.unwrap().status(), 200);
    // A missing file must not panic the worker.
    let (s, b) = problem(app.get("/docs/missing.js").await.unwrap()).await;
    assert_eq!((s, b["code"].as_str().unwrap()), (404, "ROUTE_NOT_FOUND"));
    assert_eq!(app.get("/healthz").await.unwrap().status(), 200);
    app.cleanup().await;
}

#[tokio::test]
async fn unknown_route_is_404_and_wrong_method_is_405_problem_json() {
    let app = spawn_app().await;
    let (s, b) = problem(app.get("/nope").await.unwrap()).await;
    assert_eq!((s, b["code"].as_str().unwrap()), (404, "ROUTE_NOT_FOUND"));
    let (s, b) = problem(app.get("/auth/login").await.unwrap()).await;
    assert_eq!(
        (s, b["code"].as_str().unwrap()),
        (405, "METHOD_NOT_ALLOWED")
    );
    assert!(b["requestId"].is_string());
    let r = app
        .client
        .get(format!("{}/nope", app.address))
        .header("x-request-id", "trace-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "trace-123");
    let (_, b) = problem(r).await;
    assert_eq!(b["requestId"], "trace-123");
    app.cleanup().await;
}

#[tokio::test]
async fn graceful_shutdown_finishes_an_in_flight_request() {
    let mut env = base_env();
    // A slow hash keeps the registration in flight while the server is asked to stop.
    env.insert("BCRYPT_COST".into(), "12".into());
    let app = spawn_app_with(env).await;
    app.wait_ready().await;
    let client = app.client.clone();
    let url = format!("{}/auth/register", app.address);
    let in_flight = tokio::spawn(async move {
        client
            .post(url)
            .json(&json!({"email": "slow@example.com", "password": PASSWORD, "nickname": "slow"}))
            .send()
            .await
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    let stopping = tokio::spawn({
        let h = app.handle.clone();
        async move { h.stop(true).await }
    });
    let r = in_flight
        .await
        .unwrap()
        .expect("in-flight request completed");
    assert_eq!(r.status(), 201);
    stopping.await.unwrap();
    // Stopped: new connections are refused.
    assert!(app.get("/healthz").await.is_err());
    app.cleanup().await;
}

async fn outage_and_recovery(var: &str, name: &str) {
    let mut env = base_env();
    let real = env[var].clone();
    let proxy = TcpProxy::start(&host_port(&real)).await;
    env.insert(
        var.to_string(),
        real.replacen(&host_port(&real), &format!("127.0.0.1:{}", proxy.port), 1),
    );
    let app = spawn_app_with(env).await;
    app.wait_ready().await;
    proxy.cut().await;
    let body = app.wait_checks(name, "down").await;
    assert!(body["detail"].as_str().unwrap().contains(name), "{body}");
    assert_eq!(app.get("/healthz").await.unwrap().status(), 200);
    proxy.restore().await;
    app.wait_checks(name, "up").await;
    app.wait_ready().await;
    // And the service works again end to end.
    app.register(&format!("after-{name}@example.com")).await;
    app.cleanup().await;
}

#[tokio::test]
async fn recovers_when_redis_comes_back() {
    outage_and_recovery("REDIS_URL", "redis").await;
}

#[tokio::test]
async fn recovers_when_rabbitmq_comes_back() {
    outage_and_recovery("AMQP_URL", "rabbitmq").await;
}

#[tokio::test]
async fn recovers_when_mongodb_comes_back() {
    outage_and_recovery("MONGODB_URI", "mongodb").await;
}

#[tokio::test]
async fn openapi_documents_query_parameters_from_the_typed_struct() {
    let app = spawn_app().await;
    let spec: Value = app
        .get("/swagger.json")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let params = spec["paths"]["/users"]["get"]["parameters"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", spec["paths"]["/users"]));
    let by_name = |n: &str| {
        params
            .iter()
            .find(|p| p["name"] == n && p["in"] == "query")
            .cloned()
            .unwrap_or_else(|| panic!("no query parameter {n}: {params:?}"))
    };
    assert_eq!(by_name("limit")["type"], "integer");
    assert_eq!(by_name("limit")["maximum"], 100.0);
    assert_eq!(
        by_name("role")["enum"],
        json!(["USER", "OPERATOR", "AUDITOR", "ADMIN"])
    );
    assert_eq!(by_name("cursor")["type"], "string");
    assert_eq!(by_name("email")["type"], "string");
    assert!(by_name("email")["description"]
        .as_str()
        .is_some_and(|d| d.contains("OPERATOR")));
    app.cleanup().await;
}
