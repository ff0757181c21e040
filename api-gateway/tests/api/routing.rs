use crate::helpers::{base_settings, fixture, spawn_app, spawn_app_with, write_routes};
use api_gateway::startup::Application;
use serde_json::Value;

async fn upstream_of(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test]
async fn default_table_sends_each_contract_path_to_its_upstream() {
    let app = spawn_app().await;
    let admin = app.token(&["ADMIN"]);
    let cases: &[(&str, &str, &str)] = &[
        ("GET", "/auth/me", "auth-service"),
        ("POST", "/auth/logout", "auth-service"),
        ("GET", "/users", "auth-service"),
        ("PATCH", "/users/42/roles", "auth-service"),
        ("GET", "/users/42/progress", "game-event-service"),
        ("GET", "/events", "game-event-service"),
        ("POST", "/events/7/claims", "game-event-service"),
        ("GET", "/claims", "game-event-service"),
        ("GET", "/claims/me", "game-event-service"),
        ("GET", "/progress/me", "game-event-service"),
        ("POST", "/activities", "game-event-service"),
        ("GET", "/.well-known/jwks.json", "auth-service"),
    ];
    for (method, path, upstream) in cases {
        let r = app
            .http
            .request(method.parse().unwrap(), app.url(path))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{method} {path}");
        if *path == "/.well-known/jwks.json" {
            continue;
        }
        assert_eq!(
            r.headers()["x-upstream-name"].to_str().unwrap(),
            *upstream,
            "{method} {path}"
        );
        let (_, body) = upstream_of(r).await;
        assert_eq!(body["path"], *path);
        assert_eq!(body["method"], *method);
    }
}

#[tokio::test]
async fn query_strings_are_forwarded_verbatim() {
    let app = spawn_app().await;
    let t = app.token(&["USER"]);
    let (s, body) = upstream_of(app.get("/events?status=ACTIVE&limit=5", Some(&t)).await).await;
    assert_eq!(s, 200);
    assert_eq!(body["path"], "/events?status=ACTIVE&limit=5");
}

#[tokio::test]
async fn internal_paths_unknown_paths_and_dot_segments_are_404() {
    let app = spawn_app().await;
    let t = app.token(&["ADMIN"]);
    for p in [
        "/internal/revocations",
        "/nope",
        "/events/../internal/revocations",
        "/events/%2e%2e/internal/revocations",
    ] {
        let r = app.get(p, Some(&t)).await;
        assert_eq!(r.status(), 404, "{p}");
        assert_eq!(
            r.headers()["content-type"].to_str().unwrap(),
            "application/problem+json"
        );
        let b: Value = r.json().await.unwrap();
        assert_eq!(b["code"], "ROUTE_NOT_FOUND", "{p}");
    }
    assert_eq!(app.auth.hits() + app.game.hits(), 0);
}

#[tokio::test]
async fn wrong_method_on_a_routed_path_is_405_with_allow() {
    let app = spawn_app().await;
    let t = app.token(&["ADMIN"]);
    let r = app.get("/activities", Some(&t)).await;
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"].to_str().unwrap(), "POST");
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["code"], "METHOD_NOT_ALLOWED");
}

const PRIORITY_TABLE: &str = r#"
routes:
  - name: broad-game
    path: /things/**
    upstream: game-event-service
    access: public
  - name: specific-auth
    path: /things/special/**
    upstream: auth-service
    access: public
  - name: param-game
    path: /things/{id}/detail
    upstream: game-event-service
    access: public
  - name: vip-auth
    path: /things/**
    methods: [DELETE]
    upstream: auth-service
    access: public
    priority: 5
"#;

#[tokio::test]
async fn priority_first_then_longest_prefix() {
    let routes = write_routes(PRIORITY_TABLE);
    let app = spawn_app_with(move |s, _| s.routes_file = routes).await;
    let who = |r: reqwest::Response| r.headers()["x-upstream-name"].to_str().unwrap().to_owned();
    // Longest prefix wins on equal priority.
    assert_eq!(
        who(app.get("/things/special/x", None).await),
        "auth-service"
    );
    assert_eq!(
        who(app.get("/things/other", None).await),
        "game-event-service"
    );
    assert_eq!(
        who(app.get("/things/9/detail", None).await),
        "game-event-service"
    );
    // Higher priority wins even over a longer prefix.
    let r = app
        .http
        .delete(app.url("/things/special/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(who(r), "auth-service");
    let r = app
        .http
        .delete(app.url("/things/9/detail"))
        .send()
        .await
        .unwrap();
    assert_eq!(who(r), "auth-service");
}

#[tokio::test]
async fn an_invalid_route_table_stops_start_up_naming_the_entry_and_line() {
    let fx = fixture().await;
    let mut s = base_settings(&fx);
    s.routes_file = write_routes(
        "routes:\n  - name: fine\n    path: /a\n    upstream: auth-service\n    access: public\n  - name: bad-one\n    path: /b/{id\n    upstream: auth-service\n    access: public\n",
    );
    let err = Application::build(s, api_gateway::telemetry::null_logger())
        .await
        .err()
        .expect("start-up must fail");
    let msg = format!("{err:#}");
    assert!(msg.contains("bad-one") && msg.contains("line 6"), "{msg}");

    let mut s = base_settings(&fx);
    s.routes_file = write_routes(
        "routes:\n  - name: fine\n    path: /a\n    upstream: nowhere-service\n    access: public\n",
    );
    let msg = format!(
        "{:#}",
        Application::build(s, api_gateway::telemetry::null_logger())
            .await
            .err()
            .expect("unknown upstream must fail")
    );
    assert!(
        msg.contains("UPSTREAM_NOWHERE_SERVICE") && msg.contains("fine"),
        "{msg}"
    );
}
