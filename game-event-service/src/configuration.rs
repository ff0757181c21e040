//! Typed configuration read from environment variables (see README for the full list), grouped
//! by the part of the service each setting belongs to.
use secrecy::SecretString;
use std::time::Duration;

#[derive(Clone, Debug, Default)]
pub struct Settings {
    pub app: AppSettings,
    pub mongodb: MongoSettings,
    pub redis: RedisSettings,
    pub amqp: AmqpSettings,
    pub auth: AuthSettings,
    pub claims: ClaimSettings,
    pub outbox: OutboxSettings,
    pub catalog: CatalogSettings,
    pub streams: StreamSettings,
}

/// The process and its HTTP server.
#[derive(Clone, Debug)]
pub struct AppSettings {
    pub host: String,
    pub port: u16,
    pub log_level: String,
    pub shutdown_timeout_seconds: u64,
    pub body_limit_bytes: usize,
}

#[derive(Clone, Debug)]
pub struct MongoSettings {
    pub uri: SecretString,
    pub database: String,
    pub timeout_ms: u64,
}

/// Redis holds only what may be lost (Idempotency-Key replays).
#[derive(Clone, Debug)]
pub struct RedisSettings {
    pub url: SecretString,
    pub key_prefix: String,
}

/// The broker and the names of every exchange and queue of the topology.
#[derive(Clone, Debug)]
pub struct AmqpSettings {
    pub url: SecretString,
    pub auth_events_exchange: String,
    pub auth_events_queue: String,
    pub activity_queue: String,
    pub claims_queue: String,
    pub rewards_exchange: String,
    pub catalog_exchange: String,
    /// Fanout of "claims were decided" notifications that feeds every instance's live streams.
    pub decisions_exchange: String,
}

/// Access-token verification against auth-service.
#[derive(Clone, Debug)]
pub struct AuthSettings {
    pub service_url: String,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub jwks_min_refetch_seconds: u64,
    pub revocation_sync_seconds: u64,
    /// auth-service's `INTERNAL_TOKEN`, sent on the revocation sync.
    pub internal_token: Option<String>,
    /// auth-service's broker user: RabbitMQ validates a message's `user_id` against the
    /// publishing connection's user, so auth events with another `user_id` are forged.
    pub events_publisher: String,
}

/// The claim decision worker and the sweeper behind it.
#[derive(Clone, Debug)]
pub struct ClaimSettings {
    /// Consumers of the claims queue run only when enabled (lets an instance serve HTTP only).
    pub worker_enabled: bool,
    pub worker_prefetch: u16,
    /// Batches decided at once per instance.
    pub worker_concurrency: usize,
    /// Most claims decided in one batch.
    pub worker_batch: usize,
    pub max_deliveries: u32,
    pub pending_redelivery_seconds: u64,
    /// How long one worker owns a claim's evaluation before another may take over.
    pub lease_seconds: u64,
}

#[derive(Clone, Debug)]
pub struct OutboxSettings {
    pub lease_seconds: u64,
}

#[derive(Clone, Debug)]
pub struct CatalogSettings {
    /// The staleness bound of the in-process event cache when invalidation messages are lost.
    pub cache_ttl_ms: u64,
}

/// The Server-Sent Events streams (`/claims/me/stream`, `/events/{id}/stats/stream`).
#[derive(Clone, Debug)]
pub struct StreamSettings {
    /// Seconds between `: keepalive` comments (keeps proxies from closing an idle stream).
    pub heartbeat_seconds: u64,
    /// Notifications one stream may fall behind before it resynchronises from the store.
    pub buffer: usize,
}

impl Default for StreamSettings {
    fn default() -> Self {
        Self {
            heartbeat_seconds: 15,
            buffer: 256,
        }
    }
}

impl Default for AppSettings {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 3002,
            log_level: "info".into(),
            shutdown_timeout_seconds: 20,
            body_limit_bytes: 256 * 1024,
        }
    }
}

impl Default for MongoSettings {
    fn default() -> Self {
        Self {
            uri: SecretString::from("mongodb://127.0.0.1:27017"),
            database: "game_event_service".into(),
            timeout_ms: 3000,
        }
    }
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self {
            url: SecretString::from("redis://127.0.0.1:6379"),
            key_prefix: "game:".into(),
        }
    }
}

impl Default for AmqpSettings {
    fn default() -> Self {
        Self {
            url: SecretString::from("amqp://guest:guest@127.0.0.1:5672/%2f"),
            auth_events_exchange: "auth.events".into(),
            auth_events_queue: "game-event.auth-events".into(),
            activity_queue: "game.activity".into(),
            claims_queue: "game-event.claims".into(),
            rewards_exchange: "rewards".into(),
            catalog_exchange: "game-event.catalog".into(),
            decisions_exchange: "game-event.decisions".into(),
        }
    }
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            service_url: "http://127.0.0.1:3001".into(),
            jwt_issuer: "liveops-auth".into(),
            jwt_audience: "liveops".into(),
            jwks_min_refetch_seconds: 10,
            revocation_sync_seconds: 30,
            internal_token: None,
            // auth-service's default AMQP_URL connects as guest.
            events_publisher: "guest".into(),
        }
    }
}

impl Default for ClaimSettings {
    fn default() -> Self {
        Self {
            worker_enabled: true,
            worker_prefetch: 256,
            // Measured (bench_claims, BENCHMARKS.md): fewer, bigger batches decide more per
            // second when one store serialises the writes; raise it where the store scales.
            worker_concurrency: 2,
            worker_batch: 128,
            max_deliveries: 5,
            pending_redelivery_seconds: 30,
            lease_seconds: 30,
        }
    }
}

impl Default for OutboxSettings {
    fn default() -> Self {
        Self { lease_seconds: 10 }
    }
}

impl Default for CatalogSettings {
    fn default() -> Self {
        Self { cache_ttl_ms: 1000 }
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

fn string(name: &str, default: String) -> String {
    var(name).unwrap_or(default)
}

fn secret(name: &str, default: SecretString) -> SecretString {
    var(name).map(SecretString::from).unwrap_or(default)
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let Settings {
            app,
            mongodb,
            redis,
            amqp,
            auth,
            claims,
            outbox,
            catalog,
            streams,
        } = Settings::default();
        let settings = Settings {
            app: AppSettings {
                host: string("APP_HOST", app.host),
                port: parse("APP_PORT", app.port)?,
                log_level: string("LOG_LEVEL", app.log_level),
                shutdown_timeout_seconds: parse(
                    "SHUTDOWN_TIMEOUT_SECONDS",
                    app.shutdown_timeout_seconds,
                )?,
                body_limit_bytes: parse("BODY_LIMIT_BYTES", app.body_limit_bytes)?,
            },
            mongodb: MongoSettings {
                uri: secret("MONGODB_URI", mongodb.uri),
                database: string("MONGODB_DATABASE", mongodb.database),
                timeout_ms: parse("MONGODB_TIMEOUT_MS", mongodb.timeout_ms)?,
            },
            redis: RedisSettings {
                url: secret("REDIS_URL", redis.url),
                key_prefix: string("REDIS_KEY_PREFIX", redis.key_prefix),
            },
            amqp: AmqpSettings {
                url: secret("AMQP_URL", amqp.url),
                auth_events_exchange: string("AUTH_EVENTS_EXCHANGE", amqp.auth_events_exchange),
                auth_events_queue: string("AUTH_EVENTS_QUEUE", amqp.auth_events_queue),
                activity_queue: string("ACTIVITY_QUEUE", amqp.activity_queue),
                claims_queue: string("CLAIMS_QUEUE", amqp.claims_queue),
                rewards_exchange: string("REWARDS_EXCHANGE", amqp.rewards_exchange),
                catalog_exchange: string("CATALOG_EXCHANGE", amqp.catalog_exchange),
                decisions_exchange: string("DECISIONS_EXCHANGE", amqp.decisions_exchange),
            },
            auth: AuthSettings {
                service_url: string("AUTH_SERVICE_URL", auth.service_url)
                    .trim_end_matches('/')
                    .to_string(),
                jwt_issuer: string("JWT_ISSUER", auth.jwt_issuer),
                jwt_audience: string("JWT_AUDIENCE", auth.jwt_audience),
                jwks_min_refetch_seconds: parse(
                    "JWKS_MIN_REFETCH_SECONDS",
                    auth.jwks_min_refetch_seconds,
                )?,
                revocation_sync_seconds: parse(
                    "REVOCATION_SYNC_SECONDS",
                    auth.revocation_sync_seconds,
                )?,
                internal_token: std::env::var("INTERNAL_TOKEN")
                    .ok()
                    .filter(|t| !t.is_empty())
                    .or(auth.internal_token),
                events_publisher: string("AUTH_EVENTS_PUBLISHER", auth.events_publisher),
            },
            claims: ClaimSettings {
                worker_enabled: parse("CLAIM_WORKER_ENABLED", claims.worker_enabled)?,
                worker_prefetch: parse("CLAIM_WORKER_PREFETCH", claims.worker_prefetch)?,
                worker_concurrency: parse("CLAIM_WORKER_CONCURRENCY", claims.worker_concurrency)?,
                worker_batch: parse("CLAIM_WORKER_BATCH", claims.worker_batch)?,
                max_deliveries: parse("CLAIM_MAX_DELIVERIES", claims.max_deliveries)?,
                pending_redelivery_seconds: parse(
                    "PENDING_CLAIM_REDELIVERY_SECONDS",
                    claims.pending_redelivery_seconds,
                )?,
                lease_seconds: parse("CLAIM_LEASE_SECONDS", claims.lease_seconds)?,
            },
            outbox: OutboxSettings {
                lease_seconds: parse("OUTBOX_LEASE_SECONDS", outbox.lease_seconds)?,
            },
            catalog: CatalogSettings {
                cache_ttl_ms: parse("CATALOG_CACHE_TTL_MS", catalog.cache_ttl_ms)?,
            },
            streams: StreamSettings {
                heartbeat_seconds: parse("SSE_HEARTBEAT_SECONDS", streams.heartbeat_seconds)?,
                buffer: parse("SSE_BUFFER", streams.buffer)?,
            },
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
        if self.claims.worker_prefetch == 0 {
            return bad("CLAIM_WORKER_PREFETCH", "must be at least 1");
        }
        if self.claims.worker_concurrency == 0 {
            return bad("CLAIM_WORKER_CONCURRENCY", "must be at least 1");
        }
        if self.claims.worker_batch == 0 {
            return bad("CLAIM_WORKER_BATCH", "must be at least 1");
        }
        if self.claims.max_deliveries == 0 {
            return bad("CLAIM_MAX_DELIVERIES", "must be at least 1");
        }
        if self.streams.heartbeat_seconds == 0 {
            return bad("SSE_HEARTBEAT_SECONDS", "must be at least 1");
        }
        if self.streams.buffer == 0 {
            return bad("SSE_BUFFER", "must be at least 1");
        }
        if self.catalog.cache_ttl_ms == 0 || self.catalog.cache_ttl_ms > 1000 {
            // The TTL is the staleness bound when invalidation messaging is down.
            return bad("CATALOG_CACHE_TTL_MS", "must be within 1..=1000");
        }
        Ok(())
    }

    pub fn address(&self) -> String {
        format!("{}:{}", self.app.host, self.app.port)
    }

    pub fn mongodb_timeout(&self) -> Duration {
        Duration::from_millis(self.mongodb.timeout_ms)
    }

    pub fn redis_key(&self, suffix: &str) -> String {
        format!("{}{}", self.redis.key_prefix, suffix)
    }
}
