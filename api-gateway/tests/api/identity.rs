use crate::helpers::spawn_app;
use serde_json::Value;

#[tokio::test]
async fn spoofed_identity_headers_never_reach_the_upstream() {
    let app = spawn_app().await;
    let token = app.keys.token("real-user", &["USER", "AUDITOR"]);
    let r = app
        .http
        .get(app.url("/events"))
        .bearer_auth(&token)
        .header("X-User-Id", "admin-1")
        .header("X-User-Roles", "ADMIN")
        .header("X-User-Email", "evil@example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    let h = &b["headers"];
    assert_eq!(h["x-user-id"], "real-user");
    assert_eq!(h["x-user-roles"], "USER,AUDITOR");
    assert!(h.get("x-user-email").is_none());
    assert_eq!(h["authorization"], format!("Bearer {token}"));

    // On a public route there is no identity to forward, and spoofed values are dropped.
    let r = app
        .http
        .post(app.url("/auth/login"))
        .header("X-User-Id", "admin-1")
        .header("X-User-Roles", "ADMIN")
        .send()
        .await
        .unwrap();
    let b: Value = r.json().await.unwrap();
    assert!(b["headers"].get("x-user-id").is_none());
    assert!(b["headers"].get("x-user-roles").is_none());
}

#[tokio::test]
async fn request_id_and_traceparent_reach_the_upstream() {
    let app = spawn_app().await;
    let t = app.token(&["USER"]);
    let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let r = app
        .http
        .get(app.url("/events"))
        .bearer_auth(&t)
        .header("X-Request-Id", "client.req-42")
        .header("traceparent", tp)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "client.req-42");
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["headers"]["x-request-id"], "client.req-42");
    assert_eq!(b["headers"]["traceparent"], tp);

    // Malformed or absent: generated (UUID v7), echoed, forwarded; traceparent generated.
    let r = app
        .http
        .get(app.url("/events"))
        .bearer_auth(&t)
        .header("X-Request-Id", "bad id with spaces")
        .send()
        .await
        .unwrap();
    let echoed = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let parsed = uuid::Uuid::parse_str(&echoed).expect("uuid request id");
    assert_eq!(parsed.get_version_num(), 7);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["headers"]["x-request-id"], echoed.as_str());
    let generated = b["headers"]["traceparent"].as_str().unwrap();
    assert!(
        generated.starts_with("00-") && generated.len() == 55,
        "{generated}"
    );
}

#[tokio::test]
async fn forwarded_headers_are_set() {
    let app = spawn_app().await;
    let t = app.token(&["USER"]);
    let r = app
        .http
        .get(app.url("/events"))
        .bearer_auth(&t)
        .header("X-Forwarded-For", "203.0.113.7")
        .header("Forwarded", "for=203.0.113.7")
        .header("X-Forwarded-Proto", "gopher")
        .send()
        .await
        .unwrap();
    let b: Value = r.json().await.unwrap();
    // Overwritten with the peer, never appended to what the client claimed.
    assert_eq!(b["headers"]["x-forwarded-for"], "127.0.0.1");
    assert_eq!(
        b["headers"]["forwarded"],
        format!("for=127.0.0.1;proto=http;host=\"127.0.0.1:{}\"", app.port)
    );
    assert_eq!(b["headers"]["x-forwarded-proto"], "http");
    assert_eq!(
        b["headers"]["x-forwarded-host"],
        format!("127.0.0.1:{}", app.port)
    );
}

#[tokio::test]
async fn hop_by_hop_headers_are_stripped_both_ways() {
    let app = spawn_app().await;
    let t = app.token(&["USER"]);
    let r = app
        .http
        .get(app.url("/events"))
        .bearer_auth(&t)
        .header("Connection", "keep-alive, X-Hop-Secret")
        .header("X-Hop-Secret", "1")
        .header("Keep-Alive", "timeout=5")
        .header("Proxy-Authorization", "Basic Zm9vOmJhcg==")
        .header("Trailer", "X-Foo")
        .header("X-End-To-End", "kept")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    for banned in ["server", "x-powered-by", "keep-alive", "proxy-authenticate"] {
        assert!(h.get(banned).is_none(), "response still has {banned}");
    }
    let b: Value = r.json().await.unwrap();
    let up = &b["headers"];
    for banned in [
        "x-hop-secret",
        "keep-alive",
        "proxy-authorization",
        "trailer",
    ] {
        assert!(up.get(banned).is_none(), "upstream received {banned}: {up}");
    }
    assert_eq!(up["x-end-to-end"], "kept");
}
