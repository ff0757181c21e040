//! What both benchmarks need of auth-service: its JWKS and revocation list, served locally, and
//! access tokens signed with the matching key (so no bcrypt and no auth-service run).
use actix_web::{web, App, HttpResponse, HttpServer};
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

/// auth-service's JWKS and revocation list, served locally; returns its URL and a token signer.
pub async fn auth_stub() -> anyhow::Result<(String, impl Fn(&str, &[&str]) -> String)> {
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| anyhow::anyhow!("keygen"))?;
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| anyhow::anyhow!("key"))?;
    let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
    let jwks =
        json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "bench", "alg": "EdDSA"}]});
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let server = HttpServer::new(move || {
        let jwks = jwks.clone();
        App::new()
            .route(
                "/.well-known/jwks.json",
                web::get().to(move || {
                    let jwks = jwks.clone();
                    async move { HttpResponse::Ok().json(jwks) }
                }),
            )
            .route(
                "/internal/revocations",
                web::get().to(|| async { HttpResponse::Ok().json(json!({"items": []})) }),
            )
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run();
    tokio::spawn(server);
    let encoding = EncodingKey::from_ed_der(pkcs8.as_ref());
    let sign = move |sub: &str, roles: &[&str]| {
        let now = chrono::Utc::now().timestamp();
        let mut h = Header::new(Algorithm::EdDSA);
        h.typ = Some("at+jwt".into());
        h.kid = Some("bench".into());
        jsonwebtoken::encode(
            &h,
            &json!({"sub": sub, "roles": roles, "jti": sub, "sid": sub, "iat": now, "nbf": now,
                "exp": now + 3600, "iss": "liveops-auth", "aud": "liveops"}),
            &encoding,
        )
        .expect("sign")
    };
    Ok((format!("http://127.0.0.1:{port}"), sign))
}
