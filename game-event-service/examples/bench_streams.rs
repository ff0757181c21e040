//! Benchmark (not a test): 1,000 live claim streams (`GET /claims/me/stream`) held on one
//! game-event-service instance, a decision for each, and how long each decision takes from its
//! `decidedAt` to arriving on its stream; plus the instance's resident memory before and with
//! the streams open. The instance runs as its own process (the release binary), so its RSS is
//! its own; this process holds the client side.
//!
//!     cargo build --release --bin game-event-service
//!     MONGODB_URI=mongodb://127.0.0.1:27017 cargo run --release --example bench_streams
//!
//! Env: BENCH_STREAMS (1000), BENCH_CLAIM_CONCURRENCY (32), BENCH_BIN (the binary; default
//! `$CARGO_TARGET_DIR/release/game-event-service`, else `target/release/...`), plus
//! MONGODB_URI / REDIS_URL / AMQP_URL. Prints one JSON object.
#[path = "support/auth_stub.rs"]
mod auth_stub;
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
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

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn binary() -> String {
    std::env::var("BENCH_BIN").unwrap_or_else(|_| {
        let dir = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
        format!("{dir}/release/game-event-service")
    })
}

/// Holds one stream; records decision -> arrival (ms) for each claim event.
async fn hold(
    client: reqwest::Client,
    url: String,
    token: String,
    opened: Arc<AtomicUsize>,
    latencies: Arc<Mutex<Vec<f64>>>,
    stop: tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    let mut res = client.get(url).bearer_auth(token).send().await?;
    anyhow::ensure!(res.status() == 200, "stream answered {}", res.status());
    let mut buf = String::new();
    let mut counted = false;
    loop {
        let chunk = tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            c = res.chunk() => match c? { Some(c) => c, None => return Ok(()) },
        };
        if !counted {
            counted = true;
            opened.fetch_add(1, Ordering::SeqCst);
        }
        buf.push_str(std::str::from_utf8(&chunk)?);
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            if let Some(data) = block
                .lines()
                .find_map(|l| l.strip_prefix("data: "))
                .filter(|_| block.starts_with("event: claim"))
            {
                let c: Value = serde_json::from_str(data)?;
                let decided =
                    chrono::DateTime::parse_from_rfc3339(c["decidedAt"].as_str().unwrap_or(""))?;
                let ms = (chrono::Utc::now() - decided.with_timezone(&chrono::Utc))
                    .num_microseconds()
                    .unwrap_or(0) as f64
                    / 1000.0;
                latencies.lock().unwrap().push(ms);
            }
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n = env_num("BENCH_STREAMS", 1000);
    let concurrency = env_num("BENCH_CLAIM_CONCURRENCY", 32);
    let (auth_url, sign) = auth_stub::auth_stub().await?;
    let run = uuid::Uuid::new_v4().simple().to_string()[..10].to_string();
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mongodb_uri = env_or("MONGODB_URI", "mongodb://127.0.0.1:27017");
    let database = format!("ges_bench_streams_{run}");
    let names = [
        ("AUTH_EVENTS_EXCHANGE", format!("bench.auth.{run}")),
        ("AUTH_EVENTS_QUEUE", format!("bench.auth-events.{run}")),
        ("ACTIVITY_QUEUE", format!("bench.activity.{run}")),
        ("CLAIMS_QUEUE", format!("bench.claims.{run}")),
        ("REWARDS_EXCHANGE", format!("bench.rewards.{run}")),
        ("CATALOG_EXCHANGE", format!("bench.catalog.{run}")),
        ("DECISIONS_EXCHANGE", format!("bench.decisions.{run}")),
    ];
    let mut child = tokio::process::Command::new(binary())
        .envs(names.iter().cloned())
        .env("APP_PORT", port.to_string())
        .env("LOG_LEVEL", "error")
        .env("MONGODB_URI", &mongodb_uri)
        .env("MONGODB_DATABASE", &database)
        .env("REDIS_URL", env_or("REDIS_URL", "redis://127.0.0.1:6379"))
        .env("REDIS_KEY_PREFIX", format!("ges_bench_{run}:"))
        .env(
            "AMQP_URL",
            env_or("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f"),
        )
        .env("AUTH_SERVICE_URL", &auth_url)
        .kill_on_drop(true)
        .spawn()?;
    let pid = child.id().unwrap_or(0);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(n + 64)
        .build()?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = client.get(format!("{base}/readyz")).send().await;
        if ready.is_ok_and(|r| r.status() == 200) {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "instance not ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let now = chrono::Utc::now();
    let event: Value = client
        .post(format!("{base}/events"))
        .bearer_auth(sign("bench-operator", &["OPERATOR"]))
        .json(&json!({
            "title": "streams", "status": "ACTIVE", "conditions": [],
            "startsAt": (now - chrono::Duration::days(1)).to_rfc3339(),
            "endsAt": (now + chrono::Duration::days(1)).to_rfc3339(),
            "rewards": [{"type": "POINT", "quantity": 1}],
        }))
        .send()
        .await?
        .json()
        .await?;
    let event_id = event["id"].as_str().unwrap_or_default().to_string();
    anyhow::ensure!(!event_id.is_empty(), "event not created: {event}");
    let rss_idle = rss_kib(pid);

    let opened = Arc::new(AtomicUsize::new(0));
    let latencies: Arc<Mutex<Vec<f64>>> = Arc::default();
    let stop = tokio_util::sync::CancellationToken::new();
    let users: Vec<String> = (0..n).map(|i| format!("bench-u{i}")).collect();
    let t_open = Instant::now();
    let mut holders = Vec::with_capacity(n);
    for u in &users {
        holders.push(tokio::spawn(hold(
            client.clone(),
            format!("{base}/claims/me/stream"),
            sign(u, &["USER"]),
            opened.clone(),
            latencies.clone(),
            stop.clone(),
        )));
    }
    while opened.load(Ordering::SeqCst) < n {
        anyhow::ensure!(
            t_open.elapsed() < Duration::from_secs(60),
            "only {} streams opened",
            opened.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let open_secs = t_open.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_open = rss_kib(pid);

    let t_claims = Instant::now();
    let tokens: Vec<String> = users.iter().map(|u| sign(u, &["USER"])).collect();
    let url = format!("{base}/events/{event_id}/claims");
    futures_util::stream::iter(tokens)
        .for_each_concurrent(concurrency, |t| {
            let (client, url) = (client.clone(), url.clone());
            async move {
                let _ = client.post(url).bearer_auth(t).send().await;
            }
        })
        .await;
    let accept_secs = t_claims.elapsed().as_secs_f64();
    let deadline = Instant::now() + Duration::from_secs(180);
    while latencies.lock().unwrap().len() < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let all_secs = t_claims.elapsed().as_secs_f64();
    let rss_after = rss_kib(pid);
    let mut l = latencies.lock().unwrap().clone();
    l.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let out = json!({
        "workload": "claim-streams",
        "streams": n,
        "streamsOpenedSeconds": open_secs,
        "delivered": l.len(),
        "claimsAcceptedSeconds": accept_secs,
        "allDeliveredSeconds": all_secs,
        "deliveryMs": {"p50": percentile(&l, 0.5), "p99": percentile(&l, 0.99), "max": l.last()},
        "rssKiB": {"idle": rss_idle, "streamsOpen": rss_open, "afterDecisions": rss_after},
        "perStreamKiB": (rss_open as f64 - rss_idle as f64) / n as f64,
    });
    println!("{out}");
    stop.cancel();
    for h in holders {
        let _ = h.await;
    }
    let _ = child.kill().await;
    // Clean up what the run created.
    if let Ok(c) = mongodb::Client::with_uri_str(&mongodb_uri).await {
        let _ = c.database(&database).drop().await;
    }
    let mut settings = game_event_service::configuration::Settings::default();
    settings.amqp.url =
        secrecy::SecretString::from(env_or("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f"));
    for (k, v) in names {
        match k {
            "AUTH_EVENTS_EXCHANGE" => settings.amqp.auth_events_exchange = v,
            "AUTH_EVENTS_QUEUE" => settings.amqp.auth_events_queue = v,
            "ACTIVITY_QUEUE" => settings.amqp.activity_queue = v,
            "CLAIMS_QUEUE" => settings.amqp.claims_queue = v,
            "REWARDS_EXCHANGE" => settings.amqp.rewards_exchange = v,
            "CATALOG_EXCHANGE" => settings.amqp.catalog_exchange = v,
            _ => settings.amqp.decisions_exchange = v,
        }
    }
    let _ = game_event_service::mq::delete_topology(&settings).await;
    Ok(())
}
