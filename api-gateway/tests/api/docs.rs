use crate::helpers::{spawn_app, spawn_app_with};
use serde_json::Value;

#[tokio::test]
async fn merged_document_has_both_upstreams_paths_and_the_gateways_own() {
    let app = spawn_app().await;
    let r = app.get("/openapi.json", None).await;
    assert_eq!(r.status(), 200);
    let doc: Value = r.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/auth/login",
        "/auth/me",
        "/users/{id}/roles",
        "/events",
        "/events/{id}/claims",
        "/users/{id}/progress",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(
            paths.contains_key(p),
            "missing {p}: {:?}",
            paths.keys().collect::<Vec<_>>()
        );
    }
    assert!(!paths.contains_key("/internal/revocations"));
    assert!(doc["paths"]["/readyz"]["get"]["responses"]["503"].is_object());
    for (p, item) in paths {
        for (m, op) in item.as_object().unwrap() {
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{m} {p} documents no response"
            );
        }
    }
    assert_eq!(
        doc["paths"]["/auth/login"]["post"]["x-upstream"],
        "auth-service"
    );
    assert_eq!(
        doc["paths"]["/users/{id}/progress"]["get"]["x-upstream"],
        "game-event-service"
    );
    // Colliding schema names are prefixed, and references follow.
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    assert!(schemas.contains_key("Problem"));
    assert!(schemas.contains_key("GameEventServiceProblem"));
    assert!(schemas.contains_key("TokenPair"));
    assert_eq!(
        doc["paths"]["/events/{id}/claims"]["post"]["responses"]["202"]["content"]
            ["application/json"]["schema"]["$ref"],
        "#/components/schemas/GameEventServiceProblem"
    );
}

#[tokio::test]
async fn docs_serve_swagger_ui_and_never_panic_on_missing_files() {
    let app = spawn_app().await;
    let r = app.get("/docs", None).await;
    assert_eq!(r.status(), 308);
    let loc = r.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(loc, "/docs/index.html?url=/openapi.json");
    let r = app.get(&loc, None).await;
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("'unsafe-inline'"));
    assert!(r.text().await.unwrap().contains("swagger-ui"));
    let r = app.get("/docs/swagger-ui-bundle.js", None).await;
    assert_eq!(r.status(), 200);
    for _ in 0..4 {
        let r = app.get("/docs/does-not-exist.js", None).await;
        assert_eq!(r.status(), 404);
    }
    // Workers survived.
    assert_eq!(app.get("/healthz", None).await.status(), 200);
    assert_eq!(app.get("/swagger.json", None).await.status(), 200);
}

#[tokio::test]
async fn security_headers_are_present_on_proxied_and_own_responses() {
    let app = spawn_app().await;
    let t = app.token(&["USER"]);
    for r in [
        app.get("/events", Some(&t)).await,
        app.get("/healthz", None).await,
        app.get("/nope", None).await,
    ] {
        let h = r.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("default-src 'self'") && !csp.contains("unsafe-inline';script-src-attr")
        );
        assert!(!h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self' 'unsafe-inline'"));
        assert_eq!(h["cross-origin-opener-policy"], "same-origin");
        assert_eq!(h["cross-origin-resource-policy"], "same-origin");
        assert_eq!(h["origin-agent-cluster"], "?1");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert!(h["strict-transport-security"]
            .to_str()
            .unwrap()
            .starts_with("max-age="));
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-dns-prefetch-control"], "off");
        assert_eq!(h["x-download-options"], "noopen");
        assert_eq!(h["x-frame-options"], "SAMEORIGIN");
        assert_eq!(h["x-permitted-cross-domain-policies"], "none");
        assert_eq!(h["x-xss-protection"], "0");
        assert!(h.get("server").is_none());
        assert!(h.get("x-powered-by").is_none());
        assert!(h.contains_key("x-request-id"));
    }
}

#[tokio::test]
async fn cors_is_configurable() {
    let app = spawn_app_with(|s, _| {
        s.edge.cors_allowed_origins = vec!["https://console.example.com".into()]
    })
    .await;
    let r = app
        .http
        .request(reqwest::Method::OPTIONS, app.url("/events"))
        .header("Origin", "https://console.example.com")
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://console.example.com"
    );
    assert_eq!(
        r.headers()["access-control-allow-headers"],
        "authorization, content-type"
    );
    let t = app.token(&["USER"]);
    let r = app
        .http
        .get(app.url("/events"))
        .bearer_auth(&t)
        .header("Origin", "https://console.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://console.example.com"
    );
    let r = app
        .http
        .get(app.url("/events"))
        .bearer_auth(&t)
        .header("Origin", "https://evil.example.com")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn every_preflight_is_answered_before_authentication() {
    let app = spawn_app_with(|s, _| {
        s.edge.cors_allowed_origins = vec!["https://play.example.com".into()]
    })
    .await;
    let preflight = |origin: &'static str, path: &'static str| {
        app.http
            .request(reqwest::Method::OPTIONS, app.url(path))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "content-type")
            .send()
    };
    // `/auth/login` sits under the authenticated `/auth/**` route for OPTIONS.
    let r = preflight("https://play.example.com", "/auth/login")
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://play.example.com"
    );
    assert!(r.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("POST"));
    // An origin that is not allowed learns nothing and is not passed on either.
    let r = preflight("https://evil.example.com", "/auth/login")
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(r.headers().get("access-control-allow-origin").is_none());
    assert_eq!(app.auth.hits(), 0);
    // A plain OPTIONS (no preflight) is still routed like any other method.
    let r = app
        .http
        .request(reqwest::Method::OPTIONS, app.url("/auth/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn metrics_need_the_configured_bearer_token() {
    let app = spawn_app().await;
    let r = app.get("/metrics", None).await;
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["code"], "UNAUTHENTICATED");
    assert_eq!(app.get("/metrics", Some("wrong")).await.status(), 401);
    // A valid user token is not the metrics token.
    let user = app.token(&["ADMIN"]);
    assert_eq!(app.get("/metrics", Some(&user)).await.status(), 401);
    assert!(app.metrics().await.contains("gateway_http_requests_total"));

    let app = spawn_app_with(|s, _| s.metrics_token = None).await;
    let r = app.get("/metrics", None).await;
    assert_eq!(r.status(), 404);
}
