//! SPEC §8: recurring periods, PAUSED, segments, audiences, the audit log, stats and forecast.
use crate::helpers::*;
use serde_json::{json, Value};

async fn patch(app: &TestApp, id: &str, body: Value) -> Resp {
    app.request(
        reqwest::Method::PATCH,
        &format!("/events/{id}"),
        Some(&app.operator()),
        Some(body),
        &[],
    )
    .await
}

#[tokio::test]
async fn recurring_event_lists_its_periods_in_local_time() {
    let app = spawn_app().await;
    // Daily at 05:00 in Seoul (UTC+9, no DST) = 20:00 UTC the day before.
    let e = app
        .create_event(json!({
            "timezone": "Asia/Seoul",
            "startsAt": "2020-01-01T00:00:00Z",
            "endsAt": "2099-01-01T00:00:00Z",
            "recurrence": {"every": "DAY", "resetAt": "05:00"},
            "maxClaimsPerPeriod": 100,
        }))
        .await;
    assert_eq!(e["recurrence"], json!({"every": "DAY", "resetAt": "05:00"}));
    assert_eq!(e["maxClaimsPerPeriod"], 100);
    let id = e["id"].as_str().unwrap();
    let user = app.token("player-1", &["USER"]);

    let r = app
        .get(&format!("/events/{id}/periods?count=3"), &user)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    let now = chrono::Utc::now();
    let start = |i: usize| -> chrono::DateTime<chrono::Utc> {
        items[i]["startsAt"].as_str().unwrap().parse().unwrap()
    };
    let end = |i: usize| -> chrono::DateTime<chrono::Utc> {
        items[i]["endsAt"].as_str().unwrap().parse().unwrap()
    };
    assert!(start(0) <= now && now < end(0), "{items:?}");
    for i in 0..3 {
        assert_eq!(end(i) - start(i), chrono::Duration::hours(24));
        assert_eq!(start(i).format("%H:%M").to_string(), "20:00");
    }
    assert_eq!(end(0), start(1));

    // Default count, and the cap.
    let r = app.get(&format!("/events/{id}/periods"), &user).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 10);
    for bad in ["count=51", "count=0", "count=x"] {
        let r = app.get(&format!("/events/{id}/periods?{bad}"), &user).await;
        assert_eq!(r.status, 400, "{bad}");
        assert_eq!(r.body["field"], "count", "{bad}");
    }
    let r = app
        .get(&format!("/events/{id}/periods?every=DAY"), &user)
        .await;
    assert_eq!(r.status, 400);

    // A plain event has one period, its window.
    let plain = app.create_event(json!({})).await;
    let r = app
        .get(
            &format!("/events/{}/periods?count=5", plain["id"].as_str().unwrap()),
            &user,
        )
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    let ms = |v: &Value| {
        v.as_str()
            .unwrap()
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
            .timestamp_millis()
    };
    assert_eq!(ms(&r.body["items"][0]["endsAt"]), ms(&plain["endsAt"]));
    app.cleanup().await;
}

#[tokio::test]
async fn bad_recurrence_audience_and_period_stock_name_their_field() {
    let app = spawn_app().await;
    let op = app.operator();
    let base = json!({
        "title": "t", "startsAt": "2030-01-01T00:00:00Z", "endsAt": "2030-02-01T00:00:00Z",
    });
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    let cases = [
        (
            with("recurrence", json!({"every": "WEEK", "resetDay": 5})),
            422,
            "recurrence.resetDay",
        ),
        (
            with("recurrence", json!({"every": "DAY", "resetDay": "MON"})),
            422,
            "recurrence.resetDay",
        ),
        (
            with("recurrence", json!({"every": "DAY", "resetAt": "25:00"})),
            400,
            "recurrence.resetAt",
        ),
        (
            with("recurrence", json!({"every": "HOUR"})),
            400,
            "recurrence.every",
        ),
        (
            with("recurrence", json!({"every": "DAY", "x": 1})),
            400,
            "recurrence.x",
        ),
        (
            with("maxClaimsPerPeriod", json!(5)),
            422,
            "maxClaimsPerPeriod",
        ),
        (
            with("audience", json!({"rolloutPercent": 0})),
            422,
            "audience.rolloutPercent",
        ),
        (
            with("audience", json!({"rolloutPercent": 101})),
            422,
            "audience.rolloutPercent",
        ),
        (
            with("audience", json!({"segments": []})),
            422,
            "audience.segments",
        ),
        (
            with("audience", json!({"segments": ["$gt"]})),
            422,
            "audience.segments[0]",
        ),
        (
            with(
                "audience",
                json!({"registeredAfter": "2030-01-02T00:00:00Z", "registeredBefore": "2030-01-01T00:00:00Z"}),
            ),
            422,
            "audience.registeredBefore",
        ),
        (
            with("audience", json!({"country": "KR"})),
            400,
            "audience.country",
        ),
    ];
    for (body, status, field) in cases {
        let r = app.post("/events", &op, body.clone()).await;
        assert_eq!(r.status, status, "{body}: {:?}", r.body);
        let named = r.body["field"] == field
            || r.body["errors"]
                .as_array()
                .is_some_and(|e| e.iter().any(|x| x["field"] == field));
        assert!(named, "{body}: expected {field}, got {:?}", r.body);
    }

    // A PATCH runs the same rules, and null removes a recurrence.
    let e = app
        .create_event(json!({"status": "DRAFT", "recurrence": {"every": "MONTH", "resetDay": 15}}))
        .await;
    assert_eq!(e["recurrence"]["resetDay"], 15);
    let id = e["id"].as_str().unwrap();
    let r = patch(
        &app,
        id,
        json!({"version": 1, "recurrence": {"every": "MONTH", "resetDay": "TUE"}}),
    )
    .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.body["field"], "recurrence.resetDay");
    let r = patch(
        &app,
        id,
        json!({"version": 1, "recurrence": {"every": "WEEK"}, "audience": {"rolloutPercent": 50}}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.body["recurrence"],
        json!({"every": "WEEK", "resetAt": "00:00", "resetDay": "MON"})
    );
    assert_eq!(r.body["audience"], json!({"rolloutPercent": 50}));
    let r = patch(
        &app,
        id,
        json!({"version": 2, "recurrence": null, "audience": null}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.body.get("recurrence").is_none() && r.body.get("audience").is_none());
    // And it round-trips through the store.
    app.state.cache.invalidate(&eid(id)).await;
    let r = app.get(&format!("/events/{id}"), &op).await;
    assert_eq!(r.body["version"], 3);
    app.cleanup().await;
}

#[tokio::test]
async fn paused_event_stays_visible_and_refuses_new_claims() {
    let app = spawn_app().await;
    let e = app.create_event(json!({})).await;
    let id = e["id"].as_str().unwrap();
    let user = app.token("player-p", &["USER"]);

    let r = patch(&app, id, json!({"version": 1, "status": "PAUSED"})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["status"], "PAUSED");

    let r = app.get(&format!("/events/{id}"), &user).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], "PAUSED");
    let r = app.get("/events", &user).await;
    assert!(r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["id"] == id));
    let r = app.get("/events?status=PAUSED", &user).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    let r = app.get("/events?claimable=true", &user).await;
    assert!(r.body["items"].as_array().unwrap().is_empty());

    let r = app.claim(id, &user, &[]).await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert_eq!(r.body["code"], "EVENT_PAUSED");
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/problem+json"));
    let r = app
        .get(&format!("/claims?eventId={id}"), &app.admin())
        .await;
    assert!(
        r.body["items"].as_array().unwrap().is_empty(),
        "nothing stored"
    );

    // PAUSED only goes back to ACTIVE; only ACTIVE pauses; nothing is created PAUSED.
    let r = patch(&app, id, json!({"version": 2, "status": "INACTIVE"})).await;
    assert_eq!(r.status, 422);
    assert_eq!(r.body["field"], "status");
    let r = patch(&app, id, json!({"version": 2, "status": "ACTIVE"})).await;
    assert_eq!(r.status, 200);
    let r = app.claim(id, &user, &[]).await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let draft = app.create_event(json!({"status": "DRAFT"})).await;
    let r = patch(
        &app,
        draft["id"].as_str().unwrap(),
        json!({"version": 1, "status": "PAUSED"}),
    )
    .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.body["field"], "status");
    let r = app
        .post("/events", &app.operator(), json!({"title": "t", "startsAt": "2030-01-01T00:00:00Z", "endsAt": "2030-02-01T00:00:00Z", "status": "PAUSED"}))
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.body["field"], "status");
    app.cleanup().await;
}

async fn delete_json(app: &TestApp, path: &str, token: &str, body: Value) -> Resp {
    app.request(reqwest::Method::DELETE, path, Some(token), Some(body), &[])
        .await
}

#[tokio::test]
async fn segments_hold_members_idempotently_and_page_them() {
    let app = spawn_app().await;
    let op = app.operator();
    let user = app.token("player-s", &["USER"]);
    let auditor = app.token("auditor-1", &["AUDITOR"]);

    let r = app
        .post(
            "/segments",
            &op,
            json!({"name": "Whales", "description": "top spenders"}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let sid = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(r.headers["location"], format!("/segments/{sid}").as_str());
    assert_eq!(r.body["createdBy"], "operator-1");
    for (who, status) in [(&user, 403), (&auditor, 403)] {
        let r = app.post("/segments", who, json!({"name": "x"})).await;
        assert_eq!(r.status, status);
    }
    let r = app.post("/segments", &op, json!({"name": " "})).await;
    assert_eq!((r.status, r.body["field"].clone()), (422, json!("name")));
    let r = app
        .post("/segments", &op, json!({"name": "x", "owner": "me"}))
        .await;
    assert_eq!((r.status, r.body["field"].clone()), (400, json!("owner")));

    // 10,000 ids in one call; the same call again adds nothing.
    let ids: Vec<String> = (0..10_000).map(|i| format!("user-{i:05}")).collect();
    let path = format!("/segments/{sid}/members");
    let r = app.post(&path, &op, json!({"userIds": ids})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body, json!({"added": 10000, "alreadyMembers": 0}));
    let r = app
        .post(
            &path,
            &op,
            json!({"userIds": ["user-00000", "user-00001", "new-1", "new-1"]}),
        )
        .await;
    assert_eq!(r.body, json!({"added": 1, "alreadyMembers": 2}));
    let too_many: Vec<String> = (0..10_001).map(|i| format!("u{i}")).collect();
    let r = app.post(&path, &op, json!({"userIds": too_many})).await;
    assert_eq!((r.status, r.body["field"].clone()), (422, json!("userIds")));
    let r = app
        .post(&path, &op, json!({"userIds": ["ok", {"$gt": ""}]}))
        .await;
    assert_eq!(
        (r.status, r.body["field"].clone()),
        (400, json!("userIds[1]"))
    );
    let r = app.post(&path, &user, json!({"userIds": ["x"]})).await;
    assert_eq!(r.status, 403);

    let r = app.get(&format!("/segments/{sid}"), &auditor).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["memberCount"], 10001);
    assert_eq!(
        app.get(&format!("/segments/{sid}"), &user).await.status,
        403
    );
    assert_eq!(app.get("/segments/nope", &op).await.status, 404);
    let r = app.get("/segments", &auditor).await;
    assert_eq!(r.body["items"][0]["id"], sid.as_str());

    let r = delete_json(
        &app,
        &path,
        &op,
        json!({"userIds": ["new-1", "user-00002", "never"]}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body, json!({"removed": 2}));

    // Pages in user id order, every member once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("{path}?limit=100&cursor={c}"),
            None => format!("{path}?limit=100"),
        };
        let r = app.get(&q, &auditor).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        for m in r.body["items"].as_array().unwrap() {
            seen.push(m["userId"].as_str().unwrap().to_string());
        }
        match r.body["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
        if seen.len() > 300 {
            break;
        }
    }
    assert_eq!(&seen[..3], ["user-00000", "user-00001", "user-00003"]);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, seen);
    let r = app.get(&format!("{path}?cursor=bad"), &auditor).await;
    assert_eq!((r.status, r.body["field"].clone()), (400, json!("cursor")));
    app.cleanup().await;
}

pub(crate) async fn register(app: &TestApp, user: &str, at: &str) {
    app.register_user(user, at.parse().unwrap()).await;
}

#[tokio::test]
async fn outside_the_audience_an_event_is_invisible_and_unclaimable() {
    let app = spawn_app().await;
    let op = app.operator();
    let r = app.post("/segments", &op, json!({"name": "vip"})).await;
    let sid = r.body["id"].as_str().unwrap().to_string();
    let r = app
        .post(
            &format!("/segments/{sid}/members"),
            &op,
            json!({"userIds": ["vip-1"]}),
        )
        .await;
    assert_eq!(r.status, 200);
    let seg_event = app
        .create_event(json!({"audience": {"segments": [sid]}}))
        .await;
    let seg_id = seg_event["id"].as_str().unwrap().to_string();
    let new_event = app
        .create_event(json!({"audience": {"registeredAfter": "2026-06-01T00:00:00Z"}}))
        .await;
    let new_id = new_event["id"].as_str().unwrap().to_string();
    register(&app, "newbie", "2026-07-01T00:00:00Z").await;
    register(&app, "veteran", "2025-01-01T00:00:00Z").await;
    wait_until(std::time::Duration::from_secs(10), || async {
        let s = &app.state.store;
        s.registered_at(&game_event_service::domain::UserId::parse("newbie").unwrap())
            .await
            .unwrap()
            .is_some()
            && s.registered_at(&game_event_service::domain::UserId::parse("veteran").unwrap())
                .await
                .unwrap()
                .is_some()
    })
    .await
    .expect("registrations recorded");

    let ids_for = |token: String| {
        let app = &app;
        async move {
            let mut out = Vec::new();
            for q in ["/events", "/events?claimable=true"] {
                let r = app.get(q, &token).await;
                assert_eq!(r.status, 200);
                out.push(
                    r.body["items"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|e| e["id"].as_str().unwrap().to_string())
                        .collect::<Vec<_>>(),
                );
            }
            out
        }
    };
    let vip = app.token("vip-1", &["USER"]);
    let newbie = app.token("newbie", &["USER"]);
    let veteran = app.token("veteran", &["USER"]);
    let stranger = app.token("stranger", &["USER"]);
    assert_eq!(ids_for(vip.clone()).await, vec![vec![seg_id.clone()]; 2]);
    assert_eq!(ids_for(newbie.clone()).await, vec![vec![new_id.clone()]; 2]);
    assert_eq!(
        ids_for(veteran.clone()).await,
        vec![Vec::<String>::new(); 2]
    );
    assert_eq!(
        ids_for(stranger.clone()).await,
        vec![Vec::<String>::new(); 2]
    );
    // Staff see both.
    assert_eq!(ids_for(op.clone()).await[0].len(), 2);

    // Reads and claims from outside: 404, as if there were no such event; nothing stored.
    for (token, event) in [
        (&veteran, &new_id),
        (&stranger, &new_id),
        (&newbie, &seg_id),
    ] {
        for path in [
            format!("/events/{event}"),
            format!("/events/{event}/eligibility"),
            format!("/events/{event}/periods"),
        ] {
            let r = app.get(&path, token).await;
            assert_eq!(
                (r.status, r.body["code"].clone()),
                (404, json!("NOT_FOUND")),
                "{path}"
            );
        }
        let r = app.claim(event, token, &[]).await;
        assert_eq!(r.status, 404, "{:?}", r.body);
    }
    // ADMIN sees the event but is held to the audience when claiming.
    let r = app.claim(&seg_id, &app.admin(), &[]).await;
    assert_eq!(r.status, 404);
    let r = app.get("/claims", &app.admin()).await;
    assert!(
        r.body["items"].as_array().unwrap().is_empty(),
        "{:?}",
        r.body
    );

    // Inside: visible and claimable.
    assert_eq!(
        app.get(&format!("/events/{seg_id}"), &vip).await.status,
        200
    );
    let r = app.claim(&seg_id, &vip, &[]).await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let r = app.claim(&new_id, &newbie, &[]).await;
    assert_eq!(r.status, 202, "{:?}", r.body);

    // Membership is read per request, so the cached event follows a membership change at once.
    let r = delete_json(
        &app,
        &format!("/segments/{sid}/members"),
        &op,
        json!({"userIds": ["vip-1"]}),
    )
    .await;
    assert_eq!(r.body["removed"], 1);
    assert_eq!(
        app.get(&format!("/events/{seg_id}"), &vip).await.status,
        404
    );

    // A rollout admits a stable share: at 100 everyone, at 1 about one in a hundred.
    let all = app
        .create_event(json!({"audience": {"rolloutPercent": 100}}))
        .await;
    let r = app
        .get(
            &format!("/events/{}", all["id"].as_str().unwrap()),
            &stranger,
        )
        .await;
    assert_eq!(r.status, 200);
    app.cleanup().await;
}

#[tokio::test]
async fn staff_writes_are_audited_and_auth_records_arrive_by_message() {
    let app = spawn_app().await;
    let op = app.operator();
    let auditor = app.token("auditor-1", &["AUDITOR"]);
    let e = app.create_event(json!({"status": "DRAFT"})).await;
    let id = e["id"].as_str().unwrap().to_string();
    let r = patch(&app, &id, json!({"version": 1, "title": "Renamed"})).await;
    assert_eq!(r.status, 200);
    let r = patch(&app, &id, json!({"version": 2, "status": "ACTIVE"})).await;
    assert_eq!(r.status, 200);
    let r = app
        .post(
            &format!("/events/{id}/rewards"),
            &op,
            json!({"type": "POINT", "quantity": 5}),
        )
        .await;
    assert_eq!(r.status, 201);
    let r = app.post("/segments", &op, json!({"name": "s"})).await;
    let sid = r.body["id"].as_str().unwrap().to_string();
    app.post(
        &format!("/segments/{sid}/members"),
        &op,
        json!({"userIds": ["a", "b"]}),
    )
    .await;
    app.record("p-1", "kills", 3, chrono::Utc::now()).await;
    let r = app
        .request(
            reqwest::Method::DELETE,
            &format!("/events/{id}"),
            Some(&op),
            None,
            &[("X-Request-Id", "req-archive-1")],
        )
        .await;
    assert_eq!(r.status, 204);

    let r = app
        .get(&format!("/audit?entityType=event&entityId={id}"), &auditor)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let items = r.body["items"].as_array().unwrap();
    let actions: Vec<&str> = items
        .iter()
        .map(|i| i["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "event.archived",
            "event.reward_added",
            "event.status_changed",
            "event.updated",
            "event.created"
        ]
    );
    let created = &items[4];
    assert_eq!(
        created["actor"],
        json!({"id": "operator-1", "roles": ["OPERATOR"]})
    );
    assert_eq!(created["entity"], json!({"type": "event", "id": id}));
    assert!(created.get("before").is_none());
    assert_eq!(created["after"]["title"], "Test event");
    assert_eq!(items[3]["before"]["title"], "Test event");
    assert_eq!(items[3]["after"]["title"], "Renamed");
    assert_eq!(items[2]["before"]["status"], "DRAFT");
    assert_eq!(items[2]["after"]["status"], "ACTIVE");
    assert_eq!(items[0]["requestId"], "req-archive-1");
    assert!(items[0]["at"]
        .as_str()
        .unwrap()
        .parse::<chrono::DateTime<chrono::Utc>>()
        .is_ok());

    let r = app.get("/audit?entityType=segment", &auditor).await;
    let actions: Vec<&str> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["segment.members_added", "segment.created"]);
    let r = app
        .get("/audit?action=activity.recorded", &app.admin())
        .await;
    assert_eq!(r.body["items"][0]["entity"]["type"], "activity");
    assert_eq!(r.body["items"][0]["actor"]["id"], "admin-1");

    // auth-service's records arrive as audit.recorded and are stored once, by id.
    let rec = json!({
        "id": uuid::Uuid::now_v7().to_string(), "at": chrono::Utc::now().to_rfc3339(),
        "actor": {"id": "admin-9", "roles": ["ADMIN"]}, "action": "user.roles_changed",
        "entity": {"type": "user", "id": "u-7"}, "before": {"roles": ["USER"]},
        "after": {"roles": ["USER", "OPERATOR"]}, "requestId": "req-auth-1",
    });
    // A record that is not one (operator in an id) is dead-lettered, never stored.
    let bad = json!({
        "id": uuid::Uuid::now_v7().to_string(), "at": chrono::Utc::now().to_rfc3339(),
        "actor": {"id": {"$gt": ""}, "roles": []}, "action": "user.roles_changed",
        "entity": {"type": "user", "id": "u-7"},
    });
    app.state
        .broker
        .publish(
            &app.settings.amqp.auth_events_exchange,
            "audit.recorded",
            serde_json::to_vec(&bad).unwrap(),
            bad["id"].as_str().unwrap(),
        )
        .await
        .unwrap();
    for _ in 0..2 {
        app.state
            .broker
            .publish(
                &app.settings.amqp.auth_events_exchange,
                "audit.recorded",
                serde_json::to_vec(&rec).unwrap(),
                rec["id"].as_str().unwrap(),
            )
            .await
            .unwrap();
    }
    wait_until(std::time::Duration::from_secs(10), || async {
        app.get("/audit?actorId=admin-9", &auditor).await.body["items"]
            .as_array()
            .is_some_and(|i| !i.is_empty())
    })
    .await
    .expect("auth record stored");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let r = app.get("/audit?actorId=admin-9", &auditor).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["items"][0], rec_normalized(&rec));
    let r = app.get("/audit?entityType=user", &auditor).await;
    assert_eq!(
        r.body["items"].as_array().unwrap().len(),
        1,
        "the malformed record was not stored"
    );

    // Pages newest first; filters are typed.
    let r = app.get("/audit?limit=2", &auditor).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2);
    let next = r.body["nextCursor"].as_str().unwrap().to_string();
    let r2 = app
        .get(&format!("/audit?limit=2&cursor={next}"), &auditor)
        .await;
    assert!(r2.body["items"][0]["id"].as_str() < r.body["items"][1]["id"].as_str());
    for (q, field) in [
        ("entityType=planet", "entityType"),
        ("entityId=%24gt", "entityId"),
        ("action=DROP", "action"),
        ("from=yesterday", "from"),
        ("from=2030-01-02T00:00:00Z&to=2030-01-01T00:00:00Z", "to"),
        ("actor=me", "actor"),
    ] {
        let r = app.get(&format!("/audit?{q}"), &auditor).await;
        assert_eq!(
            (r.status, r.body["field"].clone()),
            (400, json!(field)),
            "{q}"
        );
    }
    assert_eq!(app.get("/audit", &op).await.status, 403);
    assert_eq!(
        app.get("/audit", &app.token("p", &["USER"])).await.status,
        403
    );
    app.cleanup().await;
}

fn rec_normalized(rec: &Value) -> Value {
    let mut r = rec.clone();
    let at: chrono::DateTime<chrono::Utc> = rec["at"].as_str().unwrap().parse().unwrap();
    r["at"] = json!(
        chrono::DateTime::<chrono::Utc>::from_timestamp_millis(at.timestamp_millis()).unwrap()
    );
    r
}

#[tokio::test]
async fn stats_count_claims_by_status_and_forecast_counts_the_audience() {
    let app = spawn_app().await;
    let op = app.operator();
    let now = chrono::Utc::now();
    let e = app
        .create_event(json!({
            "maxClaims": 10,
            "conditions": [{"type": "COUNTER", "key": "kills", "threshold": 5}],
            "rewards": [{"type": "ITEM", "itemCode": "sword", "quantity": 2}],
        }))
        .await;
    let id = e["id"].as_str().unwrap().to_string();
    for (u, kills) in [("s-1", 5), ("s-2", 9), ("s-3", 1)] {
        register(&app, u, "2026-01-01T00:00:00Z").await;
        app.record(u, "kills", kills, now - chrono::Duration::hours(1))
            .await;
    }
    register(&app, "s-4", "2026-01-01T00:00:00Z").await;
    for u in ["s-1", "s-2", "s-3"] {
        let r = app.claim(&id, &app.token(u, &["USER"]), &[]).await;
        assert_eq!(r.status, 202);
        app.wait_decided(r.body["id"].as_str().unwrap()).await;
    }
    let r = app
        .get(
            &format!("/events/{id}/stats"),
            &app.token("aud", &["AUDITOR"]),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["approved"], 2);
    assert_eq!(r.body["pending"], 0);
    assert_eq!(r.body["revoked"], 0);
    assert_eq!(r.body["rejected"], json!({"CONDITION_NOT_MET": 1}));
    assert_eq!(r.body["stockLeft"], 8);
    assert!(r.body.get("period").is_none());
    assert_eq!(
        app.get(&format!("/events/{id}/stats"), &app.token("s-1", &["USER"]))
            .await
            .status,
        403
    );

    wait_until(std::time::Duration::from_secs(10), || async {
        app.get(&format!("/events/{id}/forecast"), &op).await.body["audience"] == 4
    })
    .await
    .expect("registrations recorded");
    let r = app.get(&format!("/events/{id}/forecast"), &op).await;
    assert_eq!(
        r.body,
        json!({"audience": 4, "qualifying": 2, "rewards": [{"type": "ITEM", "itemCode": "sword", "quantity": 4}]})
    );
    // A DRAFT with a segment audience and a stock of one.
    let r = app.post("/segments", &op, json!({"name": "f"})).await;
    let sid = r.body["id"].as_str().unwrap().to_string();
    app.post(
        &format!("/segments/{sid}/members"),
        &op,
        json!({"userIds": ["s-1", "s-2", "s-3"]}),
    )
    .await;
    let d = app
        .create_event(json!({
            "status": "DRAFT", "maxClaims": 1, "audience": {"segments": [sid]},
            "conditions": [{"type": "COUNTER", "key": "kills", "threshold": 5}],
        }))
        .await;
    let r = app
        .get(
            &format!("/events/{}/forecast", d["id"].as_str().unwrap()),
            &op,
        )
        .await;
    assert_eq!(
        r.body,
        json!({"audience": 3, "qualifying": 2, "rewards": [{"type": "POINT", "quantity": 100}]})
    );

    // A recurring event shows its current period.
    let daily = app
        .create_event(json!({"recurrence": {"every": "DAY"}, "maxClaimsPerPeriod": 3}))
        .await;
    let did = daily["id"].as_str().unwrap();
    let r = app.claim(did, &app.token("s-4", &["USER"]), &[]).await;
    app.wait_decided(r.body["id"].as_str().unwrap()).await;
    let r = app.get(&format!("/events/{did}/stats"), &op).await;
    assert_eq!(r.body["period"]["approved"], 1, "{:?}", r.body);
    assert_eq!(r.body["period"]["stockLeft"], 2);
    assert!(r.body.get("stockLeft").is_none());
    app.cleanup().await;
}

#[tokio::test]
async fn openapi_documents_the_live_ops_routes_and_shapes() {
    let app = spawn_app().await;
    let r = app
        .request(reqwest::Method::GET, "/swagger.json", None, None, &[])
        .await;
    assert_eq!(r.status, 200);
    for path in [
        "/events/{id}/periods",
        "/events/{id}/stats",
        "/events/{id}/forecast",
        "/segments",
        "/segments/{id}",
        "/segments/{id}/members",
        "/audit",
        "/claims/{id}/revoke",
        "/events/{id}/grants",
        "/jobs/{id}",
    ] {
        assert!(r.body["paths"][path].is_object(), "{path} missing");
    }
    let grants = &r.body["paths"]["/events/{id}/grants"]["post"]["responses"];
    assert!(grants["202"].is_object(), "{grants:?}");
    let revoke = &r.body["definitions"]["RevokeRequest"]["properties"];
    assert!(revoke["allowReclaim"].is_object() && revoke["keepStock"].is_object());
    let grant = &r.body["definitions"]["GrantRequest"]["properties"];
    assert!(grant["userIds"].is_object() && grant["ignoreStock"].is_object());
    // Responses are untyped here; the request bodies carry the shapes.
    let new_event = &r.body["definitions"]["NewEvent"]["properties"];
    assert!(new_event["recurrence"]["properties"]["resetDay"].is_object());
    assert!(new_event["audience"]["properties"]["rolloutPercent"].is_object());
    assert!(new_event["maxClaimsPerPeriod"].is_object());
    let statuses = new_event["status"]["enum"].as_array().unwrap();
    assert!(statuses.contains(&json!("PAUSED")));
    let patch = &r.body["definitions"]["EventPatch"]["properties"];
    assert!(patch["recurrence"]["properties"]["every"].is_object());
    assert!(r.body["definitions"]["MemberIds"]["properties"]["userIds"].is_object());
    let params: Vec<&str> = r.body["paths"]["/audit"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for want in ["entityType", "entityId", "actorId", "action", "from", "to"] {
        assert!(params.contains(&want), "{want} not in {params:?}");
    }
    app.cleanup().await;
}
