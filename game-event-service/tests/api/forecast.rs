//! SPEC §8 forecast: the numbers come from per-(user, key, day) totals in quarter-hour slots;
//! these tests pin them against what the raw records say, at window edges inside a slot and
//! across local midnights of a time zone whose days do not start at 00:00 UTC.
use crate::helpers::*;
use crate::liveops::register;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

async fn forecast(app: &TestApp, event: &Value) -> Value {
    let id = event["id"].as_str().unwrap();
    let r = app
        .get(
            &format!("/events/{id}/forecast"),
            &app.token("aud", &["AUDITOR"]),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

async fn registered(app: &TestApp, users: &[&str]) {
    for u in users {
        register(app, u, "2026-01-01T00:00:00Z").await;
    }
    let n = users.len();
    let e = app.create_event(json!({"status": "DRAFT"})).await;
    wait_until(std::time::Duration::from_secs(10), || async {
        forecast(app, &e).await["audience"] == n
    })
    .await
    .expect("registrations recorded");
}

#[tokio::test]
async fn login_days_are_local_days_and_window_edges_cut_slots() {
    let app = spawn_app().await;
    registered(&app, &["a", "b", "c", "d", "e", "f"]).await;
    // Kolkata is UTC+5:30: local midnight is 18:30Z, inside the UTC day a total document keeps.
    // Both window edges fall inside a quarter hour.
    let window = json!({"startsAt": "2026-11-01T10:07:00Z", "endsAt": "2026-11-04T15:05:00Z",
        "timezone": "Asia/Kolkata", "status": "DRAFT"});
    for (u, key, v, t) in [
        // a: 23:50 and 00:10 local, one UTC day, two local days; 10 kills.
        ("a", "login", 1, "2026-11-01T18:20:00Z"),
        ("a", "login", 1, "2026-11-01T18:40:00Z"),
        ("a", "kills", 10, "2026-11-02T12:00:00Z"),
        // b: 6 kills 2 minutes before the start, in the start's quarter hour; 5 inside.
        ("b", "kills", 6, "2026-11-01T10:05:00Z"),
        ("b", "kills", 5, "2026-11-01T10:12:00Z"),
        ("b", "login", 1, "2026-11-01T10:10:00Z"),
        ("b", "login", 1, "2026-11-02T10:10:00Z"),
        // c: 10 kills a minute before the end, logins on two local days.
        ("c", "kills", 10, "2026-11-04T15:04:00Z"),
        ("c", "login", 1, "2026-11-03T06:00:00Z"),
        ("c", "login", 1, "2026-11-04T06:00:00Z"),
        // d: 4 kills inside, 8 a minute after the end, in the same quarter hour.
        ("d", "kills", 4, "2026-11-04T15:01:00Z"),
        ("d", "kills", 8, "2026-11-04T15:06:00Z"),
        ("d", "login", 1, "2026-11-02T06:00:00Z"),
        ("d", "login", 1, "2026-11-03T06:00:00Z"),
        // e: 20 kills, but one login before the window and one inside.
        ("e", "kills", 20, "2026-11-02T00:00:00Z"),
        ("e", "login", 1, "2026-10-31T12:00:00Z"),
        ("e", "login", 1, "2026-11-02T12:00:00Z"),
    ] {
        app.record(u, key, v, at(t)).await;
    }
    let mut both = window.clone();
    both["conditions"] = json!([{"type": "LOGIN_DAYS", "threshold": 2},
        {"type": "COUNTER", "key": "kills", "threshold": 10}]);
    let f = forecast(&app, &app.create_event(both).await).await;
    assert_eq!(
        (f["audience"].clone(), f["qualifying"].clone()),
        (json!(6), json!(2)),
        "{f}"
    );

    let mut max = window.clone();
    max["conditions"] =
        json!([{"type": "COUNTER", "key": "kills", "aggregate": "MAX", "threshold": 8}]);
    let f = forecast(&app, &app.create_event(max).await).await;
    assert_eq!(f["qualifying"], 3, "a, c and e: {f}");

    // In UTC, a's two logins are one day; the edges are the same instants.
    let mut in_utc = window.clone();
    in_utc["timezone"] = json!("UTC");
    in_utc["conditions"] = json!([{"type": "LOGIN_DAYS", "threshold": 2}]);
    let f = forecast(&app, &app.create_event(in_utc).await).await;
    assert_eq!(f["qualifying"], 3, "b, c and d: {f}");

    let mut streak = window;
    streak["conditions"] = json!([{"type": "CONSECUTIVE_LOGIN_DAYS", "threshold": 2}]);
    let f = forecast(&app, &app.create_event(streak).await).await;
    assert_eq!(f["qualifying"], 4, "a, b, c and d: {f}");
    app.cleanup().await;
}

#[tokio::test]
async fn a_recurring_event_counts_its_current_period_only() {
    let app = spawn_app().await;
    registered(&app, &["p1", "p2", "p3"]).await;
    // A daily period resetting at 10:07 in New York: both edges inside a quarter hour.
    let e = app
        .create_event(json!({"status": "DRAFT", "timezone": "America/New_York",
            "recurrence": {"every": "DAY", "resetAt": "10:07"},
            "conditions": [{"type": "COUNTER", "key": "kills", "threshold": 5}]}))
        .await;
    let id = e["id"].as_str().unwrap();
    let r = app
        .get(&format!("/events/{id}/periods?count=1"), &app.operator())
        .await;
    let start = at(r.body["items"][0]["startsAt"].as_str().unwrap());
    let ms = Duration::milliseconds(1);
    for (u, v, t) in [
        ("p1", 3, start),
        ("p1", 7, start - ms),
        ("p2", 5, start),
        ("p3", 9, start - Duration::days(1)),
    ] {
        app.record(u, "kills", v, t).await;
    }
    let f = forecast(&app, &e).await;
    assert_eq!(
        f,
        json!({"audience": 3, "qualifying": 1, "rewards": [{"type": "POINT", "quantity": 100}]})
    );
    // A registration bound reads the registration times too.
    register(&app, "p4", "2026-06-01T00:00:00Z").await;
    let late = app
        .create_event(json!({"status": "DRAFT",
            "audience": {"registeredAfter": "2026-03-01T00:00:00Z"}}))
        .await;
    wait_until(std::time::Duration::from_secs(10), || async {
        forecast(&app, &late).await["audience"] == 1
    })
    .await
    .expect("only p4 registered after March");
    app.cleanup().await;
}

#[tokio::test]
async fn a_record_left_half_applied_is_counted_once_when_redelivered() {
    let app = spawn_app().await;
    registered(&app, &["h1"]).await;
    let when = Utc::now() - Duration::hours(1);
    // What a crash between the record and its totals leaves: the record, marked pending a
    // minute ago, and no totals.
    app.state
        .store
        .db
        .collection::<mongodb::bson::Document>("activities")
        .insert_one(
            mongodb::bson::doc! {"_id": "crashed-1", "userId": "h1", "key": "kills",
            "value": 5_i64, "occurredAt": mongodb::bson::DateTime::from_chrono(when),
            "occurredMs": when.timestamp_millis(), "recordedAt": mongodb::bson::DateTime::now(),
            "totalsPending": game_event_service::store::now_ms() - 60_000},
        )
        .await
        .unwrap();
    let five = app
        .create_event(json!({"conditions": [{"type": "COUNTER", "key": "kills", "threshold": 5}]}))
        .await;
    let ten = app
        .create_event(json!({"conditions": [{"type": "COUNTER", "key": "kills", "threshold": 10}]}))
        .await;
    assert_eq!(forecast(&app, &five).await["qualifying"], 0);
    for _ in 0..2 {
        let r = app
            .post(
                "/activities",
                &app.admin(),
                json!({"id": "crashed-1", "userId": "h1", "key": "kills", "value": 5,
                    "occurredAt": when.to_rfc3339()}),
            )
            .await;
        assert_eq!((r.status, r.body["applied"].clone()), (200, json!(false)));
    }
    assert_eq!(forecast(&app, &five).await["qualifying"], 1);
    assert_eq!(forecast(&app, &ten).await["qualifying"], 0);
    app.cleanup().await;
}

#[tokio::test]
async fn users_recorded_before_shards_count_and_get_theirs_at_startup() {
    use mongodb::bson::{doc, Document};
    let app = spawn_app().await;
    let db = &app.state.store.db;
    let users = db.collection::<Document>("users");
    users
        .insert_one(doc! {"_id": "legacy-1", "registeredAt": mongodb::bson::DateTime::now()})
        .await
        .unwrap();
    let e = app.create_event(json!({"status": "DRAFT"})).await;
    assert_eq!(
        forecast(&app, &e).await["audience"],
        1,
        "counted without a shard"
    );
    // What the next startup does (this one's already ran, before the user existed).
    db.collection::<Document>("migrations")
        .delete_many(doc! {})
        .await
        .unwrap();
    app.state.store.shard_legacy_users().await.unwrap();
    let u = users
        .find_one(doc! {"_id": "legacy-1"})
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        u.get_i32("shard").unwrap(),
        game_event_service::domain::forecast::user_shard("legacy-1")
    );
    assert_eq!(forecast(&app, &e).await["audience"], 1);
    app.cleanup().await;
}

/// The forecast over 100,000 known users, by rollout and by segment: `cargo test --release
/// --test api forecast_over_100k_users_benchmark -- --ignored --nocapture` (seeding takes a
/// while on the development stand-in). Prints the time of each forecast; a release build must
/// answer within SPEC §8's 2 s (a debug build decodes about twice as slowly).
#[tokio::test]
#[ignore]
async fn forecast_over_100k_users_benchmark() {
    use game_event_service::domain::activity::{Activity, LOGIN};
    use game_event_service::domain::UserId;
    let app = spawn_app().await;
    let now = chrono::Utc::now();
    let users = &app.state.store.db;
    let docs: Vec<mongodb::bson::Document> = (0..100_000)
        .map(|i| {
            let id = format!("bench-{i:06}");
            // What `record_registration` writes.
            mongodb::bson::doc! {"shard": game_event_service::domain::forecast::user_shard(&id), "_id": id,
            "registeredAt": mongodb::bson::DateTime::from_chrono(now - chrono::Duration::days(i % 400))}
        })
        .collect();
    let seed = std::time::Instant::now();
    for chunk in docs.chunks(5000) {
        users
            .collection::<mongodb::bson::Document>("users")
            .insert_many(chunk)
            .await
            .unwrap();
    }
    // One login each for a tenth of them.
    for i in (0..100_000).step_by(10) {
        let a = Activity {
            id: format!("bench-login-{i}"),
            user_id: UserId::parse(&format!("bench-{i:06}")).unwrap(),
            key: LOGIN.into(),
            value: 1,
            occurred_at: now - chrono::Duration::hours(1),
            subject_user_id: None,
        };
        app.state.store.insert_activity(&a).await.unwrap();
    }
    println!("seeded in {:?}", seed.elapsed());
    let e = app
        .create_event(json!({
            "status": "DRAFT", "audience": {"rolloutPercent": 50},
            "conditions": [{"type": "LOGIN_DAYS", "threshold": 1}],
        }))
        .await;
    let t = std::time::Instant::now();
    let r = app
        .get(
            &format!("/events/{}/forecast", e["id"].as_str().unwrap()),
            &app.operator(),
        )
        .await;
    let took = t.elapsed();
    println!("forecast {:?} in {:?}", r.body, took);
    // The same over a segment of 50,000 of them (added as five calls of 10,000 would be).
    let members: Vec<mongodb::bson::Document> = (0..100_000)
        .step_by(2)
        .map(|i: usize| {
            let user = format!("bench-{i:06}");
            let added =
                mongodb::bson::DateTime::from_millis(1_700_000_000_000 + (i / 20_000) as i64);
            mongodb::bson::doc! {"_id": format!("bench-seg/{user}"), "segmentId": "bench-seg",
            "userId": user, "addedAt": added}
        })
        .collect();
    for chunk in members.chunks(5000) {
        users
            .collection::<mongodb::bson::Document>("segment_members")
            .insert_many(chunk)
            .await
            .unwrap();
    }
    let seg = app
        .create_event(json!({
            "status": "DRAFT", "audience": {"segments": ["bench-seg"]},
            "conditions": [{"type": "LOGIN_DAYS", "threshold": 1}],
        }))
        .await;
    let t = std::time::Instant::now();
    let rs = app
        .get(
            &format!("/events/{}/forecast", seg["id"].as_str().unwrap()),
            &app.operator(),
        )
        .await;
    let took_seg = t.elapsed();
    println!("segment forecast {:?} in {:?}", rs.body, took_seg);
    assert_eq!(rs.body["audience"], 50_000);
    assert_eq!(rs.body["qualifying"], 10_000);
    // Where the time goes: the store's reads alone.
    let t = std::time::Instant::now();
    let known = app.state.store.known_users(false).await.unwrap();
    println!("known_users ({}) in {:?}", known.len(), t.elapsed());
    let t = std::time::Instant::now();
    let window = game_event_service::domain::event::Window {
        starts_at: now - chrono::Duration::days(7),
        ends_at: now + chrono::Duration::days(7),
    };
    let conditions: Vec<game_event_service::domain::event::Condition> =
        serde_json::from_value(json!([{"type": "LOGIN_DAYS", "threshold": 1}])).unwrap();
    let facts = app
        .state
        .store
        .facts_in(window, &conditions, chrono_tz::UTC)
        .await
        .unwrap();
    println!("facts_in ({} users) in {:?}", facts.len(), t.elapsed());
    assert_eq!(r.status, 200);
    let audience = r.body["audience"].as_u64().unwrap();
    assert!((45_000..55_000).contains(&audience), "{audience}");
    if !cfg!(debug_assertions) {
        assert!(took < std::time::Duration::from_secs(2), "{took:?}");
        assert!(took_seg < std::time::Duration::from_secs(2), "{took_seg:?}");
    }
    app.cleanup().await;
}
