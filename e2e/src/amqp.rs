//! A test queue bound to the platform's `rewards` exchange, standing where the game's inventory
//! service would: it records every `reward.granted` message it receives.

use std::sync::{Arc, Mutex};

use amqprs::channel::{
    BasicConsumeArguments, ExchangeDeclareArguments, QueueBindArguments, QueueDeclareArguments,
};
use amqprs::connection::{Connection, OpenConnectionArguments};
use anyhow::{Context, Result};
use serde_json::Value;

#[derive(Clone, Debug)]
pub struct Grant {
    pub message_id: Option<String>,
    pub body: Value,
}

pub struct GrantListener {
    _connection: Connection,
    received: Arc<Mutex<Vec<Grant>>>,
}

impl GrantListener {
    pub async fn bind(amqp_url: &str, exchange: &str) -> Result<GrantListener> {
        let args = OpenConnectionArguments::try_from(amqp_url).context("AMQP URL")?;
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
        let (queue, _, _) = channel
            .queue_declare(QueueDeclareArguments::exclusive_server_named())
            .await?
            .context("queue declare returned nothing")?;
        channel
            .queue_bind(QueueBindArguments::new(&queue, exchange, "reward.granted"))
            .await?;
        let (_, mut rx) = channel
            .basic_consume_rx(
                BasicConsumeArguments::new(&queue, "e2e-grants")
                    .auto_ack(true)
                    .finish(),
            )
            .await?;
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = received.clone();
        tokio::spawn(async move {
            // Keeps the channel alive as long as the consumer task runs.
            let _channel = channel;
            while let Some(msg) = rx.recv().await {
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
        });
        Ok(GrantListener {
            _connection: connection,
            received,
        })
    }

    pub fn grants(&self) -> Vec<Grant> {
        self.received.lock().unwrap().clone()
    }
}
