use crate::helpers::*;
use chrono::Utc;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn admin_records_activities_once_per_id_and_others_cannot() {
    let app = spawn_app().await;
    // A user never registered (no user.registered) is refused, naming the field.
    let stranger = json!({"userId": "u-stranger", "key": "kills", "value": 1, "occurredAt": Utc::now().to_rfc3339()});
    let r = app.post("/activities", &app.admin(), stranger).await;
    assert_eq!((r.status, r.body["field"].as_str()), (422, Some("userId")));
    app.register_user("u-p", Utc::now()).await;
    let body = json!({"id": "act-1", "userId": "u-p", "key": "kills", "value": 3, "occurredAt": Utc::now().to_rfc3339()});
    let r = app.post("/activities", &app.admin(), body.clone()).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["applied"], true);
    let r = app.post("/activities", &app.admin(), body.clone()).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["applied"], false);
    for t in [app.operator(), app.token("u-p", &["USER"])] {
        assert_eq!(app.post("/activities", &t, body.clone()).await.status, 403);
    }
    let bad = json!({"userId": "u-p", "key": "Bad Key", "value": 1, "occurredAt": Utc::now().to_rfc3339()});
    let r = app.post("/activities", &app.admin(), bad).await;
    assert_eq!((r.status, r.body["field"].as_str()), (422, Some("key")));
    let bad = json!({"userId": "u-p", "key": "kills", "value": 1.5, "occurredAt": Utc::now().to_rfc3339()});
    let r = app.post("/activities", &app.admin(), bad).await;
    assert_eq!((r.status, r.body["field"].as_str()), (400, Some("value")));
    let bad = json!({"userId": {"$ne": ""}, "key": "kills", "value": 1, "occurredAt": Utc::now().to_rfc3339()});
    let r = app.post("/activities", &app.admin(), bad).await;
    assert_eq!((r.status, r.body["field"].as_str()), (400, Some("userId")));

    let me = app.get("/progress/me", &app.token("u-p", &["USER"])).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["keys"][0]["key"], "kills");
    assert_eq!(me.body["keys"][0]["total"], 3);
    app.cleanup().await;
}

#[tokio::test]
async fn game_activity_queue_applies_a_repeated_message_once_and_dead_letters_invalid_ones() {
    let app = spawn_app().await;
    app.register_user("u-q", Utc::now()).await;
    let msg = json!({"id": "g-1", "userId": "u-q", "key": "kills", "value": 5, "occurredAt": Utc::now().to_rfc3339()});
    let body = serde_json::to_vec(&msg).unwrap();
    for _ in 0..3 {
        app.state
            .broker
            .publish("", &app.settings.amqp.activity_queue, body.clone(), "g-1")
            .await
            .unwrap();
    }
    let second = json!({"id": "g-2", "userId": "u-q", "key": "kills", "value": 2, "occurredAt": Utc::now().to_rfc3339()});
    app.state
        .broker
        .publish(
            "",
            &app.settings.amqp.activity_queue,
            serde_json::to_vec(&second).unwrap(),
            "g-2",
        )
        .await
        .unwrap();
    let invalid = json!({"id": "g-3", "userId": "u-q", "key": "login", "value": 1, "occurredAt": Utc::now().to_rfc3339()});
    app.state
        .broker
        .publish(
            "",
            &app.settings.amqp.activity_queue,
            serde_json::to_vec(&invalid).unwrap(),
            "g-3",
        )
        .await
        .unwrap();
    let user = app.token("u-q", &["USER"]);
    wait_until(Duration::from_secs(10), || async {
        app.get("/progress/me", &user).await.body["keys"][0]["count"] == 2
    })
    .await
    .expect("both distinct messages applied");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = app.get("/progress/me", &user).await;
    assert_eq!(
        r.body["keys"].as_array().unwrap().len(),
        1,
        "reserved key not applied from the queue"
    );
    assert_eq!(r.body["keys"][0]["total"], 7);
    let probe = Probe::bind(&app.settings.amqp.rewards_exchange, "none").await;
    // A user this service never heard of, and a body that is not declared JSON: refused.
    let q = app.settings.amqp.activity_queue.clone();
    let unknown = json!({"id": "g-4", "userId": "u-unknown", "key": "kills", "value": 1, "occurredAt": Utc::now().to_rfc3339()});
    let unknown = serde_json::to_vec(&unknown).unwrap();
    probe
        .publish_raw("", &q, &unknown, Some("application/json"), None)
        .await;
    let plain = json!({"id": "g-5", "userId": "u-q", "key": "kills", "value": 100, "occurredAt": Utc::now().to_rfc3339()});
    let plain = serde_json::to_vec(&plain).unwrap();
    probe
        .publish_raw("", &q, &plain, Some("text/plain"), None)
        .await;
    probe.publish_raw("", &q, &plain, None, None).await;
    let dlq = game_event_service::mq::dlq_name(&q);
    wait_until(Duration::from_secs(5), || async {
        probe.count(&dlq).await == 4
    })
    .await
    .expect("invalid, unknown-user and non-JSON messages dead-lettered");
    let r = app.get("/progress/me", &user).await;
    assert_eq!(
        r.body["keys"][0]["total"], 7,
        "refused messages not applied"
    );
    probe.close().await;
    app.cleanup().await;
}

#[tokio::test]
async fn auth_events_become_login_and_invite_progress_once() {
    let app = spawn_app().await;
    let ex = app.settings.amqp.auth_events_exchange.clone();
    let login = |id: &str, at: chrono::DateTime<Utc>| {
        serde_json::to_vec(
            &json!({"messageId": id, "userId": "u-a", "occurredAt": at.to_rfc3339()}),
        )
        .unwrap()
    };
    let d1 = Utc::now() - chrono::Duration::days(1);
    let d2 = Utc::now() - chrono::Duration::days(2);
    for (id, at) in [("m-1", d1), ("m-1", d1), ("m-2", d2)] {
        app.state
            .broker
            .publish(&ex, "user.logged_in", login(id, at), id)
            .await
            .unwrap();
    }
    let reg = json!({"messageId": "m-3", "userId": "u-new", "email": "n@x.io", "nickname": "n",
        "invitedBy": "u-a", "occurredAt": Utc::now().to_rfc3339()});
    for _ in 0..2 {
        app.state
            .broker
            .publish(
                &ex,
                "user.registered",
                serde_json::to_vec(&reg).unwrap(),
                "m-3",
            )
            .await
            .unwrap();
    }
    let user = app.token("u-a", &["USER"]);
    wait_until(Duration::from_secs(10), || async {
        let b = app.get("/progress/me", &user).await.body;
        b["loginDays"].as_array().map(|d| d.len()) == Some(2)
            && b["keys"].as_array().map(|k| k.len()) == Some(2)
    })
    .await
    .expect("progress ingested");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let b = app.get("/progress/me", &user).await.body;
    let keys = b["keys"].as_array().unwrap();
    assert_eq!(keys[0]["key"], "invite");
    assert_eq!(keys[0]["total"], 1);
    assert_eq!(keys[1]["key"], "login");
    assert_eq!(keys[1]["total"], 2);
    // Progress of others: self or staff only.
    assert_eq!(
        app.get("/users/u-a/progress", &app.token("u-x", &["USER"]))
            .await
            .status,
        403
    );
    assert_eq!(
        app.get("/users/u-a/progress", &app.token("aud", &["AUDITOR"]))
            .await
            .status,
        200
    );
    assert_eq!(app.get("/users/u-a/progress", &user).await.status, 200);
    app.cleanup().await;
}

#[tokio::test]
async fn auth_events_not_published_by_auth_service_are_dead_lettered() {
    // auth-service's broker user is another one than the tests' (guest): whatever guest
    // publishes on the auth events exchange is forged.
    let app = spawn_app_with(|s| s.auth.events_publisher = "auth-service".into()).await;
    let probe = Probe::bind(&app.settings.amqp.rewards_exchange, "none").await;
    let ex = app.settings.amqp.auth_events_exchange.clone();
    let login = json!({"messageId": "f-1", "userId": "u-f", "occurredAt": Utc::now().to_rfc3339()});
    let login = serde_json::to_vec(&login).unwrap();
    // No user_id at all, and guest's own (the broker refuses any other).
    probe
        .publish_raw(
            &ex,
            "user.logged_in",
            &login,
            Some("application/json"),
            None,
        )
        .await;
    app.state
        .broker
        .publish(&ex, "user.logged_in", login.clone(), "f-2")
        .await
        .unwrap();
    let dlq = game_event_service::mq::dlq_name(&app.settings.amqp.auth_events_queue);
    wait_until(Duration::from_secs(5), || async {
        probe.count(&dlq).await == 2
    })
    .await
    .expect("forged auth events dead-lettered");
    let b = app
        .get("/progress/me", &app.token("u-f", &["USER"]))
        .await
        .body;
    assert_eq!(
        b["loginDays"],
        json!([]),
        "no login day from a forged event"
    );
    probe.close().await;
    app.cleanup().await;
}

#[tokio::test]
async fn invite_count_condition_counts_invites_in_the_window() {
    let app = spawn_app().await;
    let e = app
        .create_event(json!({"conditions": [{"type": "INVITE_COUNT", "threshold": 2}]}))
        .await;
    let id = e["id"].as_str().unwrap();
    app.record(
        "inviter",
        "invite",
        1,
        Utc::now() - chrono::Duration::days(1),
    )
    .await;
    app.record(
        "inviter",
        "invite",
        1,
        Utc::now() - chrono::Duration::days(30),
    )
    .await;
    let t = app.token("inviter", &["USER"]);
    let r = app.get(&format!("/events/{id}/eligibility"), &t).await;
    assert_eq!(r.body["eligible"], false);
    assert_eq!(r.body["conditions"][0]["current"], 1);
    let r = app.get("/events?claimable=true", &t).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 0);
    app.record(
        "inviter",
        "invite",
        1,
        Utc::now() - chrono::Duration::hours(1),
    )
    .await;
    let r = app.get("/events?claimable=true", &t).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    app.cleanup().await;
}
