use crate::helpers::{spawn_app, METRICS_TOKEN};
use serde_json::Value;

#[tokio::test]
async fn head_answers_like_get_without_a_body_on_own_and_proxied_routes() {
    let app = spawn_app().await;
    let t = app.token(&["USER"]);
    for path in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/swagger.json",
        "/docs/index.html",
        "/events",
    ] {
        let t = if path == "/metrics" {
            METRICS_TOKEN
        } else {
            t.as_str()
        };
        let get = app.get(path, Some(t)).await;
        assert_eq!(get.status(), 200, "GET {path}");
        let head = app
            .http
            .head(app.url(path))
            .bearer_auth(t)
            .send()
            .await
            .unwrap();
        assert_eq!(head.status(), 200, "HEAD {path}");
        assert_eq!(
            head.headers().get("content-type"),
            get.headers().get("content-type"),
            "HEAD {path}"
        );
        assert!(head.headers().contains_key("x-request-id"));
        assert!(head.bytes().await.unwrap().is_empty(), "HEAD {path} body");
    }
    // The GET's length is announced, not an empty body's.
    let head = app
        .http
        .head(app.url("/events"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    let len: usize = head.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(len > 0);
}

#[tokio::test]
async fn every_405_carries_allow() {
    let app = spawn_app().await;
    let admin = app.token(&["ADMIN"]);
    let cases: &[(&str, &str, &str)] = &[
        ("POST", "/healthz", "GET, HEAD"),
        ("DELETE", "/metrics", "GET, HEAD"),
        ("PUT", "/readyz", "GET, HEAD"),
        ("POST", "/openapi.json", "GET, HEAD"),
        ("POST", "/swagger.json", "GET, HEAD"),
        ("POST", "/.well-known/jwks.json", "GET, HEAD"),
        ("GET", "/activities", "POST"),
        ("HEAD", "/activities", "POST"),
    ];
    for (method, path, allow) in cases {
        let r = app
            .http
            .request(method.parse().unwrap(), app.url(path))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 405, "{method} {path}");
        assert_eq!(
            r.headers().get("allow").map(|v| v.to_str().unwrap()),
            Some(*allow),
            "{method} {path}"
        );
        if *method != "HEAD" {
            let b: Value = r.json().await.unwrap();
            assert_eq!(b["code"], "METHOD_NOT_ALLOWED", "{method} {path}");
        }
    }
    assert_eq!(app.auth.hits() + app.game.hits(), 0);
}
