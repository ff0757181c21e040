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

/// Counts every login attempt *before* the password is checked, atomically, so N parallel
/// attempts can never evaluate more than the budget.
///
/// Two budgets: per client IP over all accounts (a flat limit per window), and per (account,
/// client IP) pair: `ARGV[1]` free attempts, then each further attempt must wait a delay that
/// doubles per failure (`ARGV[4]` ms first, capped at the window). An attacker's failures
/// therefore slow down only the attacker's own address; the account owner elsewhere is not
/// affected. The pair is a hash `{f: attempts, next: unix ms of the next allowed attempt}`.
///
/// KEYS: pair, ip. ARGV: free per pair, max per ip, window s, first delay ms, now ms.
/// Returns 0 (go ahead) or the seconds to wait.
const RESERVE: &str = r#"
local now = tonumber(ARGV[5])
local nxt = tonumber(redis.call('HGET', KEYS[1], 'next') or '0')
if nxt > now then return math.ceil((nxt - now) / 1000) end
local i = redis.call('INCR', KEYS[2])
if i == 1 then redis.call('EXPIRE', KEYS[2], ARGV[3]) end
if i > tonumber(ARGV[2]) then
  local t = redis.call('TTL', KEYS[2]); if t < 1 then t = 1 end; return t
end
local f = redis.call('HINCRBY', KEYS[1], 'f', 1)
local free = tonumber(ARGV[1])
if f >= free then
  local window_ms = tonumber(ARGV[3]) * 1000
  local delay = math.min(tonumber(ARGV[4]) * (2 ^ (f - free)), window_ms)
  redis.call('HSET', KEYS[1], 'next', now + delay)
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 0
"#;

/// A success forgets the pair's failures and gives the IP its attempt back.
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
    delay_ms: u64,
}

impl LoginThrottle {
    pub fn new(redis: Redis, limits: &ThrottleSettings) -> Self {
        Self {
            redis,
            max_per_account: limits.max_per_account,
            max_per_ip: limits.max_per_ip,
            window_seconds: limits.window_seconds,
            delay_ms: limits.delay_seconds.saturating_mul(1000),
        }
    }

    fn keys(&self, account: &str, ip: &str) -> (String, String) {
        (
            self.redis.key(&format!("login:pair:{account}:{ip}")),
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
                .arg(self.delay_ms)
                .arg(chrono::Utc::now().timestamp_millis())
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
