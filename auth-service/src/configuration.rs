//! Typed configuration read from environment variables (see README for the full table).

use ipnet::IpNet;
use secrecy::SecretString;
use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;

#[derive(Clone, Debug)]
pub struct Settings {
    pub http: HttpSettings,
    pub log_level: String,
    pub mongodb: MongoSettings,
    pub redis: RedisSettings,
    pub amqp: AmqpSettings,
    pub jwt: JwtSettings,
    pub passwords: PasswordSettings,
    pub throttle: ThrottleSettings,
    pub proxies: ProxySettings,
    pub internal: InternalSettings,
    pub bootstrap_admin: Option<BootstrapAdmin>,
}

#[derive(Clone, Debug)]
pub struct HttpSettings {
    pub host: String,
    pub port: u16,
    /// How long graceful shutdown waits for in-flight requests before giving up.
    pub shutdown_timeout_seconds: u64,
}

/// Who may tell us the client's address (login throttling).
#[derive(Clone, Debug)]
pub struct ProxySettings {
    /// Peers whose `X-Forwarded-For`/`Forwarded` we believe (the gateway). Empty: none, the
    /// peer address is the client.
    pub trusted_proxies: Vec<IpNet>,
}

/// Service-to-service calls (`/internal/*`).
#[derive(Clone, Debug)]
pub struct InternalSettings {
    /// Shared secret other services present as `Authorization: Bearer <token>`. Unset: the
    /// internal routes answer anonymous callers only with what holds no personal data.
    pub token: Option<SecretString>,
}

#[derive(Clone, Debug)]
pub struct MongoSettings {
    pub uri: SecretString,
    pub database: String,
}

#[derive(Clone, Debug)]
pub struct RedisSettings {
    pub url: SecretString,
    pub key_prefix: String,
}

#[derive(Clone, Debug)]
pub struct AmqpSettings {
    pub url: SecretString,
    pub exchange: String,
}

#[derive(Clone, Debug)]
pub struct JwtSettings {
    pub issuer: String,
    pub audience: String,
    pub access_ttl_seconds: u64,
    pub refresh_ttl_seconds: u64,
    /// Directory of PKCS#8 PEM Ed25519 keys; file stem = kid, the greatest name signs.
    pub private_keys_dir: Option<PathBuf>,
    /// A single PKCS#8 PEM Ed25519 key given inline.
    pub private_key_pem: Option<SecretString>,
}

#[derive(Clone, Debug)]
pub struct PasswordSettings {
    pub bcrypt_cost: u32,
}

/// Login attempt budgets (Redis counters).
#[derive(Clone, Debug)]
pub struct ThrottleSettings {
    /// Free failed attempts per (account, client IP) pair before the delay starts.
    pub max_per_account: u32,
    /// Attempts per client IP over all accounts.
    pub max_per_ip: u32,
    pub window_seconds: u64,
    /// The first delay imposed on a pair past its free attempts; doubles with each further
    /// failure, capped at the window.
    pub delay_seconds: u64,
}

#[derive(Clone, Debug)]
pub struct BootstrapAdmin {
    pub email: String,
    pub password: SecretString,
    pub nickname: String,
}

/// Parses `TRUSTED_PROXIES`: comma-separated CIDRs or single addresses.
pub fn parse_trusted_proxies(raw: &str) -> Result<Vec<IpNet>, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| format!("TRUSTED_PROXIES: {s:?} is not an address or CIDR"))
        })
        .collect()
}

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

struct Env(HashMap<String, String>);

impl Env {
    fn str(&self, key: &str, default: &str) -> String {
        self.opt(key).unwrap_or_else(|| default.to_string())
    }
    fn opt(&self, key: &str) -> Option<String> {
        self.0
            .get(key)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }
    fn parse<T: FromStr>(&self, key: &str, default: T) -> Result<T, ConfigError> {
        match self.opt(key) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| ConfigError(format!("{key}: cannot parse {v:?}"))),
        }
    }
    fn bool(&self, key: &str) -> Result<bool, ConfigError> {
        match self.opt(key).as_deref() {
            None | Some("false") | Some("0") => Ok(false),
            Some("true") | Some("1") => Ok(true),
            Some(v) => Err(ConfigError(format!(
                "{key}: expected true/false, got {v:?}"
            ))),
        }
    }
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_map(std::env::vars().collect())
    }

    pub fn from_map(map: HashMap<String, String>) -> Result<Self, ConfigError> {
        let env = Env(map);
        let bcrypt_cost: u32 = env.parse("BCRYPT_COST", 12)?;
        if !(4..=31).contains(&bcrypt_cost) {
            return Err(ConfigError("BCRYPT_COST must be within 4..=31".into()));
        }
        let bootstrap_admin = match (
            env.opt("BOOTSTRAP_ADMIN_EMAIL"),
            env.opt("BOOTSTRAP_ADMIN_PASSWORD"),
        ) {
            (Some(email), Some(password)) => Some(BootstrapAdmin {
                email,
                password: SecretString::from(password),
                nickname: env.str("BOOTSTRAP_ADMIN_NICKNAME", "admin"),
            }),
            (None, None) => None,
            _ => {
                return Err(ConfigError(
                    "BOOTSTRAP_ADMIN_EMAIL and BOOTSTRAP_ADMIN_PASSWORD must be set together"
                        .into(),
                ))
            }
        };
        let access_ttl_seconds = env.parse("ACCESS_TOKEN_TTL_SECONDS", 900)?;
        if access_ttl_seconds == 0 {
            return Err(ConfigError("ACCESS_TOKEN_TTL_SECONDS must be > 0".into()));
        }
        if env.bool("TRUST_FORWARDED_FOR")? {
            // Refused rather than ignored, so that nobody loses their proxy trust silently.
            return Err(ConfigError(
                "TRUST_FORWARDED_FOR was replaced by TRUSTED_PROXIES (a list of CIDRs)".into(),
            ));
        }
        let internal_token = env.opt("INTERNAL_TOKEN");
        if internal_token.as_ref().is_some_and(|t| t.len() < 16) {
            return Err(ConfigError(
                "INTERNAL_TOKEN must be at least 16 characters".into(),
            ));
        }
        Ok(Settings {
            http: HttpSettings {
                host: env.str("APP_HOST", "127.0.0.1"),
                port: env.parse("APP_PORT", 3001)?,
                shutdown_timeout_seconds: env.parse("SHUTDOWN_TIMEOUT_SECONDS", 30)?,
            },
            log_level: env.str("LOG_LEVEL", "info"),
            proxies: ProxySettings {
                trusted_proxies: parse_trusted_proxies(&env.str("TRUSTED_PROXIES", ""))
                    .map_err(ConfigError)?,
            },
            mongodb: MongoSettings {
                uri: SecretString::from(env.str("MONGODB_URI", "mongodb://127.0.0.1:27017")),
                database: env.str("MONGODB_DATABASE", "auth_service"),
            },
            redis: RedisSettings {
                url: SecretString::from(env.str("REDIS_URL", "redis://127.0.0.1:6379")),
                key_prefix: env.str("REDIS_KEY_PREFIX", "auth:"),
            },
            amqp: AmqpSettings {
                url: SecretString::from(
                    env.str("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f"),
                ),
                exchange: env.str("AUTH_EVENTS_EXCHANGE", "auth.events"),
            },
            jwt: JwtSettings {
                issuer: env.str("JWT_ISSUER", "liveops-auth"),
                audience: env.str("JWT_AUDIENCE", "liveops"),
                access_ttl_seconds,
                refresh_ttl_seconds: env.parse("REFRESH_TOKEN_TTL_SECONDS", 30 * 24 * 3600)?,
                private_keys_dir: env.opt("JWT_PRIVATE_KEYS_DIR").map(PathBuf::from),
                private_key_pem: env.opt("JWT_PRIVATE_KEY_PEM").map(SecretString::from),
            },
            internal: InternalSettings {
                token: internal_token.map(SecretString::from),
            },
            passwords: PasswordSettings { bcrypt_cost },
            throttle: ThrottleSettings {
                max_per_account: env.parse("LOGIN_MAX_FAILURES", 5)?,
                max_per_ip: env.parse("LOGIN_MAX_FAILURES_PER_IP", 50)?,
                window_seconds: env.parse("LOGIN_FAILURE_WINDOW_SECONDS", 900)?,
                delay_seconds: env.parse("LOGIN_DELAY_SECONDS", 30)?,
            },
            bootstrap_admin,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_contracts() {
        let s = Settings::from_map(HashMap::new()).unwrap();
        assert_eq!(s.http.port, 3001);
        assert_eq!(s.mongodb.database, "auth_service");
        assert_eq!(s.redis.key_prefix, "auth:");
        assert_eq!(s.amqp.exchange, "auth.events");
        assert_eq!(s.jwt.issuer, "liveops-auth");
        assert_eq!(s.jwt.audience, "liveops");
        assert_eq!(s.jwt.access_ttl_seconds, 900);
        assert_eq!(s.passwords.bcrypt_cost, 12);
        assert!(s.bootstrap_admin.is_none());
    }

    #[test]
    fn proxies_are_parsed_and_the_old_switch_is_refused() {
        let mut m = HashMap::new();
        m.insert(
            "TRUSTED_PROXIES".to_string(),
            "127.0.0.1/32, ::1".to_string(),
        );
        assert_eq!(
            Settings::from_map(m.clone())
                .unwrap()
                .proxies
                .trusted_proxies
                .len(),
            2
        );
        m.insert("TRUST_FORWARDED_FOR".to_string(), "true".to_string());
        assert!(Settings::from_map(m).is_err());
        let mut bad = HashMap::new();
        bad.insert("TRUSTED_PROXIES".to_string(), "gateway".to_string());
        assert!(Settings::from_map(bad).is_err());
    }

    #[test]
    fn half_configured_bootstrap_admin_is_an_error() {
        let mut m = HashMap::new();
        m.insert("BOOTSTRAP_ADMIN_EMAIL".to_string(), "a@b.co".to_string());
        assert!(Settings::from_map(m).is_err());
    }
}
