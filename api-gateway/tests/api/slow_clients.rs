use crate::helpers::{spawn_app_with, TestApp};
use api_gateway::upstream::CircuitState;
use serde_json::Value;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends the head of a `POST path` announcing `Content-Length: 100` and only part of the body,
/// then stalls.
async fn half_sent_body(port: u16, path: &str) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"email\":\"a"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s
}

/// Status and body of the first response on `s`, waiting at most `wait`.
async fn read_response(s: &mut TcpStream, wait: Duration) -> (u16, String) {
    let mut buf = Vec::new();
    let read = tokio::time::timeout(wait, async {
        let mut chunk = [0u8; 4096];
        loop {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            let text = String::from_utf8_lossy(&buf);
            if let Some(split) = text.find("\r\n\r\n") {
                let len = text[..split]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                    })
                    .unwrap_or(0);
                if buf.len() >= split + 4 + len {
                    break;
                }
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no response within {wait:?}");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn auth_circuit(app: &TestApp) -> CircuitState {
    app.state
        .upstreams
        .get("auth-service")
        .unwrap()
        .circuit
        .state()
}

async fn login_status(app: &TestApp) -> u16 {
    app.http
        .post(app.url("/auth/login"))
        .json(&serde_json::json!({"email": "b@example.com", "password": "x"}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn stalled_bodies_are_408_while_others_are_served_and_the_circuit_stays_closed() {
    let app = spawn_app_with(|s, _| {
        s.limits.body_idle_timeout = Duration::from_millis(600);
        s.upstreams.circuit_failure_threshold = 2;
        s.upstreams.timeout = Duration::from_secs(5);
    })
    .await;
    let mut slow = Vec::new();
    for _ in 0..6 {
        slow.push(half_sent_body(app.port, "/auth/login").await);
    }
    // Everyone else is served at once while the six stall.
    let started = Instant::now();
    for _ in 0..10 {
        assert_eq!(login_status(&app).await, 200);
    }
    assert!(started.elapsed() < Duration::from_millis(500));
    for s in &mut slow {
        let (status, body) = read_response(s, Duration::from_secs(3)).await;
        assert_eq!(status, 408, "{body}");
        let p: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(p["code"], "REQUEST_TIMEOUT");
    }
    assert_eq!(auth_circuit(&app), CircuitState::Closed);
    assert_eq!(login_status(&app).await, 200);
    let metrics = app.metrics().await;
    assert!(
        !metrics.contains(r#"gateway_upstream_errors_total{kind="timeout""#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"gateway_client_faults_total{kind="body_timeout"} 6"#));
}

#[tokio::test]
async fn an_upstream_timeout_while_the_client_still_owes_its_body_is_the_clients_408() {
    // The route timeout fires before the body's idle timeout: the gateway was waiting for the
    // client, not for the upstream.
    let app = spawn_app_with(|s, _| {
        s.limits.body_idle_timeout = Duration::from_secs(10);
        s.upstreams.circuit_failure_threshold = 1;
        s.upstreams.timeout = Duration::from_millis(400);
    })
    .await;
    let mut s = half_sent_body(app.port, "/auth/login").await;
    let (status, body) = read_response(&mut s, Duration::from_secs(3)).await;
    assert_eq!(status, 408, "{body}");
    assert_eq!(auth_circuit(&app), CircuitState::Closed);
    assert_eq!(login_status(&app).await, 200);
}

#[tokio::test]
async fn a_body_cut_off_by_the_client_does_not_count_against_the_upstream() {
    let app = spawn_app_with(|s, _| s.upstreams.circuit_failure_threshold = 1).await;
    for _ in 0..3 {
        let s = half_sent_body(app.port, "/auth/login").await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(s);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(auth_circuit(&app), CircuitState::Closed);
    assert_eq!(login_status(&app).await, 200);
}

#[tokio::test]
async fn per_client_in_flight_and_connection_caps_answer_429() {
    let app = spawn_app_with(|s, _| {
        s.limits.body_idle_timeout = Duration::from_secs(3);
        s.limits.client_max_in_flight = 2;
    })
    .await;
    let _a = half_sent_body(app.port, "/auth/login").await;
    let _b = half_sent_body(app.port, "/auth/login").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let r = app.http.post(app.url("/auth/login")).send().await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "1");
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["code"], "TOO_MANY_REQUESTS");
    drop((_a, _b));
    let freed = crate::helpers::wait_until(Duration::from_secs(2), || async {
        login_status(&app).await == 200
    })
    .await;
    assert!(freed, "slots were not released when the clients left");

    let app = spawn_app_with(|s, _| s.limits.client_max_connections = 2).await;
    let _idle: Vec<TcpStream> = vec![
        TcpStream::connect(("127.0.0.1", app.port)).await.unwrap(),
        TcpStream::connect(("127.0.0.1", app.port)).await.unwrap(),
    ];
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut third = TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let (status, body) = read_response(&mut third, Duration::from_secs(2)).await;
    assert_eq!(status, 429, "{body}");
    drop(_idle);
    let freed = crate::helpers::wait_until(Duration::from_secs(2), || async {
        reqwest::Client::new()
            .get(app.url("/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;
    assert!(freed);
}
