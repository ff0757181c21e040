//! MongoDB repositories. Every document has a string `_id` (UUID v7 or a hash), updates are
//! whole-document replaces guarded by `version`, uniqueness is a unique index plus insert.

mod audit;
mod outbox;
mod sessions;
mod signing_keys;
mod users;

pub use audit::{AuditDoc, AuditStore};
pub use outbox::{OutboxStore, Pending, PendingDoc, PendingEvent};
pub use sessions::{
    RefreshTokenDoc, RevocationDoc, SessionDoc, SessionStatus, SessionStore, TokenStatus,
};
pub use signing_keys::SigningKeyStore;
pub use users::{UserDoc, UserStore};

/// Every collection whose documents may carry `pendingEvents` for the relay.
pub const OUTBOX_COLLECTIONS: &[&str] =
    &[users::COLLECTION, sessions::SESSIONS, sessions::REVOCATIONS];

use mongodb::bson::doc;
use mongodb::options::{ClientOptions, IndexOptions};
use mongodb::{Client, Database, IndexModel};
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;

pub fn is_duplicate_key(e: &mongodb::error::Error) -> bool {
    use mongodb::error::{ErrorKind, WriteFailure};
    match &*e.kind {
        ErrorKind::Write(WriteFailure::WriteError(we)) => we.code == 11000,
        ErrorKind::Command(ce) => ce.code == 11000,
        ErrorKind::InsertMany(im) => im
            .write_errors
            .as_ref()
            .is_some_and(|ws| ws.iter().any(|w| w.code == 11000)),
        _ => e.to_string().contains("E11000"),
    }
}

/// Builds a client without touching the network, so the service starts while MongoDB is down;
/// short selection timeouts turn an outage into a quick 503 instead of a 30 s hang.
pub async fn connect(uri: &SecretString, database: &str) -> anyhow::Result<Database> {
    let mut opts = ClientOptions::parse(uri.expose_secret()).await?;
    opts.server_selection_timeout
        .get_or_insert(Duration::from_secs(3));
    opts.connect_timeout.get_or_insert(Duration::from_secs(3));
    opts.app_name = Some("auth-service".into());
    let client = Client::with_options(opts)?;
    Ok(client.database(database))
}

pub async fn ping(db: &Database) -> bool {
    tokio::time::timeout(Duration::from_secs(2), db.run_command(doc! { "ping": 1 }))
        .await
        .is_ok_and(|r| r.is_ok())
}

pub async fn ensure_indexes(db: &Database) -> anyhow::Result<()> {
    let unique = || IndexOptions::builder().unique(true).build();
    let users = db.collection::<UserDoc>(users::COLLECTION);
    users
        .create_index(
            IndexModel::builder()
                .keys(doc! {"email": 1})
                .options(unique())
                .build(),
        )
        .await?;
    users
        .create_index(
            IndexModel::builder()
                .keys(doc! {"inviteCode": 1})
                .options(unique())
                .build(),
        )
        .await?;
    users
        .create_index(IndexModel::builder().keys(doc! {"roles": 1}).build())
        .await?;
    let sessions = db.collection::<SessionDoc>(sessions::SESSIONS);
    sessions
        .create_index(IndexModel::builder().keys(doc! {"userId": 1}).build())
        .await?;
    let ttl = |secs: u64| {
        IndexOptions::builder()
            .expire_after(Duration::from_secs(secs))
            .build()
    };
    let tokens = db.collection::<RefreshTokenDoc>(sessions::REFRESH_TOKENS);
    tokens
        .create_index(IndexModel::builder().keys(doc! {"familyId": 1}).build())
        .await?;
    tokens
        .create_index(
            IndexModel::builder()
                .keys(doc! {"expiresAt": 1})
                .options(ttl(0))
                .build(),
        )
        .await?;
    let revocations = db.collection::<RevocationDoc>(sessions::REVOCATIONS);
    // Kept a day past expiry: harmless, and helps an investigation.
    revocations
        .create_index(
            IndexModel::builder()
                .keys(doc! {"expiresAt": 1})
                .options(ttl(24 * 3600))
                .build(),
        )
        .await?;
    for name in OUTBOX_COLLECTIONS {
        db.collection::<mongodb::bson::Document>(name)
            .create_index(IndexModel::builder().keys(doc! {"pending": 1}).build())
            .await?;
    }
    let audit = db.collection::<AuditDoc>(audit::COLLECTION);
    for keys in [
        doc! {"entity.type": 1, "entity.id": 1},
        doc! {"actor.id": 1},
        doc! {"at": -1},
    ] {
        audit
            .create_index(IndexModel::builder().keys(keys).build())
            .await?;
    }
    Ok(())
}
