use crate::domain::audit::{Actor, AuditFilter, AuditRecord, EntityType};
use crate::domain::Role;
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Document};
use mongodb::{Collection, Database};
use serde::{Deserialize, Serialize};

pub const COLLECTION: &str = "audit";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActorDoc {
    pub id: String,
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EntityDoc {
    #[serde(rename = "type")]
    pub type_: String,
    pub id: String,
}

/// One audit record. Only ever inserted: nothing in the service updates or deletes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditDoc {
    /// UUID v7: `_id` order is time order.
    #[serde(rename = "_id")]
    pub id: String,
    #[serde(with = "bson::serde_helpers::chrono_datetime_as_bson_datetime")]
    pub at: DateTime<Utc>,
    pub actor: ActorDoc,
    pub action: String,
    pub entity: EntityDoc,
    /// JSON text, so that whatever shape a snapshot has survives storage unchanged.
    pub before: Option<String>,
    pub after: Option<String>,
    pub request_id: Option<String>,
}

impl AuditDoc {
    pub fn from_record(r: &AuditRecord) -> Self {
        AuditDoc {
            id: r.id.clone(),
            at: r.at,
            actor: ActorDoc {
                id: r.actor.id.clone(),
                roles: r
                    .actor
                    .roles
                    .iter()
                    .map(|x| x.as_str().to_string())
                    .collect(),
            },
            action: r.action.clone(),
            entity: EntityDoc {
                type_: r.entity_type.as_str().to_string(),
                id: r.entity_id.clone(),
            },
            before: r.before.as_ref().map(|v| v.to_string()),
            after: r.after.as_ref().map(|v| v.to_string()),
            request_id: r.request_id.clone(),
        }
    }

    pub fn to_record(&self) -> AuditRecord {
        let json = |s: &Option<String>| s.as_deref().and_then(|t| serde_json::from_str(t).ok());
        AuditRecord {
            id: self.id.clone(),
            at: self.at,
            actor: Actor {
                id: self.actor.id.clone(),
                roles: self
                    .actor
                    .roles
                    .iter()
                    .filter_map(|r| Role::parse(r))
                    .collect(),
            },
            action: self.action.clone(),
            entity_type: EntityType::parse(&self.entity.type_).unwrap_or(EntityType::User),
            entity_id: self.entity.id.clone(),
            before: json(&self.before),
            after: json(&self.after),
            request_id: self.request_id.clone(),
        }
    }
}

/// The portable form of a record while it waits inside the document it audits.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuditJson {
    id: String,
    at_ms: i64,
    actor: ActorDoc,
    action: String,
    entity: EntityDoc,
    before: Option<String>,
    after: Option<String>,
    request_id: Option<String>,
}

impl AuditDoc {
    pub fn to_json(&self) -> String {
        serde_json::to_string(&AuditJson {
            id: self.id.clone(),
            at_ms: self.at.timestamp_millis(),
            actor: self.actor.clone(),
            action: self.action.clone(),
            entity: self.entity.clone(),
            before: self.before.clone(),
            after: self.after.clone(),
            request_id: self.request_id.clone(),
        })
        .expect("plain strings serialize")
    }

    pub fn from_json(json: &str) -> anyhow::Result<Self> {
        let j: AuditJson = serde_json::from_str(json)?;
        Ok(AuditDoc {
            id: j.id,
            at: DateTime::<Utc>::from_timestamp_millis(j.at_ms)
                .ok_or_else(|| anyhow::anyhow!("audit time out of range"))?,
            actor: j.actor,
            action: j.action,
            entity: j.entity,
            before: j.before,
            after: j.after,
            request_id: j.request_id,
        })
    }
}

#[derive(Clone)]
pub struct AuditStore {
    col: Collection<AuditDoc>,
}

impl AuditStore {
    pub fn new(db: &Database) -> Self {
        Self {
            col: db.collection(COLLECTION),
        }
    }

    /// Idempotent: inserting the same record id twice keeps the first.
    pub async fn insert(&self, d: &AuditDoc) -> mongodb::error::Result<()> {
        match self.col.insert_one(d).await {
            Ok(_) => Ok(()),
            Err(e) if super::is_duplicate_key(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Newest first, strictly before the record `before_id`.
    pub async fn list(
        &self,
        f: &AuditFilter,
        before_id: Option<&str>,
        limit: i64,
    ) -> mongodb::error::Result<Vec<AuditDoc>> {
        let mut filter = Document::new();
        if let Some(t) = f.entity_type {
            filter.insert("entity.type", t.as_str());
        }
        if let Some(id) = &f.entity_id {
            filter.insert("entity.id", id.as_str());
        }
        if let Some(id) = &f.actor_id {
            filter.insert("actor.id", id.as_str());
        }
        if let Some(a) = &f.action {
            filter.insert("action", a.as_str());
        }
        let mut at = Document::new();
        if let Some(from) = f.from {
            at.insert("$gte", bson::DateTime::from_chrono(from));
        }
        if let Some(to) = f.to {
            at.insert("$lt", bson::DateTime::from_chrono(to));
        }
        if !at.is_empty() {
            filter.insert("at", at);
        }
        if let Some(id) = before_id {
            filter.insert("_id", doc! {"$lt": id});
        }
        self.col
            .find(filter)
            .sort(doc! {"_id": -1})
            .limit(limit)
            .await?
            .try_collect()
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pending_record_survives_its_json_form() {
        let record = AuditRecord {
            id: "0190a000-0000-7000-8000-000000000001".into(),
            at: DateTime::<Utc>::from_timestamp_millis(1_764_700_000_123).unwrap(),
            actor: Actor {
                id: "admin".into(),
                roles: vec![Role::User, Role::Admin],
            },
            action: "user.roles_changed".into(),
            entity_type: EntityType::User,
            entity_id: "u1".into(),
            before: Some(serde_json::json!({"roles": ["USER"]})),
            after: Some(serde_json::json!({"roles": ["USER", "AUDITOR"]})),
            request_id: None,
        };
        let json = AuditDoc::from_record(&record).to_json();
        assert_eq!(AuditDoc::from_json(&json).unwrap().to_record(), record);
        assert!(AuditDoc::from_json("{}").is_err());
    }
}
