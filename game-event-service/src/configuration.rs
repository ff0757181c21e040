//! Typed configuration read from environment variables (see README for the full list).
use secrecy::SecretString;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Settings {
    pub app_host: String,
    pub app_port: u16,
    pub log_level: String,
    pub mongodb_uri: SecretString,
    pub mongodb_database: String,
    pub mongodb_timeout_ms: u64,
    pub redis_url: SecretString,
    pub redis_key_prefix: String,
    pub amqp_url: SecretString,
    pub auth_service_url: String,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub jwks_min_refetch_seconds: u64,
    pub revocation_sync_seconds: u64,
    pub auth_events_exchange: String,
    pub auth_events_queue: String,
    pub activity_queue: String,
    pub claims_queue: String,
    pub rewards_exchange: String,
    pub catalog_exchange: String,
    /// Consumers of the claims queue run only when enabled (lets an instance serve HTTP only).
    pub claim_worker_enabled: bool,
    pub claim_worker_prefetch: u16,
    pub claim_worker_concurrency: usize,
    pub claim_max_deliveries: u32,
    pub pending_claim_redelivery_seconds: u64,
    /// How long one worker owns a claim's evaluation before another may take over.
    pub claim_lease_seconds: u64,
    pub outbox_lease_seconds: u64,
    pub catalog_cache_ttl_ms: u64,
    pub shutdown_timeout_seconds: u64,
    pub body_limit_bytes: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            app_host: "127.0.0.1".into(),
            app_port: 3002,
            log_level: "info".into(),
            mongodb_uri: SecretString::from("mongodb://127.0.0.1:27017"),
            mongodb_database: "game_event_service".into(),
            mongodb_timeout_ms: 3000,
            redis_url: SecretString::from("redis://127.0.0.1:6379"),
            redis_key_prefix: "game:".into(),
            amqp_url: SecretString::from("amqp://guest:guest@127.0.0.1:5672/%2f"),
            auth_service_url: "http://127.0.0.1:3001".into(),
            jwt_issuer: "liveops-auth".into(),
            jwt_audience: "liveops".into(),
            jwks_min_refetch_seconds: 10,
            revocation_sync_seconds: 30,
            auth_events_exchange: "auth.events".into(),
            auth_events_queue: "game-event.auth-events".into(),
            activity_queue: "game.activity".into(),
            claims_queue: "game-event.claims".into(),
            rewards_exchange: "rewards".into(),
            catalog_exchange: "game-event.catalog".into(),
            claim_worker_enabled: true,
            claim_worker_prefetch: 32,
            claim_worker_concurrency: 16,
            claim_max_deliveries: 5,
            pending_claim_redelivery_seconds: 30,
            claim_lease_seconds: 30,
            outbox_lease_seconds: 10,
            catalog_cache_ttl_ms: 1000,
            shutdown_timeout_seconds: 20,
            body_limit_bytes: 256 * 1024,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("invalid environment variable {name}: {message}")]
pub struct ConfigError {
    pub name: &'static str,
    pub message: String,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn parse<T: std::str::FromStr>(name: &'static str, default: T) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match var(name) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|e: T::Err| ConfigError {
            name,
            message: e.to_string(),
        }),
    }
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let d = Settings::default();
        let s = |name: &str, default: String| var(name).unwrap_or(default);
        let secret = |name: &str, default: &SecretString| {
            var(name)
                .map(SecretString::from)
                .unwrap_or_else(|| default.clone())
        };
        let settings = Settings {
            app_host: s("APP_HOST", d.app_host.clone()),
            app_port: parse("APP_PORT", d.app_port)?,
            log_level: s("LOG_LEVEL", d.log_level.clone()),
            mongodb_uri: secret("MONGODB_URI", &d.mongodb_uri),
            mongodb_database: s("MONGODB_DATABASE", d.mongodb_database.clone()),
            mongodb_timeout_ms: parse("MONGODB_TIMEOUT_MS", d.mongodb_timeout_ms)?,
            redis_url: secret("REDIS_URL", &d.redis_url),
            redis_key_prefix: s("REDIS_KEY_PREFIX", d.redis_key_prefix.clone()),
            amqp_url: secret("AMQP_URL", &d.amqp_url),
            auth_service_url: s("AUTH_SERVICE_URL", d.auth_service_url.clone())
                .trim_end_matches('/')
                .to_string(),
            jwt_issuer: s("JWT_ISSUER", d.jwt_issuer.clone()),
            jwt_audience: s("JWT_AUDIENCE", d.jwt_audience.clone()),
            jwks_min_refetch_seconds: parse(
                "JWKS_MIN_REFETCH_SECONDS",
                d.jwks_min_refetch_seconds,
            )?,
            revocation_sync_seconds: parse("REVOCATION_SYNC_SECONDS", d.revocation_sync_seconds)?,
            auth_events_exchange: s("AUTH_EVENTS_EXCHANGE", d.auth_events_exchange.clone()),
            auth_events_queue: s("AUTH_EVENTS_QUEUE", d.auth_events_queue.clone()),
            activity_queue: s("ACTIVITY_QUEUE", d.activity_queue.clone()),
            claims_queue: s("CLAIMS_QUEUE", d.claims_queue.clone()),
            rewards_exchange: s("REWARDS_EXCHANGE", d.rewards_exchange.clone()),
            catalog_exchange: s("CATALOG_EXCHANGE", d.catalog_exchange.clone()),
            claim_worker_enabled: parse("CLAIM_WORKER_ENABLED", d.claim_worker_enabled)?,
            claim_worker_prefetch: parse("CLAIM_WORKER_PREFETCH", d.claim_worker_prefetch)?,
            claim_worker_concurrency: parse(
                "CLAIM_WORKER_CONCURRENCY",
                d.claim_worker_concurrency,
            )?,
            claim_max_deliveries: parse("CLAIM_MAX_DELIVERIES", d.claim_max_deliveries)?,
            pending_claim_redelivery_seconds: parse(
                "PENDING_CLAIM_REDELIVERY_SECONDS",
                d.pending_claim_redelivery_seconds,
            )?,
            claim_lease_seconds: parse("CLAIM_LEASE_SECONDS", d.claim_lease_seconds)?,
            outbox_lease_seconds: parse("OUTBOX_LEASE_SECONDS", d.outbox_lease_seconds)?,
            catalog_cache_ttl_ms: parse("CATALOG_CACHE_TTL_MS", d.catalog_cache_ttl_ms)?,
            shutdown_timeout_seconds: parse(
                "SHUTDOWN_TIMEOUT_SECONDS",
                d.shutdown_timeout_seconds,
            )?,
            body_limit_bytes: parse("BODY_LIMIT_BYTES", d.body_limit_bytes)?,
        };
        settings.validate()?;
        Ok(settings)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |name, message: &str| {
            Err(ConfigError {
                name,
                message: message.into(),
            })
        };
        if self.claim_worker_prefetch == 0 {
            return bad("CLAIM_WORKER_PREFETCH", "must be at least 1");
        }
        if self.claim_worker_concurrency == 0 {
            return bad("CLAIM_WORKER_CONCURRENCY", "must be at least 1");
        }
        if self.claim_max_deliveries == 0 {
            return bad("CLAIM_MAX_DELIVERIES", "must be at least 1");
        }
        if self.catalog_cache_ttl_ms == 0 || self.catalog_cache_ttl_ms > 1000 {
            // The TTL is the staleness bound when invalidation messaging is down.
            return bad("CATALOG_CACHE_TTL_MS", "must be within 1..=1000");
        }
        Ok(())
    }

    pub fn address(&self) -> String {
        format!("{}:{}", self.app_host, self.app_port)
    }

    pub fn mongodb_timeout(&self) -> Duration {
        Duration::from_millis(self.mongodb_timeout_ms)
    }
}
