//! Publishing with publisher confirms: amqprs reports confirms only through a channel callback,
//! so we track delivery tags ourselves and resolve one waiter per published message.
use amqprs::callbacks::ChannelCallback;
use amqprs::channel::{BasicPublishArguments, Channel, ConfirmSelectArguments};
use amqprs::{Ack, BasicProperties, Cancel, CloseChannel, Nack, Return};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

type Pending = Arc<Mutex<BTreeMap<u64, oneshot::Sender<bool>>>>;

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("not connected to RabbitMQ")]
    NotConnected,
    #[error("publish failed: {0}")]
    Io(String),
    #[error("broker nacked the message")]
    Nacked,
    #[error("no confirm within the timeout")]
    Timeout,
}

struct ConfirmCallback {
    pending: Pending,
}

fn resolve(pending: &Pending, tag: u64, multiple: bool, ok: bool) {
    let mut map = pending.lock().unwrap_or_else(|p| p.into_inner());
    if multiple {
        let rest = map.split_off(&(tag + 1));
        let done = std::mem::replace(&mut *map, rest);
        for (_, tx) in done {
            let _ = tx.send(ok);
        }
    } else if let Some(tx) = map.remove(&tag) {
        let _ = tx.send(ok);
    }
}

#[async_trait]
impl ChannelCallback for ConfirmCallback {
    async fn close(
        &mut self,
        _channel: &Channel,
        _close: CloseChannel,
    ) -> Result<(), amqprs::error::Error> {
        // Dropping the senders fails every waiter: their messages are not confirmed.
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        Ok(())
    }
    async fn cancel(
        &mut self,
        _channel: &Channel,
        _cancel: Cancel,
    ) -> Result<(), amqprs::error::Error> {
        Ok(())
    }
    async fn flow(
        &mut self,
        _channel: &Channel,
        active: bool,
    ) -> Result<bool, amqprs::error::Error> {
        Ok(active)
    }
    async fn publish_ack(&mut self, _channel: &Channel, ack: Ack) {
        resolve(&self.pending, ack.delivery_tag(), ack.mutiple(), true);
    }
    async fn publish_nack(&mut self, _channel: &Channel, nack: Nack) {
        resolve(&self.pending, nack.delivery_tag(), nack.multiple(), false);
    }
    async fn publish_return(
        &mut self,
        _channel: &Channel,
        _ret: Return,
        _basic_properties: BasicProperties,
        _content: Vec<u8>,
    ) {
    }
}

pub struct ConfirmPublisher {
    channel: Channel,
    next_tag: tokio::sync::Mutex<u64>,
    pending: Pending,
    /// The connection's broker user, sent as `user_id` so consumers know the sender.
    user: String,
}

impl ConfirmPublisher {
    pub async fn new(channel: Channel, user: String) -> Result<Self, amqprs::error::Error> {
        let pending: Pending = Arc::default();
        channel
            .register_callback(ConfirmCallback {
                pending: pending.clone(),
            })
            .await?;
        channel
            .confirm_select(ConfirmSelectArguments::default())
            .await?;
        Ok(ConfirmPublisher {
            channel,
            next_tag: tokio::sync::Mutex::new(1),
            pending,
            user,
        })
    }

    pub fn is_open(&self) -> bool {
        self.channel.is_open()
    }

    /// Persistent JSON message; returns once the broker confirmed it.
    pub async fn publish(
        &self,
        exchange: &str,
        routing_key: &str,
        body: Vec<u8>,
        message_id: &str,
        timeout: Duration,
    ) -> Result<(), PublishError> {
        let rx = {
            // Tags are assigned in publish order, so the tag counter and the publish go together.
            let mut tag = self.next_tag.lock().await;
            let (tx, rx) = oneshot::channel();
            self.pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(*tag, tx);
            let mut props = BasicProperties::default();
            props
                .with_content_type("application/json")
                .with_persistence(true)
                .with_message_id(message_id)
                .with_user_id(&self.user)
                .with_timestamp(chrono::Utc::now().timestamp().max(0) as u64);
            let res = self
                .channel
                .basic_publish(
                    props,
                    body,
                    BasicPublishArguments::new(exchange, routing_key),
                )
                .await;
            if let Err(e) = res {
                self.pending
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&tag);
                return Err(PublishError::Io(e.to_string()));
            }
            *tag += 1;
            rx
        };
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(true)) => Ok(()),
            Ok(Ok(false)) => Err(PublishError::Nacked),
            Ok(Err(_)) => Err(PublishError::Io("channel closed before confirm".into())),
            Err(_) => Err(PublishError::Timeout),
        }
    }
}
