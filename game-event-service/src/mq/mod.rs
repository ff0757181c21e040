//! RabbitMQ: a supervisor that connects, declares the topology, runs the consumers and the
//! confirming publisher, and reconnects with backoff (amqprs has no automatic reconnection).
pub mod publisher;

use crate::configuration::Settings;
use crate::state::AppState;
use actix_web::web;
use amqprs::channel::{
    BasicAckArguments, BasicCancelArguments, BasicConsumeArguments, BasicNackArguments,
    BasicQosArguments, Channel, ExchangeDeclareArguments, ExchangeDeleteArguments,
    QueueBindArguments, QueueDeclareArguments, QueueDeleteArguments,
};
use amqprs::connection::{Connection, OpenConnectionArguments};
use amqprs::{FieldTable, FieldValue};
pub use publisher::{ConfirmPublisher, PublishError};
use secrecy::ExposeSecret;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

const CONFIRM_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone, Default)]
pub struct Broker {
    publisher: Arc<RwLock<Option<Arc<ConfirmPublisher>>>>,
    connected: Arc<AtomicBool>,
}

impl Broker {
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::SeqCst)
    }

    fn set(&self, p: Option<Arc<ConfirmPublisher>>) {
        self.connected.store(p.is_some(), Ordering::SeqCst);
        *self.publisher.write().unwrap_or_else(|e| e.into_inner()) = p;
    }

    pub async fn publish(
        &self,
        exchange: &str,
        routing_key: &str,
        body: Vec<u8>,
        message_id: &str,
    ) -> Result<(), PublishError> {
        let p = self
            .publisher
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .filter(|p| p.is_open())
            .ok_or(PublishError::NotConnected)?;
        p.publish(exchange, routing_key, body, message_id, CONFIRM_TIMEOUT)
            .await
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ack,
    /// Transient failure: redeliver (quorum queues count these against the delivery limit).
    Requeue,
    /// Poison message: straight to the dead-letter queue.
    DeadLetter,
}

#[derive(Debug, Clone)]
pub struct Delivery {
    pub routing_key: String,
    pub message_id: Option<String>,
    pub body: Vec<u8>,
}

fn table(entries: Vec<(&str, FieldValue)>) -> FieldTable {
    let mut t = FieldTable::new();
    for (k, v) in entries {
        t.insert(k.try_into().expect("short field name"), v);
    }
    t
}

fn long_str(s: &str) -> FieldValue {
    FieldValue::S(s.try_into().expect("long string"))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `amqp://user:pass@host:port/vhost` (the `urispec` feature of amqprs is not enabled).
pub fn connection_args(url: &str) -> anyhow::Result<OpenConnectionArguments> {
    let rest = url
        .strip_prefix("amqp://")
        .ok_or_else(|| anyhow::anyhow!("AMQP_URL must start with amqp://"))?;
    let (authority, vhost) = match rest.split_once('/') {
        Some((a, v)) => (a, percent_decode(v)),
        None => (rest, "/".to_string()),
    };
    let vhost = if vhost.is_empty() {
        "/".to_string()
    } else {
        vhost
    };
    let (creds, hostport) = match authority.rsplit_once('@') {
        Some((c, h)) => (Some(c), h),
        None => (None, authority),
    };
    let (user, pass) = match creds.map(|c| c.split_once(':').unwrap_or((c, ""))) {
        Some((u, p)) => (percent_decode(u), percent_decode(p)),
        None => ("guest".to_string(), "guest".to_string()),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.parse::<u16>()?),
        None => (hostport.to_string(), 5672),
    };
    let mut args = OpenConnectionArguments::new(&host, port, &user, &pass);
    args.virtual_host(&vhost);
    Ok(args)
}

pub fn dlx_name(queue: &str) -> String {
    format!("{queue}.dlx")
}
pub fn dlq_name(queue: &str) -> String {
    format!("{queue}.dlq")
}

async fn declare_dead_letter(ch: &Channel, queue: &str) -> anyhow::Result<()> {
    ch.exchange_declare(
        ExchangeDeclareArguments::new(&dlx_name(queue), "fanout")
            .durable(true)
            .finish(),
    )
    .await?;
    ch.queue_declare(QueueDeclareArguments::durable_client_named(&dlq_name(
        queue,
    )))
    .await?;
    ch.queue_bind(QueueBindArguments::new(
        &dlq_name(queue),
        &dlx_name(queue),
        "",
    ))
    .await?;
    Ok(())
}

pub struct Topology {
    pub revocation_queue: String,
    pub catalog_queue: String,
}

pub async fn declare_topology(ch: &Channel, s: &Settings) -> anyhow::Result<Topology> {
    ch.exchange_declare(
        ExchangeDeclareArguments::new(&s.auth_events_exchange, "topic")
            .durable(true)
            .finish(),
    )
    .await?;
    ch.exchange_declare(
        ExchangeDeclareArguments::new(&s.rewards_exchange, "topic")
            .durable(true)
            .finish(),
    )
    .await?;
    ch.exchange_declare(
        ExchangeDeclareArguments::new(&s.catalog_exchange, "fanout")
            .durable(true)
            .finish(),
    )
    .await?;

    for q in [&s.auth_events_queue, &s.activity_queue] {
        declare_dead_letter(ch, q).await?;
        ch.queue_declare(
            QueueDeclareArguments::durable_client_named(q)
                .arguments(table(vec![(
                    "x-dead-letter-exchange",
                    long_str(&dlx_name(q)),
                )]))
                .finish(),
        )
        .await?;
    }
    for rk in ["user.registered", "user.logged_in"] {
        ch.queue_bind(QueueBindArguments::new(
            &s.auth_events_queue,
            &s.auth_events_exchange,
            rk,
        ))
        .await?;
    }

    // A quorum queue counts redeliveries itself and dead-letters past the limit.
    declare_dead_letter(ch, &s.claims_queue).await?;
    ch.queue_declare(
        QueueDeclareArguments::durable_client_named(&s.claims_queue)
            .arguments(table(vec![
                ("x-queue-type", long_str("quorum")),
                (
                    "x-delivery-limit",
                    FieldValue::l(i64::from(s.claim_max_deliveries)),
                ),
                (
                    "x-dead-letter-exchange",
                    long_str(&dlx_name(&s.claims_queue)),
                ),
            ]))
            .finish(),
    )
    .await?;

    let revocation_queue =
        private_queue_bound_to(ch, &s.auth_events_exchange, "session.revoked").await?;
    let catalog_queue = private_queue_bound_to(ch, &s.catalog_exchange, "").await?;
    Ok(Topology {
        revocation_queue,
        catalog_queue,
    })
}

/// Removes the durable queues/exchanges named in `s` (used by tests to clean up after themselves).
pub async fn delete_topology(s: &Settings) -> anyhow::Result<()> {
    let args = connection_args(s.amqp_url.expose_secret())?;
    let conn = Connection::open(&args).await?;
    let ch = conn.open_channel(None).await?;
    for q in [&s.claims_queue, &s.activity_queue, &s.auth_events_queue] {
        let _ = ch.queue_delete(QueueDeleteArguments::new(q)).await;
        let _ = ch
            .queue_delete(QueueDeleteArguments::new(&dlq_name(q)))
            .await;
        let _ = ch
            .exchange_delete(ExchangeDeleteArguments::new(&dlx_name(q)))
            .await;
    }
    for x in [
        &s.rewards_exchange,
        &s.catalog_exchange,
        &s.auth_events_exchange,
    ] {
        let _ = ch.exchange_delete(ExchangeDeleteArguments::new(x)).await;
    }
    let _ = ch.close().await;
    let _ = conn.close().await;
    Ok(())
}

/// Runs until `token` is cancelled, reconnecting whenever the connection drops.
pub async fn supervise(state: web::Data<AppState>, token: CancellationToken) {
    let mut backoff = Duration::from_millis(200);
    loop {
        if token.is_cancelled() {
            break;
        }
        match session(&state, &token).await {
            Ok(()) => backoff = Duration::from_millis(200),
            Err(e) => {
                slog::warn!(state.logger, "rabbitmq session failed"; "error" => format!("{e:#}"));
            }
        }
        state.broker.set(None);
        tokio::select! {
            _ = token.cancelled() => break,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
    state.broker.set(None);
}

async fn session(state: &web::Data<AppState>, token: &CancellationToken) -> anyhow::Result<()> {
    let s = &state.settings;
    let mut args = connection_args(s.amqp_url.expose_secret())?;
    args.heartbeat(15);
    args.connection_name("game-event-service");
    let conn = tokio::time::timeout(Duration::from_secs(5), Connection::open(&args))
        .await
        .map_err(|_| anyhow::anyhow!("connect timeout"))??;
    let setup = conn.open_channel(None).await?;
    let topo = declare_topology(&setup, s).await?;
    let publisher = Arc::new(ConfirmPublisher::new(conn.open_channel(None).await?).await?);
    state.broker.set(Some(publisher));
    slog::info!(state.logger, "rabbitmq connected");
    state.outbox_wakeup.notify_one();

    let tracker = TaskTracker::new();
    let stop = token.child_token();
    let mut consumers: Vec<(String, u16, usize, Handler)> = vec![
        (s.activity_queue.clone(), 64, 8, Handler::Activity),
        (s.auth_events_queue.clone(), 64, 8, Handler::AuthEvent),
        (topo.revocation_queue.clone(), 64, 1, Handler::Revocation),
        (topo.catalog_queue.clone(), 64, 1, Handler::Catalog),
    ];
    if s.claim_worker_enabled {
        consumers.push((
            s.claims_queue.clone(),
            s.claim_worker_prefetch,
            s.claim_worker_concurrency,
            Handler::Claim,
        ));
    }
    for (queue, prefetch, concurrency, handler) in consumers {
        let ch = conn.open_channel(None).await?;
        let st = state.clone();
        let f = move |d: Delivery| {
            let st = st.clone();
            async move { handler.handle(&st, d).await }
        };
        let (stop, tr, log) = (stop.clone(), tracker.clone(), state.logger.clone());
        tracker.spawn(async move {
            if let Err(e) = consume(ch, &queue, prefetch, concurrency, stop, tr, f).await {
                slog::warn!(log, "consumer stopped"; "queue" => queue, "error" => format!("{e:#}"));
            }
        });
    }

    loop {
        tokio::select! {
            _ = token.cancelled() => break,
            _ = tokio::time::sleep(Duration::from_millis(250)) => {
                if !conn.is_open() {
                    slog::warn!(state.logger, "rabbitmq connection lost");
                    break;
                }
            }
        }
    }
    stop.cancel();
    tracker.close();
    // Finish in-flight messages (acks need the connection) before closing it.
    let _ = tokio::time::timeout(
        Duration::from_secs(s.shutdown_timeout_seconds),
        tracker.wait(),
    )
    .await;
    state.broker.set(None);
    let _ = setup.close().await;
    let _ = conn.close().await;
    Ok(())
}

#[derive(Debug, Clone, Copy)]
enum Handler {
    Claim,
    Activity,
    AuthEvent,
    Revocation,
    Catalog,
}

impl Handler {
    async fn handle(self, state: &web::Data<AppState>, d: Delivery) -> Outcome {
        match self {
            Handler::Claim => crate::worker::handle_claim_message(state, d).await,
            Handler::Activity => crate::worker::handle_activity_message(state, d).await,
            Handler::AuthEvent => crate::worker::handle_auth_event(state, d).await,
            Handler::Revocation => {
                state.auth.handle_revocation_message(&d.body);
                Outcome::Ack
            }
            Handler::Catalog => {
                state.cache.handle_invalidation(&d.body).await;
                Outcome::Ack
            }
        }
    }
}

async fn consume<H, Fut>(
    channel: Channel,
    queue: &str,
    prefetch: u16,
    concurrency: usize,
    stop: CancellationToken,
    tracker: TaskTracker,
    handler: H,
) -> anyhow::Result<()>
where
    H: Fn(Delivery) -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    // basic_consume_rx feeds an unbounded channel: prefetch is what bounds memory.
    channel
        .basic_qos(BasicQosArguments::new(0, prefetch, false))
        .await?;
    let (ctag, mut rx) = channel
        .basic_consume_rx(
            BasicConsumeArguments::new(queue, "")
                .manual_ack(true)
                .finish(),
        )
        .await?;
    let sem = Arc::new(Semaphore::new(concurrency));
    loop {
        let msg = tokio::select! {
            _ = stop.cancelled() => {
                let _ = channel.basic_cancel(BasicCancelArguments::new(&ctag)).await;
                break;
            }
            m = rx.recv() => m,
        };
        let Some(msg) = msg else { break };
        let Some(deliver) = msg.deliver else { continue };
        let permit = sem.clone().acquire_owned().await?;
        let delivery = Delivery {
            routing_key: deliver.routing_key().clone(),
            message_id: msg
                .basic_properties
                .as_ref()
                .and_then(|p| p.message_id().cloned()),
            body: msg.content.unwrap_or_default(),
        };
        let (ch, h) = (channel.clone(), handler.clone());
        let tag = deliver.delivery_tag();
        tracker.spawn(async move {
            let outcome = h(delivery).await;
            let _ = match outcome {
                Outcome::Ack => ch.basic_ack(BasicAckArguments::new(tag, false)).await,
                Outcome::Requeue => {
                    ch.basic_nack(BasicNackArguments::new(tag, false, true))
                        .await
                }
                Outcome::DeadLetter => {
                    ch.basic_nack(BasicNackArguments::new(tag, false, false))
                        .await
                }
            };
            drop(permit);
        });
    }
    Ok(())
}

/// A server-named queue of this instance alone (exclusive, auto-delete) bound to `exchange`:
/// every instance gets its own copy of broadcast messages.
async fn private_queue_bound_to(
    ch: &Channel,
    exchange: &str,
    routing_key: &str,
) -> anyhow::Result<String> {
    let (queue, _, _) = ch
        .queue_declare(
            QueueDeclareArguments::exclusive_server_named()
                .auto_delete(true)
                .finish(),
        )
        .await?
        .ok_or_else(|| anyhow::anyhow!("no queue name returned"))?;
    ch.queue_bind(QueueBindArguments::new(&queue, exchange, routing_key))
        .await?;
    Ok(queue)
}
