//! Forged broker messages: anyone holding a broker login (here guest) publishes a `user.logged_in`
//! and a `session.revoked` as if auth-service had. RabbitMQ validates `user_id` against the
//! publishing connection's user, and the consumers accept auth events only with auth-service's
//! broker user, so no login day is recorded, the forgeries are dead-lettered, and no session is
//! revoked; real events keep working for everyone.

use std::time::Duration;

use amqprs::channel::{BasicPublishArguments, Channel, QueueDeclareArguments};
use amqprs::connection::Connection;
use amqprs::BasicProperties;
use anyhow::{ensure, Context, Result};
use base64::Engine;
use e2e::amqp::connection_args;
use e2e::{Platform, Topology};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn publish(ch: &Channel, exchange: &str, key: &str, body: &Value, user_id: Option<&str>) {
    let mut props = BasicProperties::default();
    props
        .with_content_type("application/json")
        .with_persistence(true)
        .with_message_id(body["messageId"].as_str().unwrap_or_default());
    if let Some(u) = user_id {
        props.with_user_id(u);
    }
    let _ = ch
        .basic_publish(
            props,
            serde_json::to_vec(body).expect("json"),
            BasicPublishArguments::new(exchange, key),
        )
        .await;
}

/// Messages waiting in a queue (passive declare).
async fn depth(ch: &Channel, queue: &str) -> u32 {
    ch.queue_declare(QueueDeclareArguments::new(queue).passive(true).finish())
        .await
        .ok()
        .flatten()
        .map_or(0, |(_, n, _)| n)
}

async fn login_days(p: &Platform, token: &str) -> Result<Vec<String>> {
    let r = p.get("/progress/me", Some(token)).await?;
    r.expect(StatusCode::OK, "progress")?;
    Ok(r.body["loginDays"]
        .as_array()
        .context("loginDays")?
        .iter()
        .filter_map(|d| d.as_str().map(str::to_string))
        .collect())
}

/// The `sid` claim of an access token.
fn session_of(token: &str) -> Result<String> {
    let payload = token.split('.').nth(1).context("a JWT")?;
    let claims: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload)?)?;
    Ok(claims["sid"].as_str().context("sid")?.to_string())
}

#[tokio::test]
async fn forged_auth_events_are_refused_and_real_ones_still_apply() -> Result<()> {
    let p = Platform::start(Topology::SINGLE).await?;
    let alice = p
        .player(&format!("alice-{}@e2e.test", p.run_id), None)
        .await?;
    let bob = p
        .player(&format!("bob-{}@e2e.test", p.run_id), None)
        .await?;
    // Alice's real login (today) arrives from auth-service.
    p.eventually(
        "alice's real login day",
        Duration::from_secs(20),
        || async { Ok((login_days(&p, &alice.token).await?.len() == 1).then_some(())) },
    )
    .await?;

    let conn = Connection::open(&connection_args(&p.amqp_url)?).await?;
    let ch = conn.open_channel(None).await?;
    let forged_day = chrono::Utc::now() - chrono::Duration::days(3);
    let forged_login = || {
        json!({"messageId": uuid::Uuid::now_v7().to_string(), "userId": alice.id,
            "occurredAt": forged_day.to_rfc3339()})
    };
    // Without user_id, and with guest's own one when guest is not auth-service's user.
    publish(
        &ch,
        &p.auth_exchange,
        "user.logged_in",
        &forged_login(),
        None,
    )
    .await;
    let mut forged = 1;
    if p.broker.per_service {
        publish(
            &ch,
            &p.auth_exchange,
            "user.logged_in",
            &forged_login(),
            Some("guest"),
        )
        .await;
        forged += 1;
    }
    let dlq = format!("e2e.{}.game.auth-events.dlq", p.run_id);
    p.eventually(
        "forged logins dead-lettered",
        Duration::from_secs(10),
        || async { Ok((depth(&ch, &dlq).await == forged).then_some(())) },
    )
    .await?;
    ensure!(
        login_days(&p, &alice.token).await?.len() == 1,
        "a forged user.logged_in recorded a login day"
    );

    if p.broker.per_service {
        // Claiming to be auth-service from guest's connection: the broker itself refuses it
        // and closes the channel.
        let liar = conn.open_channel(None).await?;
        publish(
            &liar,
            &p.auth_exchange,
            "user.logged_in",
            &forged_login(),
            Some(&p.broker.auth_publisher),
        )
        .await;
        p.eventually(
            "the broker to refuse impersonation",
            Duration::from_secs(5),
            || async { Ok((!liar.is_open()).then_some(())) },
        )
        .await?;
    }

    // A forged session.revoked for alice's session is ignored by the gateway and by
    // game-event-service.
    let sid = session_of(&alice.token)?;
    let now = chrono::Utc::now();
    let revoked = json!({"messageId": uuid::Uuid::now_v7().to_string(), "userId": alice.id,
        "sessionId": sid, "jti": null, "reason": "LOGOUT", "revokedAt": now.to_rfc3339(),
        "expiresAt": (now + chrono::Duration::minutes(20)).to_rfc3339()});
    publish(&ch, &p.auth_exchange, "session.revoked", &revoked, None).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    p.get("/events", Some(&alice.token))
        .await?
        .expect(StatusCode::OK, "alice after a forged session.revoked")?;
    p.get("/progress/me", Some(&alice.token))
        .await?
        .expect(StatusCode::OK, "alice at game-event-service after it")?;

    // The real ones still work: alice logs out and her token is refused; bob is unaffected.
    p.call(Method::POST, "/auth/logout", Some(&alice.token), None, &[])
        .await?
        .expect(StatusCode::NO_CONTENT, "logout")?;
    p.eventually("alice's token refused", Duration::from_secs(5), || async {
        Ok(
            (p.get("/events", Some(&alice.token)).await?.status == StatusCode::UNAUTHORIZED)
                .then_some(()),
        )
    })
    .await?;
    p.get("/events", Some(&bob.token))
        .await?
        .expect(StatusCode::OK, "bob")?;
    let _ = ch.close().await;
    let _ = conn.close().await;
    Ok(())
}
