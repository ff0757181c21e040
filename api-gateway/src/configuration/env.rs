//! `Settings::from_env`: every variable is optional; a present but unparsable one is an error
//! naming it.

use super::{
    AuthSettings, EdgeSettings, LimitSettings, ServerSettings, Settings, UpstreamSettings,
};
use anyhow::{anyhow, Context};
use secrecy::SecretString;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

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

fn ms(name: &str, default: Duration) -> anyhow::Result<Duration> {
    Ok(Duration::from_millis(parse(
        name,
        default.as_millis() as u64,
    )?))
}

/// Comma-separated list, trimmed, trailing `/` removed, empty items dropped.
fn list(name: &str) -> Vec<String> {
    var(name)
        .map(|v| {
            v.split(',')
                .map(|s| s.trim().trim_end_matches('/').to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

impl Settings {
    pub fn from_env() -> anyhow::Result<Self> {
        let d = Self::defaults();
        let routes_file = var("ROUTES_FILE").map(PathBuf::from).unwrap_or_else(|| {
            // Running from the crate directory or from the repository root both work.
            let local = PathBuf::from("routes.yaml");
            if local.exists() {
                local
            } else {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("routes.yaml")
            }
        });
        anyhow::Ok(Settings {
            server: server(d.server)?,
            log_level: var("LOG_LEVEL").unwrap_or(d.log_level),
            routes_file,
            upstreams: upstreams(d.upstreams)?,
            auth: auth(d.auth)?,
            limits: limits(d.limits)?,
            edge: edge(d.edge)?,
            metrics_token: var("METRICS_TOKEN").map(SecretString::from),
        })
        .context("reading configuration from the environment")
    }
}

fn server(d: ServerSettings) -> anyhow::Result<ServerSettings> {
    Ok(ServerSettings {
        host: var("APP_HOST").unwrap_or(d.host),
        port: parse("APP_PORT", d.port)?,
        workers: parse("APP_WORKERS", d.workers)?.max(1),
        shutdown_timeout_secs: parse("SHUTDOWN_TIMEOUT_SECS", d.shutdown_timeout_secs)?,
        header_timeout: ms("REQUEST_HEADER_TIMEOUT_MS", d.header_timeout)?,
    })
}

fn upstreams(d: UpstreamSettings) -> anyhow::Result<UpstreamSettings> {
    let mut instances = d.instances.clone();
    for (k, v) in std::env::vars() {
        if let Some(suffix) = k.strip_prefix("UPSTREAM_") {
            if UPSTREAM_SETTINGS.contains(&k.as_str()) || v.trim().is_empty() {
                continue;
            }
            instances.insert(upstream_name_from_env(suffix), v);
        }
    }
    let health_ms: u64 = parse(
        "HEALTH_CHECK_INTERVAL_MS",
        d.health_check_interval.map_or(0, |x| x.as_millis() as u64),
    )?;
    Ok(UpstreamSettings {
        instances,
        timeout: ms("UPSTREAM_TIMEOUT_MS", d.timeout)?,
        connect_timeout: ms("UPSTREAM_CONNECT_TIMEOUT_MS", d.connect_timeout)?,
        retry_attempts: parse("RETRY_ATTEMPTS", d.retry_attempts)?,
        circuit_failure_threshold: parse("CIRCUIT_FAILURE_THRESHOLD", d.circuit_failure_threshold)?
            .max(1),
        circuit_open_duration: ms("CIRCUIT_OPEN_MS", d.circuit_open_duration)?,
        instance_cooloff: ms("INSTANCE_COOLOFF_MS", d.instance_cooloff)?,
        health_check_interval: (health_ms > 0).then(|| Duration::from_millis(health_ms)),
        openapi_refresh_interval: ms("OPENAPI_REFRESH_INTERVAL_MS", d.openapi_refresh_interval)?,
    })
}

fn auth(d: AuthSettings) -> anyhow::Result<AuthSettings> {
    Ok(AuthSettings {
        service_url: var("AUTH_SERVICE_URL"),
        issuer: var("JWT_ISSUER").unwrap_or(d.issuer),
        audience: var("JWT_AUDIENCE").unwrap_or(d.audience),
        jwks_refetch_min_interval: ms("JWKS_REFETCH_MIN_INTERVAL_MS", d.jwks_refetch_min_interval)?,
        amqp_url: var("AMQP_URL")
            .map(SecretString::from)
            .unwrap_or(d.amqp_url),
        events_exchange: var("AUTH_EVENTS_EXCHANGE").unwrap_or(d.events_exchange),
        revocation_sync_interval: ms("REVOCATION_SYNC_INTERVAL_MS", d.revocation_sync_interval)?,
        internal_token: var("INTERNAL_TOKEN")
            .filter(|t| !t.is_empty())
            .map(SecretString::from)
            .or(d.internal_token),
        events_publisher: var("AUTH_EVENTS_PUBLISHER").unwrap_or(d.events_publisher),
    })
}

fn limits(d: LimitSettings) -> anyhow::Result<LimitSettings> {
    let rate_limit_per_minute = parse("RATE_LIMIT_PER_MINUTE", d.rate_limit_per_minute)?;
    Ok(LimitSettings {
        body_limit_bytes: parse("BODY_LIMIT_BYTES", d.body_limit_bytes)?,
        rate_limit_per_minute,
        // The burst defaults to the per-minute figure actually configured.
        rate_limit_burst: parse("RATE_LIMIT_BURST", rate_limit_per_minute)?,
        body_idle_timeout: ms("REQUEST_BODY_IDLE_TIMEOUT_MS", d.body_idle_timeout)?,
        body_timeout: ms("REQUEST_BODY_TIMEOUT_MS", d.body_timeout)?,
        client_max_connections: parse("CLIENT_MAX_CONNECTIONS", d.client_max_connections)?,
        client_max_in_flight: parse("CLIENT_MAX_IN_FLIGHT", d.client_max_in_flight)?,
        // `off` keeps every instance on its own limiter.
        redis_url: match var("REDIS_URL") {
            Some(v) if v.trim().eq_ignore_ascii_case("off") => None,
            Some(v) => Some(SecretString::from(v)),
            None => d.redis_url,
        },
        redis_prefix: var("RATE_LIMIT_REDIS_PREFIX").unwrap_or(d.redis_prefix),
        redis_timeout: ms("RATE_LIMIT_REDIS_TIMEOUT_MS", d.redis_timeout)?,
    })
}

fn edge(d: EdgeSettings) -> anyhow::Result<EdgeSettings> {
    Ok(EdgeSettings {
        cors_allowed_origins: list("CORS_ALLOWED_ORIGINS"),
        hsts_max_age_secs: parse("HSTS_MAX_AGE_SECS", d.hsts_max_age_secs)?,
        console_dir: console_dir(d.console_dir),
    })
}

/// `CONSOLE_DIR`, else the console built beside the gateway's sources (the directory the
/// native scripts start it in), else none.
fn console_dir(default: Option<PathBuf>) -> Option<PathBuf> {
    match std::env::var("CONSOLE_DIR") {
        Ok(dir) if dir.is_empty() => None,
        Ok(dir) => Some(PathBuf::from(dir)),
        Err(_) => default.or_else(|| {
            let built = PathBuf::from("../console/dist");
            built.join("index.html").is_file().then_some(built)
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::configuration::upstream_env_name;

    #[test]
    fn upstream_names_map_to_env_vars_both_ways() {
        assert_eq!(
            upstream_env_name("game-event-service"),
            "UPSTREAM_GAME_EVENT_SERVICE"
        );
        assert_eq!(upstream_name_from_env("AUTH_SERVICE"), "auth-service");
    }
}
