use crate::helpers::*;
use serde_json::json;

#[tokio::test]
async fn operator_creates_reads_and_updates_an_event_with_versions() {
    let app = spawn_app().await;
    let e = app
        .create_event(json!({"status": "DRAFT", "timezone": "Asia/Seoul", "maxClaims": 5}))
        .await;
    assert_eq!(e["version"], 1);
    assert_eq!(e["status"], "DRAFT");
    assert_eq!(e["timezone"], "Asia/Seoul");
    assert_eq!(e["createdBy"], "operator-1");
    let id = e["id"].as_str().unwrap();
    let op = app.operator();

    let r = app.get(&format!("/events/{id}"), &op).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["title"], "Test event");

    let patch = |body: serde_json::Value, headers: Vec<(&'static str, String)>| {
        let app = &app;
        let op = op.clone();
        async move {
            let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.request(
                reqwest::Method::PATCH,
                &format!("/events/{id}"),
                Some(&op),
                Some(body),
                &h,
            )
            .await
        }
    };
    let r = patch(json!({"version": 1, "title": "Renamed"}), vec![]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["version"], 2);
    assert_eq!(r.body["title"], "Renamed");
    // Stale version -> 409.
    let r = patch(json!({"version": 1, "title": "Again"}), vec![]).await;
    assert_eq!(r.status, 409);
    assert_eq!(r.body["code"], "VERSION_CONFLICT");
    // If-Match works too.
    let r = patch(
        json!({"status": "ACTIVE"}),
        vec![("If-Match", "\"2\"".into())],
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["status"], "ACTIVE");
    // Without any version -> 422 naming version.
    let r = patch(json!({"title": "x"}), vec![]).await;
    assert_eq!(r.status, 422);
    assert_eq!(r.body["field"], "version");
    app.cleanup().await;
}

#[tokio::test]
async fn bad_event_input_is_400_or_422_naming_the_field() {
    let app = spawn_app().await;
    let op = app.operator();
    let base =
        json!({"title": "t", "startsAt": "2026-11-01T00:00:00Z", "endsAt": "2026-11-08T00:00:00Z"});
    let with = |k: &str, v: serde_json::Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    let cases: Vec<(serde_json::Value, u16, &str, &str)> = vec![
        (
            with("title", json!({"$gt": ""})),
            400,
            "INVALID_FIELD",
            "title",
        ),
        (with("bogus", json!(1)), 400, "INVALID_FIELD", "bogus"),
        (
            with("startsAt", json!("yesterday")),
            400,
            "INVALID_FIELD",
            "startsAt",
        ),
        (
            with("status", json!("LIVE")),
            400,
            "INVALID_FIELD",
            "status",
        ),
        (
            with("timezone", json!("Mars/Base")),
            422,
            "VALIDATION_FAILED",
            "timezone",
        ),
        (
            with("endsAt", json!("2026-10-01T00:00:00Z")),
            422,
            "VALIDATION_FAILED",
            "endsAt",
        ),
        (
            with("maxClaims", json!(0)),
            422,
            "VALIDATION_FAILED",
            "maxClaims",
        ),
        (
            with(
                "conditions",
                json!([{"type": "LOGIN_DAYS", "threshold": 0}]),
            ),
            422,
            "VALIDATION_FAILED",
            "conditions[0].threshold",
        ),
        (
            with("conditions", json!([{"type": "COUNTER", "threshold": 3}])),
            422,
            "VALIDATION_FAILED",
            "conditions[0].key",
        ),
        (
            with(
                "conditions",
                json!([{"type": "COUNTER", "threshold": 3, "key": "k", "aggregate": "AVG"}]),
            ),
            400,
            "INVALID_FIELD",
            "conditions[0].aggregate",
        ),
        (
            with(
                "conditions",
                json!([{"type": "LOGIN_DAYS", "threshold": "3"}]),
            ),
            400,
            "INVALID_FIELD",
            "conditions[0].threshold",
        ),
        (
            with("rewards", json!([{"type": "ITEM", "quantity": 1}])),
            422,
            "VALIDATION_FAILED",
            "rewards[0].itemCode",
        ),
        (
            with("rewards", json!([{"type": "POINT", "quantity": 0}])),
            422,
            "VALIDATION_FAILED",
            "rewards[0].quantity",
        ),
        (
            with("status", json!("ACTIVE")),
            422,
            "VALIDATION_FAILED",
            "rewards",
        ),
    ];
    for (body, status, code, field) in cases {
        let r = app.post("/events", &op, body.clone()).await;
        assert_eq!(r.status, status, "{body} -> {:?}", r.body);
        assert_eq!(r.body["code"], code, "{body}");
        assert_eq!(r.body["field"], field, "{body} -> {:?}", r.body);
    }
    let r = app
        .post_raw("/events", &op, "application/json", "{not json")
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["code"], "MALFORMED_JSON");
    let r = app.post_raw("/events", &op, "text/plain", "{}").await;
    assert_eq!(r.status, 415);
    // Nothing was written.
    let r = app.get("/events", &op).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 0);
    // Bad query parameters.
    let r = app.get("/events?limit=0", &op).await;
    assert_eq!((r.status, r.body["field"].as_str()), (400, Some("limit")));
    let r = app.get("/events?cursor=zzz", &op).await;
    assert_eq!((r.status, r.body["field"].as_str()), (400, Some("cursor")));
    let r = app.get("/events?activeAt=soon", &op).await;
    assert_eq!(
        (r.status, r.body["field"].as_str()),
        (400, Some("activeAt"))
    );
    app.cleanup().await;
}

#[tokio::test]
async fn roles_and_visibility_of_events() {
    let app = spawn_app().await;
    let active = app.create_event(json!({"title": "active"})).await;
    let draft = app
        .create_event(json!({"title": "draft", "status": "DRAFT"}))
        .await;
    let inactive = app
        .create_event(json!({"title": "inactive", "status": "INACTIVE"}))
        .await;
    let user = app.token("u-vis", &["USER"]);
    let auditor = app.token("aud-1", &["AUDITOR"]);

    let r = app.get("/events", &user).await;
    let titles: Vec<&str> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, vec!["active"]);
    for hidden in [&draft, &inactive] {
        let r = app
            .get(
                &format!("/events/{}", hidden["id"].as_str().unwrap()),
                &user,
            )
            .await;
        assert_eq!(r.status, 404);
    }
    let r = app
        .get(
            &format!("/events/{}", active["id"].as_str().unwrap()),
            &user,
        )
        .await;
    assert_eq!(r.status, 200);
    let r = app.get("/events", &auditor).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 3);
    let r = app.get("/events?status=DRAFT", &auditor).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    let r = app.get("/events?status=DRAFT", &user).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 0);

    // Only OPERATOR/ADMIN write.
    for t in [&user, &auditor] {
        let r = app.post("/events", t, json!({"title": "x", "startsAt": "2026-11-01T00:00:00Z", "endsAt": "2026-11-08T00:00:00Z"})).await;
        assert_eq!(r.status, 403);
        assert_eq!(r.body["code"], "FORBIDDEN");
    }
    // No token -> 401 with WWW-Authenticate.
    let r = app
        .request(reqwest::Method::GET, "/events", None, None, &[])
        .await;
    assert_eq!(r.status, 401);
    assert!(r.headers.get("www-authenticate").is_some());
    app.cleanup().await;
}

#[tokio::test]
async fn delete_archives_keeps_claims_and_hides_the_event() {
    let app = spawn_app().await;
    let e = app.create_event(json!({})).await;
    let id = e["id"].as_str().unwrap();
    let user = app.token("u-arch", &["USER"]);
    let c = app.claim(id, &user, &[]).await;
    assert_eq!(c.status, 202);
    let claim_id = c.body["id"].as_str().unwrap().to_string();
    app.wait_decided(&claim_id).await;
    let r = app
        .request(
            reqwest::Method::DELETE,
            &format!("/events/{id}"),
            Some(&app.operator()),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, 204);
    let r = app.get(&format!("/events/{id}"), &app.operator()).await;
    assert_eq!(r.status, 404);
    let r = app.get("/events", &app.operator()).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 0);
    let r = app.get(&format!("/claims/{claim_id}"), &user).await;
    assert_eq!(r.status, 200);
    let r = app
        .request(
            reqwest::Method::DELETE,
            &format!("/events/{id}"),
            Some(&user),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, 403);
    app.cleanup().await;
}

#[tokio::test]
async fn rewards_subresource_and_list_filters() {
    let app = spawn_app().await;
    let now = chrono::Utc::now();
    let past = app
        .create_event(json!({"title": "past",
            "startsAt": (now - chrono::Duration::days(30)).to_rfc3339(),
            "endsAt": (now - chrono::Duration::days(20)).to_rfc3339()}))
        .await;
    let current = app.create_event(json!({"title": "current"})).await;
    let op = app.operator();
    let id = current["id"].as_str().unwrap();
    let r = app
        .post(
            &format!("/events/{id}/rewards"),
            &op,
            json!({"type": "ITEM", "itemCode": "sword", "quantity": 1}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["version"], 2);
    let r = app
        .post(
            &format!("/events/{id}/rewards"),
            &op,
            json!({"type": "COUPON", "quantity": 1}),
        )
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.body["field"], "itemCode");
    let r = app
        .get(&format!("/events/{id}/rewards"), &app.token("u", &["USER"]))
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2);

    let at = now.to_rfc3339().replace('+', "%2B");
    let r = app.get(&format!("/events?activeAt={at}"), &op).await;
    let titles: Vec<&str> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, vec!["current"]);
    let from = (now - chrono::Duration::days(40)).format("%Y-%m-%dT%H:%M:%SZ");
    let to = (now - chrono::Duration::days(25)).format("%Y-%m-%dT%H:%M:%SZ");
    let r = app.get(&format!("/events?from={from}&to={to}"), &op).await;
    let titles: Vec<&str> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, vec!["past"]);
    let _ = past;
    // Pagination over events.
    let r = app.get("/events?limit=1", &op).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    let cursor = r.body["nextCursor"].as_str().unwrap().to_string();
    let r2 = app
        .get(&format!("/events?limit=1&cursor={cursor}"), &op)
        .await;
    assert_eq!(r2.body["items"].as_array().unwrap().len(), 1);
    assert_ne!(r.body["items"][0]["id"], r2.body["items"][0]["id"]);
    app.cleanup().await;
}

#[tokio::test]
async fn status_change_is_visible_through_another_instances_cache_within_a_second() {
    let a = spawn_app().await;
    let b = spawn_sibling(&a, |_| {}).await;
    let e = a.create_event(json!({})).await;
    let id = e["id"].as_str().unwrap();
    let user = a.token("u-cache", &["USER"]);
    // Warm B's cache.
    assert_eq!(b.get(&format!("/events/{id}"), &user).await.status, 200);
    let r = a
        .request(
            reqwest::Method::PATCH,
            &format!("/events/{id}"),
            Some(&a.operator()),
            Some(json!({"version": 1, "status": "INACTIVE"})),
            &[],
        )
        .await;
    assert_eq!(r.status, 200);
    let started = std::time::Instant::now();
    wait_until(std::time::Duration::from_secs(2), || async {
        b.get(&format!("/events/{id}"), &user).await.status == 404
    })
    .await
    .expect("B saw the change");
    assert!(started.elapsed() < std::time::Duration::from_millis(1500));
    let mut b = b;
    b.stop().await;
    a.cleanup().await;
}
