//! Faults while claims are flowing: RabbitMQ restarts, then Redis (which keeps nothing), then the
//! MongoDB server (file-backed for this run). Afterwards every accepted claim is decided, nobody is
//! approved twice, one grant message per approval, a logged-out token is still refused, and every
//! service recovered without a restart. What each fault cost is printed and written to
//! `target/e2e-logs/<run>/faults.json`.
//!
//! This test restarts the machine's shared Redis and RabbitMQ, so it runs alone in its own binary,
//! and it restores both even when it fails.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use chrono::{Duration as Days, Utc};
use e2e::amqp::GrantListener;
use e2e::{free_port, repo_root, Platform, Topology, User};
use futures_util::{stream, StreamExt, TryStreamExt};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::process::{Child, Command};

const REDIS_START: &str = "redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 \
     --save '' --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log";

fn sh(cmd: &str) -> bool {
    std::process::Command::new("sh")
        .args(["-c", cmd])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn redis_answers() -> bool {
    sh("redis-cli -h 127.0.0.1 -p 6379 ping | grep -q PONG")
}

/// Puts Redis and RabbitMQ back however the test ends: CI and the next suites need them.
struct RestoreSharedInfra;

impl Drop for RestoreSharedInfra {
    fn drop(&mut self) {
        if !redis_answers() {
            sh(REDIS_START);
        }
        if !sh("rabbitmqctl -q await_startup --timeout 5") {
            sh("rabbitmqctl start_app");
        }
    }
}

/// A file-backed MongoDB development server that the test can stop and start again.
struct Standin {
    port: u16,
    child: Option<Child>,
}

impl Standin {
    async fn start(dir: PathBuf, port: u16) -> Result<Standin> {
        let bin = std::env::var("NX_27017_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|_| repo_root().join(".venv-mongo/bin/nx-27017"));
        std::fs::create_dir_all(&dir)?;
        let child = Command::new(&bin)
            .args(["--data-dir", dir.to_str().unwrap(), "--host", "127.0.0.1"])
            .args(["-p", &port.to_string()])
            .arg("--log-file")
            .arg(dir.join("nx.log"))
            .arg("--pid-file")
            .arg(dir.join("nx.pid"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let deadline = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if Instant::now() > deadline {
                bail!("the MongoDB stand-in did not start on {port}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(Standin {
            port,
            child: Some(child),
        })
    }

    fn uri(&self) -> String {
        format!("mongodb://127.0.0.1:{}", self.port)
    }

    async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }
}

#[derive(Clone, Debug)]
enum Outcome {
    Accepted(String),
    Refused(u16),
    Failed,
}

#[derive(serde::Serialize)]
struct FaultCost {
    fault: &'static str,
    errors_returned: usize,
    /// HTTP statuses of the refused claims (0 = no response at all).
    error_statuses: Vec<u16>,
    claims_accepted: usize,
    seconds_until_all_ready: f64,
}

async fn all_ready(p: &Platform) -> bool {
    for url in p
        .gateways
        .iter()
        .chain(&p.auth_services)
        .chain(&p.game_event_services)
    {
        match p.http.get(format!("{url}/readyz")).send().await {
            Ok(r) if r.status() == StatusCode::OK => {}
            _ => return false,
        }
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_claim_is_decided_through_infrastructure_faults() -> Result<()> {
    let _restore = RestoreSharedInfra;
    let data = repo_root()
        .join("target")
        .join("e2e-mongo")
        .join(uuid::Uuid::new_v4().simple().to_string());
    let mut mongo = Standin::start(data.clone(), free_port()).await?;
    let p = Platform::start_on(Topology::SINGLE, &mongo.uri()).await?;
    let grants = GrantListener::bind(&p.amqp_url, &p.rewards_exchange).await?;
    let admin = p.admin_token().await?;

    let now = Utc::now();
    let created = p
        .post(
            "/events",
            Some(&admin),
            json!({
                "title": "Storm drill", "description": "claims under faults",
                "startsAt": (now - Days::days(1)).to_rfc3339(),
                "endsAt": (now + Days::days(1)).to_rfc3339(),
                "timezone": "UTC", "status": "ACTIVE", "conditions": [],
                "rewards": [{"type": "COUPON", "itemCode": "storm", "quantity": 1}]
            }),
        )
        .await?;
    created.expect(StatusCode::CREATED, "create event")?;
    let event_id = created.body["id"].as_str().unwrap().to_string();

    // Enough players for the claim stream to outlast all three faults.
    let players: Vec<User> = stream::iter(0..400)
        .map(|n| {
            let p = &p;
            async move { p.player(&format!("f{n}-{}@e2e.test", p.run_id), None).await }
        })
        .buffer_unordered(16)
        .try_collect()
        .await?;
    // One player logs out before the faults; their token must stay refused after Redis forgets.
    let leaver = p
        .player(&format!("leaver-{}@e2e.test", p.run_id), None)
        .await?;
    p.call(Method::POST, "/auth/logout", Some(&leaver.token), None, &[])
        .await?
        .expect(StatusCode::NO_CONTENT, "logout")?;

    // The claim stream: one claim per player, ten a second, each outcome time-stamped, until the
    // last fault is over.
    // (sent, answered, outcome): a request counts for a fault when it was in flight during it,
    // so one that waits out the store's timeout still counts though it ends after recovery.
    let outcomes: Arc<Mutex<Vec<(Instant, Instant, Outcome)>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let driver = {
        let (stop, outcomes, players, http, gw) = (
            stop.clone(),
            outcomes.clone(),
            players.clone(),
            p.http.clone(),
            p.gateways[0].clone(),
        );
        let path = format!("/events/{event_id}/claims");
        tokio::spawn(async move {
            for u in players {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let sent = Instant::now();
                let resp = http
                    .post(format!("{gw}{path}"))
                    .bearer_auth(&u.token)
                    .header("Idempotency-Key", format!("fault-{}", u.id))
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await;
                let outcome = match resp {
                    Ok(r) if r.status() == StatusCode::ACCEPTED || r.status() == StatusCode::OK => {
                        let body: Value = r.json().await.unwrap_or(Value::Null);
                        Outcome::Accepted(body["id"].as_str().unwrap_or_default().to_string())
                    }
                    Ok(r) => Outcome::Refused(r.status().as_u16()),
                    Err(_) => Outcome::Failed,
                };
                outcomes
                    .lock()
                    .unwrap()
                    .push((sent, Instant::now(), outcome));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };

    let mut costs = vec![];
    for fault in ["rabbitmq", "redis", "mongodb"] {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let began = Instant::now();
        match fault {
            "rabbitmq" => {
                assert!(sh("rabbitmqctl stop_app"), "rabbitmqctl stop_app");
                tokio::time::sleep(Duration::from_secs(2)).await;
                assert!(sh("rabbitmqctl start_app"), "rabbitmqctl start_app");
            }
            "redis" => {
                sh("redis-cli -h 127.0.0.1 -p 6379 shutdown nosave");
                tokio::time::sleep(Duration::from_secs(2)).await;
                assert!(sh(REDIS_START), "restart redis");
            }
            _ => {
                mongo.stop().await;
                tokio::time::sleep(Duration::from_secs(2)).await;
                mongo = Standin::start(data.clone(), mongo.port).await?;
            }
        }
        let restored = Instant::now();
        let ready = p
            .eventually(
                "every service ready again",
                Duration::from_secs(60),
                || async { Ok(all_ready(&p).await.then_some(())) },
            )
            .await;
        let ready_after = restored.elapsed().as_secs_f64();
        ready.with_context(|| format!("after restarting {fault}"))?;
        let ended = Instant::now();
        // A claim sent just before the fault may still wait for its answer (up to its 5 s
        // timeout) now that the services are ready again. The driver sends one claim at a
        // time, so once a claim sent after `ended` has its answer, every claim in flight during
        // the fault has one too.
        let answered = &outcomes;
        p.eventually(
            "a claim sent after the fault answered",
            Duration::from_secs(30),
            || async move {
                let log = answered.lock().unwrap();
                Ok(log.iter().any(|(sent, _, _)| *sent > ended).then_some(()))
            },
        )
        .await
        .with_context(|| format!("the claim stream after restarting {fault}"))?;
        let window: Vec<Outcome> = outcomes
            .lock()
            .unwrap()
            .iter()
            .filter(|(sent, answered, _)| *sent <= ended && *answered >= began)
            .map(|(_, _, o)| o.clone())
            .collect();
        assert!(
            !window.is_empty(),
            "claims were flowing while {fault} restarted"
        );
        costs.push(FaultCost {
            fault,
            errors_returned: window
                .iter()
                .filter(|o| !matches!(o, Outcome::Accepted(_)))
                .count(),
            error_statuses: window
                .iter()
                .filter_map(|o| match o {
                    Outcome::Refused(s) => Some(*s),
                    Outcome::Failed => Some(0),
                    Outcome::Accepted(_) => None,
                })
                .collect(),
            claims_accepted: window
                .iter()
                .filter(|o| matches!(o, Outcome::Accepted(_)))
                .count(),
            seconds_until_all_ready: ready_after,
        });
    }
    // Claims keep flowing a little after the last recovery, then stop.
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    driver.await?;

    // Every accepted claim reaches a decision.
    let accepted: Vec<String> = outcomes
        .lock()
        .unwrap()
        .iter()
        .filter_map(|(_, _, o)| match o {
            Outcome::Accepted(id) => Some(id.clone()),
            _ => None,
        })
        .collect();
    assert!(
        accepted.len() >= 45,
        "most claims accepted: {}",
        accepted.len()
    );
    let claims = p
        .eventually("every claim decided", Duration::from_secs(180), || async {
            let all = p
                .all_pages(&format!("/claims?eventId={event_id}"), &admin)
                .await?;
            let done = accepted.iter().all(|id| {
                all.iter()
                    .any(|c| c["id"] == json!(id) && c["status"] != json!("PENDING"))
            });
            Ok(done.then_some(all))
        })
        .await?;
    let approved: Vec<&Value> = claims
        .iter()
        .filter(|c| c["status"] == json!("APPROVED"))
        .collect();
    let mut users: Vec<&str> = approved
        .iter()
        .filter_map(|c| c["userId"].as_str())
        .collect();
    users.sort_unstable();
    let before = users.len();
    users.dedup();
    assert_eq!(before, users.len(), "a user was approved twice");

    // One grant message per approval: same ids, none missing.
    let approved_ids: std::collections::BTreeSet<String> = approved
        .iter()
        .filter_map(|c| c["id"].as_str().map(str::to_string))
        .collect();
    let delivered = p
        .eventually(
            "a grant for every approval",
            Duration::from_secs(90),
            || async {
                let ids: std::collections::BTreeSet<String> = grants
                    .grants()
                    .into_iter()
                    .filter_map(|g| g.message_id)
                    .collect();
                Ok((ids == approved_ids).then_some(ids))
            },
        )
        .await?;
    assert_eq!(delivered.len(), approved.len());

    // Revocations live in MongoDB: Redis forgetting everything does not revive a token.
    p.get("/claims/me", Some(&leaver.token))
        .await?
        .expect(StatusCode::UNAUTHORIZED, "logged-out token after faults")?;
    assert!(
        all_ready(&p).await,
        "every service recovered without a restart"
    );

    let report = serde_json::to_string_pretty(&json!({
        "accepted": accepted.len(),
        "approved": approved.len(),
        "grantMessages": grants.grants().len(),
        "faults": costs,
    }))?;
    println!("fault run: {report}");
    std::fs::write(p.log_dir.join("faults.json"), report)?;
    grants.close().await;
    mongo.stop().await;
    let _ = std::fs::remove_dir_all(&data);
    Ok(())
}
