//! The claims queue: one message per claim to decide, keyed by the claim id.
use crate::domain::claim::{Claim, ClaimStatus};
use crate::domain::{ClaimId, EventId, UserId};
use crate::mq::{Broker, PublishError};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimMessage {
    pub claim_id: ClaimId,
    /// Optional routing hints: a partitioned queue routes by user, a sharded store targets the
    /// claim's shard. Absent in messages of older instances and of the sweeper.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<EventId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
    /// The claim as accepted (PENDING): a claim does not change before its decision, so a
    /// worker can decide it without reading it first. Absent in the sweeper's messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<Claim>,
}

impl ClaimMessage {
    pub fn parse(body: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(body)
    }

    /// The PENDING claim the message carries, if it carries one for its own id.
    pub fn pending_claim(self) -> Option<Claim> {
        self.claim
            .filter(|c| c.id == self.claim_id && c.status == ClaimStatus::Pending)
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
        self.send(ClaimMessage {
            claim_id: claim_id.clone(),
            event_id: None,
            user_id: None,
            claim: None,
        })
        .await
    }

    /// As `publish`, with the claim itself (and its event and user as routing hints).
    pub async fn publish_claim(&self, claim: &Claim) -> Result<(), PublishError> {
        self.send(ClaimMessage {
            claim_id: claim.id.clone(),
            event_id: Some(claim.event_id.clone()),
            user_id: Some(claim.user_id.clone()),
            claim: Some(claim.clone()),
        })
        .await
    }

    async fn send(&self, msg: ClaimMessage) -> Result<(), PublishError> {
        let body = serde_json::to_vec(&msg).unwrap_or_default();
        self.broker
            .publish("", &self.queue, body, msg.claim_id.as_str())
            .await
    }
}
