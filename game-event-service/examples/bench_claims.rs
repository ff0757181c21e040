//! Benchmark (not a test): the claims engine end to end (HTTP accept -> stored decision) in two
//! launch-style workloads, against the MongoDB server's raw sequential single-insert rate
//! measured in the same run, on one in-process instance:
//!
//! - spread: 200 events x 10 users, 32 connections;
//! - hot: 1 event x 1,000 users at once (128 connections), stock 500: exactly 500 APPROVED.
//!
//!     MONGODB_URI=mongodb://127.0.0.1:27017 cargo run --release --example bench_claims
//!
//! Env: BENCH_SPREAD_EVENTS (200), BENCH_SPREAD_USERS (10), BENCH_HOT_USERS (1000),
//! BENCH_HOT_STOCK (500), BENCH_INSERTS (1000), BENCH_PRELOAD (0: claims stored before the run,
//! to show the cost per claim does not grow with the collection), the worker's
//! CLAIM_WORKER_CONCURRENCY / CLAIM_WORKER_BATCH / CLAIM_WORKER_PREFETCH, plus MONGODB_URI /
//! REDIS_URL / AMQP_URL as for the tests. Prints one JSON object per workload.
#[path = "support/auth_stub.rs"]
mod auth_stub;
use futures_util::{StreamExt, TryStreamExt};
use game_event_service::configuration::{AmqpSettings, Settings};
use game_event_service::domain::activity::Activity;
use game_event_service::domain::UserId;
use game_event_service::startup::Application;
use mongodb::bson::{doc, Document};
use secrecy::SecretString;
use serde_json::json;
use serde_json::Value;
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
    let spread_events = env_num("BENCH_SPREAD_EVENTS", 200);
    let spread_users = env_num("BENCH_SPREAD_USERS", 10);
    let hot_users = env_num("BENCH_HOT_USERS", 1000);
    let hot_stock = env_num("BENCH_HOT_STOCK", 500);
    let n_inserts = env_num("BENCH_INSERTS", 1000);
    let preload = env_num("BENCH_PRELOAD", 0);

    // auth-service's JWKS, served locally.
    let (auth_url, token) = auth_stub::auth_stub().await?;

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
        decisions_exchange: format!("bench.decisions.{run}"),
    };
    settings.auth.service_url = auth_url;
    settings.claims.pending_redelivery_seconds = 120;
    // The worker's shape, as the service reads it from the environment.
    let claims = &mut settings.claims;
    claims.worker_concurrency = env_num("CLAIM_WORKER_CONCURRENCY", claims.worker_concurrency);
    claims.worker_batch = env_num("CLAIM_WORKER_BATCH", claims.worker_batch);
    claims.worker_prefetch =
        env_num("CLAIM_WORKER_PREFETCH", claims.worker_prefetch as usize) as u16;
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
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    // Measuring goes through its own client, so it does not count as the engine's round trips.
    let probe = mongodb::Client::with_uri_str(env_or("MONGODB_URI", "mongodb://127.0.0.1:27017"))
        .await?
        .database(&settings.mongodb.database);

    // Raw MongoDB single-document insert rate, sequential, in the same run.
    let scratch = probe.collection::<Document>("bench_raw");
    let t = Instant::now();
    for i in 0..n_inserts {
        scratch
            .insert_one(doc! {"_id": format!("s{i}"), "v": i as i64})
            .await?;
    }
    let raw = n_inserts as f64 / t.elapsed().as_secs_f64();
    println!("{}", json!({"workload": "mongo-inserts", "perSecond": raw}));

    if preload > 0 {
        let claims = probe.collection::<Document>("claims");
        let now = mongodb::bson::DateTime::now();
        for chunk in (0..preload).collect::<Vec<_>>().chunks(1000) {
            let docs: Vec<Document> = chunk
                .iter()
                .map(|i| doc! {"_id": format!("preload-{i}"), "eventId": "old", "userId": format!("u{i}"),
                "status": "APPROVED", "rewards": [], "requestedAt": now, "decidedAt": now,
                "leaseUntil": 0_i64, "sweepUntil": 0_i64, "openKey": format!("old:u{i}")})
                .collect();
            claims.insert_many(docs).await?;
        }
    }

    let op = token("op", &["OPERATOR"]);
    let create = |stock: Option<usize>| {
        let (client, base, op) = (client.clone(), base.clone(), op.clone());
        async move {
            let mut body = json!({"title": "bench", "status": "ACTIVE",
                "startsAt": (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339(),
                "endsAt": (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339(),
                "conditions": [{"type": "LOGIN_DAYS", "threshold": 1}],
                "rewards": [{"type": "POINT", "quantity": 1}]});
            if let Some(s) = stock {
                body["maxClaims"] = json!(s);
            }
            let ev: Value = client
                .post(format!("{base}/events"))
                .bearer_auth(op)
                .json(&body)
                .send()
                .await?
                .json()
                .await?;
            anyhow::Ok(ev["id"].as_str().unwrap_or_default().to_string())
        }
    };
    let mut spread = Vec::new();
    for _ in 0..spread_events {
        spread.push(create(None).await?);
    }
    let hot = create(Some(hot_stock)).await?;

    let workloads = [
        ("spread", spread.clone(), spread_users, 32, None),
        ("hot", vec![hot.clone()], hot_users, 128, Some(hot_stock)),
    ];
    for (name, events, users, connections, stock) in workloads {
        // Every claimant logged in once (the events' condition), recorded as the service
        // records activity (the record and its totals).
        let mut claims = Vec::new();
        let mut logins = Vec::new();
        for (e, event) in events.iter().enumerate() {
            for u in 0..users {
                let user = format!("{name}-{e}-{u}");
                logins.push(Activity {
                    id: format!("login-{user}"),
                    user_id: UserId::parse(&user).expect("user id"),
                    key: "login".into(),
                    value: 1,
                    occurred_at: chrono::Utc::now(),
                    subject_user_id: None,
                });
                claims.push((event.clone(), token(&user, &["USER"])));
            }
        }
        futures_util::stream::iter(logins.iter().map(|a| state.store.insert_activity(a)))
            .buffer_unordered(32)
            .try_collect::<Vec<bool>>()
            .await?;
        let result = run_workload(
            name,
            &client,
            &base,
            &probe,
            &state.store,
            claims,
            connections,
            raw,
        )
        .await?;
        if let Some(stock) = stock {
            anyhow::ensure!(
                result["approved"] == json!(stock),
                "hot: expected exactly {stock} approved, got {}",
                result["approved"]
            );
        }
        println!("{result}");
    }

    eprintln!("mean time per claim-decision step (ms):");
    for (step, n, mean) in state.metrics.claim_step_summary() {
        eprintln!("  {step:<22} n={n:<6} mean={:.2} ms", mean * 1000.0);
    }
    shutdown.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(20), join).await;
    let _ = probe.drop().await;
    let _ = game_event_service::mq::delete_topology(&settings).await;
    Ok(())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Sends every claim (`connections` at a time), waits until all are decided, and reports.
#[allow(clippy::too_many_arguments)]
async fn run_workload(
    name: &str,
    client: &reqwest::Client,
    base: &str,
    probe: &mongodb::Database,
    store: &game_event_service::store::Store,
    claims: Vec<(String, String)>,
    connections: usize,
    raw_inserts: f64,
) -> anyhow::Result<Value> {
    let events: Vec<String> = {
        let mut e: Vec<String> = claims.iter().map(|(e, _)| e.clone()).collect();
        e.sort();
        e.dedup();
        e
    };
    let total = claims.len();
    let commands_before = store.commands_sent();
    let sem = Arc::new(tokio::sync::Semaphore::new(connections));
    let started = Instant::now();
    let mut hs = Vec::new();
    for (event, t) in claims {
        let (client, url, sem) = (
            client.clone(),
            format!("{base}/events/{event}/claims"),
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
    let coll = probe.collection::<Document>("claims");
    let mine = doc! {"eventId": {"$in": &events}};
    loop {
        let mut f = mine.clone();
        f.insert("status", "PENDING");
        // One indexed document, not a count: a count is a scan of the whole collection on the
        // stand-in, which would measure the poller instead of the engine once claims are stored.
        let left = coll.find_one(f).projection(doc! {"_id": 1}).await?;
        if left.is_none() {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "claims not decided"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let decided_elapsed = started.elapsed();
    let commands = store.commands_sent() - commands_before;
    let docs: Vec<Document> = coll.find(mine).await?.try_collect().await?;
    let mut latencies: Vec<f64> = docs
        .iter()
        .filter_map(|d| {
            let a = d.get_datetime("requestedAt").ok()?.timestamp_millis();
            let b = d.get_datetime("decidedAt").ok()?.timestamp_millis();
            Some((b - a) as f64 / 1000.0)
        })
        .collect();
    latencies.sort_by(|a, b| a.total_cmp(b));
    let approved = docs
        .iter()
        .filter(|d| d.get_str("status") == Ok("APPROVED"))
        .count();
    let decided = latencies.len();
    let decided_per_s = decided as f64 / decided_elapsed.as_secs_f64();
    Ok(json!({
        "workload": name, "claims": total, "connections": connections,
        "accepted": accepted, "decided": decided, "approved": approved,
        "lost": total - decided,
        "acceptedPerSecond": accepted as f64 / accept_elapsed.as_secs_f64(),
        "decidedPerSecond": decided_per_s,
        "p50Seconds": percentile(&latencies, 0.5), "p99Seconds": percentile(&latencies, 0.99),
        "storeRoundTripsPerClaim": commands as f64 / total.max(1) as f64,
        "ratioToRawInserts": decided_per_s / raw_inserts,
    }))
}
