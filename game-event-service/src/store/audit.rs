//! The append-only audit collection: inserts only, keyed by the record id, so a record that
//! arrives twice (a redelivered `audit.recorded`) is stored once.
use super::{is_duplicate_key, newest_first_window, to_bson_dt, Store, StoreResult};
use crate::domain::audit::{Actor, AuditRecord, Entity, EntityType};
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, DateTime as BsonDateTime, Document};
use serde::{Deserialize, Serialize};

pub const COLLECTION: &str = "audit";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuditDoc {
    #[serde(rename = "_id")]
    id: String,
    at: BsonDateTime,
    actor_id: String,
    actor_roles: Vec<String>,
    action: String,
    entity_type: EntityType,
    entity_id: String,
    #[serde(default)]
    before: Option<Bson>,
    #[serde(default)]
    after: Option<Bson>,
    #[serde(default)]
    request_id: Option<String>,
}

fn to_bson(v: &Option<serde_json::Value>) -> Option<Bson> {
    v.as_ref().and_then(|v| mongodb::bson::to_bson(v).ok())
}

impl From<AuditDoc> for AuditRecord {
    fn from(d: AuditDoc) -> Self {
        AuditRecord {
            id: d.id,
            at: d.at.to_chrono(),
            actor: Actor {
                id: d.actor_id,
                roles: d.actor_roles,
            },
            action: d.action,
            entity: Entity {
                kind: d.entity_type,
                id: d.entity_id,
            },
            before: d.before.map(Bson::into_relaxed_extjson),
            after: d.after.map(Bson::into_relaxed_extjson),
            request_id: d.request_id,
        }
    }
}

/// `GET /audit` filters, combined with AND; `from` inclusive, `to` exclusive.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub entity_type: Option<EntityType>,
    pub entity_id: Option<String>,
    pub actor_id: Option<String>,
    pub action: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl Store {
    fn audit(&self) -> mongodb::Collection<AuditDoc> {
        self.db.collection(COLLECTION)
    }

    /// Appends the record; false when a record with this id was already there.
    pub async fn append_audit(&self, r: &AuditRecord) -> StoreResult<bool> {
        let d = AuditDoc {
            id: r.id.clone(),
            at: to_bson_dt(r.at),
            actor_id: r.actor.id.clone(),
            actor_roles: r.actor.roles.clone(),
            action: r.action.clone(),
            entity_type: r.entity.kind,
            entity_id: r.entity.id.clone(),
            before: to_bson(&r.before),
            after: to_bson(&r.after),
            request_id: r.request_id.clone(),
        };
        match self.audit().insert_one(d).await {
            Ok(_) => Ok(true),
            Err(e) if is_duplicate_key(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Newest first (ids are UUID v7 in both services).
    pub async fn list_audit(
        &self,
        f: &AuditFilter,
        after_id: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<AuditRecord>> {
        let mut q = Document::new();
        if let Some(t) = f.entity_type {
            q.insert("entityType", t.as_str());
        }
        if let Some(v) = &f.entity_id {
            q.insert("entityId", v.as_str());
        }
        if let Some(v) = &f.actor_id {
            q.insert("actorId", v.as_str());
        }
        if let Some(v) = &f.action {
            q.insert("action", v.as_str());
        }
        newest_first_window(&mut q, "at", f.from, f.to, after_id);
        let docs: Vec<AuditDoc> = self
            .audit()
            .find(q)
            .sort(doc! {"_id": -1})
            .limit(limit)
            .await?
            .try_collect()
            .await?;
        Ok(docs.into_iter().map(AuditRecord::from).collect())
    }
}
