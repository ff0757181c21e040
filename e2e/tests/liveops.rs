//! SPEC §8 through the gateway: segments, PAUSED, recurring periods, and one audit log over both
//! services (auth-service's records arrive at game-event-service as `audit.recorded`).

use std::time::Duration;

use chrono::{Duration as Days, Utc};
use e2e::{Platform, Topology};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn patch_status(
    p: &Platform,
    event_id: &str,
    token: &str,
    version: i64,
    status: &str,
) -> anyhow::Result<e2e::Response> {
    p.call(
        Method::PATCH,
        &format!("/events/{event_id}"),
        Some(token),
        Some(json!({"version": version, "status": status})),
        &[],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn live_ops_operations_through_the_gateway() -> anyhow::Result<()> {
    let p = Platform::start(Topology::SINGLE).await?;
    let admin = p.admin_token().await?;
    // The role change is auth-service's audited write.
    let operator = p.staff(&admin, "op", &["OPERATOR"]).await?;
    let auditor = p.staff(&admin, "aud", &["AUDITOR"]).await?;
    let player = p.player(&format!("pl-{}@e2e.test", p.run_id), None).await?;

    // A daily attendance event in Seoul time: no condition, one claim per day.
    let now = Utc::now();
    let created = p
        .post(
            "/events",
            Some(&operator.token),
            json!({
                "title": "Daily check-in",
                "description": "Check in every day",
                "startsAt": (now - Days::days(2)).to_rfc3339(),
                "endsAt": (now + Days::days(5)).to_rfc3339(),
                "timezone": "Asia/Seoul",
                "status": "ACTIVE",
                "conditions": [],
                "rewards": [{"type": "POINT", "quantity": 10}],
                "recurrence": {"every": "DAY", "resetAt": "05:00"}
            }),
        )
        .await?;
    created.expect(StatusCode::CREATED, "operator creates a recurring event")?;
    let event_id = created.body["id"].as_str().unwrap().to_string();

    let periods = p
        .get(
            &format!("/events/{event_id}/periods?count=3"),
            Some(&player.token),
        )
        .await?;
    periods.expect(StatusCode::OK, "periods")?;
    let items = periods.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["endsAt"], items[1]["startsAt"], "{items:?}");
    // 05:00 in Seoul is 20:00 UTC the day before.
    assert!(items[1]["startsAt"].as_str().unwrap().contains("T20:00:00"));

    // Paused: still visible, new claims refused with EVENT_PAUSED; the auditor may not pause.
    let version = created.body["version"].as_i64().unwrap();
    patch_status(&p, &event_id, &auditor.token, version, "PAUSED")
        .await?
        .expect(StatusCode::FORBIDDEN, "auditor pauses")?;
    let paused = patch_status(&p, &event_id, &operator.token, version, "PAUSED").await?;
    paused.expect(StatusCode::OK, "operator pauses")?;
    p.get(&format!("/events/{event_id}"), Some(&player.token))
        .await?
        .expect(StatusCode::OK, "paused event stays visible")?;
    let refused = p
        .post(
            &format!("/events/{event_id}/claims"),
            Some(&player.token),
            json!({}),
        )
        .await?;
    refused.expect(StatusCode::CONFLICT, "claim on a paused event")?;
    assert_eq!(refused.body["code"], "EVENT_PAUSED");
    let version = paused.body["version"].as_i64().unwrap();
    patch_status(&p, &event_id, &operator.token, version, "ACTIVE")
        .await?
        .expect(StatusCode::OK, "operator resumes")?;

    // Segments: staff write and read; the player is refused at the gateway.
    let seg = p
        .post(
            "/segments",
            Some(&operator.token),
            json!({"name": "whales", "description": "top spenders"}),
        )
        .await?;
    seg.expect(StatusCode::CREATED, "create segment")?;
    let seg_id = seg.body["id"].as_str().unwrap().to_string();
    let ids = json!({"userIds": [player.id, player.id, "someone-else"]});
    for _ in 0..2 {
        p.post(
            &format!("/segments/{seg_id}/members"),
            Some(&operator.token),
            ids.clone(),
        )
        .await?
        .expect(StatusCode::OK, "add members (idempotent)")?;
    }
    let members = p
        .all_pages(&format!("/segments/{seg_id}/members"), &auditor.token)
        .await?;
    assert_eq!(members.len(), 2, "{members:?}");
    p.get("/segments", Some(&player.token))
        .await?
        .expect(StatusCode::FORBIDDEN, "player lists segments")?;

    // One audit log over both services: the role change (auth) and the event writes (game).
    let entries = p
        .eventually(
            "both services' audit records",
            Duration::from_secs(10),
            || async {
                let all = p.all_pages("/audit", &auditor.token).await?;
                let from_auth = all.iter().any(|r| {
                    r["entity"]["id"] == json!(operator.id) && r["action"] == "user.roles_changed"
                });
                let from_game = all.iter().any(|r| {
                    r["entity"]["type"] == "event" && r["entity"]["id"] == json!(event_id)
                });
                Ok((from_auth && from_game).then_some(all))
            },
        )
        .await?;
    let newest_first = entries
        .windows(2)
        .all(|w| w[0]["at"].as_str() >= w[1]["at"].as_str());
    assert!(newest_first, "audit is newest first");
    let only_events: Vec<Value> = p
        .all_pages(
            &format!("/audit?entityType=event&entityId={event_id}"),
            &auditor.token,
        )
        .await?;
    assert!(
        only_events.len() >= 3,
        "create, pause, resume: {only_events:?}"
    );
    p.get("/audit", Some(&operator.token))
        .await?
        .expect(StatusCode::FORBIDDEN, "operator reads the audit log")?;
    Ok(())
}

/// Claims per period, revoke and grants, as an operator runs them through the gateway.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revoke_and_grants_through_the_gateway() -> anyhow::Result<()> {
    let p = Platform::start(Topology::SINGLE).await?;
    let admin = p.admin_token().await?;
    let operator = p.staff(&admin, "op2", &["OPERATOR"]).await?;
    let auditor = p.staff(&admin, "aud2", &["AUDITOR"]).await?;
    let player = p
        .player(&format!("pl2-{}@e2e.test", p.run_id), None)
        .await?;
    let now = Utc::now();
    let created = p
        .post(
            "/events",
            Some(&operator.token),
            json!({
                "title": "Daily chest", "startsAt": (now - Days::days(1)).to_rfc3339(),
                "endsAt": (now + Days::days(3)).to_rfc3339(), "timezone": "Europe/London",
                "status": "ACTIVE", "conditions": [],
                "rewards": [{"type": "ITEM", "itemCode": "chest", "quantity": 1}],
                "recurrence": {"every": "DAY"}, "maxClaimsPerPeriod": 2
            }),
        )
        .await?;
    created.expect(
        StatusCode::CREATED,
        "create a daily event with a period stock",
    )?;
    let event_id = created.body["id"].as_str().unwrap().to_string();

    // The player's claim, decided within the wait, carries its period.
    let claim = p
        .call(
            Method::POST,
            &format!("/events/{event_id}/claims"),
            Some(&player.token),
            None,
            &[("prefer", "wait=5")],
        )
        .await?;
    claim.expect(StatusCode::OK, "claim decided within Prefer: wait")?;
    assert_eq!(claim.body["status"], "APPROVED", "{:?}", claim.body);
    assert!(claim.body["period"]["startsAt"].is_string());
    let claim_id = claim.body["id"].as_str().unwrap().to_string();

    // Revoke: refused to an auditor at the gateway, done by the operator, repeated harmlessly.
    let revoke = format!("/claims/{claim_id}/revoke");
    let body = json!({"reason": "duplicate account"});
    p.post(&revoke, Some(&auditor.token), body.clone())
        .await?
        .expect(StatusCode::FORBIDDEN, "auditor revokes")?;
    for _ in 0..2 {
        let r = p.post(&revoke, Some(&operator.token), body.clone()).await?;
        r.expect(StatusCode::OK, "operator revokes")?;
        assert_eq!(r.body["status"], "REVOKED");
    }
    let stats = p
        .get(&format!("/events/{event_id}/stats"), Some(&auditor.token))
        .await?;
    stats.expect(StatusCode::OK, "stats")?;
    assert_eq!(stats.body["revoked"], 1, "{:?}", stats.body);
    assert_eq!(stats.body["period"]["stockLeft"], 2, "the unit came back");

    // Grants: the revoked player is skipped (their claim still counts), two others are granted,
    // the third finds the period's stock gone.
    let grant = p
        .call(
            Method::POST,
            &format!("/events/{event_id}/grants"),
            Some(&operator.token),
            Some(json!({"userIds": [player.id, "comp-1", "comp-2", "comp-3"],
                "reason": "outage compensation"})),
            &[("idempotency-key", &format!("grant-{}", p.run_id))],
        )
        .await?;
    grant.expect(StatusCode::ACCEPTED, "grant job accepted")?;
    let location = grant.headers["location"].clone();
    let job = p
        .eventually("grant job done", Duration::from_secs(20), || async {
            let j = p.get(&location, Some(&auditor.token)).await?;
            Ok((j.body["status"] == "DONE").then_some(j.body))
        })
        .await?;
    assert_eq!(
        (&job["done"], &job["skipped"], &job["failed"]),
        (&json!(2), &json!(1), &json!(1)),
        "{job:?}"
    );
    let granted = p
        .all_pages(
            &format!("/claims?eventId={event_id}&status=APPROVED"),
            &auditor.token,
        )
        .await?;
    assert_eq!(granted.len(), 2);
    assert!(granted.iter().all(|c| c["source"] == "GRANT"));
    Ok(())
}
