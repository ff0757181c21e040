use crate::helpers::{amqp_url, spawn_app, spawn_app_with, wait_until, TestApp, TestKeys};
use amqprs::channel::{BasicPublishArguments, ExchangeDeleteArguments};
use amqprs::connection::Connection;
use amqprs::BasicProperties;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

async fn call(app: &TestApp, method: &str, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut r = app.http.request(method.parse().unwrap(), app.url(path));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    r.send().await.unwrap()
}

#[tokio::test]
async fn each_role_against_each_protected_route_class() {
    let app = spawn_app().await;
    // (method, path, roles allowed at the edge)
    let classes: &[(&str, &str, &[&str])] = &[
        ("GET", "/auth/me", &["USER", "OPERATOR", "AUDITOR", "ADMIN"]),
        ("GET", "/events", &["USER", "OPERATOR", "AUDITOR", "ADMIN"]),
        (
            "POST",
            "/events/1/claims",
            &["USER", "OPERATOR", "AUDITOR", "ADMIN"],
        ),
        (
            "GET",
            "/claims/me",
            &["USER", "OPERATOR", "AUDITOR", "ADMIN"],
        ),
        (
            "GET",
            "/users/1/progress",
            &["USER", "OPERATOR", "AUDITOR", "ADMIN"],
        ),
        ("GET", "/users", &["OPERATOR", "AUDITOR", "ADMIN"]),
        ("PATCH", "/users/1/roles", &["ADMIN"]),
        ("POST", "/activities", &["ADMIN"]),
        ("POST", "/events", &["OPERATOR", "ADMIN"]),
        ("PATCH", "/events/1", &["OPERATOR", "ADMIN"]),
        ("POST", "/events/1/rewards", &["OPERATOR", "ADMIN"]),
        ("GET", "/claims", &["OPERATOR", "AUDITOR", "ADMIN"]),
    ];
    for (method, path, allowed) in classes {
        let r = call(&app, method, path, None).await;
        assert_eq!(r.status(), 401, "{method} {path} without token");
        assert_eq!(r.headers()["www-authenticate"].to_str().unwrap(), "Bearer");
        let b: Value = r.json().await.unwrap();
        assert_eq!(b["code"], "UNAUTHENTICATED");
        for role in ["USER", "OPERATOR", "AUDITOR", "ADMIN"] {
            let t = app.token(&[role]);
            let r = call(&app, method, path, Some(&t)).await;
            if allowed.contains(&role) {
                assert_eq!(r.status(), 200, "{role} {method} {path}");
            } else {
                assert_eq!(r.status(), 403, "{role} {method} {path}");
                let b: Value = r.json().await.unwrap();
                assert_eq!(b["code"], "FORBIDDEN");
            }
        }
    }
    // A user holding several roles passes if any one matches.
    let multi = app.token(&["USER", "ADMIN"]);
    assert_eq!(
        call(&app, "GET", "/users", Some(&multi)).await.status(),
        200
    );
}

#[tokio::test]
async fn public_routes_need_no_token() {
    let app = spawn_app().await;
    for (m, p) in [
        ("POST", "/auth/login"),
        ("POST", "/auth/register"),
        ("POST", "/auth/refresh"),
    ] {
        assert_eq!(call(&app, m, p, None).await.status(), 200, "{m} {p}");
    }
    assert_eq!(
        call(&app, "GET", "/.well-known/jwks.json", None)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn bad_tokens_are_401() {
    let app = spawn_app().await;
    let k = &app.keys;
    let now = chrono::Utc::now().timestamp();
    let mut cases: Vec<(&str, String)> = Vec::new();
    let mut c = k.claims("u1", &["ADMIN"]);
    c["exp"] = json!(now - 120);
    cases.push(("expired", k.sign(&c, &k.kid, "at+jwt")));
    let mut c = k.claims("u1", &["ADMIN"]);
    c["nbf"] = json!(now + 600);
    cases.push(("not yet valid", k.sign(&c, &k.kid, "at+jwt")));
    let mut c = k.claims("u1", &["ADMIN"]);
    c["iss"] = json!("someone-else");
    cases.push(("wrong issuer", k.sign(&c, &k.kid, "at+jwt")));
    let mut c = k.claims("u1", &["ADMIN"]);
    c["aud"] = json!("other");
    cases.push(("wrong audience", k.sign(&c, &k.kid, "at+jwt")));
    cases.push((
        "wrong typ",
        k.sign(&k.claims("u1", &["ADMIN"]), &k.kid, "JWT"),
    ));
    let other = TestKeys::generate();
    cases.push(("unknown kid", other.token("u1", &["ADMIN"])));
    cases.push((
        "foreign key, known kid",
        other.sign(&other.claims("u1", &["ADMIN"]), &k.kid, "at+jwt"),
    ));
    let hs = jsonwebtoken::encode(
        &jsonwebtoken::Header {
            typ: Some("at+jwt".into()),
            kid: Some(k.kid.clone()),
            ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256)
        },
        &k.claims("u1", &["ADMIN"]),
        &jsonwebtoken::EncodingKey::from_secret(k.x.as_bytes()),
    )
    .unwrap();
    cases.push(("HS256 with the public key as secret", hs));
    let good = k.token("u1", &["ADMIN"]);
    let mut tampered = good.clone();
    tampered.pop();
    tampered.push(if good.ends_with('A') { 'B' } else { 'A' });
    cases.push(("tampered signature", tampered));
    cases.push(("garbage", "not-a-token".into()));
    for (why, token) in &cases {
        let r = app.get("/users", Some(token)).await;
        assert_eq!(r.status(), 401, "{why}");
        assert_eq!(r.headers()["www-authenticate"].to_str().unwrap(), "Bearer");
    }
    assert_eq!(app.auth.hits(), 0, "no bad token reached the upstream");
    assert_eq!(app.get("/users", Some(&good)).await.status(), 200);
}

#[tokio::test]
async fn tokens_of_sessions_revoked_before_start_are_refused_via_sync() {
    let keys_holder = std::sync::Arc::new(std::sync::Mutex::new(None::<(String, String)>));
    let kh = keys_holder.clone();
    let app = spawn_app_with(move |_, fx| {
        let claims = fx.keys.claims("victim", &["USER"]);
        let sid = claims["sid"].as_str().unwrap().to_owned();
        let token = fx.keys.sign(&claims, &fx.keys.kid, "at+jwt");
        fx.auth.state.revocations.lock().unwrap().push(json!({
            "sessionId": sid, "userId": "victim", "jti": null,
            "revokedAt": chrono::Utc::now().to_rfc3339(),
            "expiresAt": (chrono::Utc::now() + chrono::Duration::minutes(15)).to_rfc3339()
        }));
        *kh.lock().unwrap() = Some((sid, token));
    })
    .await;
    let (_, token) = keys_holder.lock().unwrap().clone().unwrap();
    let refused = wait_until(Duration::from_secs(5), || async {
        app.get("/events", Some(&token)).await.status() == 401
    })
    .await;
    assert!(refused);
    let other = app.token(&["USER"]);
    assert_eq!(app.get("/events", Some(&other)).await.status(), 200);
}

#[tokio::test]
async fn a_logged_out_token_is_refused_within_a_second_of_session_revoked() {
    let app =
        spawn_app_with(|s, _| s.auth.amqp_url = secrecy::SecretString::from(amqp_url())).await;
    let claims = app.keys.claims("u-logout", &["USER"]);
    let sid = claims["sid"].as_str().unwrap().to_owned();
    let token = app.keys.sign(&claims, &app.keys.kid, "at+jwt");
    assert_eq!(app.get("/events", Some(&token)).await.status(), 200);

    let fed = wait_until(Duration::from_secs(15), || async {
        let b: Value = app.get("/readyz", None).await.json().await.unwrap();
        b["checks"]["revocationFeed"] == "up"
    })
    .await;
    assert!(fed, "gateway never consumed from RabbitMQ");

    let conn = Connection::open(&api_gateway::revocation::connection_args(&amqp_url()).unwrap())
        .await
        .unwrap();
    let ch = conn.open_channel(None).await.unwrap();
    let exchange = app.settings.auth.events_exchange.clone();
    let body = json!({
        "messageId": uuid::Uuid::now_v7().to_string(), "userId": "u-logout", "sessionId": sid,
        "jti": null, "reason": "LOGOUT", "revokedAt": chrono::Utc::now().to_rfc3339(),
        "expiresAt": (chrono::Utc::now() + chrono::Duration::minutes(15)).to_rfc3339()
    });
    // Published without a user_id, and so not auth-service's: ignored.
    let mut forged = BasicProperties::default();
    forged.with_content_type("application/json");
    ch.basic_publish(
        forged,
        serde_json::to_vec(&body).unwrap(),
        BasicPublishArguments::new(&exchange, "session.revoked"),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        app.get("/events", Some(&token)).await.status(),
        200,
        "a forged session.revoked is ignored"
    );
    // As auth-service publishes it: user_id is the connection's broker user (the default
    // AUTH_EVENTS_PUBLISHER for a guest-based broker).
    let broker_user = url::Url::parse(&amqp_url()).unwrap().username().to_string();
    let mut props = BasicProperties::default();
    props
        .with_content_type("application/json")
        .with_user_id(&broker_user)
        .with_delivery_mode(2);
    let published = Instant::now();
    ch.basic_publish(
        props,
        serde_json::to_vec(&body).unwrap(),
        BasicPublishArguments::new(&exchange, "session.revoked"),
    )
    .await
    .unwrap();
    let refused = wait_until(Duration::from_secs(1), || async {
        app.get("/events", Some(&token)).await.status() == 401
    })
    .await;
    let took = published.elapsed();
    let _ = ch
        .exchange_delete(ExchangeDeleteArguments::new(&exchange))
        .await;
    let _ = ch.close().await;
    let _ = conn.close().await;
    assert!(refused, "revoked token still accepted after {took:?}");
    let b: Value = app.get("/events", Some(&token)).await.json().await.unwrap();
    assert_eq!(b["code"], "UNAUTHENTICATED");
    // Other sessions of other users are unaffected.
    assert_eq!(
        app.get("/events", Some(&app.token(&["USER"])))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn a_rotated_key_is_fetched_on_unknown_kid_at_a_bounded_rate() {
    let app =
        spawn_app_with(|s, _| s.auth.jwks_refetch_min_interval = Duration::from_millis(700)).await;
    let fetches_at_start = app
        .auth
        .state
        .jwks_hits
        .load(std::sync::atomic::Ordering::SeqCst);
    // A flood of tokens with unknown kids triggers at most one fetch per interval.
    let stranger = TestKeys::generate();
    for _ in 0..20 {
        let r = app
            .get("/events", Some(&stranger.token("x", &["USER"])))
            .await;
        assert_eq!(r.status(), 401);
    }
    let fetches = app
        .auth
        .state
        .jwks_hits
        .load(std::sync::atomic::Ordering::SeqCst)
        - fetches_at_start;
    assert!(
        fetches <= 2,
        "{fetches} JWKS fetches for 20 unknown-kid requests"
    );

    // auth-service rotates: the new key is published and tokens signed with it are accepted
    // once the refetch interval allows another fetch.
    let rotated = TestKeys::generate();
    app.auth
        .state
        .extra_jwks
        .lock()
        .unwrap()
        .push(rotated.jwk());
    let token = rotated.token("after-rotation", &["USER"]);
    let accepted = wait_until(Duration::from_secs(5), || async {
        app.get("/events", Some(&token)).await.status() == 200
    })
    .await;
    assert!(accepted, "token signed with the rotated key never accepted");
}
