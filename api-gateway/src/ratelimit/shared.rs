//! The budget shared by every gateway instance: GCRA in Redis, one atomic Lua script per
//! request, on Redis's clock so instances agree on time. Unreachable Redis is not retried for
//! a moment, so a down store costs the hot path nothing.

use super::Decision;
use deadpool_redis::redis::Script;
use deadpool_redis::{Config, Pool, Runtime};
use secrecy::{ExposeSecret, SecretString};
use slog::Logger;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// KEYS[1]: the client's theoretical arrival time (ms). ARGV: emission interval (ms), burst.
/// Returns {allowed, remaining, ms}: ms until the budget is full again, or until the next
/// request is allowed.
const GCRA: &str = r#"
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - burst * interval
if now < allow_at then
  return {0, 0, allow_at - now}
end
redis.call('SET', KEYS[1], new_tat, 'PX', new_tat - now)
return {1, math.floor((now - allow_at) / interval), new_tat - now}
"#;

/// How long an unreachable store is left alone before it is tried again.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);

struct Inner {
    pool: Pool,
    /// Hashed once: sent as EVALSHA, loaded on the first NOSCRIPT.
    script: Script,
    prefix: String,
    timeout: Duration,
    /// Redis calls run on the main runtime: actix workers' runtimes stop with the server, and
    /// a pooled connection must not outlive the runtime that drives it.
    runtime: tokio::runtime::Handle,
    /// Milliseconds since `epoch()` until which the store is not asked; 0 = ask.
    skip_until: AtomicU64,
    up: AtomicBool,
    logger: Logger,
}

#[derive(Clone)]
pub struct SharedStore(Arc<Inner>);

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_ms() -> u64 {
    epoch().elapsed().as_millis() as u64 + 1
}

impl SharedStore {
    /// Does not connect: the gateway starts (limiting locally) while Redis is down.
    pub fn new(
        url: &SecretString,
        prefix: &str,
        timeout: Duration,
        logger: Logger,
    ) -> anyhow::Result<Self> {
        let pool = Config::from_url(url.expose_secret())
            .builder()?
            .max_size(32)
            .wait_timeout(Some(timeout))
            .create_timeout(Some(timeout))
            .recycle_timeout(Some(timeout))
            .runtime(Runtime::Tokio1)
            .build()?;
        Ok(SharedStore(Arc::new(Inner {
            pool,
            script: Script::new(GCRA),
            prefix: prefix.to_owned(),
            timeout,
            runtime: tokio::runtime::Handle::try_current()?,
            skip_until: AtomicU64::new(0),
            up: AtomicBool::new(true),
            logger,
        })))
    }

    pub fn is_up(&self) -> bool {
        self.0.up.load(Ordering::Relaxed)
    }

    /// `None` when the store did not answer in time: the caller limits locally.
    pub async fn check(
        &self,
        budget: &str,
        client: &str,
        burst: u32,
        period: Duration,
    ) -> Option<Decision> {
        let inner = &self.0;
        if inner.skip_until.load(Ordering::Relaxed) > now_ms() {
            return None;
        }
        let key = format!("{}{budget}:{client}", inner.prefix);
        let interval_ms = period.as_millis().max(1) as u64;
        let pool = inner.pool.clone();
        let script = inner.script.clone();
        let call = async move {
            let mut conn = pool.get().await?;
            let r: (i64, i64, i64) = script
                .key(key)
                .arg(interval_ms)
                .arg(burst)
                .invoke_async(&mut conn)
                .await?;
            anyhow::Ok(r)
        };
        let timeout = inner.timeout;
        let answer = inner
            .runtime
            .spawn(async move { tokio::time::timeout(timeout, call).await })
            .await;
        match answer {
            Ok(Ok(Ok((allowed, remaining, ms)))) => {
                self.mark(true, None);
                let secs = (ms.max(0) as u64).div_ceil(1000);
                Some(if allowed == 1 {
                    Decision::Allowed {
                        limit: burst,
                        remaining: remaining.max(0) as u32,
                        reset_secs: secs,
                    }
                } else {
                    Decision::Denied {
                        limit: burst,
                        retry_after_secs: secs.max(1),
                    }
                })
            }
            Ok(Ok(Err(e))) => {
                self.mark(false, Some(e.to_string()));
                None
            }
            Ok(Err(_elapsed)) => {
                self.mark(false, Some(format!("no answer within {timeout:?}")));
                None
            }
            Err(join) => {
                self.mark(false, Some(join.to_string()));
                None
            }
        }
    }

    /// Logs the transitions only, not every failed request.
    fn mark(&self, up: bool, error: Option<String>) {
        let inner = &self.0;
        if !up {
            inner.skip_until.store(
                now_ms() + RETRY_AFTER_FAILURE.as_millis() as u64,
                Ordering::Relaxed,
            );
        }
        if inner.up.swap(up, Ordering::Relaxed) != up {
            if up {
                slog::info!(
                    inner.logger,
                    "rate limit store reachable again; one budget per client across instances"
                );
            } else {
                slog::warn!(inner.logger, "rate limit store unreachable; limiting per instance";
                    "error" => error.unwrap_or_default());
            }
        }
    }
}
