//! Feeds the session denylist: `session.revoked` events from RabbitMQ (fast path) and a
//! periodic full sync from auth-service's `/internal/revocations` (covers missed events).
//!
//! Trust: RabbitMQ refuses a published `user_id` other than the publishing connection's broker
//! user, so only messages whose `user_id` is auth-service's broker user (`AUTH_EVENTS_PUBLISHER`)
//! are applied. A forged one is dropped with a warning: this instance's queue is a private,
//! auto-deleted copy (no dead-letter queue), and a dropped revocation costs nothing, because the
//! periodic sync from auth-service is the authority.

use crate::auth::Denylist;
use amqprs::channel::{
    BasicConsumeArguments, ExchangeDeclareArguments, QueueBindArguments, QueueDeclareArguments,
};
use amqprs::connection::{Connection, OpenConnectionArguments};
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use slog::Logger;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub const SESSION_REVOKED: &str = "session.revoked";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RevokedEvent {
    session_id: Option<String>,
    jti: Option<String>,
    expires_at: DateTime<Utc>,
}

#[derive(Deserialize)]
struct RevocationList {
    items: Vec<RevokedEvent>,
}

fn apply(denylist: &Denylist, ev: &RevokedEvent) {
    let exp = ev.expires_at.timestamp();
    if let Some(s) = ev.session_id.as_deref().filter(|s| !s.is_empty()) {
        denylist.insert(s, exp);
    }
    if let Some(j) = ev.jti.as_deref().filter(|s| !s.is_empty()) {
        denylist.insert(j, exp);
    }
}

pub async fn sync_once(
    http: &reqwest::Client,
    auth_base_url: &str,
    internal_token: Option<&SecretString>,
    denylist: &Denylist,
) -> anyhow::Result<usize> {
    let mut req = http.get(format!("{auth_base_url}/internal/revocations"));
    if let Some(token) = internal_token {
        req = req.bearer_auth(token.expose_secret());
    }
    let list: RevocationList = req.send().await?.error_for_status()?.json().await?;
    for ev in &list.items {
        apply(denylist, ev);
    }
    denylist.purge_expired(Utc::now().timestamp());
    Ok(list.items.len())
}

pub async fn run_sync_loop(
    auth_base_url: String,
    internal_token: Option<SecretString>,
    denylist: Arc<Denylist>,
    interval: Duration,
    logger: Logger,
    cancel: CancellationToken,
) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("reqwest client");
    let mut first = true;
    loop {
        match sync_once(&http, &auth_base_url, internal_token.as_ref(), &denylist).await {
            Ok(n) => {
                if first {
                    slog::info!(logger, "revocations synced"; "count" => n);
                }
                first = false;
            }
            Err(e) => {
                slog::warn!(logger, "revocation sync failed"; "error" => e.to_string())
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
    }
}

/// amqprs does not reconnect by itself: connect, declare, consume, and when the connection or
/// the consumer goes away start over with capped exponential backoff.
pub async fn run_amqp_supervisor(
    amqp_url: SecretString,
    exchange: String,
    publisher: String,
    denylist: Arc<Denylist>,
    connected: Arc<AtomicBool>,
    logger: Logger,
    cancel: CancellationToken,
) {
    let mut backoff = Duration::from_millis(500);
    loop {
        if cancel.is_cancelled() {
            return;
        }
        let feed = Feed {
            exchange: &exchange,
            publisher: &publisher,
            denylist: &denylist,
        };
        match consume_once(&amqp_url, &feed, &connected, &logger, &cancel).await {
            Ok(()) => backoff = Duration::from_millis(500),
            Err(e) => {
                slog::warn!(logger, "revocation feed down"; "error" => format!("{e:#}"));
            }
        }
        connected.store(false, Ordering::Relaxed);
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(15));
    }
}

/// Where revocations come from, who may send them, and where they go.
struct Feed<'a> {
    exchange: &'a str,
    publisher: &'a str,
    denylist: &'a Denylist,
}

async fn consume_once(
    amqp_url: &SecretString,
    feed: &Feed<'_>,
    connected: &AtomicBool,
    logger: &Logger,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    let args = connection_args(amqp_url.expose_secret())?;
    let conn = tokio::time::timeout(Duration::from_secs(5), Connection::open(&args))
        .await
        .map_err(|_| anyhow::anyhow!("amqp connect timed out"))??;
    let result = consume_on(&conn, feed, connected, logger, cancel).await;
    let _ = conn.close().await;
    result
}

/// `amqp://user:pass@host:port/vhost` (vhost percent-encoded, `%2f` = `/`).
pub fn connection_args(url: &str) -> anyhow::Result<OpenConnectionArguments> {
    let u = url::Url::parse(url).map_err(|e| anyhow::anyhow!("bad AMQP_URL: {e}"))?;
    if u.scheme() != "amqp" {
        anyhow::bail!("bad AMQP_URL: only amqp:// is supported");
    }
    let host = u.host_str().unwrap_or("127.0.0.1");
    let port = u.port().unwrap_or(5672);
    let decode = |s: &str| {
        url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    let user = if u.username().is_empty() {
        "guest".to_owned()
    } else {
        decode(u.username())
    };
    let pass = u
        .password()
        .map(decode)
        .unwrap_or_else(|| "guest".to_owned());
    let vhost_raw = u.path().strip_prefix('/').unwrap_or("");
    let vhost = if vhost_raw.is_empty() {
        "/".to_owned()
    } else {
        decode(vhost_raw)
    };
    let mut args = OpenConnectionArguments::new(host, port, &user, &pass);
    args.virtual_host(&vhost);
    Ok(args)
}

async fn consume_on(
    conn: &Connection,
    feed: &Feed<'_>,
    connected: &AtomicBool,
    logger: &Logger,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    let (exchange, denylist) = (feed.exchange, feed.denylist);
    let ch = conn.open_channel(None).await?;
    // Same declaration as auth-service (durable topic) so either side may create it first.
    ch.exchange_declare(
        ExchangeDeclareArguments::new(exchange, "topic")
            .durable(true)
            .finish(),
    )
    .await?;
    let (queue, _, _) = ch
        .queue_declare(
            QueueDeclareArguments::default()
                .exclusive(true)
                .auto_delete(true)
                .finish(),
        )
        .await?
        .ok_or_else(|| anyhow::anyhow!("queue_declare returned no name"))?;
    ch.queue_bind(QueueBindArguments::new(&queue, exchange, SESSION_REVOKED))
        .await?;
    let (_tag, mut rx) = ch
        .basic_consume_rx(
            BasicConsumeArguments::new(&queue, "api-gateway")
                .auto_ack(true)
                .finish(),
        )
        .await?;
    connected.store(true, Ordering::Relaxed);
    slog::info!(logger, "revocation feed consuming"; "queue" => &queue, "exchange" => exchange);
    let io_failure = conn.listen_network_io_failure();
    tokio::pin!(io_failure);
    let mut check = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = cancel.cancelled() => {
                let _ = ch.close().await;
                return Ok(());
            }
            _ = &mut io_failure => {
                anyhow::bail!("amqp connection lost");
            }
            _ = check.tick() => {
                if !conn.is_open() || !ch.is_open() {
                    anyhow::bail!("amqp connection or channel closed");
                }
            }
            msg = rx.recv() => {
                let Some(msg) = msg else { anyhow::bail!("amqp consumer closed") };
                let sender = msg.basic_properties.as_ref().and_then(|p| p.user_id().cloned());
                if sender.as_deref() != Some(feed.publisher) {
                    slog::warn!(logger, "session.revoked refused: not published by auth-service";
                        "userId" => sender.as_deref().unwrap_or("(none)"), "expected" => feed.publisher);
                    continue;
                }
                let Some(body) = msg.content else { continue };
                match serde_json::from_slice::<RevokedEvent>(&body) {
                    Ok(ev) => apply(denylist, &ev),
                    Err(e) => slog::warn!(logger, "bad session.revoked message"; "error" => e.to_string()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn amqp_urls_parse() {
        assert!(super::connection_args("amqp://guest:guest@127.0.0.1:5672/%2f").is_ok());
        assert!(super::connection_args("amqp://localhost").is_ok());
        assert!(super::connection_args("http://x").is_err());
    }
}
