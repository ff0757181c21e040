//! Login throughput vs the bcrypt ceiling, measured in the same run (a benchmark, not a test).
//!
//! The ceiling is what the CPU allows: `cores / time of one bcrypt verification` at the
//! configured cost. The service cannot beat it; the goal is to get within 10 % of it.
//!
//!     MONGODB_URI=mongodb://127.0.0.1:27017 cargo run --release --example bench_login
//!
//! Env: BCRYPT_COST (12), BENCH_SECONDS (20), BENCH_CONCURRENCY (4 x cores), plus the usual
//! MONGODB_URI / REDIS_URL / AMQP_URL. Uses a throwaway database, key prefix and exchange.

use auth_service::configuration::Settings;
use auth_service::startup::Application;
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn env_or(key: &str, default: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| default.to_string())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism()?.get();
    let cost: u32 = env_or("BCRYPT_COST", "12").parse()?;
    let seconds: u64 = env_or("BENCH_SECONDS", "20").parse()?;
    let concurrency: usize = env_or("BENCH_CONCURRENCY", &(4 * cores).to_string()).parse()?;
    let id = uuid::Uuid::new_v4().simple().to_string();
    let mut env: HashMap<String, String> = HashMap::new();
    for (k, v) in [
        ("APP_PORT", "0".to_string()),
        ("LOG_LEVEL", "error".to_string()),
        (
            "MONGODB_URI",
            env_or("MONGODB_URI", "mongodb://127.0.0.1:27017"),
        ),
        ("MONGODB_DATABASE", format!("auth_bench_{id}")),
        ("REDIS_URL", env_or("REDIS_URL", "redis://127.0.0.1:6379")),
        ("REDIS_KEY_PREFIX", format!("authbench:{id}:")),
        (
            "AMQP_URL",
            env_or("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f"),
        ),
        ("AUTH_EVENTS_EXCHANGE", format!("auth.events.bench.{id}")),
        ("BCRYPT_COST", cost.to_string()),
    ] {
        env.insert(k.into(), v);
    }
    let app = Application::build(Settings::from_map(env)?).await?;
    let base = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    let server = tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .map(|r| r.status() != 200)
        .unwrap_or(true)
    {
        anyhow::ensure!(Instant::now() < deadline, "service never became ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // One account per worker, as in real traffic: many players, each logging in once at a time
    // (the per-account throttle counts attempts in flight, so one hot account would hit 429).
    let password = "bench-password-123";
    let mut registrations = Vec::new();
    for i in 0..concurrency {
        let (client, base) = (client.clone(), base.clone());
        registrations.push(tokio::spawn(async move {
            client
                .post(format!("{base}/auth/register"))
                .json(&json!({"email": format!("bench{i}@example.com"), "password": password, "nickname": "bench"}))
                .send()
                .await
                .map(|r| r.status().as_u16())
        }));
    }
    for r in registrations {
        let status = r.await??;
        anyhow::ensure!(status == 201, "register: {status}");
    }

    // Ceiling: one verification at this cost on an otherwise idle process, timed before and
    // after the load run (averaged) so that background noise on a shared machine hits both
    // figures alike.
    let hash = bcrypt::hash(password, cost)?;
    let time_one = || -> anyhow::Result<f64> {
        let samples = 3;
        let started = Instant::now();
        for _ in 0..samples {
            anyhow::ensure!(bcrypt::verify(password, &hash)?);
        }
        Ok(started.elapsed().as_secs_f64() / samples as f64)
    };
    let before = time_one()?;

    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..concurrency {
        let (client, base, ok, failed) = (client.clone(), base.clone(), ok.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < end {
                let r = client
                    .post(format!("{base}/auth/login"))
                    .json(&json!({"email": format!("bench{i}@example.com"), "password": password}))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 200 => ok.fetch_add(1, Ordering::Relaxed),
                    _ => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let after = time_one()?;
    // Cross-check under the same background load: raw bcrypt with every core busy.
    let raw_window = Duration::from_secs(seconds.min(10));
    let raw_done = AtomicU64::new(0);
    let raw_started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..cores {
            s.spawn(|| {
                while raw_started.elapsed() < raw_window {
                    let _ = bcrypt::verify(password, &hash);
                    raw_done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    let raw_rate = raw_done.load(Ordering::Relaxed) as f64 / raw_started.elapsed().as_secs_f64();
    let one_hash = (before + after) / 2.0;
    let ceiling = cores as f64 / one_hash;
    let rate = ok.load(Ordering::Relaxed) as f64 / elapsed;
    println!("cores                 {cores}");
    println!("bcrypt cost           {cost}");
    println!(
        "one verification      {:.1} ms (before {:.1}, after {:.1})",
        one_hash * 1000.0,
        before * 1000.0,
        after * 1000.0
    );
    println!("ceiling               {ceiling:.2} logins/s (cores / one verification)");
    println!(
        "measured              {rate:.2} logins/s over {elapsed:.1} s, concurrency {concurrency}"
    );
    println!(
        "successful / failed   {} / {}",
        ok.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed)
    );
    println!("ratio                 {:.2}", rate / ceiling);
    println!(
        "raw parallel bcrypt   {raw_rate:.2} verifications/s on {cores} threads (ratio {:.2})",
        rate / raw_rate
    );
    handle.stop(true).await;
    let _ = server.await;
    Ok(())
}
