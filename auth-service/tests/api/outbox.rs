//! Each domain event is written by the same insert or replace as the change it announces, so
//! no crash can keep one without the other.

use crate::helpers::*;
use mongodb::bson::{doc, Document};
use serde_json::json;
use std::time::Duration;

async fn find(app: &TestApp, collection: &str, filter: Document) -> Document {
    app.state
        .db
        .collection::<Document>(collection)
        .find_one(filter.clone())
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no {collection} {filter}"))
}

/// The stored count, whatever integer width the server kept.
fn pending(d: &Document) -> i64 {
    match d.get("pending") {
        Some(mongodb::bson::Bson::Int32(n)) => *n as i64,
        Some(mongodb::bson::Bson::Int64(n)) => *n,
        other => panic!("pending is {other:?}"),
    }
}

fn routing_keys(d: &Document) -> Vec<String> {
    d.get_array("pendingEvents")
        .unwrap()
        .iter()
        .map(|e| {
            e.as_document()
                .unwrap()
                .get_str("routingKey")
                .unwrap()
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn events_wait_inside_the_documents_they_announce_until_published() {
    let mut env = base_env();
    let good_amqp = env["AMQP_URL"].clone();
    env.insert(
        "AMQP_URL".into(),
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", closed_port()),
    );
    let offline = spawn_app_with(env.clone()).await;
    offline.wait_initialized().await;
    let (user, _, _) = offline.user_with_tokens("inside@example.com").await;
    let id = user["id"].as_str().unwrap();
    // A role change while user.registered is still pending keeps both (versioned replace).
    let admin = offline.admin_token().await;
    let r = offline
        .patch_roles(&admin, id, &json!({"roles": ["USER", "AUDITOR"]}))
        .await;
    assert_eq!(r.status(), 200);

    let u = find(&offline, "users", doc! {"_id": id}).await;
    assert_eq!(
        routing_keys(&u),
        vec!["user.registered", "user.roles_changed", "audit.recorded"]
    );
    // Three events and the role change's audit record.
    assert_eq!(pending(&u), 4);
    assert_eq!(u.get_array("pendingAudit").unwrap().len(), 1);
    let s = find(&offline, "sessions", doc! {"userId": id}).await;
    assert_eq!(routing_keys(&s), vec!["user.logged_in"]);
    let rev = find(&offline, "revocations", doc! {"userId": id}).await;
    assert_eq!(routing_keys(&rev), vec!["session.revoked"]);
    // There is no second write that a crash could lose.
    let outbox = offline
        .state
        .db
        .collection::<Document>("outbox")
        .count_documents(doc! {})
        .await
        .unwrap();
    assert_eq!(outbox, 0);
    // Stopped here, the process never published anything: as good as a crash after the write.
    // Dropping the appended audit record makes it a crash before the append as well.
    let audit = offline.state.db.collection::<Document>("audit");
    let gone = audit
        .delete_many(doc! {"entity.id": id})
        .await
        .unwrap()
        .deleted_count;
    assert_eq!(gone, 1);
    offline.handle.stop(true).await;

    let events = EventListener::bind(&env["AUTH_EVENTS_EXCHANGE"]).await;
    env.insert("AMQP_URL".into(), good_amqp);
    let online = spawn_app_with(env).await;
    events
        .expect("user.registered", |b| b["userId"] == id)
        .await;
    events
        .expect("user.roles_changed", |b| {
            b["userId"] == id && b["roles"] == json!(["USER", "AUDITOR"])
        })
        .await;
    events.expect("user.logged_in", |b| b["userId"] == id).await;
    events
        .expect("session.revoked", |b| {
            b["userId"] == id && b["reason"] == "ROLES_CHANGED"
        })
        .await;
    // Published events leave their documents, which are otherwise unchanged.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let u = find(&online, "users", doc! {"_id": id}).await;
        let s = find(&online, "sessions", doc! {"userId": id}).await;
        let rev = find(&online, "revocations", doc! {"userId": id}).await;
        let left: i64 = [&u, &s, &rev].iter().map(|d| pending(d)).sum();
        if left == 0 {
            assert!(routing_keys(&u).is_empty());
            assert!(u.get_array("pendingAudit").unwrap().is_empty());
            assert_eq!(u.get_array("roles").unwrap().len(), 2);
            assert_eq!(s.get_str("status").unwrap(), "REVOKED");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{left} events left");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(events.count("user.roles_changed"), 1);
    // The audit record came back from the document it audits.
    let admin = online.admin_token().await;
    let list: serde_json::Value = online
        .get_auth(&format!("/audit?entityId={id}"), &admin)
        .await
        .json()
        .await
        .unwrap();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!(items[0]["action"], "user.roles_changed");
    assert_eq!(items[0]["after"], json!({"roles": ["USER", "AUDITOR"]}));
    online.cleanup().await;
}
