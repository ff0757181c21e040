//! Harness for the end-to-end suite: starts the real service binaries (built by `scripts/dev test`)
//! as child processes on free ports, against the real MongoDB server, Redis and RabbitMQ, with a
//! database, key prefix, exchange and queue names of their own, and drives them over HTTP.

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::process::{Child, Command};

pub mod amqp;
pub mod broker;
mod client;
pub mod raw;

/// How many instances of each service to start.
#[derive(Clone, Copy, Debug)]
pub struct Topology {
    pub gateways: usize,
    pub auth_services: usize,
    pub game_event_services: usize,
}

impl Topology {
    pub const SINGLE: Topology = Topology {
        gateways: 1,
        auth_services: 1,
        game_event_services: 1,
    };
}

/// Environment variables replacing the harness's defaults (which suit load runs: no login
/// throttling, no per-client limits) for the auth-services and the gateways.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub auth: Vec<(&'static str, String)>,
    pub gateway: Vec<(&'static str, String)>,
}

pub struct Platform {
    pub run_id: String,
    pub gateways: Vec<String>,
    pub auth_services: Vec<String>,
    pub game_event_services: Vec<String>,
    pub admin_email: String,
    pub admin_password: String,
    pub auth_exchange: String,
    pub rewards_exchange: String,
    /// AMQP_URL's user (guest in development): what the tests' own listeners connect as.
    pub amqp_url: String,
    pub broker: broker::BrokerUsers,
    pub log_dir: PathBuf,
    pub http: reqwest::Client,
    children: Vec<(String, Child)>,
    next_gateway: std::sync::atomic::AtomicUsize,
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("e2e lives in the repository root")
        .to_path_buf()
}

fn bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("E2E_BIN_DIR") {
        return PathBuf::from(dir);
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo_root().join("target"));
    target.join("debug")
}

impl Platform {
    pub async fn start(topology: Topology) -> Result<Platform> {
        Self::start_on(
            topology,
            &env_or("MONGODB_URI", "mongodb://127.0.0.1:27017"),
        )
        .await
    }

    /// Like `start`, with some settings of the auth-services and gateways replaced.
    pub async fn start_with(topology: Topology, overrides: Overrides) -> Result<Platform> {
        let uri = env_or("MONGODB_URI", "mongodb://127.0.0.1:27017");
        Self::start_configured(topology, &uri, overrides).await
    }

    /// Like `start`, against the MongoDB server at `mongodb_uri`.
    pub async fn start_on(topology: Topology, mongodb_uri: &str) -> Result<Platform> {
        Self::start_configured(topology, mongodb_uri, Overrides::default()).await
    }

    async fn start_configured(
        topology: Topology,
        mongodb_uri: &str,
        overrides: Overrides,
    ) -> Result<Platform> {
        let run_id = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
        let mongodb_uri = mongodb_uri.to_string();
        let redis_url = env_or("REDIS_URL", "redis://127.0.0.1:6379");
        let amqp_url = env_or("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f");
        let broker = broker::BrokerUsers::resolve(&amqp_url).await;
        let auth_exchange = format!("e2e.{run_id}.auth.events");
        let rewards_exchange = format!("e2e.{run_id}.rewards");
        let admin_email = format!("admin-{run_id}@e2e.test");
        let admin_password = format!("Adm1n-{run_id}");
        let log_dir = repo_root().join("target").join("e2e-logs").join(&run_id);
        std::fs::create_dir_all(&log_dir)?;

        let common: Vec<(&str, String)> = vec![
            ("APP_HOST", "127.0.0.1".into()),
            ("LOG_LEVEL", env_or("E2E_LOG_LEVEL", "info")),
            ("MONGODB_URI", mongodb_uri),
            ("REDIS_URL", redis_url),
            ("AUTH_EVENTS_EXCHANGE", auth_exchange.clone()),
            ("JWT_ISSUER", "liveops-auth".into()),
            ("JWT_AUDIENCE", "liveops".into()),
            // auth-service answers its revocation list in full only to holders of this token.
            ("INTERNAL_TOKEN", format!("e2e-internal-{run_id}")),
        ];

        let mut platform = Platform {
            run_id: run_id.clone(),
            gateways: vec![],
            auth_services: vec![],
            game_event_services: vec![],
            admin_email: admin_email.clone(),
            admin_password: admin_password.clone(),
            auth_exchange,
            rewards_exchange: rewards_exchange.clone(),
            amqp_url,
            broker: broker.clone(),
            log_dir,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .pool_max_idle_per_host(256)
                // Below the servers' keep-alive (5 s), so a pooled connection is never reused
                // just as the server closes it.
                .pool_idle_timeout(Duration::from_secs(2))
                .build()?,
            children: vec![],
            next_gateway: Default::default(),
        };

        for n in 0..topology.auth_services {
            let port = free_port();
            let mut env = common.clone();
            env.extend([
                ("APP_PORT", port.to_string()),
                ("MONGODB_DATABASE", format!("e2e_{run_id}_auth")),
                ("REDIS_KEY_PREFIX", format!("e2e:{run_id}:auth:")),
                ("BCRYPT_COST", "4".into()),
                ("BOOTSTRAP_ADMIN_EMAIL", admin_email.clone()),
                ("BOOTSTRAP_ADMIN_PASSWORD", admin_password.clone()),
                ("BOOTSTRAP_ADMIN_NICKNAME", "admin".into()),
                // Load tests log many users in from one address.
                ("LOGIN_MAX_FAILURES", "1000".into()),
                // The gateways run on loopback; their X-Forwarded-For names the real client.
                ("TRUSTED_PROXIES", "127.0.0.1/32,::1/128".into()),
                ("AMQP_URL", broker.auth_service.clone()),
            ]);
            env.extend(overrides.auth.iter().map(|(k, v)| (*k, v.clone())));
            platform.spawn("auth-service", n, port, &env)?;
            platform
                .auth_services
                .push(format!("http://127.0.0.1:{port}"));
        }
        platform.wait_ready(&platform.auth_services.clone()).await?;
        let auth_url = platform.auth_services[0].clone();

        for n in 0..topology.game_event_services {
            let port = free_port();
            let mut env = common.clone();
            env.extend([
                ("APP_PORT", port.to_string()),
                ("MONGODB_DATABASE", format!("e2e_{run_id}_game")),
                ("REDIS_KEY_PREFIX", format!("e2e:{run_id}:game:")),
                ("AUTH_SERVICE_URL", auth_url.clone()),
                (
                    "AUTH_EVENTS_QUEUE",
                    format!("e2e.{run_id}.game.auth-events"),
                ),
                ("ACTIVITY_QUEUE", format!("e2e.{run_id}.game.activity")),
                ("CLAIMS_QUEUE", format!("e2e.{run_id}.game.claims")),
                ("REWARDS_EXCHANGE", rewards_exchange.clone()),
                ("AMQP_URL", broker.game_event_service.clone()),
                ("AUTH_EVENTS_PUBLISHER", broker.auth_publisher.clone()),
                ("DECISIONS_EXCHANGE", format!("e2e.{run_id}.game.decisions")),
                // Short, so a test sees a heartbeat through the gateway.
                ("SSE_HEARTBEAT_SECONDS", "2".into()),
            ]);
            platform.spawn("game-event-service", n, port, &env)?;
            platform
                .game_event_services
                .push(format!("http://127.0.0.1:{port}"));
        }
        platform
            .wait_ready(&platform.game_event_services.clone())
            .await?;

        let auth_instances = platform.auth_services.join(",");
        let game_instances = platform.game_event_services.join(",");
        for n in 0..topology.gateways {
            let port = free_port();
            let mut env = common.clone();
            env.extend([
                ("APP_PORT", port.to_string()),
                (
                    "ROUTES_FILE",
                    repo_root()
                        .join("api-gateway/routes.yaml")
                        .display()
                        .to_string(),
                ),
                ("UPSTREAM_AUTH_SERVICE", auth_instances.clone()),
                ("UPSTREAM_GAME_EVENT_SERVICE", game_instances.clone()),
                ("AUTH_SERVICE_URL", auth_url.clone()),
                ("REDIS_KEY_PREFIX", format!("e2e:{run_id}:gw:")),
                // The load run sends thousands of requests from one address.
                ("RATE_LIMIT_PER_MINUTE", "1000000".into()),
                ("RATE_LIMIT_BURST", "100000".into()),
                // ...and holds a thousand requests open at once from it.
                ("CLIENT_MAX_CONNECTIONS", "100000".into()),
                ("CLIENT_MAX_IN_FLIGHT", "100000".into()),
                ("AMQP_URL", broker.api_gateway.clone()),
                ("AUTH_EVENTS_PUBLISHER", broker.auth_publisher.clone()),
            ]);
            env.extend(overrides.gateway.iter().map(|(k, v)| (*k, v.clone())));
            platform.spawn("api-gateway", n, port, &env)?;
            platform.gateways.push(format!("http://127.0.0.1:{port}"));
        }
        platform.wait_ready(&platform.gateways.clone()).await?;
        Ok(platform)
    }

    fn spawn(&mut self, service: &str, n: usize, port: u16, env: &[(&str, String)]) -> Result<()> {
        let bin = bin_dir().join(service);
        if !bin.exists() {
            bail!(
                "{} is missing: build the services first (scripts/dev test does)",
                bin.display()
            );
        }
        let log = std::fs::File::create(self.log_dir.join(format!("{service}-{n}.log")))?;
        let child = Command::new(&bin)
            .current_dir(repo_root().join(service))
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        self.children
            .push((format!("{service}-{n} (:{port})"), child));
        Ok(())
    }

    async fn wait_ready(&mut self, urls: &[String]) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(90);
        for url in urls {
            loop {
                if let Ok(resp) = self.http.get(format!("{url}/readyz")).send().await {
                    if resp.status() == StatusCode::OK {
                        break;
                    }
                }
                for (name, child) in self.children.iter_mut() {
                    if let Some(status) = child.try_wait()? {
                        bail!(
                            "{name} exited with {status}; logs in {}",
                            self.log_dir.display()
                        );
                    }
                }
                if Instant::now() > deadline {
                    bail!(
                        "{url} not ready after 90 s; logs in {}",
                        self.log_dir.display()
                    );
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        Ok(())
    }

    /// Gateways in turn, so a multi-gateway run spreads its traffic.
    pub fn gateway(&self) -> &str {
        let n = self
            .next_gateway
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        &self.gateways[n % self.gateways.len()]
    }
}

impl Drop for Platform {
    fn drop(&mut self) {
        // kill_on_drop sends SIGKILL; a SIGTERM first lets the services close their channels.
        for (_, child) in &self.children {
            if let Some(pid) = child.id() {
                let _ = std::process::Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status();
            }
        }
    }
}

pub const PASSWORD: &str = "correct-horse-battery";

pub(crate) fn nickname(email: &str) -> String {
    email
        .split('@')
        .next()
        .unwrap_or("player")
        .chars()
        .take(24)
        .collect()
}

#[derive(Clone, Debug)]
pub struct User {
    pub id: String,
    pub token: String,
    pub invite_code: String,
}

#[derive(Debug)]
pub struct Response {
    pub status: StatusCode,
    pub headers: HashMap<String, String>,
    pub body: Value,
}

impl Response {
    pub fn expect(&self, status: StatusCode, what: &str) -> Result<()> {
        if self.status != status {
            bail!(
                "{what}: expected {status}, got {} with {}",
                self.status,
                self.body
            );
        }
        Ok(())
    }
}
