//! Grant jobs: one document per job holding its (at most 10,000) user ids, a cursor into them,
//! the counts, and a lease so that one instance at a time runs it and another takes over when
//! that one dies. Progress is `$set`/`$inc` of numbers only, guarded by the lease and cursor.
use super::{now_ms, to_bson_dt, Store, StoreError, StoreResult};
use crate::domain::grant::{Job, JobStatus, JobType, Progress};
use crate::domain::{EventId, JobId, UserId};
use mongodb::bson::{doc, DateTime as BsonDateTime, Document};
use mongodb::options::ReturnDocument;
use serde::{Deserialize, Serialize};

pub const COLLECTION: &str = "jobs";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct JobDoc {
    #[serde(rename = "_id")]
    id: String,
    #[serde(rename = "type")]
    kind: JobType,
    event_id: String,
    status: JobStatus,
    total: i64,
    done: i64,
    skipped: i64,
    failed: i64,
    reason: String,
    ignore_stock: bool,
    #[serde(default)]
    error: Option<String>,
    created_by: String,
    created_at: BsonDateTime,
    updated_at_ms: i64,
    #[serde(default)]
    user_ids: Vec<String>,
    cursor: i64,
    lease_until: i64,
    #[serde(default)]
    lease_owner: Option<String>,
}

impl From<JobDoc> for Job {
    fn from(d: JobDoc) -> Job {
        Job {
            id: JobId::stored(d.id),
            kind: d.kind,
            event_id: EventId::stored(d.event_id),
            status: d.status,
            total: d.total,
            done: d.done,
            skipped: d.skipped,
            failed: d.failed,
            reason: d.reason,
            ignore_stock: d.ignore_stock,
            error: d.error,
            created_by: UserId::stored(d.created_by),
            created_at: d.created_at.to_chrono(),
            updated_at: BsonDateTime::from_millis(d.updated_at_ms).to_chrono(),
        }
    }
}

/// A job this instance holds the lease of, with what is left to do.
pub struct LeasedJob {
    pub job: Job,
    pub user_ids: Vec<UserId>,
    pub cursor: usize,
    pub owner: String,
}

impl Store {
    fn jobs(&self) -> mongodb::Collection<JobDoc> {
        self.db.collection(COLLECTION)
    }

    pub async fn insert_job(&self, job: &Job, users: &[UserId]) -> StoreResult<()> {
        let d = JobDoc {
            id: job.id.to_string(),
            kind: job.kind,
            event_id: job.event_id.to_string(),
            status: job.status,
            total: job.total,
            done: 0,
            skipped: 0,
            failed: 0,
            reason: job.reason.clone(),
            ignore_stock: job.ignore_stock,
            error: None,
            created_by: job.created_by.to_string(),
            created_at: to_bson_dt(job.created_at),
            updated_at_ms: job.updated_at.timestamp_millis(),
            user_ids: users.iter().map(|u| u.to_string()).collect(),
            cursor: 0,
            lease_until: 0,
            lease_owner: None,
        };
        self.jobs().insert_one(d).await?;
        Ok(())
    }

    /// The job without its user list.
    pub async fn get_job(&self, id: &JobId) -> StoreResult<Option<Job>> {
        Ok(self
            .jobs()
            .find_one(doc! {"_id": id.as_str()})
            .projection(doc! {"userIds": 0})
            .await?
            .map(Job::from))
    }

    /// Takes the lease of one QUEUED job, or of a RUNNING one whose runner stopped renewing.
    pub async fn lease_job(&self, lease_ms: i64) -> StoreResult<Option<LeasedJob>> {
        let now = now_ms();
        let owner = crate::domain::new_id();
        let d = self
            .jobs()
            .find_one_and_update(
                doc! {"status": {"$in": ["QUEUED", "RUNNING"]}, "leaseUntil": {"$lt": now}},
                doc! {"$set": {"status": "RUNNING", "leaseUntil": now + lease_ms,
                "leaseOwner": &owner, "updatedAtMs": now}},
            )
            .return_document(ReturnDocument::After)
            .await?;
        Ok(d.map(|d| LeasedJob {
            user_ids: d.user_ids.iter().cloned().map(UserId::stored).collect(),
            cursor: d.cursor.max(0) as usize,
            owner,
            job: Job::from(d),
        }))
    }

    /// Counts one slice as done and moves the cursor, renewing the lease; false when the lease
    /// was lost (another runner owns the job now and redoes the slice, which writes nothing
    /// twice).
    pub async fn save_job_progress(
        &self,
        leased: &LeasedJob,
        from: usize,
        to: usize,
        p: Progress,
        lease_ms: i64,
    ) -> StoreResult<bool> {
        let now = now_ms();
        let r = self
            .db
            .collection::<Document>(COLLECTION)
            .update_one(
                doc! {"_id": leased.job.id.as_str(), "leaseOwner": &leased.owner,
                "cursor": from as i64},
                doc! {"$set": {"cursor": to as i64, "leaseUntil": now + lease_ms,
                "updatedAtMs": now},
                "$inc": {"done": p.done, "skipped": p.skipped, "failed": p.failed}},
            )
            .await?;
        Ok(r.modified_count == 1)
    }

    /// Ends the job DONE or FAILED (with why).
    pub async fn finish_job(
        &self,
        leased: &LeasedJob,
        status: JobStatus,
        error: Option<&str>,
    ) -> StoreResult<()> {
        let status = mongodb::bson::to_bson(&status).map_err(|e| StoreError::Other(e.into()))?;
        let mut set = doc! {"status": status, "updatedAtMs": now_ms()};
        if let Some(e) = error {
            set.insert("error", e);
        }
        self.db
            .collection::<Document>(COLLECTION)
            .update_one(
                doc! {"_id": leased.job.id.as_str(), "leaseOwner": &leased.owner},
                doc! {"$set": set},
            )
            .await?;
        Ok(())
    }

    /// Hands the lease back after a failure so the job is retried soon.
    pub async fn release_job(&self, leased: &LeasedJob, retry_in_ms: i64) -> StoreResult<()> {
        self.db
            .collection::<Document>(COLLECTION)
            .update_one(
                doc! {"_id": leased.job.id.as_str(), "leaseOwner": &leased.owner},
                doc! {"$set": {"leaseUntil": now_ms() + retry_in_ms}},
            )
            .await?;
        Ok(())
    }
}
