//! The outbox without a second write: a domain event is stored *inside* the document whose
//! change it announces (`pendingEvents`, written by the same insert or versioned replace), so a
//! crash can never keep the change and lose the event. The relay finds documents with
//! `pending > 0`, publishes their events, and removes the confirmed ones with a versioned
//! replace, which retries against concurrent business writes instead of overwriting them.

use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};
use mongodb::{Collection, Database};
use serde::{Deserialize, Serialize};

/// A domain event waiting inside its document until RabbitMQ confirms it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingEvent {
    /// The message id (UUID v7).
    pub id: String,
    pub routing_key: String,
    /// The JSON body exactly as it will be published.
    pub payload: String,
}

/// The fields every document that can carry events has (flattened into it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pending {
    #[serde(default)]
    pub pending_events: Vec<PendingEvent>,
    /// Audit records of the change (JSON, see `AuditDoc::to_json`), written with it like the
    /// events; the request also appends them at once, the relay only repairs after a crash.
    #[serde(default)]
    pub pending_audit: Vec<String>,
    /// Events plus audit records still here: a plain number the relay can query on
    /// (array-index paths are not portable to the development server).
    #[serde(default)]
    pub pending: i64,
    /// Lease (unix ms) so that several instances do not publish the same document at once.
    #[serde(default)]
    pub pending_locked_until: i64,
}

impl Pending {
    pub fn with(events: Vec<PendingEvent>) -> Self {
        let mut p = Pending::default();
        p.push(events);
        p
    }

    pub fn push(&mut self, events: impl IntoIterator<Item = PendingEvent>) {
        self.pending_events.extend(events);
        self.recount();
    }

    pub fn push_audit(&mut self, record_json: String) {
        self.pending_audit.push(record_json);
        self.recount();
    }

    fn recount(&mut self) {
        self.pending = (self.pending_events.len() + self.pending_audit.len()) as i64;
    }
}

/// Documents (in any of the collections) with events still to publish.
#[derive(Debug, Clone)]
pub struct PendingDoc {
    pub collection: &'static str,
    pub id: String,
    pub locked_until: i64,
    pub events: Vec<PendingEvent>,
    pub audit: Vec<String>,
}

#[derive(Clone)]
pub struct OutboxStore {
    sources: Vec<(&'static str, Collection<Document>)>,
}

impl OutboxStore {
    /// `collections`: every collection whose documents may carry `pendingEvents`.
    pub fn new(db: &Database, collections: &[&'static str]) -> Self {
        Self {
            sources: collections
                .iter()
                .map(|c| (*c, db.collection::<Document>(c)))
                .collect(),
        }
    }

    fn col(&self, name: &str) -> &Collection<Document> {
        &self
            .sources
            .iter()
            .find(|(n, _)| *n == name)
            .expect("known outbox collection")
            .1
    }

    pub async fn due(&self, now_ms: i64, limit: i64) -> anyhow::Result<Vec<PendingDoc>> {
        let mut out = Vec::new();
        for (name, col) in &self.sources {
            let docs: Vec<Document> = col
                .find(doc! {"pending": {"$gt": 0_i64}, "pendingLockedUntil": {"$lt": now_ms}})
                .limit(limit)
                .await?
                .try_collect()
                .await?;
            for d in docs {
                let pending: Pending = bson::from_document(d.clone())?;
                out.push(PendingDoc {
                    collection: name,
                    id: d.get_str("_id")?.to_string(),
                    locked_until: pending.pending_locked_until,
                    events: pending.pending_events,
                    audit: pending.pending_audit,
                });
            }
        }
        Ok(out)
    }

    /// Takes the lease on one document; `false` when another instance took it first.
    pub async fn lease(&self, d: &PendingDoc, until_ms: i64) -> mongodb::error::Result<bool> {
        let r = self
            .col(d.collection)
            .update_one(
                doc! {"_id": &d.id, "pendingLockedUntil": d.locked_until},
                doc! {"$set": {"pendingLockedUntil": until_ms}},
            )
            .await?;
        Ok(r.modified_count == 1)
    }

    pub async fn release(&self, d: &PendingDoc) -> mongodb::error::Result<()> {
        self.col(d.collection)
            .update_one(
                doc! {"_id": &d.id},
                doc! {"$set": {"pendingLockedUntil": 0_i64}},
            )
            .await
            .map(|_| ())
    }

    /// Removes the confirmed events and the stored audit records from the document,
    /// re-reading on a concurrent change.
    pub async fn remove(
        &self,
        d: &PendingDoc,
        confirmed: &[String],
        audit_done: &[String],
    ) -> anyhow::Result<()> {
        if confirmed.is_empty() && audit_done.is_empty() {
            return Ok(());
        }
        let col = self.col(d.collection);
        for _ in 0..10 {
            let Some(mut current) = col.find_one(doc! {"_id": &d.id}).await? else {
                return Ok(());
            };
            let version = current.get("version").cloned().unwrap_or(Bson::Int64(1));
            let pending: Pending = bson::from_document(current.clone())?;
            let left: Vec<PendingEvent> = pending
                .pending_events
                .into_iter()
                .filter(|e| !confirmed.contains(&e.id))
                .collect();
            let audit_left: Vec<String> = pending
                .pending_audit
                .into_iter()
                .filter(|a| !audit_done.contains(a))
                .collect();
            let next_version = match version {
                Bson::Int32(v) => Bson::Int64(v as i64 + 1),
                Bson::Int64(v) => Bson::Int64(v + 1),
                other => anyhow::bail!("{}: version is {other:?}", d.collection),
            };
            current.insert("pending", (left.len() + audit_left.len()) as i64);
            current.insert("pendingEvents", bson::to_bson(&left)?);
            current.insert("pendingAudit", bson::to_bson(&audit_left)?);
            current.insert("pendingLockedUntil", 0_i64);
            current.insert("version", next_version);
            let r = col
                .replace_one(doc! {"_id": &d.id, "version": version}, current)
                .await?;
            if r.matched_count == 1 {
                return Ok(());
            }
        }
        anyhow::bail!(
            "{} {}: too much contention removing events",
            d.collection,
            d.id
        )
    }
}
