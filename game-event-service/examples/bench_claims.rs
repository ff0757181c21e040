//! Benchmark (not a test): claims decided per second end to end (HTTP accept -> stored
//! decision) against the MongoDB server's raw single-insert rate measured in the same run.
//!
//!     MONGODB_URI=mongodb://127.0.0.1:27017 cargo run --release --example bench_claims
//!
//! Env: BENCH_CLAIMS (default 400), BENCH_CONCURRENCY (32), BENCH_INSERTS (400),
//! plus MONGODB_URI / REDIS_URL / AMQP_URL as for the tests.
use actix_web::{web, App, HttpResponse, HttpServer};
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use game_event_service::configuration::{AmqpSettings, Settings};
use game_event_service::startup::Application;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use mongodb::bson::{doc, Document};
use secrecy::SecretString;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}
fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n_claims = env_num("BENCH_CLAIMS", 400);
    let concurrency = env_num("BENCH_CONCURRENCY", 32);
    let n_inserts = env_num("BENCH_INSERTS", 400);

    // auth-service's JWKS, served locally.
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| anyhow::anyhow!("keygen"))?;
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| anyhow::anyhow!("key"))?;
    let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
    let kid = "bench".to_string();
    let jwks =
        json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA"}]});
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let auth_port = listener.local_addr()?.port();
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
    let token = |sub: &str, roles: &[&str]| {
        let now = chrono::Utc::now().timestamp();
        let mut h = Header::new(Algorithm::EdDSA);
        h.typ = Some("at+jwt".into());
        h.kid = Some(kid.clone());
        jsonwebtoken::encode(
            &h,
            &json!({"sub": sub, "roles": roles, "jti": sub, "sid": sub, "iat": now, "nbf": now,
                "exp": now + 3600, "iss": "liveops-auth", "aud": "liveops"}),
            &encoding,
        )
        .expect("sign")
    };

    let run = uuid::Uuid::new_v4().simple().to_string()[..10].to_string();
    let mut settings = Settings::default();
    settings.app.port = 0;
    settings.mongodb.uri = SecretString::from(env_or("MONGODB_URI", "mongodb://127.0.0.1:27017"));
    settings.mongodb.database = format!("ges_bench_{run}");
    settings.redis.url = SecretString::from(env_or("REDIS_URL", "redis://127.0.0.1:6379"));
    settings.redis.key_prefix = format!("ges_bench_{run}:");
    settings.amqp = AmqpSettings {
        url: SecretString::from(env_or("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f")),
        auth_events_exchange: format!("bench.auth.{run}"),
        auth_events_queue: format!("bench.auth-events.{run}"),
        activity_queue: format!("bench.activity.{run}"),
        claims_queue: format!("bench.claims.{run}"),
        rewards_exchange: format!("bench.rewards.{run}"),
        catalog_exchange: format!("bench.catalog.{run}"),
    };
    settings.auth.service_url = format!("http://127.0.0.1:{auth_port}");
    settings.claims.pending_redelivery_seconds = 120;
    let logger = slog::Logger::root(slog::Discard, slog::o!());
    let app = Application::build(settings.clone(), logger).await?;
    let port = app.port();
    let state = app.state();
    let shutdown = app.shutdown_token();
    let join = tokio::spawn(app.run_until_stopped());
    let deadline = Instant::now() + Duration::from_secs(15);
    while !state.broker.is_connected() {
        anyhow::ensure!(Instant::now() < deadline, "RabbitMQ not reachable");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();

    // 1. Raw MongoDB single-document insert rate (sequential, then `concurrency` tasks).
    let scratch = state.store.db.collection::<Document>("bench_raw");
    let t = Instant::now();
    for i in 0..n_inserts {
        scratch
            .insert_one(doc! {"_id": format!("s{i}"), "v": i as i64})
            .await?;
    }
    let raw_seq = n_inserts as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    let per = n_inserts / concurrency.max(1);
    let mut hs = Vec::new();
    for w in 0..concurrency {
        let c = scratch.clone();
        hs.push(tokio::spawn(async move {
            for i in 0..per {
                let _ = c
                    .insert_one(doc! {"_id": format!("c{w}-{i}"), "v": i as i64})
                    .await;
            }
        }));
    }
    for h in hs {
        h.await?;
    }
    let raw_conc = (per * concurrency) as f64 / t.elapsed().as_secs_f64();

    // 2. End to end: accept -> queue -> worker -> decision stored (+ grant + outbox).
    let ev: serde_json::Value = client
        .post(format!("{base}/events"))
        .bearer_auth(token("op", &["OPERATOR"]))
        .json(&json!({"title": "bench", "status": "ACTIVE",
            "startsAt": (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339(),
            "endsAt": (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339(),
            "rewards": [{"type": "POINT", "quantity": 1}], "maxClaims": n_claims as i64 * 10}))
        .send()
        .await?
        .json()
        .await?;
    let event_id = ev["id"].as_str().unwrap_or_default().to_string();
    let tokens: Vec<String> = (0..n_claims)
        .map(|i| token(&format!("bench-user-{i}"), &["USER"]))
        .collect();
    let sem = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let started = Instant::now();
    let mut hs = Vec::new();
    for t in tokens {
        let (client, url, sem) = (
            client.clone(),
            format!("{base}/events/{event_id}/claims"),
            sem.clone(),
        );
        hs.push(tokio::spawn(async move {
            let _p = sem.acquire_owned().await;
            client
                .post(url)
                .bearer_auth(t)
                .send()
                .await
                .map(|r| r.status().as_u16())
        }));
    }
    let mut accepted = 0;
    for h in hs {
        if let Ok(Ok(202)) = h.await {
            accepted += 1;
        }
    }
    let accept_elapsed = started.elapsed();
    let claims = state.store.db.collection::<Document>("claims");
    loop {
        let pending = claims.count_documents(doc! {"status": "PENDING"}).await?;
        if pending == 0 {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "claims not decided"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let decided_elapsed = started.elapsed();
    let approved = claims.count_documents(doc! {"status": "APPROVED"}).await?;
    let e2e = accepted as f64 / decided_elapsed.as_secs_f64();

    println!("claims submitted: {n_claims}, accepted (202): {accepted}, approved: {approved}");
    println!(
        "HTTP accept phase: {:.2}s ({:.0} claims/s accepted)",
        accept_elapsed.as_secs_f64(),
        accepted as f64 / accept_elapsed.as_secs_f64()
    );
    println!(
        "end to end (first request -> last decision stored): {:.2}s = {e2e:.0} claims decided/s",
        decided_elapsed.as_secs_f64()
    );
    println!("MongoDB raw single inserts: {raw_seq:.0}/s sequential, {raw_conc:.0}/s with {concurrency} tasks");
    println!(
        "ratio claims-decided/s : raw-inserts/s (concurrent) = {:.3}",
        e2e / raw_conc
    );
    println!("per claim the store sees ~11 writes (lock, claim, lease, approval, stock when limited, grant, outbox, decision, outbox lease, outbox sent) and ~4 reads");

    println!("mean time per claim-decision step (ms, under this load):");
    for (step, n, mean) in state.metrics.claim_step_summary() {
        println!("  {step:<22} n={n:<6} mean={:.2} ms", mean * 1000.0);
    }
    shutdown.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(20), join).await;
    let _ = state.store.db.drop().await;
    let _ = game_event_service::mq::delete_topology(&settings).await;
    Ok(())
}
