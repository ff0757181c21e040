//! The lockout attempt from two source addresses: an attacker at 127.0.0.2 fires 60 parallel
//! wrong-password logins at one account through the gateway while other players log in from
//! 127.0.0.1; afterwards the victim and everyone else log in from 127.0.0.1 as usual. The gateway
//! overwrites X-Forwarded-For with the peer address and auth-service trusts it only from the
//! gateway, so the throttling keys on the attacker's address, not on the gateway's.

use std::time::Instant;

use anyhow::{ensure, Result};
use e2e::raw::{http_client_from, loopback, Latencies};
use e2e::{Overrides, Platform, Topology, PASSWORD};
use reqwest::StatusCode;
use serde_json::json;

const ATTEMPTS: usize = 60;
const MAX_FAILURES: usize = 5;

async fn login_status(
    http: &reqwest::Client,
    base: &str,
    email: &str,
    password: &str,
) -> Result<(StatusCode, Option<u64>)> {
    let r = http
        .post(format!("{base}/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await?;
    let retry_after = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    Ok((r.status(), retry_after))
}

#[tokio::test]
async fn a_brute_force_from_one_address_locks_out_only_that_address() -> Result<()> {
    // auth-service's throttling at its defaults (the harness turns it off for load runs).
    let p = Platform::start_with(
        Topology::SINGLE,
        Overrides {
            auth: vec![
                ("LOGIN_MAX_FAILURES", MAX_FAILURES.to_string()),
                ("LOGIN_MAX_FAILURES_PER_IP", "50".into()),
                ("LOGIN_FAILURE_WINDOW_SECONDS", "900".into()),
                ("LOGIN_DELAY_SECONDS", "30".into()),
            ],
            gateway: vec![],
        },
    )
    .await?;
    let victim = format!("victim-{}@e2e.test", p.run_id);
    p.register(&victim, None).await?;
    let mut others = Vec::new();
    for i in 0..5 {
        let email = format!("other{i}-{}@e2e.test", p.run_id);
        p.register(&email, None).await?;
        others.push(email);
    }
    let gateway = p.gateways[0].clone();

    let attacker = http_client_from(loopback(2));
    let attack = {
        let (attacker, gateway, victim) = (attacker.clone(), gateway.clone(), victim.clone());
        tokio::spawn(async move {
            let tries = (0..ATTEMPTS).map(|i| {
                let (http, base, email) = (attacker.clone(), gateway.clone(), victim.clone());
                async move { login_status(&http, &base, &email, &format!("guess-{i}")).await }
            });
            futures_util::future::join_all(tries).await
        })
    };
    // Meanwhile, other players log in from another address.
    let calm = http_client_from(loopback(1));
    let mut calm_latency = Latencies::default();
    let mut calm_ok = 0;
    let mut calm_total = 0;
    while !attack.is_finished() || calm_total < 20 {
        let email = &others[calm_total % others.len()];
        let started = Instant::now();
        let (status, _) = login_status(&calm, &gateway, email, PASSWORD).await?;
        calm_latency.push(started.elapsed());
        calm_total += 1;
        calm_ok += usize::from(status == StatusCode::OK);
    }
    let results = attack.await?;

    let (mut unauthorized, mut throttled) = (0, 0);
    for r in results {
        match r? {
            (StatusCode::UNAUTHORIZED, _) => unauthorized += 1,
            (StatusCode::TOO_MANY_REQUESTS, Some(secs)) if secs > 0 => throttled += 1,
            other => anyhow::bail!("attacker got {other:?}"),
        }
    }
    // Counted before evaluation: at most the free attempts are checked at all.
    ensure!(
        (1..=MAX_FAILURES).contains(&unauthorized),
        "{unauthorized} passwords evaluated"
    );
    ensure!(throttled == ATTEMPTS - unauthorized);
    ensure!(
        calm_ok == calm_total,
        "other players' logins during the attack: {calm_ok}/{calm_total}"
    );

    // From the other address, the victim and everyone else get in as if nothing happened,
    // through the gateway and at auth-service directly.
    let (status, _) = login_status(&calm, &gateway, &victim, PASSWORD).await?;
    ensure!(status == StatusCode::OK, "victim from 127.0.0.1: {status}");
    let (status, _) = login_status(&calm, &gateway, &others[0], PASSWORD).await?;
    ensure!(status == StatusCode::OK, "another account: {status}");
    let direct = http_client_from(loopback(1));
    let (status, _) = login_status(&direct, &p.auth_services[0], &others[1], PASSWORD).await?;
    ensure!(
        status == StatusCode::OK,
        "another account at auth-service: {status}"
    );
    // The attacker's own address stays throttled, even with the right password.
    let (status, retry) = login_status(&attacker, &gateway, &victim, PASSWORD).await?;
    ensure!(
        status == StatusCode::TOO_MANY_REQUESTS && retry.is_some(),
        "victim's password from the attacker's address: {status}"
    );

    let figures = json!({
        "attackerAttempts": ATTEMPTS, "attacker401": unauthorized, "attacker429": throttled,
        "othersLoginsDuringAttack": calm_total, "othersSucceeded": calm_ok,
        "othersSuccessRate": calm_ok as f64 / calm_total as f64,
        "othersLatency": calm_latency.summary(),
    });
    println!("hostile-brute-force: {figures}");
    std::fs::write(
        p.log_dir.join("hostile-brute-force.json"),
        serde_json::to_vec_pretty(&figures)?,
    )?;
    Ok(())
}
