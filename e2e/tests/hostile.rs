//! Hostile clients at the edge: sockets that stall in the request head or the body, thousands of
//! idle sockets, and the HEAD/405 rules. Each test asserts what the hostile client sees and that a
//! well-behaved client (another address) is served at its normal latency meanwhile. The tests of
//! this file run one at a time, so their latency figures do not measure each other.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use e2e::raw::{connect_from, loopback, read_until_closed, Latencies};
use e2e::{Overrides, Platform, Topology};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Deadlines short enough for a quick test, client limits at their defaults.
const HEAD_TIMEOUT_MS: u64 = 3000;
const BODY_IDLE_TIMEOUT_MS: u64 = 3000;

async fn platform() -> Result<Platform> {
    platform_with_head_timeout(HEAD_TIMEOUT_MS).await
}

async fn platform_with_head_timeout(head_timeout_ms: u64) -> Result<Platform> {
    Platform::start_with(
        Topology::SINGLE,
        Overrides {
            auth: vec![],
            gateway: vec![
                ("REQUEST_HEADER_TIMEOUT_MS", head_timeout_ms.to_string()),
                (
                    "REQUEST_BODY_IDLE_TIMEOUT_MS",
                    BODY_IDLE_TIMEOUT_MS.to_string(),
                ),
                ("CLIENT_MAX_CONNECTIONS", "256".into()),
                ("CLIENT_MAX_IN_FLIGHT", "128".into()),
            ],
        },
    )
    .await
}

/// `n` requests of a well-behaved client (127.0.0.1): a listing through the gateway to
/// game-event-service and a login through it to auth-service, each must succeed.
async fn calm_client(p: &Platform, email: &str, token: &str, n: usize) -> Result<Latencies> {
    let mut lat = Latencies::default();
    for i in 0..n {
        let started = Instant::now();
        if i % 2 == 0 {
            p.get("/events", Some(token))
                .await?
                .expect(StatusCode::OK, "calm client lists events")?;
        } else {
            p.login(email, e2e::PASSWORD).await?;
        }
        lat.push(started.elapsed());
    }
    Ok(lat)
}

/// Normal latency: the median under attack stays within a small margin of the baseline's (the
/// margin absorbs a debug build on two cores sharing them with the attacker).
fn assert_normal(what: &str, baseline: &Latencies, during: &Latencies) -> Result<()> {
    let (b, d) = (baseline.quantile(0.5), during.quantile(0.5));
    ensure!(
        d <= b * 3.0 + 50.0,
        "{what}: median latency {d:.1} ms under attack vs {b:.1} ms before"
    );
    Ok(())
}

fn write_figures(p: &Platform, name: &str, figures: &Value) -> Result<()> {
    println!("{name}: {figures}");
    std::fs::write(
        p.log_dir.join(format!("{name}.json")),
        serde_json::to_vec_pretty(figures)?,
    )?;
    Ok(())
}

async fn send_part(from: IpAddr, p: &Platform, part: &str) -> Result<TcpStream> {
    let mut s = connect_from(from, p.gateway_addr()).await?;
    s.write_all(part.as_bytes()).await?;
    Ok(s)
}

#[tokio::test]
async fn slow_request_heads_are_cut_off_while_others_are_served() -> Result<()> {
    let _serial = SERIAL.lock().await;
    let p = platform().await?;
    let email = format!("calm-{}@e2e.test", p.run_id);
    let calm = p.player(&email, None).await?;
    let baseline = calm_client(&p, &email, &calm.token, 20).await?;

    // 100 sockets stop inside the request line, 100 inside a header and keep trickling it one
    // byte at a time (slowloris): the head deadline is total, not per byte.
    let attacker = loopback(3);
    let opened = Instant::now();
    let mut stalled = Vec::new();
    for i in 0..200 {
        let part = if i % 2 == 0 {
            "GET /eve".to_string()
        } else {
            format!(
                "GET /events HTTP/1.1\r\nHost: {}\r\nX-Slow: a",
                p.gateway_addr()
            )
        };
        stalled.push(send_part(attacker, &p, &part).await?);
    }
    let during = calm_client(&p, &email, &calm.token, 20).await?;
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        for s in stalled.iter_mut().skip(1).step_by(2) {
            let _ = s.write_all(b"a").await;
        }
    }

    let deadline = Duration::from_millis(HEAD_TIMEOUT_MS + 3000);
    let mut statuses = std::collections::BTreeMap::<String, usize>::new();
    for s in &mut stalled {
        let answer = read_until_closed(s, deadline.saturating_sub(opened.elapsed())).await;
        ensure!(
            answer.closed,
            "a stalled head still open after {:?}",
            opened.elapsed()
        );
        ensure!(
            matches!(answer.status, None | Some(408)),
            "a stalled head got {answer:?}"
        );
        let key = answer.status.map_or("closed".into(), |s| s.to_string());
        *statuses.entry(key).or_default() += 1;
    }
    let closed_after = opened.elapsed();
    assert_normal("slow heads", &baseline, &during)?;
    // The attacker's address is not banned: a whole request from it is answered.
    let r = e2e::raw::http_client_from(attacker)
        .get(format!("{}/healthz", p.gateway()))
        .send()
        .await?;
    ensure!(
        r.status() == StatusCode::OK,
        "healthz from the attacker: {}",
        r.status()
    );
    write_figures(
        &p,
        "hostile-slow-heads",
        &json!({"stalledSockets": 200, "answers": statuses, "allClosedAfterMs": closed_after.as_millis(),
            "calmBefore": baseline.summary(), "calmDuring": during.summary()}),
    )
}

#[tokio::test]
async fn slow_login_bodies_get_408_and_auth_stays_available() -> Result<()> {
    let _serial = SERIAL.lock().await;
    let p = platform().await?;
    let email = format!("calm-{}@e2e.test", p.run_id);
    let calm = p.player(&email, None).await?;
    let baseline = calm_client(&p, &email, &calm.token, 20).await?;

    // Three times the head and half of a 100-byte body, 20 sockets each round: far more than
    // the upstream failures that would open auth-service's circuit if they counted.
    let attacker = loopback(4);
    let head = format!(
        "POST /auth/login HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"email\":\"a",
        p.gateway_addr()
    );
    let mut during = Latencies::default();
    let mut timeouts = 0;
    for _round in 0..3 {
        let opened = Instant::now();
        let mut stalled = Vec::new();
        for _ in 0..20 {
            stalled.push(send_part(attacker, &p, &head).await?);
        }
        during
            .0
            .extend(calm_client(&p, &email, &calm.token, 10).await?.0);
        for s in &mut stalled {
            let wait =
                Duration::from_millis(BODY_IDLE_TIMEOUT_MS + 3000).saturating_sub(opened.elapsed());
            let answer = read_until_closed(s, wait).await;
            ensure!(answer.status == Some(408), "stalled body got {answer:?}");
            let body = answer
                .text
                .split_once("\r\n\r\n")
                .map(|(_, b)| b)
                .unwrap_or("");
            let problem: Value = serde_json::from_str(body).context("408 problem body")?;
            ensure!(problem["code"] == "REQUEST_TIMEOUT", "{problem}");
            ensure!(
                answer
                    .text
                    .to_ascii_lowercase()
                    .contains("content-type: application/problem+json"),
                "{}",
                answer.text
            );
            timeouts += 1;
        }
    }
    assert_normal("slow bodies", &baseline, &during)?;
    // Nothing of auth-service was cut off: login, refresh's route and the keys answer as usual.
    p.login(&email, e2e::PASSWORD).await?;
    p.get("/.well-known/jwks.json", None)
        .await?
        .expect(StatusCode::OK, "jwks after the slow bodies")?;
    let r = p
        .post(
            "/auth/refresh",
            None,
            json!({"refreshToken": "not-a-token"}),
        )
        .await?;
    ensure!(
        r.status == StatusCode::UNAUTHORIZED || r.status == StatusCode::BAD_REQUEST,
        "refresh answered by auth-service, not the circuit: {} {}",
        r.status,
        r.body
    );
    write_figures(
        &p,
        "hostile-slow-bodies",
        &json!({"stalledBodies": timeouts, "answered408": timeouts,
            "calmBefore": baseline.summary(), "calmDuring": during.summary()}),
    )
}

#[tokio::test]
async fn thousands_of_idle_sockets_leave_other_clients_at_normal_latency() -> Result<()> {
    let _serial = SERIAL.lock().await;
    let idle: usize = std::env::var("E2E_IDLE_SOCKETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    // Long enough to open them all and measure before the first is let go.
    let head_timeout_ms: u64 = std::env::var("E2E_IDLE_HEAD_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let p = platform_with_head_timeout(head_timeout_ms).await?;
    let email = format!("calm-{}@e2e.test", p.run_id);
    let calm = p.player(&email, None).await?;
    let baseline = calm_client(&p, &email, &calm.token, 30).await?;

    // 200 per address, under the per-client cap of 256: many clients, each idle.
    let opened = Instant::now();
    let mut sockets = Vec::with_capacity(idle);
    for i in 0..idle {
        let from = loopback(10 + (i / 200) as u8);
        sockets.push(connect_from(from, p.gateway_addr()).await?);
    }
    let open_took = opened.elapsed();
    let during = calm_client(&p, &email, &calm.token, 30).await?;
    let measured_at = opened.elapsed();
    ensure!(
        measured_at < Duration::from_millis(head_timeout_ms),
        "measured after the head deadline ({measured_at:?}): the sockets were no longer held"
    );
    // Still held by the gateway while the calm client was served.
    let mut buf = [0u8; 1];
    let held = sockets
        .iter()
        .filter(|s| matches!(s.try_read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock))
        .count();
    ensure!(
        held == idle,
        "only {held} of {idle} idle sockets were still open"
    );
    assert_normal("idle sockets", &baseline, &during)?;

    // ...and let go at the head deadline: the first opened, and the last (actix's timers tick
    // about once a second).
    let slack = Duration::from_millis(head_timeout_ms + 2500);
    let last = sockets.len() - 1;
    for (i, opened_at) in [(0, Duration::ZERO), (last, open_took)] {
        let wait = (opened_at + slack).saturating_sub(opened.elapsed());
        let answer = read_until_closed(&mut sockets[i], wait).await;
        ensure!(
            answer.closed,
            "idle socket {i} outlived the head deadline: {answer:?}"
        );
    }
    write_figures(
        &p,
        "hostile-idle-sockets",
        &json!({"idleSockets": idle, "clientAddresses": idle.div_ceil(200), "openedInMs": open_took.as_millis(),
            "calmBefore": baseline.summary(), "calmDuring": during.summary()}),
    )
}

#[tokio::test]
async fn head_is_get_without_a_body_and_405_names_the_allowed_methods() -> Result<()> {
    let _serial = SERIAL.lock().await;
    let p = platform().await?;
    let email = format!("calm-{}@e2e.test", p.run_id);
    let calm = p.player(&email, None).await?;

    for (path, token) in [
        ("/events", Some(calm.token.as_str())),
        ("/.well-known/jwks.json", None),
        ("/healthz", None),
    ] {
        let get = p.get(path, token).await?;
        get.expect(StatusCode::OK, path)?;
        // On the wire: the GET's head, and not one byte after it.
        let mut s = connect_from(loopback(1), p.gateway_addr()).await?;
        let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
        let req = format!(
            "HEAD {path} HTTP/1.1\r\nHost: {}\r\n{auth}Connection: close\r\n\r\n",
            p.gateway_addr()
        );
        s.write_all(req.as_bytes()).await?;
        let answer = read_until_closed(&mut s, Duration::from_secs(5)).await;
        ensure!(answer.status == Some(200), "HEAD {path}: {answer:?}");
        let (head, body) = answer
            .text
            .split_once("\r\n\r\n")
            .context("HEAD response head")?;
        ensure!(body.is_empty(), "HEAD {path} carried a body: {body:?}");
        let head = head.to_ascii_lowercase();
        let ct = get
            .headers
            .get("content-type")
            .map(|c| c.to_ascii_lowercase());
        ensure!(
            ct.is_some_and(|ct| head.contains(&format!("content-type: {ct}"))),
            "HEAD {path} has GET's content type: {head}"
        );
    }

    let admin = p.admin_token().await?;
    for (method, path, allow) in [
        ("POST", "/healthz", "GET, HEAD"),
        ("PUT", "/readyz", "GET, HEAD"),
        ("POST", "/.well-known/jwks.json", "GET, HEAD"),
        ("GET", "/activities", "POST"),
        ("HEAD", "/activities", "POST"),
    ] {
        let r = p
            .call(method.parse()?, path, Some(&admin), None, &[])
            .await?;
        ensure!(
            r.status == StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}: {}",
            r.status
        );
        ensure!(
            r.headers.get("allow").map(String::as_str) == Some(allow),
            "{method} {path}: Allow {:?}",
            r.headers.get("allow")
        );
    }
    // Others are unaffected by any of it.
    p.get("/events", Some(&calm.token))
        .await?
        .expect(StatusCode::OK, "calm client after the 405s")?;
    Ok(())
}
