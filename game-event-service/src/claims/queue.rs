//! The claims queue: one message per claim to decide, keyed by the claim id.
use crate::domain::ClaimId;
use crate::mq::{Broker, PublishError};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimMessage {
    pub claim_id: ClaimId,
}

impl ClaimMessage {
    pub fn parse(body: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(body)
    }
}

#[derive(Clone)]
pub struct ClaimQueue {
    broker: Broker,
    queue: String,
}

impl ClaimQueue {
    pub fn new(broker: Broker, queue: impl Into<String>) -> Self {
        ClaimQueue {
            broker,
            queue: queue.into(),
        }
    }

    pub fn name(&self) -> &str {
        &self.queue
    }

    pub fn is_connected(&self) -> bool {
        self.broker.is_connected()
    }

    /// Persistent, `message_id` = claim id; returns once the broker confirmed it.
    pub async fn publish(&self, claim_id: &ClaimId) -> Result<(), PublishError> {
        let body = serde_json::to_vec(&ClaimMessage {
            claim_id: claim_id.clone(),
        })
        .unwrap_or_default();
        self.broker
            .publish("", &self.queue, body, claim_id.as_str())
            .await
    }
}
