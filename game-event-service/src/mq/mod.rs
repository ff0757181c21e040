//! RabbitMQ adapter: a supervisor that connects, declares the topology, runs the consumers that
//! start-up registered and the confirming publisher, and reconnects with backoff (amqprs has no
//! automatic reconnection). It knows no handler: `consume(queue, options, handler)` is the whole
//! interface between the broker and the rest of the service.
mod consumer;
pub mod publisher;
mod topology;

pub use consumer::ConsumerOptions;
use consumer::Handling;
pub use publisher::{ConfirmPublisher, PublishError};
pub use topology::{amqp_user, connection_args, delete_topology, dlq_name, dlx_name};

use crate::configuration::Settings;
use amqprs::connection::Connection;
use futures_util::future::BoxFuture;
use secrecy::ExposeSecret;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

const CONFIRM_TIMEOUT: Duration = Duration::from_secs(5);

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
    /// The broker user that published it (RabbitMQ refuses a `user_id` other than the
    /// publishing connection's user), `None` when the publisher set none.
    pub user_id: Option<String>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

pub type Handler = Arc<dyn Fn(Delivery) -> BoxFuture<'static, Outcome> + Send + Sync>;
/// Decides a batch of deliveries; returns one outcome per delivery, in order.
pub type BatchHandler =
    Arc<dyn Fn(Vec<Delivery>) -> BoxFuture<'static, Vec<Outcome>> + Send + Sync>;

/// Where a consumer's messages come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A durable queue of the topology, shared by every instance.
    Queue(String),
    /// This instance's own copy of what `exchange` routes with `routing_key` (a server-named,
    /// exclusive queue declared on every connection).
    Broadcast {
        exchange: String,
        routing_key: String,
    },
}

struct Consumer {
    source: Source,
    options: ConsumerOptions,
    handling: Handling,
}

#[derive(Clone, Default)]
pub struct Broker {
    publisher: Arc<RwLock<Option<Arc<ConfirmPublisher>>>>,
    connected: Arc<AtomicBool>,
    consumers: Arc<Mutex<Vec<Arc<Consumer>>>>,
}

impl Broker {
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::SeqCst)
    }

    fn set(&self, p: Option<Arc<ConfirmPublisher>>) {
        self.connected.store(p.is_some(), Ordering::SeqCst);
        *self.publisher.write().unwrap_or_else(|e| e.into_inner()) = p;
    }

    /// Registers a consumer; it runs on every connection from the next one on.
    pub fn consume<F, Fut>(&self, source: Source, options: ConsumerOptions, handler: F)
    where
        F: Fn(Delivery) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Outcome> + Send + 'static,
    {
        let handler: Handler = Arc::new(move |d| Box::pin(handler(d)));
        self.register(source, options, Handling::Each(handler));
    }

    /// Registers a consumer that gets what has arrived, up to `max` deliveries, as one batch
    /// (`options.concurrency` batches at a time); acks follow the outcomes it returns.
    pub fn consume_batches<F, Fut>(
        &self,
        source: Source,
        options: ConsumerOptions,
        max: usize,
        handler: F,
    ) where
        F: Fn(Vec<Delivery>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Vec<Outcome>> + Send + 'static,
    {
        let handler: BatchHandler = Arc::new(move |d| Box::pin(handler(d)));
        self.register(source, options, Handling::Batch { max, handler });
    }

    fn register(&self, source: Source, options: ConsumerOptions, handling: Handling) {
        self.consumers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::new(Consumer {
                source,
                options,
                handling,
            }));
    }

    /// Persistent message; returns once the broker confirmed it.
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

    /// Runs until `token` is cancelled, reconnecting whenever the connection drops;
    /// `on_connect` runs after each successful connection.
    pub async fn supervise(
        self,
        settings: Settings,
        logger: slog::Logger,
        token: CancellationToken,
        on_connect: impl Fn() + Send + Sync,
    ) {
        let mut backoff = Duration::from_millis(200);
        loop {
            if token.is_cancelled() {
                break;
            }
            match self.session(&settings, &logger, &token, &on_connect).await {
                Ok(()) => backoff = Duration::from_millis(200),
                Err(e) => {
                    slog::warn!(logger, "rabbitmq session failed"; "error" => format!("{e:#}"));
                }
            }
            self.set(None);
            tokio::select! {
                _ = token.cancelled() => break,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
        self.set(None);
    }

    async fn session(
        &self,
        s: &Settings,
        logger: &slog::Logger,
        token: &CancellationToken,
        on_connect: &(impl Fn() + Send + Sync),
    ) -> anyhow::Result<()> {
        let mut args = connection_args(s.amqp.url.expose_secret())?;
        args.heartbeat(15);
        args.connection_name("game-event-service");
        let conn = tokio::time::timeout(Duration::from_secs(5), Connection::open(&args))
            .await
            .map_err(|_| anyhow::anyhow!("connect timeout"))??;
        let setup = conn.open_channel(None).await?;
        topology::declare_topology(&setup, s).await?;
        let user = amqp_user(s.amqp.url.expose_secret())?;
        let publisher =
            Arc::new(ConfirmPublisher::new(conn.open_channel(None).await?, user).await?);
        self.set(Some(publisher));
        slog::info!(logger, "rabbitmq connected");
        on_connect();

        let tracker = TaskTracker::new();
        let stop = token.child_token();
        let consumers: Vec<Arc<Consumer>> = self
            .consumers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for c in consumers {
            let ch = conn.open_channel(None).await?;
            let queue = match &c.source {
                Source::Queue(q) => q.clone(),
                Source::Broadcast {
                    exchange,
                    routing_key,
                } => topology::private_queue_bound_to(&ch, exchange, routing_key).await?,
            };
            let (stop, tr, log) = (stop.clone(), tracker.clone(), logger.clone());
            tracker.spawn(async move {
                let run = consumer::run(ch, &queue, c.options, stop, tr, c.handling.clone());
                if let Err(e) = run.await {
                    slog::warn!(log, "consumer stopped"; "queue" => queue, "error" => format!("{e:#}"));
                }
            });
        }

        loop {
            tokio::select! {
                _ = token.cancelled() => break,
                _ = tokio::time::sleep(Duration::from_millis(250)) => {
                    if !conn.is_open() {
                        slog::warn!(logger, "rabbitmq connection lost");
                        break;
                    }
                }
            }
        }
        stop.cancel();
        tracker.close();
        // Finish in-flight messages (acks need the connection) before closing it.
        let _ = tokio::time::timeout(
            Duration::from_secs(s.app.shutdown_timeout_seconds),
            tracker.wait(),
        )
        .await;
        self.set(None);
        let _ = setup.close().await;
        let _ = conn.close().await;
        Ok(())
    }
}
