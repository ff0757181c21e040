use crate::helpers::*;
use secrecy::SecretString;
use std::time::Duration;

#[tokio::test]
async fn healthz_and_readyz_answer_when_dependencies_are_up() {
    let app = spawn_app().await;
    let r = app
        .request(reqwest::Method::GET, "/healthz", None, None, &[])
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], "ok");
    assert!(r.headers.get("x-request-id").is_some());
    let r = app
        .request(reqwest::Method::GET, "/readyz", None, None, &[])
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["checks"]["mongodb"], "up");
    assert_eq!(r.body["checks"]["redis"], "up");
    assert_eq!(r.body["checks"]["rabbitmq"], "up");
    app.cleanup().await;
}

#[tokio::test]
async fn readyz_names_mongodb_when_it_is_down() {
    let app = spawn_app_with(|s| {
        s.mongodb.uri = SecretString::from("mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300");
        s.mongodb.timeout_ms = 300;
    })
    .await;
    let r = app
        .request(reqwest::Method::GET, "/readyz", None, None, &[])
        .await;
    assert_eq!(r.status, 503);
    assert_eq!(r.body["code"], "SERVICE_UNAVAILABLE");
    assert!(r.body["detail"].as_str().unwrap().contains("mongodb"));
    assert_eq!(r.body["checks"]["mongodb"], "down");
    assert_eq!(r.body["checks"]["redis"], "up");
    // healthz still answers.
    let r = app
        .request(reqwest::Method::GET, "/healthz", None, None, &[])
        .await;
    assert_eq!(r.status, 200);
    app.cleanup().await;
}

#[tokio::test]
async fn readyz_names_redis_when_it_is_down() {
    let app = spawn_app_with(|s| s.redis.url = SecretString::from("redis://127.0.0.1:1")).await;
    let r = app
        .request(reqwest::Method::GET, "/readyz", None, None, &[])
        .await;
    assert_eq!(r.status, 503);
    assert!(r.body["detail"].as_str().unwrap().contains("redis"));
    assert_eq!(r.body["checks"]["redis"], "down");
    app.cleanup().await;
}

#[tokio::test]
async fn readyz_names_rabbitmq_when_it_is_down() {
    let auth = std::sync::Arc::new(AuthStub::start().await);
    let mut s = test_settings(&auth.url);
    s.amqp.url = SecretString::from("amqp://guest:guest@127.0.0.1:1/%2f");
    let app = spawn_with_settings(s, auth, false).await;
    let r = app
        .request(reqwest::Method::GET, "/readyz", None, None, &[])
        .await;
    assert_eq!(r.status, 503);
    assert!(r.body["detail"].as_str().unwrap().contains("rabbitmq"));
    assert_eq!(r.body["checks"]["rabbitmq"], "down");
    assert_eq!(r.body["checks"]["mongodb"], "up");
    app.cleanup().await;
}

#[tokio::test]
async fn unknown_route_is_404_and_wrong_method_is_405_problem_json() {
    let app = spawn_app().await;
    let r = app
        .request(reqwest::Method::GET, "/nope", None, None, &[])
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["code"], "ROUTE_NOT_FOUND");
    assert_eq!(
        r.headers.get("content-type").unwrap(),
        "application/problem+json"
    );
    let r = app
        .request(reqwest::Method::DELETE, "/healthz", None, None, &[])
        .await;
    assert_eq!(r.status, 405);
    assert_eq!(r.body["code"], "METHOD_NOT_ALLOWED");
    let r = app
        .request(
            reqwest::Method::PUT,
            "/events",
            Some(&app.admin()),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, 405);
    app.cleanup().await;
}

#[tokio::test]
async fn docs_openapi_and_metrics_are_served_and_missing_doc_files_are_404() {
    let app = spawn_app().await;
    let r = app
        .request(reqwest::Method::GET, "/openapi.json", None, None, &[])
        .await;
    assert_eq!(r.status, 200);
    assert!(
        r.body["paths"]["/events/{id}/claims"].is_object(),
        "{:?}",
        r.body["paths"]
    );
    let r = app
        .request(reqwest::Method::GET, "/docs/index.html", None, None, &[])
        .await;
    assert_eq!(r.status, 200);
    let r = app
        .request(reqwest::Method::GET, "/docs/nope.js", None, None, &[])
        .await;
    assert_eq!(r.status, 404);
    // The server is still healthy after that.
    let r = app
        .request(reqwest::Method::GET, "/healthz", None, None, &[])
        .await;
    assert_eq!(r.status, 200);
    let r = app
        .request(reqwest::Method::GET, "/metrics", None, None, &[])
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body.as_str().unwrap().contains("http_requests_total"));
    app.cleanup().await;
}

#[tokio::test]
async fn graceful_shutdown_finishes_an_in_flight_request() {
    let mut app = spawn_app_with(|s| s.claims.worker_enabled = false).await;
    let event = app.create_event(serde_json::json!({})).await;
    let id = event["id"].as_str().unwrap().to_string();
    let token = app.token("user-shutdown", &["USER"]);
    let client = app.client.clone();
    let url = format!("{}/events/{id}/claims", app.address);
    // No worker runs, so this request waits its full 2 seconds.
    let in_flight = tokio::spawn(async move {
        client
            .post(url)
            .bearer_auth(token)
            .header("Prefer", "wait=2")
            .send()
            .await
            .map(|r| r.status().as_u16())
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    app.stop().await;
    assert_eq!(in_flight.await.unwrap().unwrap(), 202);
    // New connections are refused once stopped.
    let r = reqwest::Client::new()
        .get(format!("{}/healthz", app.address))
        .send()
        .await;
    assert!(r.is_err());
    app.cleanup().await;
}

#[tokio::test]
async fn request_id_is_echoed_or_generated_and_oversized_bodies_are_413() {
    let app = spawn_app_with(|s| s.app.body_limit_bytes = 1024).await;
    let r = app
        .request(
            reqwest::Method::GET,
            "/healthz",
            None,
            None,
            &[("X-Request-Id", "abc.123_x-y")],
        )
        .await;
    assert_eq!(r.headers.get("x-request-id").unwrap(), "abc.123_x-y");
    let r = app
        .request(
            reqwest::Method::GET,
            "/nope",
            None,
            None,
            &[("X-Request-Id", "bad id!")],
        )
        .await;
    let generated = r
        .headers
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert_ne!(generated, "bad id!");
    assert_eq!(r.body["requestId"], generated.as_str());
    let big = serde_json::json!({"title": "x".repeat(4096)});
    let r = app.post("/events", &app.operator(), big).await;
    assert_eq!(r.status, 413);
    assert_eq!(r.body["code"], "PAYLOAD_TOO_LARGE");
    app.cleanup().await;
}

#[tokio::test]
async fn dependencies_that_come_back_are_reconnected_automatically() {
    fn host_port(url: &str) -> String {
        let rest = url.split("://").nth(1).unwrap();
        let rest = rest.rsplit('@').next().unwrap();
        rest.split(['/', '?']).next().unwrap().to_string()
    }
    let mut mongo = Proxy::new(&host_port(&mongodb_uri()));
    let mut rabbit = Proxy::new(&host_port(&amqp_url()));
    let (mp, rp) = (mongo.port, rabbit.port);
    let app = SpawnBuilder::new(|s| {
        s.mongodb.uri =
            SecretString::from(format!("mongodb://127.0.0.1:{mp}/?directConnection=true"));
        s.mongodb.timeout_ms = 500;
        s.amqp.url = SecretString::from(format!("amqp://guest:guest@127.0.0.1:{rp}/%2f"));
    })
    .await_without_broker()
    .await;
    let ready = |app: &TestApp| {
        let (c, a) = (app.client.clone(), app.address.clone());
        async move {
            let r = c.get(format!("{a}/readyz")).send().await.unwrap();
            let s = r.status().as_u16();
            (s, r.json::<serde_json::Value>().await.unwrap())
        }
    };
    let (s, body) = ready(&app).await;
    assert_eq!(s, 503);
    assert_eq!(body["checks"]["mongodb"], "down");
    assert_eq!(body["checks"]["rabbitmq"], "down");
    mongo.start().await;
    rabbit.start().await;
    wait_until(Duration::from_secs(20), || async {
        ready(&app).await.0 == 200
    })
    .await
    .expect("ready once dependencies are back");
    // RabbitMQ goes away again and comes back: the supervisor reconnects.
    rabbit.stop().await;
    wait_until(Duration::from_secs(10), || async {
        ready(&app).await.1["checks"]["rabbitmq"] == "down"
    })
    .await
    .expect("rabbitmq loss noticed");
    rabbit.start().await;
    wait_until(Duration::from_secs(20), || async {
        ready(&app).await.0 == 200
    })
    .await
    .expect("reconnected");
    // And work resumes: a claim is decided.
    let e = app.create_event(serde_json::json!({})).await;
    let r = app
        .claim(
            e["id"].as_str().unwrap(),
            &app.token("u-rec", &["USER"]),
            &[("Prefer", "wait=10")],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["status"], "APPROVED");
    app.cleanup().await;
    mongo.stop().await;
    rabbit.stop().await;
}
