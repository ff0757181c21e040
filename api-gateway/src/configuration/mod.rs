//! Typed configuration, grouped by concern, read from environment variables (`env`; see the
//! README for the full list).

mod env;

use secrecy::SecretString;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

pub use crate::domain::upstream_env_name;

pub const DEFAULT_AUTH_UPSTREAM: &str = "http://127.0.0.1:3001";
pub const DEFAULT_GAME_EVENT_UPSTREAM: &str = "http://127.0.0.1:3002";

#[derive(Clone, Debug)]
pub struct Settings {
    pub server: ServerSettings,
    pub log_level: String,
    pub routes_file: PathBuf,
    pub upstreams: UpstreamSettings,
    pub auth: AuthSettings,
    pub limits: LimitSettings,
    pub edge: EdgeSettings,
    /// Bearer token `/metrics` requires; `None`: `/metrics` is not served.
    pub metrics_token: Option<SecretString>,
}

/// The listener and its workers.
#[derive(Clone, Debug)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    pub workers: usize,
    pub shutdown_timeout_secs: u64,
    /// A connection that has not sent a full request head by then is answered 408 and closed.
    pub header_timeout: Duration,
}

/// Where requests go and how failures there are handled.
#[derive(Clone, Debug)]
pub struct UpstreamSettings {
    /// Upstream name (as written in the route table, e.g. `auth-service`) -> comma-separated
    /// instance base URLs. Filled from `UPSTREAM_<NAME>` variables.
    pub instances: BTreeMap<String, String>,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub retry_attempts: u32,
    pub circuit_failure_threshold: u32,
    pub circuit_open_duration: Duration,
    pub instance_cooloff: Duration,
    /// `None` disables active `/healthz` probing (passive health only).
    pub health_check_interval: Option<Duration>,
    pub openapi_refresh_interval: Duration,
}

/// Token verification and the revocation feed.
#[derive(Clone, Debug)]
pub struct AuthSettings {
    /// Where the JWKS and `/internal/revocations` live. `None`: first auth-service instance.
    pub service_url: Option<String>,
    pub issuer: String,
    pub audience: String,
    /// Minimum time between JWKS fetches triggered by an unknown `kid`.
    pub jwks_refetch_min_interval: Duration,
    pub amqp_url: SecretString,
    pub events_exchange: String,
    pub revocation_sync_interval: Duration,
    /// auth-service's `INTERNAL_TOKEN`, sent on the revocation sync.
    pub internal_token: Option<SecretString>,
    /// auth-service's broker user: RabbitMQ validates `user_id` against the publishing
    /// connection's user, so a `session.revoked` with another `user_id` is forged.
    pub events_publisher: String,
}

/// What one client may send.
#[derive(Clone, Debug)]
pub struct LimitSettings {
    pub body_limit_bytes: usize,
    /// 0 disables the default per-client limit (routes may still set their own).
    pub rate_limit_per_minute: u32,
    pub rate_limit_burst: u32,
    /// A request body that sends nothing for this long is answered 408.
    pub body_idle_timeout: Duration,
    /// A request body not complete after this long is answered 408.
    pub body_timeout: Duration,
    /// Open connections per client IP; 0 = unlimited.
    pub client_max_connections: usize,
    /// Requests being answered at once per client IP; 0 = unlimited.
    pub client_max_in_flight: usize,
    /// The rate limits' shared store (one budget per client across instances); `None`: each
    /// instance limits on its own.
    pub redis_url: Option<SecretString>,
    /// Prefix of the rate limit keys in Redis.
    pub redis_prefix: String,
    /// A store slower than this is skipped for the request (the local limiter answers).
    pub redis_timeout: Duration,
}

/// Headers the edge adds to every response.
#[derive(Clone, Debug)]
pub struct EdgeSettings {
    pub cors_allowed_origins: Vec<String>,
    pub hsts_max_age_secs: u64,
    /// The built staff console (`console/dist`); `/console` is not served without it.
    pub console_dir: Option<PathBuf>,
}

impl Settings {
    /// Defaults suitable for running next to the other two services on one machine.
    pub fn defaults() -> Self {
        let mut instances = BTreeMap::new();
        instances.insert("auth-service".to_owned(), DEFAULT_AUTH_UPSTREAM.to_owned());
        instances.insert(
            "game-event-service".to_owned(),
            DEFAULT_GAME_EVENT_UPSTREAM.to_owned(),
        );
        Settings {
            server: ServerSettings {
                host: "127.0.0.1".into(),
                port: 3000,
                workers: std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(2),
                shutdown_timeout_secs: 30,
                header_timeout: Duration::from_millis(5_000),
            },
            log_level: "info".into(),
            routes_file: PathBuf::from("routes.yaml"),
            upstreams: UpstreamSettings {
                instances,
                timeout: Duration::from_millis(10_000),
                connect_timeout: Duration::from_millis(2_000),
                retry_attempts: 2,
                circuit_failure_threshold: 5,
                circuit_open_duration: Duration::from_millis(10_000),
                instance_cooloff: Duration::from_millis(5_000),
                health_check_interval: Some(Duration::from_millis(5_000)),
                openapi_refresh_interval: Duration::from_millis(60_000),
            },
            auth: AuthSettings {
                service_url: None,
                issuer: "liveops-auth".into(),
                audience: "liveops".into(),
                jwks_refetch_min_interval: crate::auth::JWKS_REFETCH_MIN_INTERVAL,
                amqp_url: SecretString::from("amqp://guest:guest@127.0.0.1:5672/%2f"),
                events_exchange: "auth.events".into(),
                revocation_sync_interval: Duration::from_millis(30_000),
                internal_token: None,
                // auth-service's default AMQP_URL connects as guest.
                events_publisher: "guest".into(),
            },
            limits: LimitSettings {
                body_limit_bytes: 1024 * 1024,
                rate_limit_per_minute: 600,
                rate_limit_burst: 600,
                body_idle_timeout: Duration::from_millis(5_000),
                body_timeout: Duration::from_millis(60_000),
                // Generous: many players can share one carrier NAT address.
                client_max_connections: 256,
                client_max_in_flight: 128,
                redis_url: Some(SecretString::from("redis://127.0.0.1:6379")),
                redis_prefix: "gw:rl:".into(),
                redis_timeout: Duration::from_millis(100),
            },
            edge: EdgeSettings {
                cors_allowed_origins: Vec::new(),
                hsts_max_age_secs: 31_536_000,
                console_dir: None,
            },
            metrics_token: None,
        }
    }

    /// Instances of one upstream, split from the comma-separated list.
    pub fn upstream_instances(&self, name: &str) -> Option<Vec<String>> {
        self.upstreams.instances.get(name).map(|v| {
            v.split(',')
                .map(|s| s.trim().trim_end_matches('/').to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
    }

    /// Base URL for JWKS and revocation sync.
    pub fn auth_base_url(&self) -> String {
        self.auth
            .service_url
            .clone()
            .map(|s| s.trim_end_matches('/').to_owned())
            .or_else(|| {
                self.upstream_instances("auth-service")
                    .and_then(|v| v.into_iter().next())
            })
            .unwrap_or_else(|| DEFAULT_AUTH_UPSTREAM.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_are_split_and_trimmed() {
        let mut s = Settings::defaults();
        s.upstreams
            .instances
            .insert("x".into(), " http://a:1/ , http://b:2,,".into());
        assert_eq!(
            s.upstream_instances("x").unwrap(),
            vec!["http://a:1".to_string(), "http://b:2".to_string()]
        );
    }
}
