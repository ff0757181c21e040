use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Utc};
use mongodb::bson::doc;
use mongodb::{Collection, Database};
use serde::{Deserialize, Serialize};

/// The development key lives in collection `signing_keys`, document `_id: "dev-ed25519"`.
const DEV_KEY_ID: &str = "dev-ed25519";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SigningKeyDoc {
    #[serde(rename = "_id")]
    id: String,
    /// PKCS#8 DER, base64.
    pkcs8: String,
    #[serde(with = "bson::serde_helpers::chrono_datetime_as_bson_datetime")]
    created_at: DateTime<Utc>,
}

#[derive(Clone)]
pub struct SigningKeyStore {
    col: Collection<SigningKeyDoc>,
}

impl SigningKeyStore {
    pub fn new(db: &Database) -> Self {
        Self {
            col: db.collection("signing_keys"),
        }
    }

    /// Every instance races to insert its freshly generated key under one fixed id; the unique
    /// `_id` lets exactly one win and everyone then reads the winner.
    pub async fn dev_key(&self) -> anyhow::Result<Vec<u8>> {
        if let Some(existing) = self.col.find_one(doc! {"_id": DEV_KEY_ID}).await? {
            return Ok(STANDARD.decode(existing.pkcs8)?);
        }
        let fresh = SigningKeyDoc {
            id: DEV_KEY_ID.into(),
            pkcs8: STANDARD.encode(crate::keys::generate_pkcs8()?),
            created_at: Utc::now(),
        };
        match self.col.insert_one(&fresh).await {
            Ok(_) => Ok(STANDARD.decode(fresh.pkcs8)?),
            Err(e) if super::is_duplicate_key(&e) => {
                let winner = self
                    .col
                    .find_one(doc! {"_id": DEV_KEY_ID})
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("dev key vanished"))?;
                Ok(STANDARD.decode(winner.pkcs8)?)
            }
            Err(e) => Err(e.into()),
        }
    }
}
