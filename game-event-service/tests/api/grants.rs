//! SPEC §8 grants: jobs that give listed users an APPROVED claim, once per user and period,
//! within the stock unless told otherwise.
use crate::helpers::*;
use serde_json::{json, Value};
use std::time::Duration;

async fn grant(app: &TestApp, event: &str, body: Value, key: Option<&str>) -> Resp {
    let headers: Vec<(&str, &str)> = key
        .map(|k| vec![("idempotency-key", k)])
        .unwrap_or_default();
    app.request(
        reqwest::Method::POST,
        &format!("/events/{event}/grants"),
        Some(&app.operator()),
        Some(body),
        &headers,
    )
    .await
}

async fn finished(app: &TestApp, location: &str) -> Value {
    let auditor = app.token("aud-1", &["AUDITOR"]);
    let mut last = Value::Null;
    for _ in 0..150 {
        let r = app.get(location, &auditor).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        if r.body["status"] == "DONE" || r.body["status"] == "FAILED" {
            return r.body;
        }
        last = r.body;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("job not finished: {last:?}");
}

#[tokio::test]
async fn a_grant_job_approves_each_user_once_within_the_stock_and_publishes_the_grants() {
    let app = spawn_app().await;
    let probe = Probe::bind(&app.settings.amqp.rewards_exchange, "reward.granted").await;
    let e = app.create_event(json!({"maxClaims": 3})).await;
    let id = e["id"].as_str().unwrap();
    // g-0 claimed for themselves: the grant skips them.
    let r = app.claim(id, &app.token("g-0", &["USER"]), &[]).await;
    assert_eq!(r.status, 202);
    let d = app.wait_decided(r.body["id"].as_str().unwrap()).await;
    assert_eq!(d["status"], "APPROVED");

    let users: Vec<String> = (0..6).map(|i| format!("g-{i}")).collect();
    let r = grant(
        &app,
        id,
        json!({"userIds": users, "reason": "server outage"}),
        None,
    )
    .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let location = r.headers["location"].to_str().unwrap().to_string();
    assert_eq!(
        location,
        format!("/jobs/{}", r.body["id"].as_str().unwrap())
    );
    assert_eq!(r.body["status"], "QUEUED");
    assert_eq!(r.body["total"], 6);
    let job = finished(&app, &location).await;
    assert_eq!(job["status"], "DONE", "{job:?}");
    // 2 units left for 5 users.
    assert_eq!(
        (
            job["done"].as_i64(),
            job["skipped"].as_i64(),
            job["failed"].as_i64()
        ),
        (Some(2), Some(1), Some(3)),
        "{job:?}"
    );

    let r = app
        .get(
            &format!("/claims?eventId={id}&status=APPROVED"),
            &app.admin(),
        )
        .await;
    let items: Vec<Value> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["source"] == "GRANT")
        .cloned()
        .collect();
    assert_eq!(items.len(), 2, "{:?}", r.body);
    assert!(items.iter().all(|c| c["userId"] != "g-0"));
    let r = app
        .get(&format!("/events/{id}/stats"), &app.operator())
        .await;
    assert_eq!(r.body["stockLeft"], 0, "{:?}", r.body);
    let mut seen = std::collections::HashSet::new();
    while let Some(m) = probe.next(Duration::from_secs(3)).await {
        seen.insert(m.message_id.unwrap());
    }
    // g-0's own approval and the two grants.
    let mut ids: std::collections::HashSet<String> = items
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    ids.insert(d["id"].as_str().unwrap().to_string());
    assert_eq!(seen, ids, "one reward.granted per approved claim");

    // Audited as a job.
    let r = app
        .get(
            &format!(
                "/audit?entityType=job&entityId={}",
                job["id"].as_str().unwrap()
            ),
            &app.admin(),
        )
        .await;
    assert_eq!(
        r.body["items"][0]["action"], "grant.created",
        "{:?}",
        r.body
    );
    probe.close().await;
    app.cleanup().await;
}

#[tokio::test]
async fn ignore_stock_grants_beyond_it_and_a_second_job_skips_who_has_a_claim() {
    let app = spawn_app().await;
    let e = app
        .create_event(json!({"maxClaims": 1, "recurrence": {"every": "DAY"}}))
        .await;
    let id = e["id"].as_str().unwrap();
    let users = json!(["i-1", "i-2", "i-3"]);
    let r = grant(
        &app,
        id,
        json!({"userIds": users, "reason": "backfill", "ignoreStock": true}),
        None,
    )
    .await;
    let job = finished(&app, r.headers["location"].to_str().unwrap()).await;
    assert_eq!(
        (job["done"].as_i64(), job["failed"].as_i64()),
        (Some(3), Some(0)),
        "{job:?}"
    );
    let r = app
        .get(&format!("/claims?eventId={id}"), &app.admin())
        .await;
    assert!(r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["period"]["startsAt"].is_string()));
    let r = grant(
        &app,
        id,
        json!({"userIds": users, "reason": "again", "ignoreStock": true}),
        None,
    )
    .await;
    let job = finished(&app, r.headers["location"].to_str().unwrap()).await;
    assert_eq!(
        (job["done"].as_i64(), job["skipped"].as_i64()),
        (Some(0), Some(3)),
        "{job:?}"
    );
    // A granted user's own claim is refused like any second claim in the period.
    let r = app.claim(id, &app.token("i-1", &["USER"]), &[]).await;
    assert_eq!(r.status, 409);
    app.cleanup().await;
}

#[tokio::test]
async fn grants_honour_idempotency_keys_roles_and_name_bad_fields() {
    let app = spawn_app().await;
    let e = app.create_event(json!({})).await;
    let id = e["id"].as_str().unwrap();
    let body = json!({"userIds": ["k-1"], "reason": "ticket 42"});
    let a = grant(&app, id, body.clone(), Some("grant-key-1")).await;
    let b = grant(&app, id, body.clone(), Some("grant-key-1")).await;
    assert_eq!(a.status, 202);
    assert_eq!(b.status, 202);
    assert_eq!(a.body["id"], b.body["id"], "the same job");
    let other = app.create_event(json!({})).await;
    let r = grant(
        &app,
        other["id"].as_str().unwrap(),
        body.clone(),
        Some("grant-key-1"),
    )
    .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.body["code"], "IDEMPOTENCY_KEY_REUSED");

    for (bad, field) in [
        (json!({"userIds": [], "reason": "x"}), "userIds"),
        (json!({"userIds": ["a"], "reason": " "}), "reason"),
        (json!({"userIds": ["a b"], "reason": "x"}), "userIds[0]"),
        (json!({"reason": "x"}), "userIds"),
        (
            json!({"userIds": ["a"], "reason": "x", "ignorestock": true}),
            "ignorestock",
        ),
    ] {
        let r = grant(&app, id, bad.clone(), None).await;
        assert!(r.status == 400 || r.status == 422, "{bad}: {:?}", r.body);
        assert_eq!(r.body["field"], field, "{bad}: {:?}", r.body);
    }
    let r = app
        .post(
            &format!("/events/{id}/grants"),
            &app.token("aud", &["AUDITOR"]),
            body.clone(),
        )
        .await;
    assert_eq!(r.status, 403);
    let r = app
        .post(
            &format!("/events/{id}/grants"),
            &app.token("u", &["USER"]),
            body.clone(),
        )
        .await;
    assert_eq!(r.status, 403);
    let r = app.post("/events/nope/grants", &app.operator(), body).await;
    assert_eq!(r.status, 404);
    let r = app.get("/jobs/nope", &app.operator()).await;
    assert_eq!(r.status, 404);
    let r = app
        .get(
            &format!("/jobs/{}", a.body["id"].as_str().unwrap()),
            &app.token("u", &["USER"]),
        )
        .await;
    assert_eq!(r.status, 403);
    app.cleanup().await;
}
