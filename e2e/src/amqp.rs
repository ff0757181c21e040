//! A queue bound to the platform's `rewards` exchange, standing where the game's inventory service
//! would: it records every `reward.granted` message it receives. The queue is durable and the
//! listener reconnects, so a RabbitMQ restart in the fault run loses nothing it should count.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use amqprs::channel::{
    BasicConsumeArguments, Channel, ExchangeDeclareArguments, QueueBindArguments,
    QueueDeclareArguments, QueueDeleteArguments,
};
use amqprs::connection::{Connection, OpenConnectionArguments};
use anyhow::{Context, Result};
use serde_json::Value;
use tokio::sync::mpsc::UnboundedReceiver;

#[derive(Clone, Debug)]
pub struct Grant {
    pub message_id: Option<String>,
    pub body: Value,
}

pub struct GrantListener {
    received: Arc<Mutex<Vec<Grant>>>,
    task: tokio::task::JoinHandle<()>,
    amqp_url: String,
    queue: String,
}

/// `amqp://user:pass@host:port/vhost` with the vhost percent-decoded (`%2f` is `/`).
pub fn connection_args(amqp_url: &str) -> Result<OpenConnectionArguments> {
    let url = url::Url::parse(amqp_url).context("AMQP URL")?;
    let vhost = match url.path().trim_start_matches('/') {
        "" => "/".to_string(),
        v => url::form_urlencoded::parse(format!("v={v}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| "/".into()),
    };
    let mut args = OpenConnectionArguments::new(
        url.host_str().unwrap_or("127.0.0.1"),
        url.port().unwrap_or(5672),
        if url.username().is_empty() {
            "guest"
        } else {
            url.username()
        },
        url.password().unwrap_or("guest"),
    );
    args.virtual_host(&vhost);
    Ok(args)
}

async fn subscribe(
    amqp_url: &str,
    exchange: &str,
    queue: &str,
) -> Result<(
    Connection,
    Channel,
    UnboundedReceiver<amqprs::channel::ConsumerMessage>,
)> {
    let args = connection_args(amqp_url)?;
    let connection = Connection::open(&args).await?;
    let channel = connection.open_channel(None).await?;
    // Same declaration the service makes (durable topic), so whichever comes first wins.
    channel
        .exchange_declare(
            ExchangeDeclareArguments::new(exchange, "topic")
                .durable(true)
                .finish(),
        )
        .await?;
    channel
        .queue_declare(QueueDeclareArguments::durable_client_named(queue))
        .await?;
    channel
        .queue_bind(QueueBindArguments::new(queue, exchange, "reward.granted"))
        .await?;
    let (_, rx) = channel
        .basic_consume_rx(
            BasicConsumeArguments::new(queue, "")
                .auto_ack(true)
                .finish(),
        )
        .await?;
    Ok((connection, channel, rx))
}

impl GrantListener {
    /// Binds the queue before returning, so every grant published afterwards is counted.
    pub async fn bind(amqp_url: &str, exchange: &str) -> Result<GrantListener> {
        let queue = format!("{exchange}.e2e-inventory");
        let first = subscribe(amqp_url, exchange, &queue).await?;
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = received.clone();
        let (url, exchange_name, queue_name) =
            (amqp_url.to_string(), exchange.to_string(), queue.clone());
        let task = tokio::spawn(async move {
            let mut current = Some(first);
            loop {
                let (connection, _channel, mut rx) = match current.take() {
                    Some(c) => c,
                    None => match subscribe(&url, &exchange_name, &queue_name).await {
                        Ok(c) => c,
                        Err(_) => {
                            tokio::time::sleep(Duration::from_millis(500)).await;
                            continue;
                        }
                    },
                };
                loop {
                    tokio::select! {
                        msg = rx.recv() => match msg {
                            Some(msg) => {
                                let message_id = msg
                                    .basic_properties
                                    .as_ref()
                                    .and_then(|p| p.message_id().cloned());
                                let body = msg
                                    .content
                                    .as_deref()
                                    .and_then(|b| serde_json::from_slice(b).ok())
                                    .unwrap_or(Value::Null);
                                sink.lock().unwrap().push(Grant { message_id, body });
                            }
                            None => break,
                        },
                        _ = tokio::time::sleep(Duration::from_millis(250)) => {
                            if !connection.is_open() { break; }
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
        Ok(GrantListener {
            received,
            task,
            amqp_url: amqp_url.to_string(),
            queue,
        })
    }

    pub fn grants(&self) -> Vec<Grant> {
        self.received.lock().unwrap().clone()
    }

    /// Stops listening and deletes the durable queue.
    pub async fn close(self) {
        self.task.abort();
        if let Ok(args) = connection_args(&self.amqp_url) {
            if let Ok(conn) = Connection::open(&args).await {
                if let Ok(ch) = conn.open_channel(None).await {
                    let _ = ch
                        .queue_delete(QueueDeleteArguments::new(&self.queue))
                        .await;
                }
                let _ = conn.close().await;
            }
        }
    }
}
