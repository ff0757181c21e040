//! Runs grant jobs: a slice of users at a time, each slice written with a few batched round
//! trips (stock, the APPROVED claims, their `reward.granted` outbox record) and keyed so that
//! redoing a slice after a crash or a lost lease writes nothing twice (the claim ids derive
//! from job and user, the outbox record's from job and slice).
use crate::cache::Catalog;
use crate::domain::claim::Claim;
use crate::domain::event::Event;
use crate::domain::grant::{JobStatus, Progress};
use crate::domain::stock::takes;
use crate::domain::{BatchId, ClaimId, EventId};
use crate::store::claims::Inserted;
use crate::store::jobs::LeasedJob;
use crate::store::outbox::OutboxLease;
use crate::store::Store;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Users granted per slice (one progress update each).
const SLICE: usize = 500;

#[derive(Clone)]
pub struct GrantRunner {
    pub store: Store,
    pub catalog: Catalog,
    pub logger: slog::Logger,
    pub lease: Duration,
    /// Wakes this runner when a job was queued.
    pub wakeup: Arc<Notify>,
    /// Wakes the outbox relay once grants were recorded.
    pub outbox_wakeup: Arc<Notify>,
    /// Announces the granted claims to the live streams.
    pub feed: crate::streams::LiveFeed,
}

impl GrantRunner {
    pub async fn run(self, token: CancellationToken) {
        loop {
            tokio::select! {
                _ = token.cancelled() => return,
                _ = self.wakeup.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            loop {
                match self.store.lease_job(self.lease_ms()).await {
                    Ok(Some(job)) => self.run_job(job, &token).await,
                    Ok(None) => break,
                    Err(e) => {
                        slog::debug!(self.logger, "job lease failed"; "error" => e.to_string());
                        break;
                    }
                }
                if token.is_cancelled() {
                    return;
                }
            }
        }
    }

    fn lease_ms(&self) -> i64 {
        self.lease.as_millis() as i64
    }

    async fn run_job(&self, job: LeasedJob, token: &CancellationToken) {
        let log = self.logger.new(slog::o!("jobId" => job.job.id.to_string()));
        let event = match self.catalog.get(&self.store, &job.job.event_id).await {
            Ok(Some(e)) => e,
            Ok(None) => {
                let _ = self
                    .store
                    .finish_job(&job, JobStatus::Failed, Some("the event no longer exists"))
                    .await;
                return;
            }
            Err(e) => {
                slog::warn!(log, "grant job deferred"; "error" => e.to_string());
                let _ = self.store.release_job(&job, 1000).await;
                return;
            }
        };
        let mut cursor = job.cursor.min(job.user_ids.len());
        while cursor < job.user_ids.len() {
            if token.is_cancelled() {
                // Another instance (or this one after restart) takes over once the lease ends.
                return;
            }
            let to = (cursor + SLICE).min(job.user_ids.len());
            let progress = match self.grant_slice(&event, &job, cursor, to).await {
                Ok(p) => p,
                Err(e) => {
                    slog::warn!(log, "grant slice failed; retried"; "error" => format!("{e:#}"));
                    let _ = self.store.release_job(&job, 1000).await;
                    return;
                }
            };
            match self
                .store
                .save_job_progress(&job, cursor, to, progress, self.lease_ms())
                .await
            {
                Ok(true) => cursor = to,
                Ok(false) => return, // the lease went to another runner
                Err(e) => {
                    slog::warn!(log, "grant progress not saved; retried"; "error" => e.to_string());
                    let _ = self.store.release_job(&job, 1000).await;
                    return;
                }
            }
        }
        if let Err(e) = self.store.finish_job(&job, JobStatus::Done, None).await {
            slog::warn!(log, "grant job not marked done"; "error" => e.to_string());
        }
    }

    /// Grants `users[from..to]`: stock first (unless ignored), then the APPROVED claims (whose
    /// unique key skips users who already have a claim for the event and period), then the
    /// slice's `reward.granted` outbox record naming those stored.
    async fn grant_slice(
        &self,
        event: &Event,
        job: &LeasedJob,
        from: usize,
        to: usize,
    ) -> anyhow::Result<Progress> {
        let store = &self.store;
        let now = chrono::Utc::now();
        let mut claims: Vec<Claim> = job.user_ids[from..to]
            .iter()
            .map(|u| {
                Claim::granted(
                    event,
                    u.clone(),
                    job.job.id.as_str(),
                    job.job.created_at,
                    now,
                )
            })
            .collect();
        let mut p = Progress::default();
        // Users who already have a claim for the event (and period) are skipped before they
        // take any stock; a claim of this job found there is a retry to finish.
        let keys: Vec<String> = claims.iter().map(Claim::key).collect();
        let holders = store.key_holders(&keys).await?;
        let before = claims.len();
        claims.retain(|c| holders.get(&c.key()).is_none_or(|h| h == &c.id));
        p.skipped += (before - claims.len()) as i64;
        // Units taken per claim, to give back when the claim does not go in after all.
        let mut held: HashMap<ClaimId, Vec<(String, ClaimId)>> = HashMap::new();
        if !job.job.ignore_stock {
            let mut out_of_stock: HashSet<ClaimId> = HashSet::new();
            for round in 0..2 {
                let mut wanted: HashMap<String, (i64, Vec<(ClaimId, ClaimId)>)> = HashMap::new();
                for c in claims.iter().filter(|c| !out_of_stock.contains(&c.id)) {
                    if let Some(t) = takes(event, c).into_iter().nth(round) {
                        let e = wanted.entry(t.stock).or_insert((t.max, Vec::new()));
                        e.1.push((c.id.clone(), t.holder));
                    }
                }
                for (stock, (max, list)) in wanted {
                    let holders: Vec<ClaimId> = list.iter().map(|(_, h)| h.clone()).collect();
                    let got = store.take_units(&event.id, &stock, max, &holders).await?;
                    for (c, h) in list {
                        if got.contains(&h) {
                            held.entry(c).or_default().push((stock.clone(), h));
                        } else {
                            out_of_stock.insert(c);
                        }
                    }
                }
            }
            let mut refused: Vec<ClaimId> = out_of_stock.into_iter().collect();
            refused.sort();
            p.failed += refused.len() as i64;
            self.give_back(&event.id, &mut held, &refused).await?;
            claims.retain(|c| !refused.contains(&c.id));
        }

        // The same record for the same slice: a retry names the claims an earlier attempt
        // stored (they name it) as well as its own.
        let batch = BatchId::derived(
            &format!("grant:{}:{from}", job.job.id),
            job.job.created_at.timestamp_millis(),
        );
        let inserted = store.insert_granted(&claims, &batch).await?;
        let mut granted: Vec<Claim> = Vec::new();
        let mut skipped: Vec<ClaimId> = Vec::new();
        for (c, r) in claims.into_iter().zip(inserted) {
            match r {
                Inserted::Stored => granted.push(c),
                // A retried slice finds its own claim: finish it.
                Inserted::Exists(existing) if existing.id == c.id => granted.push(c),
                Inserted::Exists(_) => skipped.push(c.id),
            }
        }
        p.skipped += skipped.len() as i64;
        self.give_back(&event.id, &mut held, &skipped).await?;
        if !granted.is_empty() {
            let ids: Vec<ClaimId> = granted.iter().map(|c| c.id.clone()).collect();
            store
                .record_grant_batch(&batch, &ids, &OutboxLease::none())
                .await?;
            self.outbox_wakeup.notify_one();
            self.feed.publish(&granted);
        }
        p.done += granted.len() as i64;
        Ok(p)
    }

    async fn give_back(
        &self,
        event_id: &EventId,
        held: &mut HashMap<ClaimId, Vec<(String, ClaimId)>>,
        claims: &[ClaimId],
    ) -> anyhow::Result<()> {
        let mut per_stock: HashMap<String, Vec<ClaimId>> = HashMap::new();
        for c in claims {
            for (stock, holder) in held.remove(c).unwrap_or_default() {
                per_stock.entry(stock).or_default().push(holder);
            }
        }
        for (stock, holders) in per_stock {
            self.store.release_units(event_id, &stock, &holders).await?;
        }
        Ok(())
    }
}
