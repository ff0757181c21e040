//! Scale-out on one machine: 2 gateways, 2 auth-services and 3 game-event-services share the same
//! stores and queues; many concurrent claims from distinct users against a limited stock give
//! exactly `stock` approvals and exactly `stock` grant messages.
//!
//! Sizes: E2E_SCALE_USERS (default 1000) and E2E_SCALE_STOCK (default 300).

use std::collections::HashSet;
use std::time::Duration;

use chrono::{Duration as Days, Utc};
use e2e::amqp::GrantListener;
use e2e::{Platform, Topology, User};
use futures_util::{stream, StreamExt, TryStreamExt};
use reqwest::{Method, StatusCode};
use serde_json::json;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_across_instances_respect_the_stock() -> anyhow::Result<()> {
    let users = env_usize("E2E_SCALE_USERS", 1000);
    let stock = env_usize("E2E_SCALE_STOCK", 300);
    assert!(stock < users, "the run must oversubscribe the stock");
    let p = Platform::start(Topology {
        gateways: 2,
        auth_services: 2,
        game_event_services: 3,
    })
    .await?;
    let grants = GrantListener::bind(&p.amqp_url, &p.rewards_exchange).await?;
    let admin = p.admin_token().await?;

    let now = Utc::now();
    let created = p
        .post(
            "/events",
            Some(&admin),
            json!({
                "title": "Launch day rush",
                "description": "First come, first served",
                "startsAt": (now - Days::days(1)).to_rfc3339(),
                "endsAt": (now + Days::days(1)).to_rfc3339(),
                "timezone": "UTC",
                "status": "ACTIVE",
                "conditions": [{"type": "LOGIN_DAYS", "threshold": 1}],
                "rewards": [{"type": "ITEM", "itemCode": "sword-01", "quantity": 1}],
                "maxClaims": stock
            }),
        )
        .await?;
    created.expect(StatusCode::CREATED, "create event")?;
    let event_id = created.body["id"].as_str().unwrap().to_string();

    // Distinct players, each logged in once (the login is their qualifying activity).
    let players: Vec<User> = stream::iter(0..users)
        .map(|n| {
            let p = &p;
            async move { p.player(&format!("p{n}-{}@e2e.test", p.run_id), None).await }
        })
        .buffer_unordered(32)
        .try_collect()
        .await?;

    let eligibility = format!("/events/{event_id}/eligibility");
    stream::iter(players.iter())
        .map(|u| {
            let (p, eligibility) = (&p, &eligibility);
            async move {
                p.eventually("login ingested", Duration::from_secs(60), || async {
                    let r = p.get(eligibility, Some(&u.token)).await?;
                    Ok((r.body["eligible"] == json!(true)).then_some(()))
                })
                .await
            }
        })
        .buffer_unordered(32)
        .try_collect::<Vec<()>>()
        .await?;

    // Every player claims at once.
    let claim_path = format!("/events/{event_id}/claims");
    let accepted: Vec<String> = stream::iter(players.iter())
        .map(|u| {
            let (p, claim_path) = (&p, &claim_path);
            async move {
                let r = p
                    .call(Method::POST, claim_path, Some(&u.token), None, &[])
                    .await?;
                r.expect(StatusCode::ACCEPTED, "claim")?;
                Ok::<_, anyhow::Error>(r.body["id"].as_str().unwrap_or_default().to_string())
            }
        })
        .buffer_unordered(250)
        .try_collect()
        .await?;
    assert_eq!(accepted.len(), users);

    let all = p
        .eventually("every claim decided", Duration::from_secs(300), || async {
            let claims = p
                .all_pages(&format!("/claims?eventId={event_id}"), &admin)
                .await?;
            let decided = claims.iter().all(|c| c["status"] != json!("PENDING"));
            Ok((decided && claims.len() == users).then_some(claims))
        })
        .await?;
    let approved: Vec<_> = all
        .iter()
        .filter(|c| c["status"] == json!("APPROVED"))
        .collect();
    let rejected: Vec<_> = all
        .iter()
        .filter(|c| c["status"] == json!("REJECTED"))
        .collect();
    assert_eq!(approved.len(), stock, "approvals");
    assert_eq!(rejected.len(), users - stock, "rejections");
    assert!(rejected
        .iter()
        .all(|c| c["reason"] == json!("OUT_OF_STOCK")));
    let approved_users: HashSet<_> = approved.iter().map(|c| c["userId"].clone()).collect();
    assert_eq!(approved_users.len(), stock, "no user approved twice");

    let messages = p
        .eventually(
            "one grant message per approval",
            Duration::from_secs(60),
            || async {
                let g = grants.grants();
                Ok((g.len() >= stock).then_some(g))
            },
        )
        .await?;
    // Give a duplicate publication a moment to show up before counting.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let messages = if grants.grants().len() > messages.len() {
        grants.grants()
    } else {
        messages
    };
    let ids: HashSet<_> = messages
        .iter()
        .filter_map(|g| g.message_id.clone())
        .collect();
    let approved_ids: HashSet<_> = approved
        .iter()
        .filter_map(|c| c["id"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        ids, approved_ids,
        "grant message ids are the approved claim ids"
    );
    assert_eq!(messages.len(), stock, "no grant published twice");
    Ok(())
}
