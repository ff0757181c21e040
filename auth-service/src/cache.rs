//! Redis: only data that may be lost lives here (login attempt counters).

use crate::configuration::ThrottleSettings;
use deadpool_redis::{Config, Pool, Runtime};
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;

const OP_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct Redis {
    pool: Pool,
    prefix: String,
}

impl Redis {
    /// Does not connect: the service must start while Redis is down.
    pub fn new(url: &SecretString, prefix: &str) -> anyhow::Result<Self> {
        let pool = Config::from_url(url.expose_secret())
            .builder()?
            .max_size(16)
            .wait_timeout(Some(OP_TIMEOUT))
            .create_timeout(Some(OP_TIMEOUT))
            .recycle_timeout(Some(OP_TIMEOUT))
            .runtime(Runtime::Tokio1)
            .build()?;
        Ok(Redis {
            pool,
            prefix: prefix.to_string(),
        })
    }

    pub fn key(&self, suffix: &str) -> String {
        format!("{}{}", self.prefix, suffix)
    }

    pub async fn ping(&self) -> bool {
        let fut = async {
            let mut conn = self.pool.get().await.ok()?;
            deadpool_redis::redis::cmd("PING")
                .query_async::<String>(&mut conn)
                .await
                .ok()
        };
        matches!(tokio::time::timeout(OP_TIMEOUT, fut).await, Ok(Some(_)))
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum ThrottleDecision {
    Allowed,
    Blocked { retry_after_seconds: u64 },
}

/// Counts every login attempt *before* the password is checked, in one atomic script for
/// both the account and the client IP, so N parallel attempts can never evaluate more than
/// the limit. A success resets the account counter and gives the IP its attempt back.
const RESERVE: &str = r#"
local a = redis.call('INCR', KEYS[1])
if a == 1 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
local i = redis.call('INCR', KEYS[2])
if i == 1 then redis.call('EXPIRE', KEYS[2], ARGV[3]) end
if a > tonumber(ARGV[1]) then
  local t = redis.call('TTL', KEYS[1]); if t < 1 then t = 1 end; return t
end
if i > tonumber(ARGV[2]) then
  local t = redis.call('TTL', KEYS[2]); if t < 1 then t = 1 end; return t
end
return 0
"#;

const RESET: &str = r#"
redis.call('DEL', KEYS[1])
local i = tonumber(redis.call('GET', KEYS[2]) or '0')
if i > 0 then redis.call('DECR', KEYS[2]) end
return 1
"#;

#[derive(Clone)]
pub struct LoginThrottle {
    redis: Redis,
    max_per_account: u32,
    max_per_ip: u32,
    window_seconds: u64,
}

impl LoginThrottle {
    pub fn new(redis: Redis, limits: &ThrottleSettings) -> Self {
        Self {
            redis,
            max_per_account: limits.max_per_account,
            max_per_ip: limits.max_per_ip,
            window_seconds: limits.window_seconds,
        }
    }

    fn keys(&self, account: &str, ip: &str) -> (String, String) {
        (
            self.redis.key(&format!("login:acct:{account}")),
            self.redis.key(&format!("login:ip:{ip}")),
        )
    }

    pub async fn reserve(&self, account: &str, ip: &str) -> anyhow::Result<ThrottleDecision> {
        let (ka, ki) = self.keys(account, ip);
        let fut = async {
            let mut conn = self.redis.pool.get().await?;
            let ttl: i64 = deadpool_redis::redis::Script::new(RESERVE)
                .key(ka)
                .key(ki)
                .arg(self.max_per_account)
                .arg(self.max_per_ip)
                .arg(self.window_seconds)
                .invoke_async(&mut conn)
                .await?;
            anyhow::Ok(ttl)
        };
        let ttl = tokio::time::timeout(OP_TIMEOUT, fut).await??;
        Ok(if ttl > 0 {
            ThrottleDecision::Blocked {
                retry_after_seconds: ttl as u64,
            }
        } else {
            ThrottleDecision::Allowed
        })
    }

    pub async fn reset(&self, account: &str, ip: &str) -> anyhow::Result<()> {
        let (ka, ki) = self.keys(account, ip);
        let fut = async {
            let mut conn = self.redis.pool.get().await?;
            let _: i64 = deadpool_redis::redis::Script::new(RESET)
                .key(ka)
                .key(ki)
                .invoke_async(&mut conn)
                .await?;
            anyhow::Ok(())
        };
        tokio::time::timeout(OP_TIMEOUT, fut).await?
    }
}
