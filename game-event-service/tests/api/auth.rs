use crate::helpers::*;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn invalid_tokens_are_401() {
    let app = spawn_app().await;
    let cases = vec![
        "garbage".to_string(),
        app.auth
            .token_with("u", &["USER"], "s", |c| c["aud"] = json!("other")),
        app.auth
            .token_with("u", &["USER"], "s", |c| c["iss"] = json!("evil")),
        app.auth.token_with("u", &["USER"], "s", |c| {
            c["exp"] = json!(chrono::Utc::now().timestamp() - 120)
        }),
    ];
    for t in cases {
        let r = app.get("/events", &t).await;
        assert_eq!(r.status, 401, "{t}");
        assert_eq!(r.body["code"], "UNAUTHENTICATED");
    }
    // A token signed by a key the JWKS does not publish.
    let other = AuthStub::start().await;
    let r = app.get("/events", &other.token("u", &["USER"])).await;
    assert_eq!(r.status, 401);
    app.cleanup().await;
}

#[tokio::test]
async fn revoked_sessions_are_refused_via_message_and_via_sync() {
    let app = spawn_app_with(|s| s.auth.revocation_sync_seconds = 1).await;
    let t1 = app.auth.token_with("u-r", &["USER"], "sid-1", |_| {});
    let t2 = app.auth.token_with("u-r", &["USER"], "sid-2", |_| {});
    assert_eq!(app.get("/events", &t1).await.status, 200);
    assert_eq!(app.get("/events", &t2).await.status, 200);
    let exp = (chrono::Utc::now() + chrono::Duration::minutes(15)).to_rfc3339();
    let msg = json!({"messageId": "r1", "userId": "u-r", "sessionId": "sid-1", "jti": null,
        "reason": "LOGOUT", "revokedAt": chrono::Utc::now().to_rfc3339(), "expiresAt": exp});
    // The private broadcast queue may still be binding when the app answers: the message is
    // sent again until it lands (a revocation applies once however often it arrives).
    wait_until(Duration::from_secs(10), || async {
        app.state
            .broker
            .publish(
                &app.settings.amqp.auth_events_exchange,
                "session.revoked",
                serde_json::to_vec(&msg).unwrap(),
                "r1",
            )
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        app.get("/events", &t1).await.status == 401
    })
    .await
    .expect("revoked by message");
    app.auth
        .revocations
        .lock()
        .unwrap()
        .push(json!({"sessionId": "sid-2", "userId": "u-r",
        "jti": null, "revokedAt": chrono::Utc::now().to_rfc3339(), "expiresAt": exp}));
    wait_until(Duration::from_secs(5), || async {
        app.get("/events", &t2).await.status == 401
    })
    .await
    .expect("revoked by sync");
    app.cleanup().await;
}
