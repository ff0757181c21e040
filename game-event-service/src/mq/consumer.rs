//! Consuming one queue: deliveries go to the registered handler, and each is acked, requeued
//! or dead-lettered by the outcome the handler returns.
use super::{Delivery, Handler, Outcome};
use amqprs::channel::{
    BasicAckArguments, BasicCancelArguments, BasicConsumeArguments, BasicNackArguments,
    BasicQosArguments, Channel,
};
use std::sync::Arc;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How many deliveries the broker may hand out unacked, and how many are handled at once.
#[derive(Debug, Clone, Copy)]
pub struct ConsumerOptions {
    pub prefetch: u16,
    pub concurrency: usize,
}

pub(super) async fn run(
    channel: Channel,
    queue: &str,
    options: ConsumerOptions,
    stop: CancellationToken,
    tracker: TaskTracker,
    handler: Handler,
) -> anyhow::Result<()> {
    // basic_consume_rx feeds an unbounded channel: prefetch is what bounds memory.
    channel
        .basic_qos(BasicQosArguments::new(0, options.prefetch, false))
        .await?;
    let (ctag, mut rx) = channel
        .basic_consume_rx(
            BasicConsumeArguments::new(queue, "")
                .manual_ack(true)
                .finish(),
        )
        .await?;
    let sem = Arc::new(Semaphore::new(options.concurrency.max(1)));
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
            settle(&ch, tag, outcome).await;
            drop(permit);
        });
    }
    Ok(())
}

async fn settle(ch: &Channel, tag: u64, outcome: Outcome) {
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
}
