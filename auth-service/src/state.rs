//! Application state: the adapters (stores, cache, key ring, metrics) and the settings the
//! services need. Built once at start-up; every worker shares it.

use crate::cache::{LoginThrottle, Redis};
use crate::client_ip::ClientIpPolicy;
use crate::configuration::Settings;
use crate::error::AppError;
use crate::keys::KeyRing;
use crate::metrics::Metrics;
use crate::store::{AuditStore, OutboxStore, SessionStore, UserStore};
use mongodb::Database;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use tokio::sync::Notify;

/// What goes into an access token besides the user's identity.
#[derive(Clone, Debug)]
pub struct TokenPolicy {
    pub issuer: String,
    pub audience: String,
    pub access_ttl_seconds: i64,
    pub refresh_ttl_seconds: i64,
}

pub struct AppState {
    pub db: Database,
    pub users: UserStore,
    pub sessions: SessionStore,
    pub outbox: OutboxStore,
    pub audit: AuditStore,
    pub redis: Redis,
    pub throttle: LoginThrottle,
    pub keys: RwLock<Option<Arc<KeyRing>>>,
    pub metrics: Arc<Metrics>,
    pub outbox_wake: Arc<Notify>,
    pub amqp_connected: Arc<AtomicBool>,
    /// Set once indexes, keys and the bootstrap admin are in place.
    pub initialized: AtomicBool,
    pub tokens: TokenPolicy,
    pub bcrypt_cost: u32,
    pub client_ip: ClientIpPolicy,
    /// SHA-256 of `INTERNAL_TOKEN`, if configured (compared digest to digest).
    pub internal_token_digest: Option<[u8; 32]>,
    /// A hash to verify against when the email is unknown (see `service::accounts`).
    pub(crate) dummy_hash: OnceLock<String>,
}

impl AppState {
    pub fn new(settings: &Settings, db: Database, redis: Redis, metrics: Arc<Metrics>) -> Self {
        let throttle = LoginThrottle::new(redis.clone(), &settings.throttle);
        AppState {
            users: UserStore::new(&db),
            sessions: SessionStore::new(&db),
            outbox: OutboxStore::new(&db, crate::store::OUTBOX_COLLECTIONS),
            audit: AuditStore::new(&db),
            db,
            redis,
            throttle,
            keys: RwLock::new(None),
            metrics,
            outbox_wake: Arc::new(Notify::new()),
            amqp_connected: Arc::new(AtomicBool::new(false)),
            initialized: AtomicBool::new(false),
            tokens: TokenPolicy {
                issuer: settings.jwt.issuer.clone(),
                audience: settings.jwt.audience.clone(),
                access_ttl_seconds: settings.jwt.access_ttl_seconds as i64,
                refresh_ttl_seconds: settings.jwt.refresh_ttl_seconds as i64,
            },
            bcrypt_cost: settings.passwords.bcrypt_cost,
            client_ip: ClientIpPolicy::new(&settings.proxies),
            internal_token_digest: settings
                .internal
                .token
                .as_ref()
                .map(|t| Sha256::digest(t.expose_secret().as_bytes()).into()),
            dummy_hash: OnceLock::new(),
        }
    }

    pub fn key_ring(&self) -> Result<Arc<KeyRing>, AppError> {
        self.keys
            .read()
            .unwrap()
            .clone()
            .ok_or_else(|| AppError::Unavailable("signing keys (mongodb)".into()))
    }

    pub fn set_key_ring(&self, ring: KeyRing) {
        *self.keys.write().unwrap() = Some(Arc::new(ring));
    }

    /// Whether `presented` is the configured internal token (constant time).
    pub fn is_internal_token(&self, presented: &str) -> bool {
        let Some(expected) = &self.internal_token_digest else {
            return false;
        };
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        aws_lc_rs::constant_time::verify_slices_are_equal(&digest, expected).is_ok()
    }

    pub fn is_ready_flag(&self) -> bool {
        self.initialized.load(Ordering::SeqCst)
    }
}
