//! Consuming one queue: deliveries go to the registered handler, and each is acked, requeued
//! or dead-lettered by the outcome the handler returns.
use super::{BatchHandler, Delivery, Handler, Outcome};
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

/// One delivery at a time, or what has arrived (up to `max`) as one batch.
#[derive(Clone)]
pub enum Handling {
    Each(Handler),
    Batch { max: usize, handler: BatchHandler },
}

pub(super) async fn run(
    channel: Channel,
    queue: &str,
    options: ConsumerOptions,
    stop: CancellationToken,
    tracker: TaskTracker,
    handling: Handling,
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
    let max = match &handling {
        Handling::Each(_) => 1,
        Handling::Batch { max, .. } => (*max).max(1),
    };
    loop {
        // A free slot first: while every slot is busy, deliveries pile up into bigger batches.
        let permit = sem.clone().acquire_owned().await?;
        let first = tokio::select! {
            _ = stop.cancelled() => {
                let _ = channel.basic_cancel(BasicCancelArguments::new(&ctag)).await;
                break;
            }
            m = rx.recv() => m,
        };
        let Some(first) = first else { break };
        let mut batch: Vec<(u64, Delivery)> = Vec::with_capacity(max);
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            if let Some(deliver) = msg.deliver {
                let props = msg.basic_properties.as_ref();
                let delivery = Delivery {
                    routing_key: deliver.routing_key().clone(),
                    message_id: props.and_then(|p| p.message_id().cloned()),
                    user_id: props.and_then(|p| p.user_id().cloned()),
                    content_type: props.and_then(|p| p.content_type().cloned()),
                    body: msg.content.unwrap_or_default(),
                };
                batch.push((deliver.delivery_tag(), delivery));
            }
            if batch.len() < max {
                next = rx.try_recv().ok();
            }
        }
        if batch.is_empty() {
            continue;
        }
        let (ch, handling) = (channel.clone(), handling.clone());
        tracker.spawn(async move {
            let (tags, deliveries): (Vec<u64>, Vec<Delivery>) = batch.into_iter().unzip();
            let outcomes = match handling {
                Handling::Each(h) => {
                    let mut out = Vec::with_capacity(deliveries.len());
                    for d in deliveries {
                        out.push(h(d).await);
                    }
                    out
                }
                Handling::Batch { handler, .. } => handler(deliveries).await,
            };
            // Acks only after the handler's writes; a missing outcome is a redelivery.
            for (i, tag) in tags.into_iter().enumerate() {
                settle(
                    &ch,
                    tag,
                    outcomes.get(i).copied().unwrap_or(Outcome::Requeue),
                )
                .await;
            }
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
