//! MongoDB repositories. Every invariant is held by a unique `_id` (never by check-then-insert),
//! updates are whole-document replaces with a version/status filter, counters use `$inc`.
pub mod activities;
pub mod activity_totals;
pub mod audit;
pub mod claims;
pub mod decision_feed;
pub mod decisions;
pub mod events;
pub mod forecast;
pub mod grant_outbox;
pub mod jobs;
pub mod migrations;
pub mod outbox;
pub mod revocations;
pub mod segments;
pub mod stats;
pub mod stock;
pub mod users;

use mongodb::bson::{doc, Document};
use mongodb::options::{ClientOptions, IndexOptions};
use mongodb::{Client, Database, IndexModel};
use secrecy::ExposeSecret;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Mongo(#[from] mongodb::error::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl StoreError {
    /// The same failure for another waiter (one store call answering many callers); a
    /// MongoDB error stays one, so it still maps to 503.
    pub fn copy(&self) -> StoreError {
        match self {
            StoreError::Mongo(m) => StoreError::Mongo(m.clone()),
            StoreError::Other(o) => StoreError::Other(anyhow::anyhow!("{o:#}")),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

pub fn is_duplicate_key(e: &mongodb::error::Error) -> bool {
    use mongodb::error::{ErrorKind, WriteFailure};
    match &*e.kind {
        ErrorKind::Write(WriteFailure::WriteError(we)) => we.code == 11000,
        ErrorKind::InsertMany(im) => im
            .write_errors
            .as_ref()
            .map(|errs| errs.iter().any(|w| w.code == 11000))
            .unwrap_or(false),
        ErrorKind::Command(c) => c.code == 11000,
        _ => false,
    }
}

/// Indices of the documents an unordered insert_many refused as duplicates; any other failure
/// is an error.
pub fn duplicate_indices(res: Result<(), mongodb::error::Error>) -> StoreResult<Vec<usize>> {
    use mongodb::error::ErrorKind;
    let Err(e) = res else {
        return Ok(Vec::new());
    };
    if let ErrorKind::InsertMany(im) = &*e.kind {
        if im.write_concern_error.is_none() {
            if let Some(errs) = &im.write_errors {
                if errs.iter().all(|w| w.code == 11000) {
                    return Ok(errs.iter().map(|w| w.index).collect());
                }
            }
        }
    }
    Err(e.into())
}

/// The filters every newest-first listing shares: `field` in `[from, to)`, and keyset paging
/// below the previous page's last `_id` (UUID v7 ids sort by time).
pub fn newest_first_window(
    q: &mut mongodb::bson::Document,
    field: &str,
    from: Option<chrono::DateTime<chrono::Utc>>,
    to: Option<chrono::DateTime<chrono::Utc>>,
    after_id: Option<&str>,
) {
    let mut range = mongodb::bson::Document::new();
    if let Some(t) = from {
        range.insert("$gte", to_bson_dt(t));
    }
    if let Some(t) = to {
        range.insert("$lt", to_bson_dt(t));
    }
    if !range.is_empty() {
        q.insert(field, range);
    }
    if let Some(a) = after_id {
        q.insert("_id", mongodb::bson::doc! {"$lt": a});
    }
}

pub fn to_bson_dt(t: chrono::DateTime<chrono::Utc>) -> mongodb::bson::DateTime {
    mongodb::bson::DateTime::from_chrono(t)
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[derive(Clone)]
pub struct Store {
    pub db: Database,
    /// Set once `ensure_indexes` succeeded: the unique `openKey` index is a rule, not only
    /// speed, so claims are accepted only after it exists.
    indexes_ready: Arc<AtomicBool>,
    /// Commands sent to MongoDB (each one round trip): how the engine's cost per claim is
    /// measured (`mongodb_commands_total` on `/metrics`).
    commands: Arc<AtomicU64>,
}

impl Store {
    /// Builds the client without connecting, so the service starts while MongoDB is down.
    pub async fn new(
        uri: &secrecy::SecretString,
        database: &str,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        let mut opts = ClientOptions::parse(uri.expose_secret()).await?;
        opts.server_selection_timeout = Some(timeout);
        opts.connect_timeout = Some(timeout);
        opts.app_name = Some("game-event-service".into());
        let commands = Arc::new(AtomicU64::new(0));
        let counter = commands.clone();
        opts.command_event_handler = Some(mongodb::event::EventHandler::callback(
            move |ev: mongodb::event::command::CommandEvent| {
                if let mongodb::event::command::CommandEvent::Started(s) = ev {
                    // Handshakes and heartbeats are not the engine's work.
                    if !matches!(s.command_name.as_str(), "hello" | "isMaster" | "ping") {
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                }
            },
        ));
        let client = Client::with_options(opts)?;
        Ok(Store {
            db: client.database(database),
            indexes_ready: Arc::default(),
            commands,
        })
    }

    /// Many single-document updates or replacements in one round trip (an `update` command
    /// with one statement each); returns how many documents matched.
    pub async fn update_each(
        &self,
        collection: &str,
        statements: Vec<(Document, Document)>,
    ) -> StoreResult<u64> {
        if statements.is_empty() {
            return Ok(0);
        }
        let updates: Vec<Document> = statements
            .into_iter()
            .map(|(q, u)| doc! {"q": q, "u": u})
            .collect();
        let reply = self
            .db
            .run_command(doc! {"update": collection, "updates": updates, "ordered": false})
            .await?;
        if let Ok(errs) = reply.get_array("writeErrors") {
            if !errs.is_empty() {
                return Err(StoreError::Other(anyhow::anyhow!(
                    "update of {collection} failed: {errs:?}"
                )));
            }
        }
        Ok(match reply.get("n") {
            Some(mongodb::bson::Bson::Int32(n)) => *n as u64,
            Some(mongodb::bson::Bson::Int64(n)) => *n as u64,
            _ => 0,
        })
    }

    /// The claim ids (`_id`s of claims, or of unit holders) of `collection` matching `filter`.
    pub async fn claim_ids_where(
        &self,
        collection: &str,
        filter: Document,
    ) -> StoreResult<std::collections::HashSet<crate::domain::ClaimId>> {
        use futures_util::TryStreamExt;
        let docs: Vec<Document> = self
            .db
            .collection::<Document>(collection)
            .find(filter)
            .projection(doc! {"_id": 1})
            .await?
            .try_collect()
            .await?;
        Ok(docs
            .into_iter()
            .filter_map(|d| {
                let id = d.get_str("_id").ok()?;
                Some(crate::domain::ClaimId::stored(id.into()))
            })
            .collect())
    }

    /// Leases up to `limit` documents of `collection` that are `due` (a filter that includes
    /// `leaseUntil < now`) to one new owner until `now + lease_ms`, and returns them: one
    /// relay or sweeper at a time holds each.
    pub async fn lease_due(
        &self,
        collection: &str,
        due: Document,
        now: i64,
        lease_ms: i64,
        limit: i64,
    ) -> StoreResult<Vec<Document>> {
        use futures_util::TryStreamExt;
        let docs = self.db.collection::<Document>(collection);
        let found: Vec<Document> = docs
            .find(due.clone())
            .projection(doc! {"_id": 1})
            .limit(limit)
            .await?
            .try_collect()
            .await?;
        if found.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = found.iter().filter_map(|d| d.get_str("_id").ok()).collect();
        let owner = crate::domain::new_id();
        let mut these = due;
        these.insert("_id", doc! {"$in": &ids});
        docs.update_many(
            these,
            doc! {"$set": {"leaseUntil": now + lease_ms, "leaseOwner": &owner},
            "$inc": {"attempts": 1_i64}},
        )
        .await?;
        Ok(docs
            .find(doc! {"_id": {"$in": &ids}, "leaseOwner": &owner})
            .await?
            .try_collect()
            .await?)
    }

    pub async fn ping(&self) -> StoreResult<()> {
        self.db.run_command(doc! {"ping": 1}).await?;
        Ok(())
    }

    /// MongoDB commands this instance has sent so far.
    pub fn commands_sent(&self) -> u64 {
        self.commands.load(Ordering::Relaxed)
    }

    /// Creates the indexes unless this instance did already.
    pub async fn ensure_indexes_once(&self) -> StoreResult<()> {
        if self.indexes_ready.load(Ordering::Acquire) {
            return Ok(());
        }
        self.ensure_indexes().await
    }

    /// Every index the engine's queries use. Uniqueness lives on `_id`, except the one open
    /// claim per user and event (`claims.openKey`, unique and sparse: REJECTED claims drop the
    /// field); claims are accepted only once it exists (`ensure_indexes_once`).
    pub async fn ensure_indexes(&self) -> StoreResult<()> {
        let idx = |keys: mongodb::bson::Document| {
            IndexModel::builder()
                .keys(keys)
                .options(IndexOptions::builder().build())
                .build()
        };
        self.db
            .collection::<mongodb::bson::Document>(activities::COLLECTION)
            .create_indexes([idx(doc! {"userId": 1, "key": 1, "occurredMs": 1})])
            .await?;
        // Claims are decided on these, so the flag waits for it.
        self.backfill(&activities::OCCURRED_MS).await?;
        self.db
            .collection::<mongodb::bson::Document>(activity_totals::COLLECTION)
            .create_indexes([idx(doc! {"key": 1, "day": 1})])
            .await?;
        self.db
            .collection::<mongodb::bson::Document>(claims::COLLECTION)
            .create_indexes([
                // The stand-in cannot index `_id` inside a compound index; requestedAt follows
                // the UUID v7 order closely enough for these filters.
                idx(doc! {"userId": 1, "requestedAt": -1}),
                idx(doc! {"userId": 1, "decidedAt": 1}),
                idx(doc! {"eventId": 1, "requestedAt": -1}),
                idx(doc! {"status": 1, "requestedAt": 1}),
                idx(doc! {"eventId": 1, "period.startsAt": 1, "status": 1}),
                // Claims in flight, for the sweeper (few, so sparse).
                IndexModel::builder()
                    .keys(doc! {"pendingSince": 1})
                    .options(IndexOptions::builder().sparse(true).build())
                    .build(),
                // Revocations whose follow-up steps a crash interrupted (few, so sparse).
                IndexModel::builder()
                    .keys(doc! {"revokePending": 1})
                    .options(IndexOptions::builder().sparse(true).build())
                    .build(),
                IndexModel::builder()
                    .keys(doc! {"openKey": 1})
                    .options(IndexOptions::builder().unique(true).sparse(true).build())
                    .build(),
            ])
            .await?;
        self.once(claims::PENDING_SINCE, || self.mark_legacy_pending())
            .await?;
        self.db
            .collection::<mongodb::bson::Document>(events::COLLECTION)
            .create_indexes([idx(doc! {"state": 1, "status": 1, "startsAt": 1})])
            .await?;
        self.db
            .collection::<mongodb::bson::Document>(stock::SHARD_COLLECTION)
            .create_indexes([idx(doc! {"eventId": 1, "period": 1})])
            .await?;
        self.db
            .collection::<mongodb::bson::Document>(stock::RESERVATIONS)
            .create_indexes([idx(doc! {"eventId": 1})])
            .await?;
        self.db
            .collection::<mongodb::bson::Document>(outbox::OUTBOX)
            .create_indexes([idx(doc! {"status": 1, "leaseUntil": 1})])
            .await?;
        // Records leave once sent, so this index holds only the messages not yet confirmed.
        self.db
            .collection::<mongodb::bson::Document>(grant_outbox::COLLECTION)
            .create_indexes([idx(doc! {"leaseUntil": 1})])
            .await?;
        self.db
            .collection::<mongodb::bson::Document>(jobs::COLLECTION)
            .create_indexes([idx(doc! {"status": 1, "leaseUntil": 1})])
            .await?;
        self.db
            .collection::<mongodb::bson::Document>(segments::MEMBERS)
            .create_indexes([idx(doc! {"segmentId": 1, "userId": 1})])
            .await?;
        self.db
            .collection::<mongodb::bson::Document>(audit::COLLECTION)
            .create_indexes([
                idx(doc! {"entityType": 1, "entityId": 1}),
                idx(doc! {"actorId": 1}),
                idx(doc! {"action": 1}),
                idx(doc! {"at": -1}),
            ])
            .await?;
        self.indexes_ready.store(true, Ordering::Release);
        // Not a rule for claims (so after the flag): users recorded before forecasts read
        // them by shard get theirs.
        self.shard_legacy_users().await
    }
}
