use crate::helpers::*;
use chrono::Utc;
use game_event_service::domain::claim::{Claim, ClaimStatus};
use game_event_service::domain::{ClaimId, UserId};
use secrecy::SecretString;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;

fn days_ago(n: i64) -> chrono::DateTime<Utc> {
    Utc::now() - chrono::Duration::days(n)
}

#[tokio::test]
async fn eligible_claim_is_approved_and_reward_granted_is_published() {
    let app = spawn_app().await;
    let probe = Probe::bind(&app.settings.amqp.rewards_exchange, "reward.granted").await;
    let e = app
        .create_event(
            json!({"conditions": [{"type": "LOGIN_DAYS", "threshold": 2}],
            "rewards": [{"type": "ITEM", "itemCode": "sword", "quantity": 1}]}),
        )
        .await;
    let id = e["id"].as_str().unwrap();
    app.record("u-ok", "login", 1, days_ago(1)).await;
    app.record("u-ok", "login", 1, days_ago(2)).await;
    let user = app.token("u-ok", &["USER"]);

    let el = app.get(&format!("/events/{id}/eligibility"), &user).await;
    assert_eq!(el.status, 200);
    assert_eq!(el.body["eligible"], true, "{:?}", el.body);
    assert_eq!(el.body["conditions"][0]["current"], 2);

    let r = app.claim(id, &user, &[]).await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    assert_eq!(r.body["status"], "PENDING");
    let claim_id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        r.headers.get("location").unwrap().to_str().unwrap(),
        format!("/claims/{claim_id}")
    );
    let decided = app.wait_decided(&claim_id).await;
    assert_eq!(decided["status"], "APPROVED", "{decided:?}");
    assert!(decided["decidedAt"].is_string());
    assert_eq!(decided["rewards"][0]["itemCode"], "sword");

    let msg = probe
        .next(Duration::from_secs(15))
        .await
        .expect("reward.granted");
    assert_eq!(msg.message_id.as_deref(), Some(claim_id.as_str()));
    assert_eq!(msg.routing_key, "reward.granted");
    assert_eq!(msg.body["claimId"], claim_id.as_str());
    assert_eq!(msg.body["userId"], "u-ok");
    assert_eq!(msg.body["eventId"], id);
    assert_eq!(msg.body["rewards"][0]["quantity"], 1);
    probe.close().await;
    app.cleanup().await;
}

#[tokio::test]
async fn unmet_conditions_reject_with_progress_and_the_user_may_claim_again() {
    let app = spawn_app().await;
    let e = app
        .create_event(json!({"conditions": [
            {"type": "CONSECUTIVE_LOGIN_DAYS", "threshold": 3},
            {"type": "COUNTER", "key": "kills", "threshold": 10}]}))
        .await;
    let id = e["id"].as_str().unwrap();
    let user = app.token("u-rej", &["USER"]);
    app.record("u-rej", "login", 1, days_ago(1)).await;
    app.record("u-rej", "login", 1, days_ago(3)).await;
    app.record("u-rej", "kills", 4, days_ago(1)).await;

    let r = app.claim(id, &user, &[("Prefer", "wait=10")]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.headers.get("preference-applied").unwrap(), "wait=10");
    assert_eq!(r.body["status"], "REJECTED");
    assert_eq!(r.body["reason"], "CONDITION_NOT_MET");
    let progress = r.body["progress"].as_array().unwrap();
    assert_eq!(progress[0]["current"], 1);
    assert_eq!(progress[0]["threshold"], 3);
    assert_eq!(progress[1]["current"], 4);
    assert_eq!(progress[1]["met"], false);

    // Make the conditions true and claim again.
    app.record("u-rej", "login", 1, days_ago(2)).await;
    app.record("u-rej", "kills", 6, days_ago(1)).await;
    let r = app.claim(id, &user, &[("Prefer", "wait=10")]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["status"], "APPROVED", "{:?}", r.body);
    app.cleanup().await;
}

#[tokio::test]
async fn a_window_edge_inside_a_quarter_hour_counts_only_the_records_after_it() {
    // Totals are kept per quarter hour: a window that starts 7 minutes into one must read that
    // quarter hour's records instead (one before the edge, one after it).
    let app = spawn_app().await;
    let hour_ago = Utc::now() - chrono::Duration::hours(1);
    let quarter = chrono::Duration::minutes(15).num_milliseconds();
    let slot = hour_ago.timestamp_millis() / quarter * quarter;
    let starts_at = chrono::DateTime::<Utc>::from_timestamp_millis(slot).unwrap()
        + chrono::Duration::minutes(7);
    let e = app
        .create_event(json!({"startsAt": starts_at.to_rfc3339(),
            "conditions": [{"type": "COUNTER", "key": "kills", "threshold": 6}]}))
        .await;
    let id = e["id"].as_str().unwrap();
    let minutes = chrono::Duration::minutes;
    app.record("u-edge", "kills", 3, starts_at - minutes(1))
        .await;
    app.record("u-edge", "kills", 3, starts_at + minutes(1))
        .await;
    app.record("u-edge", "kills", 2, starts_at + minutes(30))
        .await;
    let user = app.token("u-edge", &["USER"]);
    let r = app.claim(id, &user, &[("Prefer", "wait=10")]).await;
    assert_eq!(r.body["status"], "REJECTED", "{:?}", r.body);
    assert_eq!(r.body["progress"][0]["current"], 5, "{:?}", r.body);
    // The preview reads the same facts.
    let p = app.get(&format!("/events/{id}/eligibility"), &user).await;
    assert_eq!(p.body["conditions"][0]["current"], 5, "{:?}", p.body);
    app.record("u-edge", "kills", 1, starts_at).await;
    let r = app.claim(id, &user, &[("Prefer", "wait=10")]).await;
    assert_eq!(r.body["status"], "APPROVED", "{:?}", r.body);
    app.cleanup().await;
}

#[tokio::test]
async fn second_claim_while_pending_or_approved_is_409_with_the_existing_claim() {
    let app = spawn_app_with(|s| s.claims.worker_enabled = false).await;
    let e = app.create_event(json!({})).await;
    let id = e["id"].as_str().unwrap();
    let user = app.token("u-dup", &["USER"]);
    let first = app.claim(id, &user, &[]).await;
    assert_eq!(first.status, 202);
    let second = app.claim(id, &user, &[]).await;
    assert_eq!(second.status, 409);
    assert_eq!(second.body["code"], "CLAIM_EXISTS");
    assert_eq!(second.body["claim"]["id"], first.body["id"]);
    assert_eq!(second.body["claim"]["status"], "PENDING");
    // Once approved (worker starts), still 409.
    let worker = spawn_sibling(&app, |s| s.claims.worker_enabled = true).await;
    let decided = app.wait_decided(first.body["id"].as_str().unwrap()).await;
    assert_eq!(decided["status"], "APPROVED");
    let third = app.claim(id, &user, &[]).await;
    assert_eq!(third.status, 409);
    assert_eq!(third.body["claim"]["status"], "APPROVED");
    let mut worker = worker;
    worker.stop().await;
    app.cleanup().await;
}

#[tokio::test]
async fn idempotency_key_replays_the_original_response() {
    let app = spawn_app().await;
    let e = app.create_event(json!({})).await;
    let other = app.create_event(json!({})).await;
    let id = e["id"].as_str().unwrap();
    let user = app.token("u-idem", &["USER"]);
    let a = app.claim(id, &user, &[("Idempotency-Key", "key-1")]).await;
    assert_eq!(a.status, 202);
    let b = app.claim(id, &user, &[("Idempotency-Key", "key-1")]).await;
    assert_eq!(b.status, 202, "{:?}", b.body);
    assert_eq!(a.body, b.body);
    assert_eq!(a.headers.get("location"), b.headers.get("location"));
    assert_eq!(b.headers.get("idempotency-replayed").unwrap(), "true");
    // Same key for another event -> 422.
    let c = app
        .claim(
            other["id"].as_str().unwrap(),
            &user,
            &[("Idempotency-Key", "key-1")],
        )
        .await;
    assert_eq!(c.status, 422);
    assert_eq!(c.body["code"], "IDEMPOTENCY_KEY_REUSED");
    // Keys are per user: another user with the same key gets their own claim.
    let other_user = app.token("u-idem-2", &["USER"]);
    let d = app
        .claim(id, &other_user, &[("Idempotency-Key", "key-1")])
        .await;
    assert_eq!(d.status, 202);
    assert_ne!(d.body["id"], a.body["id"]);
    app.cleanup().await;
}

#[tokio::test]
async fn claims_are_accepted_while_redis_is_down_and_retries_still_cannot_duplicate() {
    // Redis only backs Idempotency-Key replays; losing it must not refuse claims.
    let app = spawn_app_with(|s| s.redis.url = SecretString::from("redis://127.0.0.1:1")).await;
    let e = app.create_event(json!({})).await;
    let id = e["id"].as_str().unwrap();
    let user = app.token("u-no-redis", &["USER"]);
    let a = app.claim(id, &user, &[("Idempotency-Key", "key-r")]).await;
    assert_eq!(a.status, 202, "{:?}", a.body);
    // The retry is answered by the claim lock instead of a replay: no second claim.
    let b = app.claim(id, &user, &[("Idempotency-Key", "key-r")]).await;
    assert_eq!(b.status, 409, "{:?}", b.body);
    assert_eq!(b.body["claim"]["id"], a.body["id"]);
    app.cleanup().await;
}

#[tokio::test]
async fn only_user_and_admin_may_claim_and_users_cannot_claim_hidden_events() {
    let app = spawn_app().await;
    let e = app.create_event(json!({})).await;
    let draft = app.create_event(json!({"status": "DRAFT"})).await;
    let id = e["id"].as_str().unwrap();
    for roles in [&["OPERATOR"][..], &["AUDITOR"][..]] {
        let r = app.claim(id, &app.token("staff", roles), &[]).await;
        assert_eq!(r.status, 403, "{roles:?}");
    }
    let r = app.claim(id, &app.token("adm", &["ADMIN"]), &[]).await;
    assert_eq!(r.status, 202);
    let r = app
        .claim(
            draft["id"].as_str().unwrap(),
            &app.token("u", &["USER"]),
            &[],
        )
        .await;
    assert_eq!(r.status, 404);
    // ADMIN may see the draft and claim it, but the worker rejects it as not active.
    let r = app
        .claim(
            draft["id"].as_str().unwrap(),
            &app.token("adm", &["ADMIN"]),
            &[("Prefer", "wait=10")],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["reason"], "EVENT_NOT_ACTIVE");
    app.cleanup().await;
}

/// APPROVED claims of the event, as stored.
async fn approved_count(store: &game_event_service::store::Store, event: &str) -> i64 {
    let counts = store.claim_counts(&eid(event)).await.unwrap();
    counts.by_status.get("APPROVED").copied().unwrap_or(0)
}

fn users_count() -> usize {
    std::env::var("CLAIM_TEST_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60)
}
fn stock_count() -> i64 {
    std::env::var("CLAIM_TEST_STOCK")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20)
}

async fn claim_concurrently(apps: &[&TestApp], event_id: &str, n: usize) -> Vec<String> {
    let mut handles = Vec::new();
    for i in 0..n {
        let app = apps[i % apps.len()];
        let (client, address) = (app.client.clone(), app.address.clone());
        let token = app.token(&format!("user-{i}"), &["USER"]);
        let url = format!("{address}/events/{event_id}/claims");
        handles.push(tokio::spawn(async move {
            let r = client.post(url).bearer_auth(token).send().await.unwrap();
            assert_eq!(r.status().as_u16(), 202);
            let v: Value = r.json().await.unwrap();
            v["id"].as_str().unwrap().to_string()
        }));
    }
    let mut ids = Vec::new();
    for h in handles {
        ids.push(h.await.unwrap());
    }
    ids
}

#[tokio::test]
async fn concurrent_claims_against_a_small_stock_approve_exactly_the_stock() {
    let (n, stock) = (users_count(), stock_count());
    let app = spawn_app().await;
    let grants = Probe::bind(&app.settings.amqp.rewards_exchange, "reward.granted").await;
    let e = app.create_event(json!({"maxClaims": stock})).await;
    let id = e["id"].as_str().unwrap();
    let ids = claim_concurrently(&[&app], id, n).await;
    let mut approved = 0;
    let mut approved_ids = HashSet::new();
    let mut out_of_stock = 0;
    for c in &ids {
        let d = app.wait_decided(c).await;
        match (d["status"].as_str().unwrap(), d["reason"].as_str()) {
            ("APPROVED", _) => {
                approved += 1;
                approved_ids.insert(c.clone());
            }
            ("REJECTED", Some("OUT_OF_STOCK")) => out_of_stock += 1,
            other => panic!("unexpected decision {other:?}"),
        }
    }
    assert_eq!(approved, stock);
    assert_eq!(out_of_stock as i64, n as i64 - stock);
    let store = &app.state.store;
    assert_eq!(store.stock_count(&eid(id)).await.unwrap(), stock);
    assert_eq!(approved_count(store, id).await, stock);
    grants.expect_one_grant_each(&approved_ids).await;
    grants.close().await;
    app.cleanup().await;
}

#[tokio::test]
async fn two_worker_instances_on_one_queue_never_approve_twice() {
    let a = spawn_app().await;
    let b = spawn_sibling(&a, |_| {}).await;
    let grants = Probe::bind(&a.settings.amqp.rewards_exchange, "reward.granted").await;
    let e = a.create_event(json!({"maxClaims": 10})).await;
    let id = e["id"].as_str().unwrap();
    let ids = claim_concurrently(&[&a, &b], id, 30).await;
    // Duplicate deliveries of every claim message, as a redelivery storm would cause.
    for c in &ids {
        a.state.claim_queue.publish(&cid(c)).await.unwrap();
        b.state.claim_queue.publish(&cid(c)).await.unwrap();
    }
    let mut approved_users = HashSet::new();
    let mut approved_ids = HashSet::new();
    for c in &ids {
        let d = a.wait_decided(c).await;
        if d["status"] == "APPROVED" {
            assert!(approved_users.insert(d["userId"].as_str().unwrap().to_string()));
            approved_ids.insert(c.clone());
        }
    }
    assert_eq!(approved_users.len(), 10);
    let store = &a.state.store;
    assert_eq!(store.stock_count(&eid(id)).await.unwrap(), 10);
    assert_eq!(approved_count(store, id).await, 10);
    grants.expect_one_grant_each(&approved_ids).await;
    grants.close().await;
    let mut b = b;
    b.stop().await;
    a.cleanup().await;
}

#[tokio::test]
async fn duplicate_deliveries_of_claims_without_stock_are_decided_once_with_one_grant_each() {
    // No stock, so no lease: the conditional decision write alone keeps them exactly-once.
    let a = spawn_app().await;
    let b = spawn_sibling(&a, |_| {}).await;
    let grants = Probe::bind(&a.settings.amqp.rewards_exchange, "reward.granted").await;
    let e = a.create_event(json!({})).await;
    let id = e["id"].as_str().unwrap();
    let ids = claim_concurrently(&[&a, &b], id, 40).await;
    for c in &ids {
        a.state.claim_queue.publish(&cid(c)).await.unwrap();
        b.state.claim_queue.publish(&cid(c)).await.unwrap();
    }
    let mut decided_at = std::collections::HashMap::new();
    for c in &ids {
        let d = a.wait_decided(c).await;
        assert_eq!(d["status"], "APPROVED", "{d:?}");
        decided_at.insert(c.clone(), d["decidedAt"].clone());
    }
    grants
        .expect_one_grant_each(&ids.iter().cloned().collect())
        .await;
    // Nothing overwrote a decision once stored.
    for c in &ids {
        let d = a.get(&format!("/claims/{c}"), &a.admin()).await;
        assert_eq!(d.body["decidedAt"], decided_at[c]);
    }
    grants.close().await;
    let mut b = b;
    b.stop().await;
    a.cleanup().await;
}

#[tokio::test]
async fn a_pending_claim_of_an_older_version_is_swept_after_the_startup_step() {
    // Stored as versions before `pendingSince` did; its message was lost.
    let app = spawn_app_with(|s| s.claims.pending_redelivery_seconds = 1).await;
    let e = app.create_event(json!({})).await;
    let id = e["id"].as_str().unwrap();
    let db = &app.state.store.db;
    let claims = db.collection::<mongodb::bson::Document>("claims");
    claims
        .insert_one(
            mongodb::bson::doc! {"_id": "legacy-pending-1", "eventId": id,
            "userId": "u-legacy-pending", "status": "PENDING", "rewards": [],
            "requestedAt": mongodb::bson::DateTime::now(), "leaseUntil": 0_i64,
            "sweepUntil": 0_i64, "openKey": format!("{id}:u-legacy-pending")},
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let r = app.get("/claims/legacy-pending-1", &app.admin()).await;
    assert_eq!(r.body["status"], "PENDING", "not swept before the step");
    db.collection::<mongodb::bson::Document>("migrations")
        .delete_one(mongodb::bson::doc! {"_id": "claims.pendingSince"})
        .await
        .unwrap();
    // What the next startup does.
    app.state.store.ensure_indexes().await.unwrap();
    let d = app.wait_decided("legacy-pending-1").await;
    assert_eq!(d["status"], "APPROVED", "{d:?}");
    app.cleanup().await;
}

#[tokio::test]
async fn claims_left_pending_are_decided_once_a_worker_runs() {
    // Instance A accepts claims but runs no worker (as if every worker had died).
    let a = spawn_app_with(|s| {
        s.claims.worker_enabled = false;
        s.claims.pending_redelivery_seconds = 1;
    })
    .await;
    let e = a.create_event(json!({})).await;
    let id = e["id"].as_str().unwrap();
    let queued = claim_concurrently(&[&a], id, 5).await;
    // And one claim that never reached the queue (publish lost): stored PENDING only.
    let lost = Claim {
        id: ClaimId::mint(),
        event_id: eid(id),
        user_id: UserId::parse("user-lost").unwrap(),
        status: ClaimStatus::Pending,
        source: Default::default(),
        period: None,
        reason: None,
        progress: None,
        rewards: vec![],
        requested_at: Utc::now() - chrono::Duration::seconds(30),
        decided_at: None,
        revocation: None,
    };
    a.state.store.insert_claim(&lost).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    for c in &queued {
        let r = a.get(&format!("/claims/{c}"), &a.admin()).await;
        assert_eq!(r.body["status"], "PENDING");
    }
    let b = spawn_sibling(&a, |s| s.claims.worker_enabled = true).await;
    let lost_id = lost.id.to_string();
    for c in queued.iter().chain(std::iter::once(&lost_id)) {
        let d = b.wait_decided(c).await;
        assert_eq!(d["status"], "APPROVED", "{d:?}");
    }
    let mut b = b;
    b.stop().await;
    a.cleanup().await;
}

#[tokio::test]
async fn a_crash_after_taking_stock_is_finished_without_double_grant_or_stock_leak() {
    let app = spawn_app_with(|s| s.claims.worker_enabled = false).await;
    let grants = Probe::bind(&app.settings.amqp.rewards_exchange, "reward.granted").await;
    let e = app.create_event(json!({"maxClaims": 3})).await;
    let id = e["id"].as_str().unwrap();
    let store = &app.state.store;
    let mk = |user: &str| Claim {
        id: ClaimId::mint(),
        event_id: eid(id),
        user_id: UserId::parse(user).unwrap(),
        status: ClaimStatus::Pending,
        source: Default::default(),
        period: None,
        reason: None,
        progress: None,
        rewards: vec![],
        requested_at: Utc::now(),
        decided_at: None,
        revocation: None,
    };
    // Crashed after taking stock, before the decision was stored.
    let c1 = mk("crash-1");
    store.insert_claim(&c1).await.unwrap();
    store.reserve_stock(&eid(id), &c1.id, 3).await.unwrap();
    // Crashed after taking stock, then the event closed: the unit must come back.
    let c2 = mk("crash-2");
    store.insert_claim(&c2).await.unwrap();
    store.reserve_stock(&eid(id), &c2.id, 3).await.unwrap();
    assert_eq!(store.stock_count(&eid(id)).await.unwrap(), 2);
    // Re-processing twice is harmless.
    for _ in 0..2 {
        app.state.decider.process(&c1.id).await.unwrap();
    }
    assert_eq!(
        store.get_claim(&c1.id).await.unwrap().unwrap().status,
        ClaimStatus::Approved
    );
    assert_eq!(
        store.stock_count(&eid(id)).await.unwrap(),
        2,
        "the unit taken before the crash is the approval's"
    );
    grants
        .expect_one_grant_each(&HashSet::from([c1.id.to_string()]))
        .await;
    grants.close().await;
    // Close the event, then the second claim is rejected and gives its unit back.
    let r = app
        .request(
            reqwest::Method::PATCH,
            &format!("/events/{id}"),
            Some(&app.operator()),
            Some(json!({"version": 1, "status": "INACTIVE"})),
            &[],
        )
        .await;
    assert_eq!(r.status, 200);
    app.state.decider.process(&c2.id).await.unwrap();
    let d2 = store.get_claim(&c2.id).await.unwrap().unwrap();
    assert_eq!(d2.status, ClaimStatus::Rejected);
    assert_eq!(store.stock_count(&eid(id)).await.unwrap(), 1);
    app.cleanup().await;
}

#[tokio::test]
async fn once_the_stock_is_gone_a_claim_holding_the_last_unit_is_still_approved() {
    let app = spawn_app_with(|s| s.claims.worker_enabled = false).await;
    let e = app.create_event(json!({"maxClaims": 1})).await;
    let id = e["id"].as_str().unwrap();
    let event: game_event_service::domain::event::Event =
        serde_json::from_value(app.get(&format!("/events/{id}"), &app.admin()).await.body).unwrap();
    let store = &app.state.store;
    // An attempt took the last unit and crashed before the decision; another claim arrives.
    let holder = Claim::request(&event, UserId::parse("last-unit").unwrap(), Utc::now());
    let late = Claim::request(&event, UserId::parse("too-late").unwrap(), Utc::now());
    store.insert_claim(&holder).await.unwrap();
    store.insert_claim(&late).await.unwrap();
    store.reserve_stock(&eid(id), &holder.id, 1).await.unwrap();
    // Both in one batch: the stock has no unit left, so the one without a unit is rejected
    // without a lease, while the holder is decided under one and keeps its unit.
    app.state
        .decider
        .process_batch(&[late.id.clone(), holder.id.clone()])
        .await
        .unwrap();
    let d = store.get_claim(&holder.id).await.unwrap().unwrap();
    assert_eq!(d.status, ClaimStatus::Approved);
    let d = store.get_claim(&late.id).await.unwrap().unwrap();
    assert_eq!(d.status, ClaimStatus::Rejected);
    assert_eq!(d.reason.map(|r| r.as_str()), Some("OUT_OF_STOCK"));
    assert_eq!(store.stock_count(&eid(id)).await.unwrap(), 1);
    assert_eq!(store.count_reservations(&eid(id)).await.unwrap(), 1);
    app.cleanup().await;
}

#[tokio::test]
async fn grants_approved_while_rabbitmq_is_unreachable_are_published_later() {
    // Instance A cannot reach RabbitMQ at all.
    let auth = std::sync::Arc::new(AuthStub::start().await);
    let mut s = test_settings(&auth.url);
    s.amqp.url = secrecy::SecretString::from("amqp://guest:guest@127.0.0.1:1/%2f");
    let a = spawn_with_settings(s.clone(), auth.clone(), false).await;
    let e = a.create_event(json!({})).await;
    let id = e["id"].as_str().unwrap();
    let user = a.token("u-outbox", &["USER"]);
    let r = a.claim(id, &user, &[]).await;
    assert_eq!(
        r.status, 202,
        "claims are accepted while the broker is down"
    );
    let claim_id = r.body["id"].as_str().unwrap().to_string();
    // The decision is taken (as a worker would) while the broker is unreachable.
    a.state.decider.process(&cid(&claim_id)).await.unwrap();
    let d = a.get(&format!("/claims/{claim_id}"), &user).await;
    assert_eq!(d.body["status"], "APPROVED");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        a.state
            .store
            .grant_unconfirmed(&cid(&claim_id))
            .await
            .unwrap(),
        "reward.granted waits in the outbox"
    );
    // RabbitMQ becomes reachable (instance B with the real URL, same DB): the grant goes out.
    let mut real = s.clone();
    real.amqp.url = secrecy::SecretString::from(amqp_url());
    let probe = Probe::bind(&real.amqp.rewards_exchange, "#").await;
    let mut http_only = real.clone();
    http_only.claims.worker_enabled = false;
    let probe_app = spawn_with_settings(http_only, auth.clone(), true).await;
    let msg = probe
        .next(Duration::from_secs(20))
        .await
        .expect("reward.granted published later");
    assert_eq!(msg.message_id.as_deref(), Some(claim_id.as_str()));
    assert_eq!(msg.body["claimId"], claim_id.as_str());
    wait_until(Duration::from_secs(5), || async {
        !a.state
            .store
            .grant_unconfirmed(&cid(&claim_id))
            .await
            .unwrap()
    })
    .await
    .expect("outbox record removed once confirmed");
    probe.close().await;
    let mut a = a;
    a.stop().await;
    probe_app.cleanup().await;
}

use game_event_service::configuration::Settings;

#[tokio::test]
async fn claim_history_filters_pagination_and_visibility() {
    let app = spawn_app().await;
    let e1 = app.create_event(json!({"title": "one"})).await;
    let e2 = app
        .create_event(json!({"title": "two", "maxClaims": 1}))
        .await;
    let (id1, id2) = (e1["id"].as_str().unwrap(), e2["id"].as_str().unwrap());
    let alice = app.token("alice", &["USER"]);
    let bob = app.token("bob", &["USER"]);
    let mut ids = Vec::new();
    for (ev, tok) in [(id1, &alice), (id2, &alice), (id1, &bob), (id2, &bob)] {
        let r = app.claim(ev, tok, &[("Prefer", "wait=10")]).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        ids.push(r.body["id"].as_str().unwrap().to_string());
    }
    // Own claims only, newest first.
    let r = app.get("/claims/me", &alice).await;
    let got: Vec<&str> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, vec![ids[1].as_str(), ids[0].as_str()]);
    // Another user's claim is invisible to a USER, visible to staff.
    assert_eq!(
        app.get(&format!("/claims/{}", ids[2]), &alice).await.status,
        404
    );
    assert_eq!(
        app.get(
            &format!("/claims/{}", ids[2]),
            &app.token("aud", &["AUDITOR"])
        )
        .await
        .status,
        200
    );
    // Staff list with filters.
    assert_eq!(app.get("/claims", &alice).await.status, 403);
    let aud = app.token("aud", &["AUDITOR"]);
    let r = app.get("/claims", &aud).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 4);
    let r = app
        .get(&format!("/claims?eventId={id2}&status=REJECTED"), &aud)
        .await;
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["userId"], "bob");
    assert_eq!(items[0]["reason"], "OUT_OF_STOCK");
    let r = app.get("/claims?userId=alice&status=APPROVED", &aud).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2);
    let future = (Utc::now() + chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M:%SZ");
    let r = app.get(&format!("/claims?from={future}"), &aud).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 0);
    let r = app.get("/claims?status=MAYBE", &aud).await;
    assert_eq!((r.status, r.body["field"].as_str()), (400, Some("status")));
    let r = app.get("/claims?limit=101", &aud).await;
    assert_eq!((r.status, r.body["field"].as_str()), (400, Some("limit")));
    // Pagination walks all four, newest first, with no overlap.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/claims?limit=3&cursor={c}"),
            None => "/claims?limit=3".to_string(),
        };
        let r = app.get(&path, &aud).await;
        for c in r.body["items"].as_array().unwrap() {
            seen.push(c["id"].as_str().unwrap().to_string());
        }
        match r.body["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let mut expected = ids.clone();
    expected.reverse();
    assert_eq!(seen, expected);
    app.cleanup().await;
}

#[tokio::test]
async fn malformed_claim_messages_go_to_the_dead_letter_queue() {
    let app = spawn_app().await;
    app.state
        .broker
        .publish(
            "",
            &app.settings.amqp.claims_queue,
            b"not json".to_vec(),
            "poison-1",
        )
        .await
        .unwrap();
    let probe = Probe::bind(&app.settings.amqp.rewards_exchange, "none").await;
    let dlq = game_event_service::mq::dlq_name(&app.settings.amqp.claims_queue);
    wait_until(Duration::from_secs(5), || async {
        probe.count(&dlq).await == 1
    })
    .await
    .expect("poison claim message dead-lettered");
    probe.close().await;
    app.cleanup().await;
}

#[tokio::test]
async fn a_claim_carried_by_a_message_from_another_publisher_is_read_from_the_store() {
    let app = spawn_app_with(|s| s.claims.worker_enabled = false).await;
    let e = app.create_event(json!({})).await;
    let id = e["id"].as_str().unwrap();
    let event: game_event_service::domain::event::Event =
        serde_json::from_value(app.get(&format!("/events/{id}"), &app.admin()).await.body).unwrap();
    let stored = Claim::request(&event, UserId::parse("u-carried").unwrap(), Utc::now());
    app.state.store.insert_claim(&stored).await.unwrap();
    // The same claim id carried with other rewards, by a publisher that sets no user_id (as
    // anyone but this service's instances would): not believed.
    let mut forged = stored.clone();
    forged.rewards[0].quantity = 999_999;
    let body = serde_json::to_vec(&json!({"claimId": stored.id, "claim": forged})).unwrap();
    let probe = Probe::bind(&app.settings.amqp.rewards_exchange, "reward.granted").await;
    probe
        .publish_raw("", &app.settings.amqp.claims_queue, &body, None, None)
        .await;
    let worker = spawn_sibling(&app, |s| s.claims.worker_enabled = true).await;
    let d = app.wait_decided(stored.id.as_str()).await;
    assert_eq!(d["status"], "APPROVED", "{d:?}");
    assert_eq!(
        d["rewards"][0]["quantity"],
        json!(stored.rewards[0].quantity)
    );
    let granted = probe
        .next(Duration::from_secs(20))
        .await
        .expect("reward.granted");
    assert_eq!(
        granted.body["rewards"][0]["quantity"],
        json!(stored.rewards[0].quantity)
    );
    probe.close().await;
    let mut worker = worker;
    worker.stop().await;
    app.cleanup().await;
}

fn settings_env(s: &Settings) -> Vec<(String, String)> {
    use secrecy::ExposeSecret;
    vec![
        ("APP_PORT", "0".to_string()),
        ("LOG_LEVEL", "error".to_string()),
        ("MONGODB_URI", s.mongodb.uri.expose_secret().to_string()),
        ("MONGODB_DATABASE", s.mongodb.database.clone()),
        ("REDIS_URL", s.redis.url.expose_secret().to_string()),
        ("REDIS_KEY_PREFIX", s.redis.key_prefix.clone()),
        ("AMQP_URL", s.amqp.url.expose_secret().to_string()),
        ("AUTH_SERVICE_URL", s.auth.service_url.clone()),
        ("AUTH_EVENTS_EXCHANGE", s.amqp.auth_events_exchange.clone()),
        ("AUTH_EVENTS_QUEUE", s.amqp.auth_events_queue.clone()),
        ("ACTIVITY_QUEUE", s.amqp.activity_queue.clone()),
        ("CLAIMS_QUEUE", s.amqp.claims_queue.clone()),
        ("REWARDS_EXCHANGE", s.amqp.rewards_exchange.clone()),
        ("CATALOG_EXCHANGE", s.amqp.catalog_exchange.clone()),
        ("CLAIM_WORKER_PREFETCH", "16".to_string()),
        ("CLAIM_WORKER_CONCURRENCY", "8".to_string()),
        ("CLAIM_LEASE_SECONDS", "2".to_string()),
        ("PENDING_CLAIM_REDELIVERY_SECONDS", "2".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

#[tokio::test]
async fn a_worker_process_killed_mid_batch_still_leaves_every_claim_decided_once() {
    // HTTP-only instance in-process; the worker is the real binary, killed with SIGKILL.
    let a = spawn_app_with(|s| {
        s.claims.worker_enabled = false;
        s.claims.pending_redelivery_seconds = 2;
        s.claims.lease_seconds = 2;
    })
    .await;
    let grants = Probe::bind(&a.settings.amqp.rewards_exchange, "reward.granted").await;
    let e = a.create_event(json!({"maxClaims": 15})).await;
    let id = e["id"].as_str().unwrap();
    let ids = claim_concurrently(&[&a], id, 40).await;
    let spawn_worker = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_game-event-service"))
            .envs(settings_env(&a.settings))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("worker process")
    };
    let mut worker = spawn_worker();
    let claims = a
        .state
        .store
        .db
        .collection::<mongodb::bson::Document>("claims");
    wait_until(Duration::from_secs(30), || async {
        claims
            .count_documents(mongodb::bson::doc! {"status": {"$ne": "PENDING"}})
            .await
            .unwrap()
            >= 3
    })
    .await
    .expect("worker started deciding");
    worker.kill().unwrap();
    let _ = worker.wait();
    let after_kill = claims
        .count_documents(mongodb::bson::doc! {"status": "PENDING"})
        .await
        .unwrap();
    // A fresh worker process picks up what the killed one left (unacked or leased).
    let mut second = spawn_worker();
    let mut approved = HashSet::new();
    let mut approved_ids = HashSet::new();
    for c in &ids {
        let d = a.wait_decided(c).await;
        if d["status"] == "APPROVED" {
            assert!(approved.insert(d["userId"].as_str().unwrap().to_string()));
            approved_ids.insert(c.clone());
        } else {
            assert_eq!(d["reason"], "OUT_OF_STOCK", "{d:?}");
        }
    }
    // Every approval's reward.granted goes out (one the killed worker had published but not
    // yet recorded as confirmed may go out twice: consumers dedupe on the message id).
    let mut published = HashSet::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while published != approved_ids && std::time::Instant::now() < deadline {
        if let Some(m) = grants.next(Duration::from_secs(1)).await {
            published.extend(m.message_id);
        }
    }
    assert_eq!(published, approved_ids, "a reward.granted per approval");
    grants.close().await;
    let _ = second.kill();
    let _ = second.wait();
    eprintln!("claims still pending right after the kill: {after_kill}");
    let store = &a.state.store;
    assert_eq!(approved.len(), 15);
    assert_eq!(store.stock_count(&eid(id)).await.unwrap(), 15);
    assert_eq!(approved_count(store, id).await, 15);
    a.cleanup().await;
}

#[tokio::test]
async fn a_claim_message_that_keeps_failing_is_dead_lettered_after_the_delivery_limit() {
    let app = spawn_app_with(|s| {
        s.claims.max_deliveries = 2;
        s.claims.pending_redelivery_seconds = 600;
    })
    .await;
    // A stored claim the worker cannot read (as a bug or corrupt data would cause).
    let claims = app
        .state
        .store
        .db
        .collection::<mongodb::bson::Document>("claims");
    claims
        .insert_one(mongodb::bson::doc! {"_id": "corrupt-1", "eventId": "e", "userId": "u",
            "status": "PENDING", "rewards": "not-a-list", "requestedAt": mongodb::bson::DateTime::now(),
            "leaseUntil": 0_i64, "sweepUntil": 0_i64})
        .await
        .unwrap();
    app.state
        .claim_queue
        .publish(&cid("corrupt-1"))
        .await
        .unwrap();
    let probe = Probe::bind(&app.settings.amqp.rewards_exchange, "none").await;
    let dlq = game_event_service::mq::dlq_name(&app.settings.amqp.claims_queue);
    wait_until(Duration::from_secs(15), || async {
        probe.count(&dlq).await == 1
    })
    .await
    .expect("dead-lettered after the delivery limit");
    probe.close().await;
    app.cleanup().await;
}

#[tokio::test]
async fn records_stored_before_occurred_ms_existed_count_once_the_startup_backfill_ran() {
    let app = spawn_app().await;
    let e = app
        .create_event(json!({"conditions": [{"type": "COUNTER", "key": "kills", "threshold": 5}]}))
        .await;
    let id = e["id"].as_str().unwrap();
    app.ensure_registered("u-legacy").await;
    // A record as an older release wrote it: totals applied, no `occurredMs`.
    let db = &app.state.store.db;
    let when = mongodb::bson::DateTime::from_chrono(days_ago(1));
    let legacy = game_event_service::domain::activity::Activity {
        id: "legacy-1".into(),
        user_id: UserId::parse("u-legacy").unwrap(),
        key: "kills".into(),
        value: 5,
        occurred_at: when.to_chrono(),
        subject_user_id: None,
    };
    app.state.store.insert_activity(&legacy).await.unwrap();
    db.collection::<mongodb::bson::Document>("activities")
        .update_one(
            mongodb::bson::doc! {"_id": "legacy-1"},
            mongodb::bson::doc! {"$unset": {"occurredMs": ""}},
        )
        .await
        .unwrap();
    db.collection::<mongodb::bson::Document>("migrations")
        .delete_one(mongodb::bson::doc! {"_id": "activities.occurredMs"})
        .await
        .unwrap();
    // What the next startup does before it accepts claims.
    app.state.store.ensure_indexes().await.unwrap();

    let stored = db
        .collection::<mongodb::bson::Document>("activities")
        .find_one(mongodb::bson::doc! {"_id": "legacy-1"})
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.get_i64("occurredMs").unwrap(),
        when.timestamp_millis()
    );
    let user = app.token("u-legacy", &["USER"]);
    let r = app.claim(id, &user, &[("Prefer", "wait=10")]).await;
    assert_eq!(r.body["status"], "APPROVED", "{:?}", r.body);
    app.cleanup().await;
}
