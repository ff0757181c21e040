//! Benchmark stand-in for an upstream: serves a JWKS built from a fresh Ed25519 key, an empty
//! revocation list, `/healthz`, and a small JSON echo on every other path. Writes a valid
//! access token (roles USER) to `TOKEN_FILE` so the benchmark can call through the gateway.
//!
//! `ECHO_PORT=3901 TOKEN_FILE=/tmp/token cargo run --release --example echo_upstream`

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::json;

async fn echo(req: HttpRequest) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "method": req.method().as_str(),
        "path": req.path(),
        "user": req.headers().get("x-user-id").and_then(|v| v.to_str().ok()),
    }))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("ECHO_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3901);
    let workers: usize = std::env::var("ECHO_WORKERS")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(1);
    let rng = SystemRandom::new();
    let doc = Ed25519KeyPair::generate_pkcs8(&rng).expect("key");
    let pair = Ed25519KeyPair::from_pkcs8(doc.as_ref()).expect("key");
    let kid = "bench-key".to_owned();
    let jwks = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": kid, "alg": "EdDSA", "use": "sig",
        "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref())}]});
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"sub": "bench-user", "roles": ["USER"], "jti": uuid::Uuid::new_v4().to_string(),
        "sid": uuid::Uuid::now_v7().to_string(), "iat": now, "nbf": now, "exp": now + 3600,
        "iss": std::env::var("JWT_ISSUER").unwrap_or_else(|_| "liveops-auth".into()),
        "aud": std::env::var("JWT_AUDIENCE").unwrap_or_else(|_| "liveops".into())});
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some(kid);
    header.typ = Some("at+jwt".into());
    let token = jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_ed_der(doc.as_ref()),
    )
    .expect("sign");
    match std::env::var("TOKEN_FILE") {
        Ok(p) => std::fs::write(p, &token)?,
        Err(_) => println!("{token}"),
    }
    HttpServer::new(move || {
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
            .route(
                "/healthz",
                web::get().to(|| async { HttpResponse::Ok().json(json!({"status": "ok"})) }),
            )
            .default_service(web::to(echo))
    })
    .workers(workers)
    .bind(("127.0.0.1", port))?
    .run()
    .await
}
