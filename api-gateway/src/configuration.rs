//! Typed configuration read from environment variables (see README for the full list).

use anyhow::{anyhow, Context};
use secrecy::SecretString;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

pub const DEFAULT_AUTH_UPSTREAM: &str = "http://127.0.0.1:3001";
pub const DEFAULT_GAME_EVENT_UPSTREAM: &str = "http://127.0.0.1:3002";

#[derive(Clone, Debug)]
pub struct Settings {
    pub host: String,
    pub port: u16,
    pub workers: usize,
    pub log_level: String,
    pub routes_file: PathBuf,
    /// Upstream name (as written in the route table, e.g. `auth-service`) -> comma-separated
    /// instance base URLs. Filled from `UPSTREAM_<NAME>` variables.
    pub upstreams: BTreeMap<String, String>,
    /// Where the JWKS and `/internal/revocations` live. `None`: first auth-service instance.
    pub auth_service_url: Option<String>,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    /// Minimum time between JWKS fetches triggered by an unknown `kid`.
    pub jwks_refetch_min_interval: Duration,
    pub amqp_url: SecretString,
    pub auth_events_exchange: String,
    pub body_limit_bytes: usize,
    /// 0 disables the default per-client limit (routes may still set their own).
    pub rate_limit_per_minute: u32,
    pub rate_limit_burst: u32,
    pub upstream_timeout: Duration,
    pub connect_timeout: Duration,
    pub retry_attempts: u32,
    pub circuit_failure_threshold: u32,
    pub circuit_open_duration: Duration,
    pub instance_cooloff: Duration,
    /// `None` disables active `/healthz` probing (passive health only).
    pub health_check_interval: Option<Duration>,
    pub revocation_sync_interval: Duration,
    pub openapi_refresh_interval: Duration,
    pub cors_allowed_origins: Vec<String>,
    pub shutdown_timeout_secs: u64,
    pub hsts_max_age_secs: u64,
}

/// Upstream name -> env var: `game-event-service` -> `UPSTREAM_GAME_EVENT_SERVICE`.
pub fn upstream_env_name(upstream: &str) -> String {
    let mut s = String::from("UPSTREAM_");
    for c in upstream.chars() {
        if c.is_ascii_alphanumeric() {
            s.push(c.to_ascii_uppercase());
        } else {
            s.push('_');
        }
    }
    s
}

/// Env var suffix -> upstream name: `GAME_EVENT_SERVICE` -> `game-event-service`.
fn upstream_name_from_env(suffix: &str) -> String {
    suffix.to_ascii_lowercase().replace('_', "-")
}

/// Non-upstream variables that happen to share the `UPSTREAM_` prefix.
const UPSTREAM_SETTINGS: &[&str] = &["UPSTREAM_TIMEOUT_MS", "UPSTREAM_CONNECT_TIMEOUT_MS"];

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn parse<T: FromStr>(name: &str, default: T) -> anyhow::Result<T>
where
    T::Err: std::fmt::Display,
{
    match var(name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse::<T>()
            .map_err(|e| anyhow!("environment variable {name}={v:?} is invalid: {e}")),
    }
}

impl Settings {
    /// Defaults suitable for running next to the other two services on one machine.
    pub fn defaults() -> Self {
        let mut upstreams = BTreeMap::new();
        upstreams.insert("auth-service".to_owned(), DEFAULT_AUTH_UPSTREAM.to_owned());
        upstreams.insert(
            "game-event-service".to_owned(),
            DEFAULT_GAME_EVENT_UPSTREAM.to_owned(),
        );
        Settings {
            host: "127.0.0.1".into(),
            port: 3000,
            workers: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            log_level: "info".into(),
            routes_file: PathBuf::from("routes.yaml"),
            upstreams,
            auth_service_url: None,
            jwt_issuer: "liveops-auth".into(),
            jwt_audience: "liveops".into(),
            jwks_refetch_min_interval: crate::auth::JWKS_REFETCH_MIN_INTERVAL,
            amqp_url: SecretString::from("amqp://guest:guest@127.0.0.1:5672/%2f"),
            auth_events_exchange: "auth.events".into(),
            body_limit_bytes: 1024 * 1024,
            rate_limit_per_minute: 600,
            rate_limit_burst: 600,
            upstream_timeout: Duration::from_millis(10_000),
            connect_timeout: Duration::from_millis(2_000),
            retry_attempts: 2,
            circuit_failure_threshold: 5,
            circuit_open_duration: Duration::from_millis(10_000),
            instance_cooloff: Duration::from_millis(5_000),
            health_check_interval: Some(Duration::from_millis(5_000)),
            revocation_sync_interval: Duration::from_millis(30_000),
            openapi_refresh_interval: Duration::from_millis(60_000),
            cors_allowed_origins: Vec::new(),
            shutdown_timeout_secs: 30,
            hsts_max_age_secs: 31_536_000,
        }
    }

    pub fn from_env() -> anyhow::Result<Self> {
        let d = Self::defaults();
        let mut upstreams = d.upstreams.clone();
        for (k, v) in std::env::vars() {
            if let Some(suffix) = k.strip_prefix("UPSTREAM_") {
                if UPSTREAM_SETTINGS.contains(&k.as_str()) || v.trim().is_empty() {
                    continue;
                }
                upstreams.insert(upstream_name_from_env(suffix), v);
            }
        }
        let ms = |name: &str, default: Duration| -> anyhow::Result<Duration> {
            Ok(Duration::from_millis(parse(
                name,
                default.as_millis() as u64,
            )?))
        };
        let health_ms: u64 = parse(
            "HEALTH_CHECK_INTERVAL_MS",
            d.health_check_interval.map_or(0, |x| x.as_millis() as u64),
        )?;
        let routes_file = var("ROUTES_FILE").map(PathBuf::from).unwrap_or_else(|| {
            // Running from the crate directory or from the repository root both work.
            let local = PathBuf::from("routes.yaml");
            if local.exists() {
                local
            } else {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("routes.yaml")
            }
        });
        let rate_limit_per_minute = parse("RATE_LIMIT_PER_MINUTE", d.rate_limit_per_minute)?;
        anyhow::Ok(Settings {
            host: var("APP_HOST").unwrap_or(d.host),
            port: parse("APP_PORT", d.port)?,
            workers: parse("APP_WORKERS", d.workers)?.max(1),
            log_level: var("LOG_LEVEL").unwrap_or(d.log_level),
            routes_file,
            upstreams,
            auth_service_url: var("AUTH_SERVICE_URL"),
            jwt_issuer: var("JWT_ISSUER").unwrap_or(d.jwt_issuer),
            jwt_audience: var("JWT_AUDIENCE").unwrap_or(d.jwt_audience),
            jwks_refetch_min_interval: ms(
                "JWKS_REFETCH_MIN_INTERVAL_MS",
                d.jwks_refetch_min_interval,
            )?,
            amqp_url: var("AMQP_URL")
                .map(SecretString::from)
                .unwrap_or(d.amqp_url),
            auth_events_exchange: var("AUTH_EVENTS_EXCHANGE").unwrap_or(d.auth_events_exchange),
            body_limit_bytes: parse("BODY_LIMIT_BYTES", d.body_limit_bytes)?,
            rate_limit_per_minute,
            rate_limit_burst: parse("RATE_LIMIT_BURST", rate_limit_per_minute)?,
            upstream_timeout: ms("UPSTREAM_TIMEOUT_MS", d.upstream_timeout)?,
            connect_timeout: ms("UPSTREAM_CONNECT_TIMEOUT_MS", d.connect_timeout)?,
            retry_attempts: parse("RETRY_ATTEMPTS", d.retry_attempts)?,
            circuit_failure_threshold: parse(
                "CIRCUIT_FAILURE_THRESHOLD",
                d.circuit_failure_threshold,
            )?
            .max(1),
            circuit_open_duration: ms("CIRCUIT_OPEN_MS", d.circuit_open_duration)?,
            instance_cooloff: ms("INSTANCE_COOLOFF_MS", d.instance_cooloff)?,
            health_check_interval: (health_ms > 0).then(|| Duration::from_millis(health_ms)),
            revocation_sync_interval: ms(
                "REVOCATION_SYNC_INTERVAL_MS",
                d.revocation_sync_interval,
            )?,
            openapi_refresh_interval: ms(
                "OPENAPI_REFRESH_INTERVAL_MS",
                d.openapi_refresh_interval,
            )?,
            cors_allowed_origins: var("CORS_ALLOWED_ORIGINS")
                .map(|v| {
                    v.split(',')
                        .map(|s| s.trim().trim_end_matches('/').to_owned())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            shutdown_timeout_secs: parse("SHUTDOWN_TIMEOUT_SECS", d.shutdown_timeout_secs)?,
            hsts_max_age_secs: parse("HSTS_MAX_AGE_SECS", d.hsts_max_age_secs)?,
        })
        .context("reading configuration from the environment")
    }

    /// Instances of one upstream, split from the comma-separated list.
    pub fn upstream_instances(&self, name: &str) -> Option<Vec<String>> {
        self.upstreams.get(name).map(|v| {
            v.split(',')
                .map(|s| s.trim().trim_end_matches('/').to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
    }

    /// Base URL for JWKS and revocation sync.
    pub fn auth_base_url(&self) -> String {
        self.auth_service_url
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
    fn upstream_names_map_to_env_vars_both_ways() {
        assert_eq!(
            upstream_env_name("game-event-service"),
            "UPSTREAM_GAME_EVENT_SERVICE"
        );
        assert_eq!(upstream_name_from_env("AUTH_SERVICE"), "auth-service");
    }

    #[test]
    fn instances_are_split_and_trimmed() {
        let mut s = Settings::defaults();
        s.upstreams
            .insert("x".into(), " http://a:1/ , http://b:2,,".into());
        assert_eq!(
            s.upstream_instances("x").unwrap(),
            vec!["http://a:1".to_string(), "http://b:2".to_string()]
        );
    }
}
