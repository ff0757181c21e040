//! Background work: the claim decision worker, the pending-claim sweeper, the outbox relay and
//! progress ingestion from RabbitMQ.
use crate::domain::activity::{Activity, ActivityInput, Source, INVITE, LOGIN};
use crate::domain::claim::{Claim, Decision, RejectReason};
use crate::domain::conditions::{evaluate, ConditionProgress};
use crate::mq::{Delivery, Outcome};
use crate::state::AppState;
use crate::store::events::Reservation;
use actix_web::web;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Pause before a transient failure is handed back to the broker.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimMessage {
    pub claim_id: String,
}

pub async fn publish_claim(
    state: &AppState,
    claim_id: &str,
) -> Result<(), crate::mq::PublishError> {
    let body = serde_json::to_vec(&ClaimMessage {
        claim_id: claim_id.to_string(),
    })
    .unwrap_or_default();
    state
        .broker
        .publish("", &state.settings.claims_queue, body, claim_id)
        .await
}

pub async fn handle_claim_message(state: &web::Data<AppState>, d: Delivery) -> Outcome {
    let msg: ClaimMessage = match serde_json::from_slice(&d.body) {
        Ok(m) => m,
        Err(e) => {
            slog::warn!(state.logger, "malformed claim message"; "error" => e.to_string());
            return Outcome::DeadLetter;
        }
    };
    match process_claim(state, &msg.claim_id).await {
        Ok(()) => Outcome::Ack,
        Err(e) => {
            slog::warn!(state.logger, "claim processing failed";
                "claimId" => &msg.claim_id, "error" => format!("{e:#}"));
            let _ = state.store.release_claim_lease(&msg.claim_id).await;
            tokio::time::sleep(RETRY_PAUSE).await;
            Outcome::Requeue
        }
    }
}

/// Decides one claim. Every step is idempotent and keyed by the claim id, so processing the same
/// claim again after a crash at any point never approves twice nor leaks stock.
pub async fn process_claim(state: &AppState, claim_id: &str) -> anyhow::Result<()> {
    let store = &state.store;
    let m = &state.metrics;
    // Decided already, unknown, or another worker is on it right now: nothing to do.
    let lease_ms = (state.settings.claim_lease_seconds.max(1) * 1000) as i64;
    let t = Instant::now();
    let Some(claim) = store.lease_claim(claim_id, lease_ms).await? else {
        return Ok(());
    };
    m.step("lease", t);
    let now = chrono::Utc::now();

    // A previous attempt got as far as the approval: finish that, never re-evaluate.
    let t = Instant::now();
    let previous = store
        .approval_holder(&claim.event_id, &claim.user_id)
        .await?;
    m.step("approval_check", t);
    if let Some(holder) = previous {
        if holder == claim.id {
            return approve(state, claim, Vec::new()).await;
        }
        return reject(state, claim, RejectReason::AlreadyClaimed, None).await;
    }

    let t = Instant::now();
    let event = store
        .get_event(&claim.event_id)
        .await?
        .filter(|e| e.is_open_at(now));
    m.step("event", t);
    let Some(event) = event else {
        return reject(state, claim, RejectReason::EventNotActive, None).await;
    };
    let t = Instant::now();
    let facts = store
        .facts_for(&claim.user_id, event.window(), &event.conditions)
        .await?;
    m.step("facts", t);
    let eval = evaluate(&event.conditions, &facts, event.window(), event.tz());
    if !eval.all_met {
        return reject(
            state,
            claim,
            RejectReason::ConditionNotMet,
            Some(eval.progress),
        )
        .await;
    }
    if let Some(max) = event.max_claims {
        let t = Instant::now();
        let reserved = store.reserve_stock(&event.id, &claim.id, max).await?;
        m.step("stock", t);
        if reserved == Reservation::SoldOut {
            return reject(state, claim, RejectReason::OutOfStock, Some(eval.progress)).await;
        }
    }
    // The unique `_id` of the approval is what makes "one approval per user and event" hold.
    let t = Instant::now();
    let holder = store.insert_approval(&claim).await?;
    m.step("approval_insert", t);
    if holder != claim.id {
        return reject(
            state,
            claim,
            RejectReason::AlreadyClaimed,
            Some(eval.progress),
        )
        .await;
    }
    approve(state, claim, eval.progress).await
}

async fn approve(
    state: &AppState,
    claim: Claim,
    progress: Vec<ConditionProgress>,
) -> anyhow::Result<()> {
    // Grant and outbox entry first: once the claim says APPROVED the reward is on its way.
    let t = Instant::now();
    state.store.record_grant(&claim).await?;
    state.metrics.step("grant_outbox", t);
    let decided = claim.decided(&Decision::Approved { progress }, chrono::Utc::now());
    let t = Instant::now();
    let stored = state.store.store_decision(&decided).await?;
    state.metrics.step("decision", t);
    if stored {
        state
            .metrics
            .claims_decided
            .with_label_values(&["APPROVED", ""])
            .inc();
    }
    state.outbox_wakeup.notify_one();
    Ok(())
}

async fn reject(
    state: &AppState,
    claim: Claim,
    reason: RejectReason,
    progress: Option<Vec<ConditionProgress>>,
) -> anyhow::Result<()> {
    let (event_id, user_id, claim_id) = (
        claim.event_id.clone(),
        claim.user_id.clone(),
        claim.id.clone(),
    );
    // Should a lease ever expire mid-evaluation, a concurrent evaluation of this same claim may
    // have approved it already: never undo that.
    let holder = state.store.approval_holder(&event_id, &user_id).await?;
    if holder.as_deref() == Some(claim_id.as_str()) {
        return approve(state, claim, progress.unwrap_or_default()).await;
    }
    // Any unit this claim took earlier goes back (no-op when it holds none).
    state.store.release_stock(&event_id, &claim_id).await?;
    let decided = claim.decided(&Decision::Rejected { reason, progress }, chrono::Utc::now());
    if state.store.store_decision(&decided).await? {
        state
            .metrics
            .claims_decided
            .with_label_values(&["REJECTED", reason.as_str()])
            .inc();
    }
    // Frees the user to claim again; a crash before this is repaired by the next claim request.
    state
        .store
        .release_claim_lock(&event_id, &user_id, &claim_id)
        .await?;
    Ok(())
}

/// Republishes claims left PENDING (publish failed, broker lost them, or a worker crashed).
pub async fn run_sweeper(state: web::Data<AppState>, token: CancellationToken) {
    let age_ms = (state.settings.pending_claim_redelivery_seconds * 1000) as i64;
    let every = Duration::from_millis((age_ms as u64 / 2).clamp(250, 5000));
    loop {
        tokio::select! {
            _ = token.cancelled() => break,
            _ = tokio::time::sleep(every) => {}
        }
        if !state.broker.is_connected() {
            continue;
        }
        match state
            .store
            .sweep_stale_pending(age_ms, age_ms.max(1000), 200)
            .await
        {
            Ok(ids) => {
                for id in ids {
                    if let Err(e) = publish_claim(&state, &id).await {
                        slog::debug!(state.logger, "republish failed"; "claimId" => &id, "error" => e.to_string());
                        break;
                    }
                    slog::info!(state.logger, "republished pending claim"; "claimId" => id);
                }
            }
            Err(e) => slog::debug!(state.logger, "sweep failed"; "error" => e.to_string()),
        }
    }
}

/// Publishes `reward.granted` for every outbox entry until the broker confirms it.
pub async fn run_outbox_relay(state: web::Data<AppState>, token: CancellationToken) {
    let lease_ms = (state.settings.outbox_lease_seconds * 1000) as i64;
    loop {
        loop {
            if token.is_cancelled() {
                return;
            }
            // Leave entries to instances that can publish them right now.
            if !state.broker.is_connected() {
                break;
            }
            let entry = match state.store.lease_outbox(lease_ms).await {
                Ok(Some(e)) => e,
                Ok(None) => break,
                Err(e) => {
                    slog::debug!(state.logger, "outbox lease failed"; "error" => e.to_string());
                    break;
                }
            };
            let t = Instant::now();
            let res = state
                .broker
                .publish(
                    &state.settings.rewards_exchange,
                    &entry.routing_key,
                    entry.payload.clone().into_bytes(),
                    &entry.id,
                )
                .await;
            match res {
                Ok(()) => {
                    state.metrics.step("relay_publish_confirm", t);
                    state
                        .metrics
                        .outbox_published
                        .with_label_values(&["ok"])
                        .inc();
                    if let Err(e) = state.store.mark_outbox_sent(&entry.id).await {
                        // The lease expires and the entry is sent again: consumers dedupe on message id.
                        slog::warn!(state.logger, "outbox mark failed"; "error" => e.to_string());
                    }
                }
                Err(e) => {
                    state
                        .metrics
                        .outbox_published
                        .with_label_values(&["error"])
                        .inc();
                    slog::debug!(state.logger, "reward.granted publish failed"; "claimId" => &entry.id, "error" => e.to_string());
                    let _ = state.store.retry_outbox_after(&entry.id, 1000).await;
                    break;
                }
            }
        }
        tokio::select! {
            _ = token.cancelled() => return,
            _ = state.outbox_wakeup.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}

async fn ingest(state: &AppState, a: Activity, source: &str) -> Outcome {
    match state.store.insert_activity(&a).await {
        Ok(fresh) => {
            let result = if fresh { "applied" } else { "duplicate" };
            state
                .metrics
                .activities
                .with_label_values(&[source, result])
                .inc();
            Outcome::Ack
        }
        Err(e) => {
            slog::warn!(state.logger, "activity insert failed"; "error" => e.to_string());
            tokio::time::sleep(RETRY_PAUSE).await;
            Outcome::Requeue
        }
    }
}

pub async fn handle_activity_message(state: &web::Data<AppState>, d: Delivery) -> Outcome {
    let parsed = crate::extract::parse_json::<ActivityInput>(&d.body)
        .map_err(|e| e.to_string())
        .and_then(|i| {
            i.into_activity(Source::GameQueue)
                .map_err(|f| format!("{}: {}", f.field, f.message))
        });
    match parsed {
        Ok(a) => ingest(state, a, "queue").await,
        Err(e) => {
            slog::warn!(state.logger, "invalid game.activity message"; "error" => e);
            state
                .metrics
                .activities
                .with_label_values(&["queue", "invalid"])
                .inc();
            Outcome::DeadLetter
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuthEvent {
    message_id: String,
    user_id: String,
    #[serde(default)]
    invited_by: Option<String>,
    occurred_at: chrono::DateTime<chrono::Utc>,
}

pub async fn handle_auth_event(state: &web::Data<AppState>, d: Delivery) -> Outcome {
    let ev: AuthEvent = match serde_json::from_slice(&d.body) {
        Ok(e) => e,
        Err(e) => {
            slog::warn!(state.logger, "malformed auth event"; "routingKey" => &d.routing_key, "error" => e.to_string());
            return Outcome::DeadLetter;
        }
    };
    let activity = match d.routing_key.as_str() {
        "user.logged_in" => Activity {
            id: ev.message_id,
            user_id: ev.user_id,
            key: LOGIN.into(),
            value: 1,
            occurred_at: ev.occurred_at,
            subject_user_id: None,
        },
        "user.registered" => match ev.invited_by {
            Some(inviter) => Activity {
                id: ev.message_id,
                user_id: inviter,
                key: INVITE.into(),
                value: 1,
                occurred_at: ev.occurred_at,
                subject_user_id: Some(ev.user_id),
            },
            None => return Outcome::Ack,
        },
        _ => return Outcome::Ack,
    };
    if !crate::domain::valid_id(&activity.id) || !crate::domain::valid_id(&activity.user_id) {
        return Outcome::DeadLetter;
    }
    ingest(state, activity, "auth").await
}
