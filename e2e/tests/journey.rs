//! The whole journey through the gateway, as SPEC.md describes it (issue: system acceptance).

use std::time::Duration;

use chrono::{Duration as Days, Utc};
use e2e::amqp::GrantListener;
use e2e::{Platform, Topology};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn claim_status(v: &Value) -> &str {
    v["status"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn journey_through_the_gateway() -> anyhow::Result<()> {
    let p = Platform::start(Topology::SINGLE).await?;
    let grants = GrantListener::bind(&p.amqp_url, &p.rewards_exchange).await?;
    let admin = p.admin_token().await?;

    // The admin makes an operator and an auditor.
    let operator = p
        .user_with_roles(&admin, &format!("op-{}@e2e.test", p.run_id), &["OPERATOR"])
        .await?;
    let auditor = p
        .user_with_roles(&admin, &format!("aud-{}@e2e.test", p.run_id), &["AUDITOR"])
        .await?;

    // The operator creates an ACTIVE event: 3 login days and 1 invite, stock 10.
    let now = Utc::now();
    let event = json!({
        "title": "Autumn attendance",
        "description": "Log in three days and invite a friend",
        "startsAt": (now - Days::days(3)).to_rfc3339(),
        "endsAt": (now + Days::days(7)).to_rfc3339(),
        "timezone": "UTC",
        "status": "ACTIVE",
        "conditions": [
            {"type": "LOGIN_DAYS", "threshold": 3},
            {"type": "INVITE_COUNT", "threshold": 1}
        ],
        "rewards": [{"type": "POINT", "quantity": 100}],
        "maxClaims": 10
    });
    let created = p
        .post("/events", Some(&operator.token), event.clone())
        .await?;
    created.expect(StatusCode::CREATED, "operator creates event")?;
    let event_id = created.body["id"].as_str().unwrap().to_string();

    // The auditor cannot create events.
    p.post("/events", Some(&auditor.token), event)
        .await?
        .expect(StatusCode::FORBIDDEN, "auditor creates event")?;

    // A player registers, invites a friend, logs in, and the admin backfills two login days.
    let alice = p
        .player(&format!("alice-{}@e2e.test", p.run_id), None)
        .await?;
    let bob = p
        .player(
            &format!("bob-{}@e2e.test", p.run_id),
            Some(&alice.invite_code),
        )
        .await?;
    for days_ago in [1, 2] {
        let body = json!({
            "id": format!("backfill-{}-{days_ago}", alice.id),
            "userId": alice.id,
            "key": "login",
            "value": 1,
            "occurredAt": (now - Days::days(days_ago)).to_rfc3339(),
        });
        // 422 naming userId until alice's user.registered reached game-event-service.
        p.eventually(
            "backfill of a registered user",
            Duration::from_secs(20),
            || async {
                let r = p.post("/activities", Some(&admin), body.clone()).await?;
                if r.status == StatusCode::UNPROCESSABLE_ENTITY && r.body["field"] == "userId" {
                    return Ok(None);
                }
                r.expect(StatusCode::CREATED, "backfill login")?;
                Ok(Some(()))
            },
        )
        .await?;
    }

    // Logins and invites arrive asynchronously from auth-service's domain events.
    let eligibility = format!("/events/{event_id}/eligibility");
    p.eventually(
        "alice to become eligible",
        Duration::from_secs(20),
        || async {
            let r = p.get(&eligibility, Some(&alice.token)).await?;
            r.expect(StatusCode::OK, "eligibility")?;
            Ok((r.body["eligible"] == json!(true)).then_some(()))
        },
    )
    .await?;

    // Alice claims, waits for the decision, and is approved.
    let claim = p
        .call(
            Method::POST,
            &format!("/events/{event_id}/claims"),
            Some(&alice.token),
            None,
            &[("Prefer", "wait=10")],
        )
        .await?;
    assert!(
        claim.status == StatusCode::OK || claim.status == StatusCode::ACCEPTED,
        "claim: {} {}",
        claim.status,
        claim.body
    );
    let claim_id = claim.body["id"].as_str().unwrap().to_string();
    let decided = p
        .eventually(
            "alice's claim decision",
            Duration::from_secs(20),
            || async {
                let r = p
                    .get(&format!("/claims/{claim_id}"), Some(&alice.token))
                    .await?;
                r.expect(StatusCode::OK, "read own claim")?;
                Ok((claim_status(&r.body) != "PENDING").then_some(r.body))
            },
        )
        .await?;
    assert_eq!(claim_status(&decided), "APPROVED", "{decided}");

    // The game's inventory receives exactly one grant, keyed by the claim id.
    let grant = p
        .eventually("reward.granted", Duration::from_secs(20), || async {
            Ok(grants.grants().into_iter().next())
        })
        .await?;
    assert_eq!(grant.message_id.as_deref(), Some(claim_id.as_str()));
    assert_eq!(grant.body["userId"], json!(alice.id));

    // A second claim is refused.
    p.post(
        &format!("/events/{event_id}/claims"),
        Some(&alice.token),
        json!({}),
    )
    .await?
    .expect(StatusCode::CONFLICT, "second claim")?;

    // Bob logged in once and invited nobody: rejected, with the progress that fell short.
    let bob_claim = p
        .post(
            &format!("/events/{event_id}/claims"),
            Some(&bob.token),
            json!({}),
        )
        .await?;
    assert_eq!(bob_claim.status, StatusCode::ACCEPTED, "{}", bob_claim.body);
    let bob_claim_id = bob_claim.body["id"].as_str().unwrap().to_string();
    let bob_decided = p
        .eventually("bob's claim decision", Duration::from_secs(20), || async {
            let r = p
                .get(&format!("/claims/{bob_claim_id}"), Some(&bob.token))
                .await?;
            Ok((claim_status(&r.body) != "PENDING").then_some(r.body))
        })
        .await?;
    assert_eq!(claim_status(&bob_decided), "REJECTED", "{bob_decided}");
    assert_eq!(bob_decided["reason"], json!("CONDITION_NOT_MET"));
    assert!(
        bob_decided["progress"]
            .as_array()
            .is_some_and(|p| !p.is_empty()),
        "{bob_decided}"
    );

    // The auditor sees every claim; a player sees only their own and cannot list everyone's.
    let all = p.all_pages("/claims", &auditor.token).await?;
    let ids: Vec<&str> = all.iter().filter_map(|c| c["id"].as_str()).collect();
    assert!(ids.contains(&claim_id.as_str()) && ids.contains(&bob_claim_id.as_str()));
    let mine = p.all_pages("/claims/me", &alice.token).await?;
    assert!(!mine.is_empty() && mine.iter().all(|c| c["userId"] == json!(alice.id)));
    p.get("/claims", Some(&alice.token))
        .await?
        .expect(StatusCode::FORBIDDEN, "player lists all claims")?;
    let foreign = p
        .get(&format!("/claims/{claim_id}"), Some(&bob.token))
        .await?;
    assert!(
        matches!(
            foreign.status,
            StatusCode::FORBIDDEN | StatusCode::NOT_FOUND
        ),
        "player reads another's claim: {}",
        foreign.status
    );

    // After logout the access token is refused everywhere, within a second.
    p.call(Method::POST, "/auth/logout", Some(&alice.token), None, &[])
        .await?
        .expect(StatusCode::NO_CONTENT, "logout")?;
    p.eventually(
        "logged-out token refused",
        Duration::from_secs(2),
        || async {
            let r = p.get("/claims/me", Some(&alice.token)).await?;
            Ok((r.status == StatusCode::UNAUTHORIZED).then_some(()))
        },
    )
    .await?;
    p.get("/auth/me", Some(&alice.token))
        .await?
        .expect(StatusCode::UNAUTHORIZED, "logged-out token at auth-service")?;
    assert_eq!(grants.grants().len(), 1, "exactly one grant");
    Ok(())
}
