//! Load generator and baselines for `bench/run`. Each subcommand prints one JSON object.
//!
//!   bench bcrypt-ceiling COST                 hashes/s the machine can do at COST on all cores
//!   bench mongo-inserts URI N                 raw sequential single-document inserts/s
//!   bench logins GATEWAY USERS SECONDS        logins/s through the gateway (USERS registered first)
//!   bench claims GATEWAY ADMIN_EMAIL ADMIN_PASSWORD USERS
//!                                             claims decided/s, HTTP accept to stored decision
//!   bench token GATEWAY                        registers a user and prints an access token and an
//!                                             ACTIVE event id (for wrk)

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use chrono::Utc;
use futures_util::{stream, StreamExt, TryStreamExt};
use serde_json::{json, Value};

fn arg(n: usize) -> Result<String> {
    std::env::args()
        .nth(n)
        .with_context(|| format!("missing argument {n}"))
}

#[tokio::main]
async fn main() -> Result<()> {
    let out = match arg(1)?.as_str() {
        "bcrypt-ceiling" => bcrypt_ceiling(arg(2)?.parse()?).await?,
        "mongo-inserts" => mongo_inserts(&arg(2)?, arg(3)?.parse()?).await?,
        "logins" => logins(&arg(2)?, arg(3)?.parse()?, arg(4)?.parse()?).await?,
        "claims" => claims(&arg(2)?, &arg(3)?, &arg(4)?, arg(5)?.parse()?).await?,
        "token" => token(&arg(2)?).await?,
        other => bail!("unknown subcommand {other}"),
    };
    println!("{out}");
    Ok(())
}

async fn bcrypt_ceiling(cost: u32) -> Result<Value> {
    let cores = std::thread::available_parallelism()?.get();
    let rounds = 5;
    let started = Instant::now();
    for _ in 0..rounds {
        tokio::task::spawn_blocking(move || bcrypt::hash("benchmark-password", cost)).await??;
    }
    let per_hash = started.elapsed().as_secs_f64() / rounds as f64;
    Ok(
        json!({"cost": cost, "cores": cores, "secondsPerHash": per_hash,
              "ceilingPerSecond": cores as f64 / per_hash}),
    )
}

async fn mongo_inserts(uri: &str, n: usize) -> Result<Value> {
    let client = mongodb::Client::with_uri_str(uri).await?;
    let coll = client
        .database(&format!("bench_{}", uuid::Uuid::new_v4().simple()))
        .collection::<mongodb::bson::Document>("raw");
    let started = Instant::now();
    for i in 0..n {
        coll.insert_one(
            mongodb::bson::doc! {"_id": uuid::Uuid::now_v7().to_string(), "n": i as i64},
        )
        .await?;
    }
    let secs = started.elapsed().as_secs_f64();
    coll.drop().await.ok();
    Ok(json!({"inserts": n, "seconds": secs, "perSecond": n as f64 / secs}))
}

fn client() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(512)
        .pool_idle_timeout(Duration::from_secs(2))
        .build()?)
}

async fn post(
    http: &reqwest::Client,
    url: String,
    token: Option<&str>,
    body: Value,
) -> Result<Value> {
    let mut req = http.post(&url).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await?;
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("POST {url}: {status} {body}");
    }
    Ok(body)
}

async fn register_and_login(
    http: &reqwest::Client,
    gw: &str,
    email: &str,
) -> Result<(String, String)> {
    let user = post(
        http,
        format!("{gw}/auth/register"),
        None,
        json!({"email": email, "password": "bench-password-1", "nickname": "bench"}),
    )
    .await?;
    let tokens = post(
        http,
        format!("{gw}/auth/login"),
        None,
        json!({"email": email, "password": "bench-password-1"}),
    )
    .await?;
    Ok((
        user["id"].as_str().unwrap_or_default().to_string(),
        tokens["accessToken"]
            .as_str()
            .context("accessToken")?
            .to_string(),
    ))
}

async fn logins(gw: &str, users: usize, seconds: u64) -> Result<Value> {
    let http = client()?;
    let run = uuid::Uuid::new_v4().simple().to_string();
    let emails: Vec<String> = (0..users)
        .map(|n| format!("login{n}-{run}@bench.test"))
        .collect();
    stream::iter(emails.iter())
        .map(|e| {
            let http = &http;
            async move {
                post(
                    http,
                    format!("{gw}/auth/register"),
                    None,
                    json!({"email": e, "password": "bench-password-1", "nickname": "bench"}),
                )
                .await
            }
        })
        .buffer_unordered(8)
        .try_collect::<Vec<_>>()
        .await?;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let workers = users.max(1);
    let counts: Vec<usize> = stream::iter(emails.iter())
        .map(|e| {
            let http = &http;
            async move {
                let mut n = 0;
                while Instant::now() < deadline {
                    post(
                        http,
                        format!("{gw}/auth/login"),
                        None,
                        json!({"email": e, "password": "bench-password-1"}),
                    )
                    .await?;
                    n += 1;
                }
                Ok::<_, anyhow::Error>(n)
            }
        })
        .buffer_unordered(workers)
        .try_collect()
        .await?;
    let total: usize = counts.iter().sum();
    let secs = started.elapsed().as_secs_f64();
    Ok(
        json!({"logins": total, "seconds": secs, "perSecond": total as f64 / secs, "concurrency": workers}),
    )
}

async fn create_event(
    http: &reqwest::Client,
    gw: &str,
    admin: &str,
    stock: Option<usize>,
) -> Result<String> {
    let now = Utc::now();
    let mut event = json!({
        "title": "Bench event", "description": "benchmark",
        "startsAt": (now - chrono::Duration::days(1)).to_rfc3339(),
        "endsAt": (now + chrono::Duration::days(1)).to_rfc3339(),
        "timezone": "UTC", "status": "ACTIVE", "conditions": [],
        "rewards": [{"type": "POINT", "quantity": 1}]
    });
    if let Some(s) = stock {
        event["maxClaims"] = json!(s);
    }
    let created = post(http, format!("{gw}/events"), Some(admin), event).await?;
    Ok(created["id"].as_str().context("event id")?.to_string())
}

async fn admin_token(
    http: &reqwest::Client,
    gw: &str,
    email: &str,
    password: &str,
) -> Result<String> {
    let tokens = post(
        http,
        format!("{gw}/auth/login"),
        None,
        json!({"email": email, "password": password}),
    )
    .await?;
    Ok(tokens["accessToken"]
        .as_str()
        .context("accessToken")?
        .to_string())
}

async fn claims(gw: &str, admin_email: &str, admin_password: &str, users: usize) -> Result<Value> {
    let http = client()?;
    let admin = admin_token(&http, gw, admin_email, admin_password).await?;
    let event = create_event(&http, gw, &admin, None).await?;
    let run = uuid::Uuid::new_v4().simple().to_string();
    let tokens: Vec<String> = stream::iter(0..users)
        .map(|n| {
            let (http, run) = (&http, &run);
            async move {
                register_and_login(http, gw, &format!("claim{n}-{run}@bench.test"))
                    .await
                    .map(|(_, t)| t)
            }
        })
        .buffer_unordered(16)
        .try_collect()
        .await?;
    let started = Instant::now();
    let ids: Vec<String> = stream::iter(tokens.iter())
        .map(|t| {
            let (http, event) = (&http, &event);
            async move {
                let c = post(
                    http,
                    format!("{gw}/events/{event}/claims"),
                    Some(t),
                    json!({}),
                )
                .await?;
                Ok::<_, anyhow::Error>(c["id"].as_str().unwrap_or_default().to_string())
            }
        })
        .buffer_unordered(64)
        .try_collect()
        .await?;
    let accepted_secs = started.elapsed().as_secs_f64();
    // Decided when no claim of the event is PENDING any more.
    loop {
        let resp = http
            .get(format!(
                "{gw}/claims?eventId={event}&status=PENDING&limit=1"
            ))
            .bearer_auth(&admin)
            .send()
            .await?;
        let body: Value = resp.json().await?;
        if body["items"].as_array().is_some_and(|a| a.is_empty()) {
            break;
        }
        if started.elapsed() > Duration::from_secs(600) {
            bail!("claims still pending after 600 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    Ok(
        json!({"claims": ids.len(), "acceptSeconds": accepted_secs, "seconds": secs,
              "acceptedPerSecond": ids.len() as f64 / accepted_secs,
              "decidedPerSecond": ids.len() as f64 / secs}),
    )
}

async fn token(gw: &str) -> Result<Value> {
    let http = client()?;
    let email = format!("wrk-{}@bench.test", uuid::Uuid::new_v4().simple());
    let (_, token) = register_and_login(&http, gw, &email).await?;
    let admin_email = std::env::var("BOOTSTRAP_ADMIN_EMAIL").context("BOOTSTRAP_ADMIN_EMAIL")?;
    let admin_password =
        std::env::var("BOOTSTRAP_ADMIN_PASSWORD").context("BOOTSTRAP_ADMIN_PASSWORD")?;
    let admin = admin_token(&http, gw, &admin_email, &admin_password).await?;
    let event = create_event(&http, gw, &admin, None).await?;
    Ok(json!({"token": token, "eventId": event}))
}
