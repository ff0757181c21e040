//! RabbitMQ publishing of the events waiting in MongoDB documents (see `store::outbox`).
//!
//! amqprs does not reconnect by itself, so one supervisor task owns the connection: it connects,
//! declares the exchange, turns on publisher confirms, relays pending events, and starts over
//! with backoff whenever the connection dies. An event is removed from its document only after
//! the broker confirms it, so a RabbitMQ outage delays events but never loses them.

use crate::metrics::Metrics;
use crate::store::{AuditDoc, AuditStore, OutboxStore, PendingDoc};
use amqprs::callbacks::{ChannelCallback, DefaultConnectionCallback};
use amqprs::channel::{
    BasicPublishArguments, Channel, ConfirmSelectArguments, ExchangeDeclareArguments, ExchangeType,
};
use amqprs::connection::{Connection, OpenConnectionArguments};
use amqprs::{Ack, BasicProperties, Cancel, CloseChannel, Nack, Return};
use async_trait::async_trait;
type Result<T> = std::result::Result<T, amqprs::error::Error>;
use secrecy::{ExposeSecret, SecretString};
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

const LEASE_MS: i64 = 30_000;
const BATCH: i64 = 100;
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(10);

/// Parses `amqp://user:pass@host:port/vhost` (vhost percent-encoded, `%2f` = `/`).
pub fn parse_amqp_url(url: &str) -> anyhow::Result<OpenConnectionArguments> {
    parse_amqp(url).map(|(args, _)| args)
}

/// The broker user of an AMQP URL: what RabbitMQ checks a message's `user_id` against.
pub fn amqp_user(url: &str) -> anyhow::Result<String> {
    parse_amqp(url).map(|(_, user)| user)
}

fn parse_amqp(url: &str) -> anyhow::Result<(OpenConnectionArguments, String)> {
    let rest = url
        .strip_prefix("amqp://")
        .ok_or_else(|| anyhow::anyhow!("AMQP_URL must start with amqp://"))?;
    let (authority, vhost) = match rest.split_once('/') {
        Some((a, v)) => (a, v),
        None => (rest, ""),
    };
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let (user, pass) = match userinfo {
        Some(u) => match u.split_once(':') {
            Some((a, b)) => (percent_decode(a), percent_decode(b)),
            None => (percent_decode(u), String::new()),
        },
        None => ("guest".to_string(), "guest".to_string()),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.parse::<u16>()?),
        None => (hostport.to_string(), 5672),
    };
    let vhost = if vhost.is_empty() {
        "/".to_string()
    } else {
        percent_decode(vhost)
    };
    let mut args = OpenConnectionArguments::new(&host, port, &user, &pass);
    args.virtual_host(&vhost)
        .heartbeat(10)
        .connection_name("auth-service");
    Ok((args, user))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 3 <= bytes.len() {
            if let Ok(v) = u8::from_str_radix(s.get(i + 1..i + 3).unwrap_or("zz"), 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Delivery tags awaiting a broker confirm, resolved by the channel callback.
#[derive(Default)]
struct Confirms {
    pending: BTreeMap<u64, String>,
    acked: Vec<String>,
    nacked: Vec<String>,
    closed: bool,
}

#[derive(Clone, Default)]
struct ConfirmTracker {
    inner: Arc<Mutex<Confirms>>,
    changed: Arc<Notify>,
}

impl ConfirmTracker {
    fn resolve(&self, tag: u64, multiple: bool, ok: bool) {
        let mut c = self.inner.lock().unwrap();
        let tags: Vec<u64> = if multiple {
            c.pending.range(..=tag).map(|(t, _)| *t).collect()
        } else {
            vec![tag]
        };
        for t in tags {
            if let Some(id) = c.pending.remove(&t) {
                if ok {
                    c.acked.push(id);
                } else {
                    c.nacked.push(id);
                }
            }
        }
        drop(c);
        self.changed.notify_waiters();
    }
}

struct TrackingCallback(ConfirmTracker);

#[async_trait]
impl ChannelCallback for TrackingCallback {
    async fn close(&mut self, _: &Channel, close: CloseChannel) -> Result<()> {
        slog::warn!(crate::telemetry::root(), "amqp channel closed by broker"; "reason" => close.to_string());
        self.0.inner.lock().unwrap().closed = true;
        self.0.changed.notify_waiters();
        Ok(())
    }
    async fn cancel(&mut self, _: &Channel, _: Cancel) -> Result<()> {
        Ok(())
    }
    async fn flow(&mut self, _: &Channel, active: bool) -> Result<bool> {
        Ok(active)
    }
    async fn publish_ack(&mut self, _: &Channel, ack: Ack) {
        self.0.resolve(ack.delivery_tag(), ack.mutiple(), true);
    }
    async fn publish_nack(&mut self, _: &Channel, nack: Nack) {
        self.0.resolve(nack.delivery_tag(), nack.multiple(), false);
    }
    async fn publish_return(&mut self, _: &Channel, _: Return, _: BasicProperties, _: Vec<u8>) {}
}

pub struct Relay {
    pub url: SecretString,
    pub exchange: String,
    pub outbox: OutboxStore,
    pub audit: AuditStore,
    pub wake: Arc<Notify>,
    pub connected: Arc<AtomicBool>,
    pub metrics: Arc<Metrics>,
    pub poll_interval: Duration,
}

impl Relay {
    pub async fn run(self, shutdown: CancellationToken) {
        let log = crate::telemetry::root();
        let mut backoff = Duration::from_millis(200);
        loop {
            if shutdown.is_cancelled() {
                return;
            }
            match self.connect().await {
                Ok((conn, channel, tracker)) => {
                    backoff = Duration::from_millis(200);
                    self.connected.store(true, Ordering::SeqCst);
                    slog::info!(log, "amqp connected"; "exchange" => &self.exchange);
                    let stop = self.serve(&conn, &channel, &tracker, &shutdown).await;
                    self.connected.store(false, Ordering::SeqCst);
                    let _ = tokio::time::timeout(Duration::from_secs(2), conn.close()).await;
                    if stop {
                        return;
                    }
                    slog::warn!(log, "amqp connection lost; reconnecting");
                }
                Err(e) => {
                    slog::warn!(log, "amqp connect failed"; "error" => format!("{e:#}"), "retry_in_ms" => backoff.as_millis() as u64);
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    async fn connect(&self) -> anyhow::Result<(Connection, Channel, ConfirmTracker)> {
        let args = parse_amqp_url(self.url.expose_secret())?;
        let conn = tokio::time::timeout(Duration::from_secs(5), Connection::open(&args)).await??;
        conn.register_callback(DefaultConnectionCallback).await?;
        let channel = conn.open_channel(None).await?;
        let tracker = ConfirmTracker::default();
        channel
            .register_callback(TrackingCallback(tracker.clone()))
            .await?;
        channel
            .confirm_select(ConfirmSelectArguments::default())
            .await?;
        channel
            .exchange_declare(
                ExchangeDeclareArguments::of_type(&self.exchange, ExchangeType::Topic)
                    .durable(true)
                    .finish(),
            )
            .await?;
        Ok((conn, channel, tracker))
    }

    /// Relays until the connection breaks (`false`) or shutdown was requested (`true`, after a
    /// last flush so events of requests that just finished still go out).
    async fn serve(
        &self,
        conn: &Connection,
        channel: &Channel,
        tracker: &ConfirmTracker,
        shutdown: &CancellationToken,
    ) -> bool {
        let log = crate::telemetry::root();
        let mut next_tag: u64 = 1;
        let io_failure = conn.listen_network_io_failure();
        tokio::pin!(io_failure);
        loop {
            match self.flush(channel, tracker, &mut next_tag).await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => {
                    slog::warn!(log, "outbox relay error"; "error" => format!("{e:#}"));
                    return false;
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => {
                    let _ = self.flush(channel, tracker, &mut next_tag).await;
                    return true;
                }
                _ = &mut io_failure => return false,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(self.poll_interval) => {}
            }
            if !conn.is_open() || !channel.is_open() {
                return false;
            }
        }
    }

    /// Publishes the events of one batch of due documents and waits for their confirms.
    /// `Ok(true)` when the batch was full (more may be waiting).
    async fn flush(
        &self,
        channel: &Channel,
        tracker: &ConfirmTracker,
        next_tag: &mut u64,
    ) -> anyhow::Result<bool> {
        let now = chrono::Utc::now().timestamp_millis();
        let user = amqp_user(self.url.expose_secret())?;
        let due = self.outbox.due(now, BATCH).await?;
        let full = due.len() as i64 >= BATCH;
        let mut in_flight: HashSet<String> = HashSet::new();
        let mut leased: Vec<PendingDoc> = Vec::new();
        for doc in due {
            if !self.outbox.lease(&doc, now + LEASE_MS).await? {
                continue;
            }
            for record in &doc.audit {
                self.audit.insert(&AuditDoc::from_json(record)?).await?;
            }
            for event in &doc.events {
                let props = BasicProperties::default()
                    .with_content_type("application/json")
                    .with_persistence(true)
                    .with_message_id(&event.id)
                    .with_message_type(&event.routing_key)
                    .with_app_id("auth-service")
                    // RabbitMQ refuses a user_id other than the connection's user, so consumers
                    // can trust it names the publisher.
                    .with_user_id(&user)
                    .with_timestamp(chrono::Utc::now().timestamp() as u64)
                    .finish();
                tracker
                    .inner
                    .lock()
                    .unwrap()
                    .pending
                    .insert(*next_tag, event.id.clone());
                *next_tag += 1;
                in_flight.insert(event.id.clone());
                channel
                    .basic_publish(
                        props,
                        event.payload.clone().into_bytes(),
                        BasicPublishArguments::new(&self.exchange, &event.routing_key),
                    )
                    .await?;
            }
            leased.push(doc);
        }
        if leased.is_empty() {
            return Ok(false);
        }
        let deadline = tokio::time::Instant::now() + CONFIRM_TIMEOUT;
        let mut acked: HashSet<String> = HashSet::new();
        loop {
            let notified = tracker.changed.notified();
            let closed = {
                let mut c = tracker.inner.lock().unwrap();
                for id in std::mem::take(&mut c.acked) {
                    in_flight.remove(&id);
                    acked.insert(id);
                }
                for id in std::mem::take(&mut c.nacked) {
                    in_flight.remove(&id);
                }
                c.closed
            };
            if in_flight.is_empty() {
                break;
            }
            if closed {
                self.settle(&leased, &acked).await?;
                anyhow::bail!(
                    "channel closed with {} unconfirmed messages",
                    in_flight.len()
                );
            }
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep_until(deadline) => {
                    self.settle(&leased, &acked).await?;
                    anyhow::bail!("no confirm for {} messages within {:?}", in_flight.len(), CONFIRM_TIMEOUT);
                }
            }
        }
        self.settle(&leased, &acked).await?;
        Ok(full)
    }

    /// Removes the confirmed events from their documents; a document with events left over
    /// (nacked or unconfirmed) is released for the next attempt.
    async fn settle(&self, leased: &[PendingDoc], acked: &HashSet<String>) -> anyhow::Result<()> {
        for doc in leased {
            let confirmed: Vec<String> = doc
                .events
                .iter()
                .filter(|e| acked.contains(&e.id))
                .map(|e| e.id.clone())
                .collect();
            for e in doc.events.iter().filter(|e| acked.contains(&e.id)) {
                self.metrics
                    .events_published
                    .with_label_values(&[&e.routing_key])
                    .inc();
            }
            // Removing also drops the lease, so what is left goes out on the next attempt.
            // Every audit record of a leased document was stored above (idempotently).
            if confirmed.is_empty() && doc.audit.is_empty() {
                self.outbox.release(doc).await?;
            } else {
                self.outbox.remove(doc, &confirmed, &doc.audit).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_amqp_urls() {
        let a = parse_amqp_url("amqp://guest:guest@127.0.0.1:5672/%2f").unwrap();
        assert_eq!(a.get_host(), "127.0.0.1");
        assert_eq!(a.get_port(), 5672);
        assert_eq!(a.get_virtual_host(), "/");
        let b = parse_amqp_url("amqp://u:p%40ss@rabbit/prod").unwrap();
        assert_eq!(b.get_port(), 5672);
        assert_eq!(b.get_virtual_host(), "prod");
        assert!(parse_amqp_url("http://x").is_err());
        assert_eq!(
            amqp_user("amqp://auth%2dsvc:p@rabbit/prod").unwrap(),
            "auth-svc"
        );
        assert_eq!(amqp_user("amqp://rabbit").unwrap(), "guest");
    }

    #[test]
    fn multiple_acks_resolve_all_lower_tags() {
        let t = ConfirmTracker::default();
        for i in 1..=3 {
            t.inner.lock().unwrap().pending.insert(i, format!("m{i}"));
        }
        t.resolve(2, true, true);
        t.resolve(3, false, false);
        let c = t.inner.lock().unwrap();
        assert_eq!(c.acked, vec!["m1", "m2"]);
        assert_eq!(c.nacked, vec!["m3"]);
        assert!(c.pending.is_empty());
    }
}
