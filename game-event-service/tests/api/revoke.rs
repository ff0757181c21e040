//! SPEC §8: claims per period of a recurring event, and revoking an approval.
use crate::helpers::*;
use chrono::Utc;
use game_event_service::domain::claim::{Claim, ClaimStatus};
use game_event_service::domain::revocation::RevokeRequest;
use game_event_service::domain::UserId;
use serde_json::json;
use std::time::Duration;

async fn approved(app: &TestApp, event: &str, user: &str) -> serde_json::Value {
    let token = app.token(user, &["USER"]);
    let r = app.claim(event, &token, &[]).await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    app.wait_decided(r.body["id"].as_str().unwrap()).await
}

#[tokio::test]
async fn a_recurring_event_takes_one_approval_per_user_and_period_within_the_period_stock() {
    let app = spawn_app().await;
    let e = app
        .create_event(
            json!({"recurrence": {"every": "DAY"}, "timezone": "Asia/Seoul",
            "maxClaimsPerPeriod": 2}),
        )
        .await;
    let id = e["id"].as_str().unwrap();
    let event = app.state.store.get_event(&eid(id)).await.unwrap().unwrap();
    let now = Utc::now();
    let current = event.period_at(now).unwrap();

    let d = approved(&app, id, "p-1").await;
    assert_eq!(d["status"], "APPROVED", "{d:?}");
    assert_eq!(d["period"]["startsAt"], json!(current.starts_at));
    assert_eq!(d["period"]["endsAt"], json!(current.ends_at));
    // Same period: the approval stands.
    let r = app.claim(id, &app.token("p-1", &["USER"]), &[]).await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert_eq!(r.body["code"], "CLAIM_EXISTS");

    // An approval of the previous period does not count against this one.
    let yesterday = event.period_at(current.starts_at - chrono::Duration::hours(1));
    let mut old = Claim::request(&event, UserId::parse("p-2").unwrap(), now);
    old.period = yesterday;
    old.status = ClaimStatus::Approved;
    assert_ne!(
        old.key(),
        Claim::request(&event, old.user_id.clone(), now).key()
    );
    app.state.store.insert_claim(&old).await.unwrap();
    let d = approved(&app, id, "p-2").await;
    assert_eq!(d["status"], "APPROVED", "{d:?}");

    // The period's stock of 2 is gone.
    let d = approved(&app, id, "p-3").await;
    assert_eq!(d["status"], "REJECTED");
    assert_eq!(d["reason"], "OUT_OF_STOCK");
    let r = app
        .get(&format!("/events/{id}/stats"), &app.operator())
        .await;
    assert_eq!(r.body["period"]["approved"], 2, "{:?}", r.body);
    assert_eq!(r.body["period"]["stockLeft"], 0);
    assert_eq!(r.body["period"]["startsAt"], json!(current.starts_at));
    app.cleanup().await;
}

#[tokio::test]
async fn revoking_returns_the_stock_publishes_reward_revoked_and_is_idempotent() {
    let app = spawn_app().await;
    let probe = Probe::bind(&app.settings.amqp.rewards_exchange, "reward.revoked").await;
    let e = app
        .create_event(json!({"maxClaims": 1,
            "rewards": [{"type": "ITEM", "itemCode": "gem", "quantity": 3}]}))
        .await;
    let id = e["id"].as_str().unwrap();
    let d = approved(&app, id, "r-1").await;
    assert_eq!(d["status"], "APPROVED");
    let claim = d["id"].as_str().unwrap();
    let path = format!("/claims/{claim}/revoke");

    // Who may revoke, and what the body needs.
    let auditor = app.token("aud", &["AUDITOR"]);
    let r = app.post(&path, &auditor, json!({"reason": "x"})).await;
    assert_eq!(r.status, 403);
    let r = app
        .post(&path, &app.token("r-1", &["USER"]), json!({"reason": "x"}))
        .await;
    assert_eq!(r.status, 403);
    let r = app
        .post(&path, &app.operator(), json!({"reason": "  "}))
        .await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    assert_eq!(r.body["field"], "reason");
    let r = app.post(&path, &app.operator(), json!({})).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.body["field"], "reason");
    let r = app
        .post(
            &path,
            &app.operator(),
            json!({"reason": "x", "keepStok": true}),
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    let r = app
        .post(
            "/claims/nope/revoke",
            &app.operator(),
            json!({"reason": "x"}),
        )
        .await;
    assert_eq!(r.status, 404);

    let r = app
        .post(&path, &app.operator(), json!({"reason": "chargeback"}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["status"], "REVOKED");
    assert_eq!(r.body["revocation"]["reason"], "chargeback");
    assert_eq!(r.body["revocation"]["allowReclaim"], false);
    let first = r.body.clone();
    // Twice: the same REVOKED claim, nothing done again.
    let r = app
        .post(
            &path,
            &app.admin(),
            json!({"reason": "again", "keepStock": true}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, first);

    let msg = probe
        .next(Duration::from_secs(10))
        .await
        .expect("reward.revoked");
    assert_eq!(msg.message_id.as_deref(), Some(claim));
    assert_eq!(msg.body["claimId"], claim);
    assert_eq!(msg.body["reason"], "chargeback");
    assert_eq!(msg.body["rewards"][0]["itemCode"], "gem");
    assert!(
        probe.next(Duration::from_secs(2)).await.is_none(),
        "published once"
    );

    // The unit is back: another player gets it; the revoked user's claim still counts.
    let r = app
        .get(&format!("/events/{id}/stats"), &app.operator())
        .await;
    assert_eq!(r.body["revoked"], 1, "{:?}", r.body);
    assert_eq!(r.body["stockLeft"], 1);
    let r = app.claim(id, &app.token("r-1", &["USER"]), &[]).await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert_eq!(r.body["claim"]["status"], "REVOKED");
    let d = approved(&app, id, "r-2").await;
    assert_eq!(d["status"], "APPROVED", "{d:?}");

    // Only an APPROVED claim can be revoked.
    let d = approved(&app, id, "r-3").await;
    assert_eq!(d["reason"], "OUT_OF_STOCK");
    let r = app
        .post(
            &format!("/claims/{}/revoke", d["id"].as_str().unwrap()),
            &app.operator(),
            json!({"reason": "x"}),
        )
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.body["code"], "CLAIM_NOT_APPROVED");

    // Audited once, with before and after.
    let r = app
        .get(
            &format!("/audit?entityType=claim&entityId={claim}"),
            &app.admin(),
        )
        .await;
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{:?}", r.body);
    assert_eq!(items[0]["action"], "claim.revoked");
    assert_eq!(items[0]["before"]["status"], "APPROVED");
    assert_eq!(items[0]["after"]["status"], "REVOKED");
    probe.close().await;
    app.cleanup().await;
}

#[tokio::test]
async fn allow_reclaim_frees_the_approval_and_keep_stock_keeps_the_unit() {
    let app = spawn_app().await;
    let e = app.create_event(json!({"maxClaims": 5})).await;
    let id = e["id"].as_str().unwrap();
    let d = approved(&app, id, "k-1").await;
    let r = app
        .post(
            &format!("/claims/{}/revoke", d["id"].as_str().unwrap()),
            &app.operator(),
            json!({"reason": "support ticket", "allowReclaim": true, "keepStock": true}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = app
        .get(&format!("/events/{id}/stats"), &app.operator())
        .await;
    assert_eq!(r.body["stockLeft"], 4, "kept: {:?}", r.body);
    let again = approved(&app, id, "k-1").await;
    assert_eq!(again["status"], "APPROVED", "{again:?}");
    assert_ne!(again["id"], d["id"]);
    let r = app
        .get(&format!("/events/{id}/stats"), &app.operator())
        .await;
    assert_eq!(r.body["stockLeft"], 3);
    assert_eq!(r.body["approved"], 1);
    assert_eq!(r.body["revoked"], 1);
    app.cleanup().await;
}

#[tokio::test]
async fn a_revocation_cut_short_by_a_crash_is_finished_by_the_sweeper() {
    let app = spawn_app_with(|s| s.claims.pending_redelivery_seconds = 1).await;
    let probe = Probe::bind(&app.settings.amqp.rewards_exchange, "reward.revoked").await;
    let e = app.create_event(json!({"maxClaims": 2})).await;
    let id = e["id"].as_str().unwrap();
    let d = approved(&app, id, "c-1").await;
    let store = &app.state.store;
    let claim = store
        .get_claim(&cid(d["id"].as_str().unwrap()))
        .await
        .unwrap()
        .unwrap();
    let req = RevokeRequest {
        reason: "crash".into(),
        allow_reclaim: false,
        keep_stock: false,
    };
    // The conditional write happened; the process died before any follow-up step.
    let revoked = claim
        .revoke(
            &req,
            UserId::parse("op").unwrap(),
            Utc::now() - chrono::Duration::seconds(5),
        )
        .unwrap();
    assert!(store.mark_revoked(&revoked).await.unwrap());
    assert_eq!(store.stock_count(&eid(id)).await.unwrap(), 1);
    // Left alone while a live request may still be finishing it (1 s here).
    let msg = probe
        .next(Duration::from_secs(15))
        .await
        .expect("finished by the sweeper");
    assert_eq!(msg.body["claimId"], d["id"]);
    wait_until(Duration::from_secs(5), || async {
        store.stock_count(&eid(id)).await.unwrap() == 0
    })
    .await
    .expect("unit returned");
    probe.close().await;
    app.cleanup().await;
}

#[tokio::test]
async fn a_recurring_event_counts_conditions_over_the_claims_period_only() {
    let app = spawn_app().await;
    let e = app
        .create_event(json!({"recurrence": {"every": "DAY"},
            "conditions": [{"type": "COUNTER", "key": "kills", "threshold": 3}]}))
        .await;
    let id = e["id"].as_str().unwrap();
    let event = app.state.store.get_event(&eid(id)).await.unwrap().unwrap();
    let current = event.period_at(Utc::now()).unwrap();
    // Yesterday's kills are yesterday's period: they do not count today.
    app.record(
        "q-1",
        "kills",
        5,
        current.starts_at - chrono::Duration::hours(1),
    )
    .await;
    let d = approved(&app, id, "q-1").await;
    assert_eq!(d["status"], "REJECTED", "{d:?}");
    assert_eq!(d["reason"], "CONDITION_NOT_MET");
    assert_eq!(d["progress"][0]["current"], 0, "{d:?}");
    app.record("q-1", "kills", 3, Utc::now()).await;
    let d = approved(&app, id, "q-1").await;
    assert_eq!(d["status"], "APPROVED", "{d:?}");
    app.cleanup().await;
}
