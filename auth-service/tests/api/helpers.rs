use amqprs::channel::{
    BasicConsumeArguments, Channel, ExchangeDeclareArguments, ExchangeDeleteArguments,
    ExchangeType, QueueBindArguments, QueueDeclareArguments,
};
use amqprs::connection::Connection;
use auth_service::configuration::Settings;
use auth_service::startup::Application;
use auth_service::state::AppState;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

pub use crate::tcp_proxy::{host_port, TcpProxy};

pub const ADMIN_EMAIL: &str = "root@liveops.test";
pub const ADMIN_PASSWORD: &str = "admin-password-1";
pub const PASSWORD: &str = "correct-horse-battery";

static QUIET: Once = Once::new();

pub fn mongo_uri() -> String {
    std::env::var("MONGODB_URI").unwrap_or_else(|_| "mongodb://127.0.0.1:27017".into())
}
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}
pub fn amqp_url() -> String {
    std::env::var("AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// A port nothing listens on (bound then released).
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub env: HashMap<String, String>,
    pub state: actix_web::web::Data<AppState>,
    pub handle: actix_web::dev::ServerHandle,
    pub join: tokio::task::JoinHandle<std::io::Result<()>>,
}

pub fn base_env() -> HashMap<String, String> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let mut env = HashMap::new();
    for (k, v) in [
        ("APP_HOST", "127.0.0.1".to_string()),
        ("APP_PORT", "0".to_string()),
        ("MONGODB_URI", mongo_uri()),
        ("MONGODB_DATABASE", format!("auth_test_{id}")),
        ("REDIS_URL", redis_url()),
        ("REDIS_KEY_PREFIX", format!("authtest:{id}:")),
        ("AMQP_URL", amqp_url()),
        ("AUTH_EVENTS_EXCHANGE", format!("auth.events.test.{id}")),
        ("BCRYPT_COST", "4".to_string()),
        ("BOOTSTRAP_ADMIN_EMAIL", ADMIN_EMAIL.to_string()),
        ("BOOTSTRAP_ADMIN_PASSWORD", ADMIN_PASSWORD.to_string()),
        ("BOOTSTRAP_ADMIN_NICKNAME", "root".to_string()),
        ("SHUTDOWN_TIMEOUT_SECONDS", "10".to_string()),
    ] {
        env.insert(k.to_string(), v);
    }
    env
}

pub async fn spawn_app() -> TestApp {
    let app = spawn_app_with(base_env()).await;
    app.wait_ready().await;
    app
}

pub async fn spawn_app_with(env: HashMap<String, String>) -> TestApp {
    QUIET.call_once(|| {
        if std::env::var("TEST_LOG").is_err() {
            auth_service::telemetry::install(slog::Logger::root(slog::Discard, slog::o!()));
        }
    });
    let settings = Settings::from_map(env.clone()).expect("settings");
    let app = Application::build(settings).await.expect("build app");
    let port = app.port();
    let state = app.state();
    let handle = app.handle();
    let join = tokio::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        env,
        state,
        handle,
        join,
    }
}

impl TestApp {
    pub fn exchange(&self) -> String {
        self.env["AUTH_EVENTS_EXCHANGE"].clone()
    }

    pub async fn wait_ready(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = self.get("/readyz").await {
                if r.status() == 200 {
                    return;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "app never became ready"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until MongoDB-backed initialization is done, for apps whose `/readyz` stays 503
    /// because another dependency is down on purpose.
    pub async fn wait_initialized(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        while !self.state.is_ready_flag() {
            assert!(tokio::time::Instant::now() < deadline, "never initialized");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Result<reqwest::Response> {
        self.client
            .get(format!("{}{}", self.address, path))
            .send()
            .await
    }

    pub async fn get_auth(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{}", self.address, path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(format!("{}{}", self.address, path))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_raw(&self, path: &str, body: &str) -> reqwest::Response {
        self.client
            .post(format!("{}{}", self.address, path))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }

    pub async fn register(&self, email: &str) -> Value {
        let r = self
            .post_json(
                "/auth/register",
                &json!({"email": email, "password": PASSWORD, "nickname": "player"}),
            )
            .await;
        assert_eq!(r.status(), 201, "register {email}");
        r.json().await.unwrap()
    }

    pub async fn login(&self, email: &str, password: &str) -> reqwest::Response {
        self.post_json(
            "/auth/login",
            &json!({"email": email, "password": password}),
        )
        .await
    }

    /// Registers a user and logs in: (user, accessToken, refreshToken).
    pub async fn user_with_tokens(&self, email: &str) -> (Value, String, String) {
        let user = self.register(email).await;
        let (a, r) = self.tokens(email, PASSWORD).await;
        (user, a, r)
    }

    pub async fn tokens(&self, email: &str, password: &str) -> (String, String) {
        let r = self.login(email, password).await;
        assert_eq!(r.status(), 200, "login {email}");
        let b: Value = r.json().await.unwrap();
        (
            b["accessToken"].as_str().unwrap().to_string(),
            b["refreshToken"].as_str().unwrap().to_string(),
        )
    }

    pub async fn admin_token(&self) -> String {
        self.tokens(ADMIN_EMAIL, ADMIN_PASSWORD).await.0
    }

    /// `POST /auth/logout` with the bearer `token` and, when given, a JSON body.
    pub async fn logout(&self, token: &str, body: Option<&Value>) -> reqwest::Response {
        let mut req = self
            .client
            .post(format!("{}/auth/logout", self.address))
            .bearer_auth(token);
        if let Some(body) = body {
            req = req.json(body);
        }
        req.send().await.unwrap()
    }

    pub async fn patch_roles(&self, token: &str, user_id: &str, body: &Value) -> reqwest::Response {
        self.client
            .patch(format!("{}/users/{}/roles", self.address, user_id))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn metric(&self, name: &str) -> f64 {
        let text = self.get("/metrics").await.unwrap().text().await.unwrap();
        text.lines()
            .filter(|l| l.starts_with(name))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// Stops the server and removes the per-test exchange.
    pub async fn cleanup(self) {
        self.handle.stop(true).await;
        let _ = tokio::time::timeout(Duration::from_secs(15), self.join).await;
        if let Ok(conn) =
            Connection::open(&auth_service::mq::parse_amqp_url(&amqp_url()).unwrap()).await
        {
            if let Ok(ch) = conn.open_channel(None).await {
                let _ = ch
                    .exchange_delete(ExchangeDeleteArguments::new(
                        &self.env["AUTH_EVENTS_EXCHANGE"],
                    ))
                    .await;
            }
            let _ = conn.close().await;
        }
    }
}

pub async fn problem(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    assert!(
        ct.starts_with("application/problem+json"),
        "content-type {ct} for {status}"
    );
    (status, r.json().await.unwrap())
}

/// (routing key, message_id property, body)
type Received = (String, Option<String>, Value);

/// Message properties a test may check: (routing key, user_id, content_type).
type Properties = (String, Option<String>, Option<String>);

/// Test consumer: an exclusive queue bound to the per-test exchange with `#`.
pub struct EventListener {
    _conn: Connection,
    _channel: Channel,
    messages: Arc<Mutex<Vec<Received>>>,
    properties: Arc<Mutex<Vec<Properties>>>,
}

impl EventListener {
    pub async fn bind(exchange: &str) -> EventListener {
        let conn = Connection::open(&auth_service::mq::parse_amqp_url(&amqp_url()).unwrap())
            .await
            .unwrap();
        let channel = conn.open_channel(None).await.unwrap();
        channel
            .exchange_declare(
                ExchangeDeclareArguments::of_type(exchange, ExchangeType::Topic)
                    .durable(true)
                    .finish(),
            )
            .await
            .unwrap();
        let (queue, _, _) = channel
            .queue_declare(QueueDeclareArguments::exclusive_server_named())
            .await
            .unwrap()
            .unwrap();
        channel
            .queue_bind(QueueBindArguments::new(&queue, exchange, "#"))
            .await
            .unwrap();
        let (_, mut rx) = channel
            .basic_consume_rx(
                BasicConsumeArguments::new(&queue, "")
                    .auto_ack(true)
                    .finish(),
            )
            .await
            .unwrap();
        let messages = Arc::new(Mutex::new(Vec::new()));
        let properties = Arc::new(Mutex::new(Vec::new()));
        let sink = messages.clone();
        let props_sink = properties.clone();
        tokio::spawn(async move {
            while let Some(msg) = rx.recv().await {
                let key = msg
                    .deliver
                    .map(|d| d.routing_key().to_string())
                    .unwrap_or_default();
                let props = msg.basic_properties;
                let message_id = props.as_ref().and_then(|p| p.message_id().cloned());
                props_sink.lock().unwrap().push((
                    key.clone(),
                    props.as_ref().and_then(|p| p.user_id().cloned()),
                    props.as_ref().and_then(|p| p.content_type().cloned()),
                ));
                let body: Value =
                    serde_json::from_slice(&msg.content.unwrap_or_default()).unwrap_or(Value::Null);
                sink.lock().unwrap().push((key, message_id, body));
            }
        });
        EventListener {
            _conn: conn,
            _channel: channel,
            messages,
            properties,
        }
    }

    /// Waits for a message with this routing key whose body satisfies `pred`.
    pub async fn expect(
        &self,
        routing_key: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> (Option<String>, Value) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            {
                let msgs = self.messages.lock().unwrap();
                if let Some((_, id, body)) =
                    msgs.iter().find(|(k, _, b)| k == routing_key && pred(b))
                {
                    return (id.clone(), body.clone());
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no {routing_key} event; got {:?}",
                self.messages.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// (routing key, user_id, content_type) of every message received so far.
    pub fn properties(&self) -> Vec<Properties> {
        self.properties.lock().unwrap().clone()
    }

    pub fn count(&self, routing_key: &str) -> usize {
        self.messages
            .lock()
            .unwrap()
            .iter()
            .filter(|(k, _, _)| k == routing_key)
            .count()
    }
}

impl TestApp {
    /// Polls /readyz until `check` holds for the body's `checks` map.
    pub async fn wait_checks(&self, name: &str, want: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = self.get("/readyz").await {
                let b: Value = r.json().await.unwrap_or(Value::Null);
                if b["checks"][name] == want {
                    return b;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{name} never became {want}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
