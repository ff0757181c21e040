use crate::helpers::*;
use serde_json::{json, Value};

#[tokio::test]
async fn login_returns_a_token_pair_with_the_contracted_claims() {
    let app = spawn_app().await;
    let user = app.register("claims@example.com").await;
    let r = app.login("Claims@Example.com", PASSWORD).await;
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["tokenType"], "Bearer");
    assert_eq!(b["expiresIn"], 900);
    let refresh = b["refreshToken"].as_str().unwrap();
    assert!(refresh.len() >= 43, "256 bits base64url");
    let token = b["accessToken"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let jwks: Value = app
        .get("/.well-known/jwks.json")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwk = &jwks["keys"][0];
    assert_eq!(jwk["kty"], "OKP");
    assert_eq!(jwk["crv"], "Ed25519");
    assert_eq!(jwk["alg"], "EdDSA");
    assert_eq!(jwk["use"], "sig");
    assert_eq!(header.kid.as_deref(), jwk["kid"].as_str());
    let key = jsonwebtoken::DecodingKey::from_ed_components(jwk["x"].as_str().unwrap()).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    v.set_audience(&["liveops"]);
    v.set_issuer(&["liveops-auth"]);
    let claims: Value = jsonwebtoken::decode(token, &key, &v).unwrap().claims;
    assert_eq!(claims["sub"], user["id"]);
    assert_eq!(claims["roles"], json!(["USER"]));
    for c in ["jti", "sid", "iat", "nbf", "exp"] {
        assert!(!claims[c].is_null(), "{c}");
    }
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );
    app.cleanup().await;
}

#[tokio::test]
async fn wrong_password_and_unknown_email_answer_the_same_401() {
    let app = spawn_app().await;
    app.register("known@example.com").await;
    let (s1, b1) = problem(app.login("known@example.com", "wrong-password").await).await;
    let (s2, b2) = problem(app.login("unknown@example.com", "wrong-password").await).await;
    assert_eq!((s1, s2), (401, 401));
    assert_eq!(b1["code"], "UNAUTHENTICATED");
    assert_eq!(b1["detail"], b2["detail"]);
    app.cleanup().await;
}

#[tokio::test]
async fn repeated_failures_are_throttled_with_retry_after_and_success_resets() {
    let app = spawn_app().await;
    app.register("t@example.com").await;
    for _ in 0..4 {
        assert_eq!(
            app.login("t@example.com", "bad-password").await.status(),
            401
        );
    }
    // A success within the limit resets the account counter.
    assert_eq!(app.login("t@example.com", PASSWORD).await.status(), 200);
    for _ in 0..5 {
        assert_eq!(
            app.login("t@example.com", "bad-password").await.status(),
            401
        );
    }
    let r = app.login("t@example.com", PASSWORD).await;
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= 900);
    let (_, b) = problem(r).await;
    assert_eq!(b["code"], "TOO_MANY_REQUESTS");
    app.cleanup().await;
}

#[tokio::test]
async fn fifty_concurrent_wrong_passwords_evaluate_no_more_than_the_limit() {
    let app = spawn_app().await;
    app.register("victim@example.com").await;
    let before = app.metric("auth_password_checks_total").await;
    let mut handles = Vec::new();
    for _ in 0..50 {
        let client = app.client.clone();
        let url = format!("{}/auth/login", app.address);
        handles.push(tokio::spawn(async move {
            client
                .post(url)
                .json(&json!({"email": "victim@example.com", "password": "guess-guess"}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut evaluated = 0;
    let mut throttled = 0;
    for h in handles {
        match h.await.unwrap() {
            401 => evaluated += 1,
            429 => throttled += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(evaluated <= 5, "{evaluated} attempts evaluated");
    assert_eq!(evaluated + throttled, 50);
    let checks = app.metric("auth_password_checks_total").await - before;
    assert!(checks <= 5.0, "{checks} bcrypt evaluations");
    app.cleanup().await;
}

#[tokio::test]
async fn throttling_is_per_client_ip_too() {
    let mut env = base_env();
    env.insert("LOGIN_MAX_FAILURES_PER_IP".into(), "3".into());
    env.insert("TRUSTED_PROXIES".into(), "127.0.0.1/32".into());
    let app = spawn_app_with(env).await;
    app.wait_ready().await;
    let attempt = |email: &'static str, ip: &'static str| {
        let client = app.client.clone();
        let url = format!("{}/auth/login", app.address);
        async move {
            client
                .post(url)
                .header("x-forwarded-for", format!("10.9.9.9, {ip}"))
                .json(&json!({"email": email, "password": "nope-nope"}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(attempt("a@example.com", "10.0.0.1").await, 401);
    assert_eq!(attempt("b@example.com", "10.0.0.1").await, 401);
    assert_eq!(attempt("c@example.com", "10.0.0.1").await, 401);
    assert_eq!(attempt("d@example.com", "10.0.0.1").await, 429);
    // Another client address is not affected.
    assert_eq!(attempt("d@example.com", "10.0.0.2").await, 401);
    app.cleanup().await;
}

#[tokio::test]
async fn login_fails_open_when_redis_is_down() {
    let mut env = base_env();
    env.insert(
        "REDIS_URL".into(),
        format!("redis://127.0.0.1:{}", closed_port()),
    );
    let app = spawn_app_with(env).await;
    // readyz stays 503 because of Redis.
    app.wait_initialized().await;
    app.register("open@example.com").await;
    assert_eq!(
        app.login("open@example.com", "bad-password").await.status(),
        401
    );
    assert_eq!(app.login("open@example.com", PASSWORD).await.status(), 200);
    assert!(app.metric("auth_login_throttle_unavailable_total").await >= 2.0);
    app.cleanup().await;
}

#[tokio::test]
async fn x_forwarded_for_is_ignored_unless_trusted() {
    let mut env = base_env();
    env.insert("LOGIN_MAX_FAILURES_PER_IP".into(), "2".into());
    let app = spawn_app_with(env).await;
    app.wait_ready().await;
    let mut statuses = Vec::new();
    for (i, ip) in ["10.0.0.1", "10.0.0.2", "10.0.0.3"].iter().enumerate() {
        let r = app
            .client
            .post(format!("{}/auth/login", app.address))
            .header("x-forwarded-for", *ip)
            .json(&json!({"email": format!("spoof{i}@example.com"), "password": "nope-nope"}))
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    // Spoofed addresses do not reset the per-IP budget: the peer address counts.
    assert_eq!(statuses, vec![401, 401, 429]);
    app.cleanup().await;
}
