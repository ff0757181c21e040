use crate::helpers::*;
use serde_json::{json, Value};

fn is_rfc3339(v: &Value) -> bool {
    v.as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .is_some()
}

#[tokio::test]
async fn registration_and_login_publish_their_events() {
    let app = spawn_app().await;
    let events = EventListener::bind(&app.exchange()).await;
    let inviter = app.register("host@example.com").await;
    let r = app
        .post_json(
            "/auth/register",
            &json!({"email": "guest@example.com", "password": PASSWORD, "nickname": "guest",
                    "inviteCode": inviter["inviteCode"]}),
        )
        .await;
    let guest: Value = r.json().await.unwrap();
    let (mid, body) = events
        .expect("user.registered", |b| b["userId"] == guest["id"])
        .await;
    assert_eq!(mid.as_deref(), body["messageId"].as_str());
    assert_eq!(body["email"], "guest@example.com");
    assert_eq!(body["nickname"], "guest");
    assert_eq!(body["invitedBy"], inviter["id"]);
    assert!(is_rfc3339(&body["occurredAt"]));
    let (_, host_event) = events
        .expect("user.registered", |b| b["userId"] == inviter["id"])
        .await;
    assert!(host_event["invitedBy"].is_null());

    app.tokens("guest@example.com", PASSWORD).await;
    let (mid, body) = events
        .expect("user.logged_in", |b| b["userId"] == guest["id"])
        .await;
    assert_eq!(mid.as_deref(), body["messageId"].as_str());
    assert!(is_rfc3339(&body["occurredAt"]));
    app.cleanup().await;
}

#[tokio::test]
async fn role_change_publishes_roles_changed_and_session_revoked() {
    let app = spawn_app().await;
    let events = EventListener::bind(&app.exchange()).await;
    let (user, access, _) = app.user_with_tokens("ev-roles@example.com").await;
    let sid = jsonwebtoken::dangerous::insecure_decode::<Value>(&access)
        .unwrap()
        .claims["sid"]
        .clone();
    let admin = app.admin_token().await;
    let admin_id = jsonwebtoken::dangerous::insecure_decode::<Value>(&admin)
        .unwrap()
        .claims["sub"]
        .clone();
    let r = app
        .patch_roles(
            &admin,
            user["id"].as_str().unwrap(),
            &json!({"roles": ["AUDITOR"]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let (_, body) = events
        .expect("user.roles_changed", |b| b["userId"] == user["id"])
        .await;
    assert_eq!(body["roles"], json!(["AUDITOR"]));
    assert_eq!(body["previousRoles"], json!(["USER"]));
    assert_eq!(body["changedBy"], admin_id);
    let (_, body) = events
        .expect("session.revoked", |b| b["sessionId"] == sid)
        .await;
    assert_eq!(body["userId"], user["id"]);
    assert_eq!(body["reason"], "ROLES_CHANGED");
    assert!(is_rfc3339(&body["revokedAt"]) && is_rfc3339(&body["expiresAt"]));
    app.cleanup().await;
}

#[tokio::test]
async fn a_role_change_publishes_its_audit_record_in_the_wire_shape() {
    let app = spawn_app().await;
    let events = EventListener::bind(&app.exchange()).await;
    let (user, _, _) = app.user_with_tokens("ev-audit@example.com").await;
    let admin = app.admin_token().await;
    let admin_id = jsonwebtoken::dangerous::insecure_decode::<Value>(&admin)
        .unwrap()
        .claims["sub"]
        .clone();
    let r = app
        .patch_roles(
            &admin,
            user["id"].as_str().unwrap(),
            &json!({"roles": ["OPERATOR"]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let (_, body) = events
        .expect("audit.recorded", |b| b["entity"]["id"] == user["id"])
        .await;
    assert_eq!(body["entity"]["type"], "user");
    assert_eq!(body["action"], "user.roles_changed");
    assert_eq!(body["actor"]["id"], admin_id);
    assert!(body["actor"]["roles"]
        .as_array()
        .unwrap()
        .contains(&json!("ADMIN")));
    assert_eq!(body["before"], json!({"roles": ["USER"]}));
    assert_eq!(body["after"], json!({"roles": ["OPERATOR"]}));
    assert!(is_rfc3339(&body["at"]));
    assert!(body["id"].as_str().is_some_and(|id| !id.is_empty()));
    // The record published is the one GET /audit lists.
    let listed = app
        .get_auth(
            &format!("/audit?entityId={}", user["id"].as_str().unwrap()),
            &admin,
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(listed["items"][0]["id"], body["id"]);
    app.cleanup().await;
}

#[tokio::test]
async fn logout_and_refresh_reuse_publish_session_revoked() {
    let app = spawn_app().await;
    let events = EventListener::bind(&app.exchange()).await;
    let (_, access, _) = app.user_with_tokens("ev-out@example.com").await;
    let claims = jsonwebtoken::dangerous::insecure_decode::<Value>(&access)
        .unwrap()
        .claims;
    let r = app.logout(&access, None).await;
    assert_eq!(r.status(), 204);
    let (_, body) = events
        .expect("session.revoked", |b| b["sessionId"] == claims["sid"])
        .await;
    assert_eq!(body["reason"], "LOGOUT");
    assert_eq!(body["jti"], claims["jti"]);
    let expires =
        chrono::DateTime::parse_from_rfc3339(body["expiresAt"].as_str().unwrap()).unwrap();
    assert!(expires.timestamp() >= claims["exp"].as_i64().unwrap());

    let (access2, refresh) = app.tokens("ev-out@example.com", PASSWORD).await;
    let sid2 = jsonwebtoken::dangerous::insecure_decode::<Value>(&access2)
        .unwrap()
        .claims["sid"]
        .clone();
    assert_eq!(
        app.post_json("/auth/refresh", &json!({"refreshToken": refresh}))
            .await
            .status(),
        200
    );
    assert_eq!(
        app.post_json("/auth/refresh", &json!({"refreshToken": refresh}))
            .await
            .status(),
        401
    );
    let (_, body) = events
        .expect("session.revoked", |b| b["sessionId"] == sid2)
        .await;
    assert_eq!(body["reason"], "REFRESH_REUSE");
    app.cleanup().await;
}

#[tokio::test]
async fn events_written_while_rabbitmq_is_down_are_delivered_later() {
    let mut env = base_env();
    let good_amqp = env["AMQP_URL"].clone();
    env.insert(
        "AMQP_URL".into(),
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", closed_port()),
    );
    let offline = spawn_app_with(env.clone()).await;
    offline.wait_initialized().await;
    // The registration succeeds although the broker is unreachable.
    let user = offline.register("while-down@example.com").await;
    offline.handle.stop(true).await;

    let events = EventListener::bind(&env["AUTH_EVENTS_EXCHANGE"]).await;
    // A second instance on the same database (broker reachable) drains the outbox.
    env.insert("AMQP_URL".into(), good_amqp);
    let online = spawn_app_with(env).await;
    let (_, body) = events
        .expect("user.registered", |b| b["userId"] == user["id"])
        .await;
    assert_eq!(body["email"], "while-down@example.com");
    // The relay sends the two accounts' events in no set order: wait for the admin's too, then
    // give a duplicate time to show up.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while events.count("user.registered") < 2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        events.count("user.registered"),
        2,
        "admin + user, each once"
    );
    online.cleanup().await;
}

#[tokio::test]
async fn a_rabbitmq_blip_loses_no_event() {
    let mut env = base_env();
    let real = env["AMQP_URL"].clone();
    let proxy = TcpProxy::start(&host_port(&real)).await;
    env.insert(
        "AMQP_URL".into(),
        real.replacen(&host_port(&real), &format!("127.0.0.1:{}", proxy.port), 1),
    );
    let app = spawn_app_with(env).await;
    app.wait_ready().await;
    let events = EventListener::bind(&app.exchange()).await;
    proxy.cut().await;
    app.wait_checks("rabbitmq", "down").await;
    let user = app.register("blip@example.com").await;
    app.tokens("blip@example.com", PASSWORD).await;
    proxy.restore().await;
    events
        .expect("user.registered", |b| b["userId"] == user["id"])
        .await;
    events
        .expect("user.logged_in", |b| b["userId"] == user["id"])
        .await;
    app.cleanup().await;
}

#[tokio::test]
async fn every_message_names_its_broker_user_and_content_type() {
    let app = spawn_app().await;
    let events = EventListener::bind(&app.exchange()).await;
    let user = app.register("props@example.com").await;
    let (access, _) = app.tokens("props@example.com", PASSWORD).await;
    assert_eq!(app.logout(&access, None).await.status(), 204);
    events
        .expect("session.revoked", |b| b["userId"] == user["id"])
        .await;
    // The broker user of AMQP_URL (RabbitMQ rejects any other user_id).
    let broker_user = auth_service::mq::amqp_user(&amqp_url()).unwrap();
    let props = events.properties();
    assert!(props.len() >= 3, "{props:?}");
    for (key, user_id, content_type) in props {
        assert_eq!(user_id.as_deref(), Some(broker_user.as_str()), "{key}");
        assert_eq!(content_type.as_deref(), Some("application/json"), "{key}");
    }
    app.cleanup().await;
}
