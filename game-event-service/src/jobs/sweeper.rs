//! Republishes claims left PENDING (publish failed, broker lost them, or a worker crashed) and
//! finishes revocations a crash interrupted.
use crate::claims::ClaimQueue;
use crate::store::Store;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub async fn run(
    store: Store,
    queue: ClaimQueue,
    older_than: Duration,
    logger: slog::Logger,
    token: CancellationToken,
) {
    let age_ms = older_than.as_millis() as i64;
    let every = Duration::from_millis((age_ms as u64 / 2).clamp(250, 5000));
    loop {
        tokio::select! {
            _ = token.cancelled() => break,
            _ = tokio::time::sleep(every) => {}
        }
        finish_revocations(&store, age_ms, &logger).await;
        if !queue.is_connected() {
            continue;
        }
        match store
            .sweep_stale_pending(age_ms, age_ms.max(1000), 200)
            .await
        {
            Ok(ids) => {
                for id in ids {
                    if let Err(e) = queue.publish(&id).await {
                        slog::debug!(logger, "republish failed"; "claimId" => id.as_str(), "error" => e.to_string());
                        break;
                    }
                    slog::info!(logger, "republished pending claim"; "claimId" => id.as_str());
                }
            }
            Err(e) => slog::debug!(logger, "sweep failed"; "error" => e.to_string()),
        }
    }
}

/// Revocations whose follow-up (outbox entry, stock, approval) a crash cut short.
async fn finish_revocations(store: &Store, age_ms: i64, logger: &slog::Logger) {
    let claims = match store.interrupted_revocations(age_ms, 100).await {
        Ok(c) => c,
        Err(e) => {
            slog::debug!(logger, "revocation sweep failed"; "error" => e.to_string());
            return;
        }
    };
    for c in claims {
        match crate::claims::revoke::finish(store, &c).await {
            Ok(()) => {
                slog::info!(logger, "finished interrupted revocation"; "claimId" => c.id.as_str())
            }
            Err(e) => {
                slog::debug!(logger, "revocation finish failed"; "claimId" => c.id.as_str(), "error" => e.to_string())
            }
        }
    }
}
