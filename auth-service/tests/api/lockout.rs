//! An attacker's failures must not lock the account owner out: throttling is per (account,
//! client address) with a progressive delay, plus a flat budget per address.

use crate::helpers::*;
use serde_json::json;
use std::net::IpAddr;
use std::time::Duration;

/// A client whose connections come from `source` (any 127.0.0.0/8 address is local on Linux).
fn client_from(source: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(source.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

async fn login_from(
    app: &TestApp,
    client: &reqwest::Client,
    forwarded_for: Option<&str>,
    email: &str,
    password: &str,
) -> reqwest::Response {
    let mut req = client
        .post(format!("{}/auth/login", app.address))
        .json(&json!({"email": email, "password": password}));
    if let Some(xff) = forwarded_for {
        req = req.header("x-forwarded-for", xff);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn an_attack_from_one_address_does_not_lock_the_owner_out_from_another() {
    let app = spawn_app().await;
    app.register("victim@example.com").await;
    let attacker = client_from("127.0.0.2");
    let owner = client_from("127.0.0.1");
    let mut statuses = Vec::new();
    for _ in 0..20 {
        let r = login_from(&app, &attacker, None, "victim@example.com", "guess-guess").await;
        statuses.push(r.status().as_u16());
    }
    assert_eq!(&statuses[..5], &[401; 5], "{statuses:?}");
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
    // Even the right password does not get through from the attacking address...
    let r = login_from(&app, &attacker, None, "victim@example.com", PASSWORD).await;
    assert_eq!(r.status(), 429);
    // ...but the owner, elsewhere, is unaffected: a typo is a plain 401, the password works.
    let r = login_from(&app, &owner, None, "victim@example.com", "typo-typo").await;
    assert_eq!(r.status(), 401);
    let r = login_from(&app, &owner, None, "victim@example.com", PASSWORD).await;
    assert_eq!(r.status(), 200);
    app.cleanup().await;
}

#[tokio::test]
async fn the_delay_doubles_with_each_further_failure() {
    let mut env = base_env();
    env.insert("LOGIN_MAX_FAILURES".into(), "2".into());
    env.insert("LOGIN_DELAY_SECONDS".into(), "1".into());
    let app = spawn_app_with(env).await;
    app.wait_ready().await;
    app.register("slow@example.com").await;
    let c = client_from("127.0.0.3");
    let attempt = || login_from(&app, &c, None, "slow@example.com", "guess-guess");
    assert_eq!(attempt().await.status(), 401);
    assert_eq!(attempt().await.status(), 401);
    let retry = |r: &reqwest::Response| -> u64 {
        r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    let r = attempt().await;
    assert_eq!((r.status().as_u16(), retry(&r)), (429, 1));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(attempt().await.status(), 401);
    let r = attempt().await;
    assert_eq!((r.status().as_u16(), retry(&r)), (429, 2));
    tokio::time::sleep(Duration::from_millis(2100)).await;
    // The right password passes once the delay is over, and resets the pair.
    assert_eq!(
        login_from(&app, &c, None, "slow@example.com", PASSWORD)
            .await
            .status(),
        200
    );
    assert_eq!(attempt().await.status(), 401);
    app.cleanup().await;
}

#[tokio::test]
async fn forwarded_addresses_count_only_from_trusted_proxies() {
    let mut env = base_env();
    env.insert("TRUSTED_PROXIES".into(), "127.0.0.1/32".into());
    env.insert("LOGIN_MAX_FAILURES_PER_IP".into(), "2".into());
    let app = spawn_app_with(env).await;
    app.wait_ready().await;
    let proxy = client_from("127.0.0.1");
    let stranger = client_from("127.0.0.4");
    // Through the trusted proxy, each forwarded client has its own budget...
    for (i, ip) in ["198.51.100.1", "198.51.100.2", "198.51.100.3"]
        .iter()
        .enumerate()
    {
        let chain = format!("6.6.6.6, {ip}");
        let email = format!("p{i}@example.com");
        for _ in 0..2 {
            let r = login_from(&app, &proxy, Some(&chain), &email, "nope-nope").await;
            assert_eq!(r.status(), 401, "{ip}");
        }
    }
    // ...while an untrusted peer is its own address whatever it claims.
    let mut statuses = Vec::new();
    for (i, ip) in ["203.0.113.1", "203.0.113.2", "203.0.113.3"]
        .iter()
        .enumerate()
    {
        let email = format!("s{i}@example.com");
        let r = login_from(&app, &stranger, Some(ip), &email, "nope-nope").await;
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, vec![401, 401, 429]);
    // RFC 7239 `Forwarded` works too when there is no X-Forwarded-For.
    let r = proxy
        .post(format!("{}/auth/login", app.address))
        .header("forwarded", "for=198.51.100.9;proto=https")
        .json(&json!({"email": "f@example.com", "password": "nope-nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    app.cleanup().await;
}
