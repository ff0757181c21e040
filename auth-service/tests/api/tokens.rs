use crate::helpers::*;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.post_json("/auth/refresh", &json!({"refreshToken": token}))
        .await
}

#[tokio::test]
async fn refresh_rotates_and_reuse_of_a_rotated_token_revokes_the_family() {
    let app = spawn_app().await;
    let (_, access1, refresh1) = app.user_with_tokens("rot@example.com").await;
    let r = refresh(&app, &refresh1).await;
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    let refresh2 = b["refreshToken"].as_str().unwrap().to_string();
    let access2 = b["accessToken"].as_str().unwrap().to_string();
    assert_ne!(refresh1, refresh2);
    assert_eq!(app.get_auth("/auth/me", &access2).await.status(), 200);
    // The old one is used up: presenting it again is reuse.
    let (s, _) = problem(refresh(&app, &refresh1).await).await;
    assert_eq!(s, 401);
    // The whole family is dead: the newest refresh token and every access token of the session.
    assert_eq!(refresh(&app, &refresh2).await.status(), 401);
    assert_eq!(app.get_auth("/auth/me", &access2).await.status(), 401);
    assert_eq!(app.get_auth("/auth/me", &access1).await.status(), 401);
    assert!(app.metric("auth_refresh_token_reuse_total").await >= 1.0);
    // Unknown token and bad input.
    assert_eq!(refresh(&app, "not-a-token").await.status(), 401);
    let (s, b) = problem(
        app.post_json("/auth/refresh", &json!({"refreshToken": 5}))
            .await,
    )
    .await;
    assert_eq!((s, b["field"].as_str().unwrap()), (400, "refreshToken"));
    app.cleanup().await;
}

#[tokio::test]
async fn logout_makes_both_tokens_useless_and_other_sessions_survive() {
    let app = spawn_app().await;
    let (_, access, refresh_token) = app.user_with_tokens("out@example.com").await;
    let (other_access, _) = app.tokens("out@example.com", PASSWORD).await;
    let r = app.logout(&access, None).await;
    assert_eq!(r.status(), 204);
    assert_eq!(app.get_auth("/auth/me", &access).await.status(), 401);
    assert_eq!(refresh(&app, &refresh_token).await.status(), 401);
    assert_eq!(app.get_auth("/auth/me", &other_access).await.status(), 200);
    // The revocation is published for the other services' sync.
    let list: Value = app
        .get("/internal/revocations")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert!(items[0]["sessionId"].is_string() && items[0]["jti"].is_string());
    // Logout needs a bearer token.
    let (s, b) = problem(app.post_json("/auth/logout", &json!({})).await).await;
    assert_eq!((s, b["code"].as_str().unwrap()), (401, "UNAUTHENTICATED"));
    app.cleanup().await;
}

#[tokio::test]
async fn logout_with_a_refresh_token_body_revokes_that_session_too() {
    let app = spawn_app().await;
    let (_, access, _) = app.user_with_tokens("out2@example.com").await;
    let (_, other_refresh) = app.tokens("out2@example.com", PASSWORD).await;
    let r = app
        .logout(&access, Some(&json!({"refreshToken": other_refresh})))
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(refresh(&app, &other_refresh).await.status(), 401);
    app.cleanup().await;
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

#[tokio::test]
async fn tampered_tokens_are_refused() {
    // Our own key, so the test can sign variants that differ in exactly one respect.
    let der = auth_service::keys::generate_pkcs8().unwrap();
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(&der)
    );
    let mut env = base_env();
    env.insert("JWT_PRIVATE_KEY_PEM".into(), pem);
    let app = spawn_app_with(env).await;
    app.wait_ready().await;
    let (_, access, _) = app.user_with_tokens("tamper@example.com").await;
    assert_eq!(app.get_auth("/auth/me", &access).await.status(), 200);
    let header = jsonwebtoken::decode_header(&access).unwrap();
    let kid = header.kid.clone().unwrap();
    let claims: Value = jsonwebtoken::dangerous::insecure_decode::<Value>(&access)
        .unwrap()
        .claims;
    let key = EncodingKey::from_ed_der(&der);
    let sign = |claims: &Value, kid: &str| {
        let mut h = Header::new(Algorithm::EdDSA);
        h.typ = Some("at+jwt".into());
        h.kid = Some(kid.into());
        jsonwebtoken::encode(&h, claims, &key).unwrap()
    };
    // Control: a re-signed copy of the real claims is accepted.
    assert_eq!(
        app.get_auth("/auth/me", &sign(&claims, &kid))
            .await
            .status(),
        200
    );

    let now = chrono::Utc::now().timestamp();
    let mut variants: Vec<(&str, String)> = Vec::new();
    let mut c = claims.clone();
    c["aud"] = json!("someone-else");
    variants.push(("wrong aud", sign(&c, &kid)));
    let mut c = claims.clone();
    c["iss"] = json!("evil-issuer");
    variants.push(("wrong iss", sign(&c, &kid)));
    let mut c = claims.clone();
    c["iat"] = json!(now - 4000);
    c["nbf"] = json!(now - 4000);
    c["exp"] = json!(now - 3000);
    variants.push(("expired", sign(&c, &kid)));
    variants.push(("unknown kid", sign(&claims, "not-a-known-kid")));
    let mut c = claims.clone();
    c["roles"] = json!(["ADMIN"]);
    let forged = sign(&c, &kid);
    let mut parts: Vec<String> = access.split('.').map(str::to_string).collect();
    parts[1] = forged.split('.').nth(1).unwrap().to_string();
    variants.push(("payload swapped", parts.join(".")));
    variants.push((
        "alg none",
        format!(
            "{}.{}.",
            b64(&json!({"alg": "none", "typ": "at+jwt", "kid": kid})),
            b64(&claims)
        ),
    ));
    // HS256 signed with the public key as the HMAC secret (key-confusion attack).
    let jwks: Value = app
        .get("/.well-known/jwks.json")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let x = jwks["keys"][0]["x"].as_str().unwrap();
    for secret in [x.as_bytes().to_vec(), URL_SAFE_NO_PAD.decode(x).unwrap()] {
        let mut h = Header::new(Algorithm::HS256);
        h.typ = Some("at+jwt".into());
        h.kid = Some(kid.clone());
        let t = jsonwebtoken::encode(&h, &claims, &EncodingKey::from_secret(&secret)).unwrap();
        variants.push(("hs256 with public key", t));
    }
    let mut h = Header::new(Algorithm::EdDSA);
    h.typ = Some("JWT".into());
    h.kid = Some(kid.clone());
    variants.push((
        "wrong typ",
        jsonwebtoken::encode(&h, &claims, &key).unwrap(),
    ));
    variants.push(("garbage", "abc.def.ghi".into()));

    for (name, token) in variants {
        let r = app.get_auth("/auth/me", &token).await;
        assert_eq!(r.status(), 401, "{name}");
        assert_eq!(r.headers()["www-authenticate"], "Bearer", "{name}");
    }
    app.cleanup().await;
}

#[tokio::test]
async fn keys_from_a_directory_rotate_newest_signs_all_verify() {
    let dir = std::env::temp_dir().join(format!("auth-keys-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["2026-01", "2026-02"] {
        let der = auth_service::keys::generate_pkcs8().unwrap();
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            base64::engine::general_purpose::STANDARD.encode(&der)
        );
        std::fs::write(dir.join(format!("{name}.pem")), pem).unwrap();
    }
    let mut env = base_env();
    env.insert(
        "JWT_PRIVATE_KEYS_DIR".into(),
        dir.to_string_lossy().into_owned(),
    );
    let app = spawn_app_with(env).await;
    app.wait_ready().await;
    let jwks: Value = app
        .get("/.well-known/jwks.json")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, vec!["2026-02", "2026-01"]);
    let (_, access, _) = app.user_with_tokens("rot-keys@example.com").await;
    assert_eq!(
        jsonwebtoken::decode_header(&access).unwrap().kid.as_deref(),
        Some("2026-02")
    );
    app.cleanup().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_development_key_is_shared_by_instances_on_one_database() {
    let env = base_env();
    let a = spawn_app_with(env.clone()).await;
    let b = spawn_app_with(env).await;
    a.wait_ready().await;
    b.wait_ready().await;
    let ja: Value = a
        .get("/.well-known/jwks.json")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jb: Value = b
        .get("/.well-known/jwks.json")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ja, jb);
    // A token from one instance works at the other.
    let (_, access, _) = a.user_with_tokens("shared@example.com").await;
    assert_eq!(b.get_auth("/auth/me", &access).await.status(), 200);
    b.handle.stop(true).await;
    a.cleanup().await;
}
