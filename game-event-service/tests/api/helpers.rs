//! Test harness: spawns the real application against the real MongoDB (stand-in), Redis and
//! RabbitMQ with a fresh database, key prefix and queue/exchange names per test. The only
//! stand-in is a tiny HTTP server for auth-service's JWKS and revocation list.
#![allow(dead_code)]
use actix_web::{web, App, HttpResponse, HttpServer};
use amqprs::channel::{
    BasicGetArguments, Channel, QueueBindArguments, QueueDeclareArguments, QueueDeleteArguments,
};
use amqprs::connection::Connection;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use game_event_service::configuration::{
    AmqpSettings, AppSettings, AuthSettings, ClaimSettings, MongoSettings, OutboxSettings,
    RedisSettings, Settings,
};
use game_event_service::domain::{ClaimId, EventId};
use game_event_service::startup::Application;
use game_event_service::state::AppState;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::SecretString;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

pub fn mongodb_uri() -> String {
    std::env::var("MONGODB_URI").unwrap_or_else(|_| "mongodb://127.0.0.1:27017".into())
}
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}
pub fn amqp_url() -> String {
    std::env::var("AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

pub const ISSUER: &str = "liveops-auth";
pub const AUDIENCE: &str = "liveops";

/// Stands in for auth-service's HTTP surface only: JWKS and the revocation list.
pub struct AuthStub {
    pub url: String,
    pub kid: String,
    encoding: EncodingKey,
    pub revocations: Arc<Mutex<Vec<Value>>>,
    handle: actix_web::dev::ServerHandle,
}

impl AuthStub {
    pub async fn start() -> AuthStub {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).expect("keygen");
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("key");
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
        let kid = uuid::Uuid::new_v4().to_string();
        let jwks = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA", "use": "sig"}]});
        let revocations: Arc<Mutex<Vec<Value>>> = Arc::default();
        let revs = revocations.clone();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = HttpServer::new(move || {
            let jwks = jwks.clone();
            let revs = revs.clone();
            App::new()
                .route(
                    "/.well-known/jwks.json",
                    web::get().to(move || {
                        let jwks = jwks.clone();
                        async move { HttpResponse::Ok().json(jwks) }
                    }),
                )
                .route(
                    "/internal/revocations",
                    web::get().to(move || {
                        let items = revs.lock().unwrap().clone();
                        async move { HttpResponse::Ok().json(json!({"items": items})) }
                    }),
                )
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        AuthStub {
            url: format!("http://127.0.0.1:{port}"),
            kid,
            encoding: EncodingKey::from_ed_der(pkcs8.as_ref()),
            revocations,
            handle,
        }
    }

    pub fn token_with(
        &self,
        user_id: &str,
        roles: &[&str],
        sid: &str,
        tweak: impl Fn(&mut Value),
    ) -> String {
        let now = chrono::Utc::now().timestamp();
        let mut claims = json!({
            "sub": user_id, "roles": roles, "jti": uuid::Uuid::new_v4().to_string(), "sid": sid,
            "iat": now, "nbf": now, "exp": now + 900, "iss": ISSUER, "aud": AUDIENCE,
        });
        tweak(&mut claims);
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some("at+jwt".into());
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.encoding).expect("sign")
    }

    pub fn token(&self, user_id: &str, roles: &[&str]) -> String {
        self.token_with(user_id, roles, &uuid::Uuid::new_v4().to_string(), |_| {})
    }
}

pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub settings: Settings,
    pub state: web::Data<AppState>,
    pub shutdown: CancellationToken,
    pub auth: Arc<AuthStub>,
    pub client: reqwest::Client,
    pub join: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

pub fn test_settings(auth_url: &str) -> Settings {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let short = &id[..12];
    let d = Settings::default();
    Settings {
        app: AppSettings {
            host: "127.0.0.1".into(),
            port: 0,
            shutdown_timeout_seconds: 5,
            ..d.app
        },
        mongodb: MongoSettings {
            uri: SecretString::from(mongodb_uri()),
            database: format!("ges_test_{short}"),
            timeout_ms: 2000,
        },
        redis: RedisSettings {
            url: SecretString::from(redis_url()),
            key_prefix: format!("ges_test_{short}:"),
        },
        amqp: AmqpSettings {
            url: SecretString::from(amqp_url()),
            auth_events_exchange: format!("test.auth.events.{short}"),
            auth_events_queue: format!("test.ges.auth-events.{short}"),
            activity_queue: format!("test.game.activity.{short}"),
            claims_queue: format!("test.ges.claims.{short}"),
            rewards_exchange: format!("test.rewards.{short}"),
            catalog_exchange: format!("test.ges.catalog.{short}"),
            decisions_exchange: format!("test.ges.decisions.{short}"),
        },
        auth: AuthSettings {
            service_url: auth_url.to_string(),
            ..d.auth
        },
        claims: ClaimSettings {
            pending_redelivery_seconds: 5,
            ..d.claims
        },
        outbox: OutboxSettings { lease_seconds: 2 },
        ..d
    }
}

fn logger() -> slog::Logger {
    if std::env::var("TEST_LOG").is_ok() {
        game_event_service::telemetry::get_logger("debug")
    } else {
        slog::Logger::root(slog::Discard, slog::o!())
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
    SpawnBuilder::new(tweak).await_with_broker().await
}

pub struct SpawnBuilder {
    settings: Settings,
    auth: Option<Arc<AuthStub>>,
}

impl SpawnBuilder {
    pub fn new(tweak: impl FnOnce(&mut Settings)) -> Self {
        let mut settings = test_settings("http://127.0.0.1:1");
        tweak(&mut settings);
        SpawnBuilder {
            settings,
            auth: None,
        }
    }
    async fn finish(mut self, wait: bool) -> TestApp {
        let auth = match self.auth.take() {
            Some(a) => a,
            None => Arc::new(AuthStub::start().await),
        };
        self.settings.auth.service_url = auth.url.clone();
        spawn_with_settings(self.settings, auth, wait).await
    }
    pub async fn await_with_broker(self) -> TestApp {
        self.finish(true).await
    }
    pub async fn await_without_broker(self) -> TestApp {
        self.finish(false).await
    }
}

/// A second instance sharing `other`'s database, queues and auth stub.
pub async fn spawn_sibling(other: &TestApp, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let mut settings = other.settings.clone();
    tweak(&mut settings);
    let wait = settings.amqp_url_is_reachable();
    spawn_with_settings(settings, other.auth.clone(), wait).await
}

trait Reachable {
    fn amqp_url_is_reachable(&self) -> bool;
}
impl Reachable for Settings {
    fn amqp_url_is_reachable(&self) -> bool {
        use secrecy::ExposeSecret;
        self.amqp.url.expose_secret() == amqp_url()
    }
}

pub async fn spawn_with_settings(
    settings: Settings,
    auth: Arc<AuthStub>,
    wait_broker: bool,
) -> TestApp {
    let app = Application::build(settings.clone(), logger())
        .await
        .expect("build app");
    let port = app.port();
    let state = app.state();
    let shutdown = app.shutdown_token();
    let join = tokio::spawn(app.run_until_stopped());
    let t = TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        settings,
        state,
        shutdown,
        auth,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        join: Some(join),
    };
    if wait_broker {
        let st = t.state.clone();
        wait_until(Duration::from_secs(15), || {
            let st = st.clone();
            async move { st.broker.is_connected() }
        })
        .await
        .expect("broker connected");
    }
    t
}

pub async fn wait_until<F, Fut>(timeout: Duration, mut f: F) -> Result<(), ()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if f().await {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl TestApp {
    pub fn token(&self, user_id: &str, roles: &[&str]) -> String {
        self.auth.token(user_id, roles)
    }

    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut rb = self
            .client
            .request(method, format!("{}{}", self.address, path));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let res = rb.send().await.expect("request");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Resp {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.request(reqwest::Method::GET, path, Some(token), None, &[])
            .await
    }
    pub async fn post(&self, path: &str, token: &str, body: Value) -> Resp {
        self.request(reqwest::Method::POST, path, Some(token), Some(body), &[])
            .await
    }
    pub async fn post_raw(&self, path: &str, token: &str, ct: &str, body: &str) -> Resp {
        let res = self
            .client
            .post(format!("{}{}", self.address, path))
            .bearer_auth(token)
            .header("content-type", ct)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap_or_default();
        Resp {
            status,
            headers,
            body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        }
    }

    pub fn admin(&self) -> String {
        self.token("admin-1", &["ADMIN"])
    }
    pub fn operator(&self) -> String {
        self.token("operator-1", &["OPERATOR"])
    }

    /// Creates an event as OPERATOR from defaults overridden by `fields`.
    pub async fn create_event(&self, fields: Value) -> Value {
        let now = chrono::Utc::now();
        let mut body = json!({
            "title": "Test event",
            "startsAt": (now - chrono::Duration::days(7)).to_rfc3339(),
            "endsAt": (now + chrono::Duration::days(7)).to_rfc3339(),
            "status": "ACTIVE",
            "conditions": [],
            "rewards": [{"type": "POINT", "quantity": 100}],
        });
        for (k, v) in fields.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = self.post("/events", &self.operator(), body).await;
        assert_eq!(r.status, 201, "create event: {:?}", r.body);
        r.body
    }

    /// Publishes auth-service's `user.registered` for `user` (as the tests' broker user, the
    /// default AUTH_EVENTS_PUBLISHER) and waits until the service knows the user: activities of
    /// unknown users are refused.
    pub async fn register_user(&self, user: &str, at: chrono::DateTime<chrono::Utc>) {
        let message_id = uuid::Uuid::now_v7().to_string();
        let body = json!({
            "messageId": message_id, "userId": user, "email": format!("{user}@x.io"),
            "nickname": user, "invitedBy": null, "occurredAt": at.to_rfc3339(),
        });
        self.state
            .broker
            .publish(
                &self.settings.amqp.auth_events_exchange,
                "user.registered",
                serde_json::to_vec(&body).unwrap(),
                &message_id,
            )
            .await
            .unwrap();
        let id = game_event_service::domain::UserId::parse(user).unwrap();
        wait_until(Duration::from_secs(10), || async {
            self.state.store.is_known_user(&id).await.unwrap_or(false)
        })
        .await
        .expect("user.registered ingested");
    }

    /// Registers `user` (long ago) unless the service knows it already.
    pub async fn ensure_registered(&self, user: &str) {
        let id = game_event_service::domain::UserId::parse(user).unwrap();
        if !self.state.store.is_known_user(&id).await.unwrap() {
            let long_ago = chrono::DateTime::parse_from_rfc3339("2020-01-01T00:00:00Z").unwrap();
            self.register_user(user, long_ago.into()).await;
        }
    }

    /// Records an activity through the ADMIN route, registering the user first.
    pub async fn record(
        &self,
        user: &str,
        key: &str,
        value: i64,
        at: chrono::DateTime<chrono::Utc>,
    ) {
        self.ensure_registered(user).await;
        let r = self
            .post(
                "/activities",
                &self.admin(),
                json!({"userId": user, "key": key, "value": value, "occurredAt": at.to_rfc3339()}),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
    }

    pub async fn claim(&self, event_id: &str, token: &str, headers: &[(&str, &str)]) -> Resp {
        self.request(
            reqwest::Method::POST,
            &format!("/events/{event_id}/claims"),
            Some(token),
            None,
            headers,
        )
        .await
    }

    /// Polls the claim until it leaves PENDING.
    pub async fn wait_decided(&self, claim_id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let r = self
                .get(&format!("/claims/{claim_id}"), &self.admin())
                .await;
            if r.status == 200 && r.body["status"] != "PENDING" {
                return r.body;
            }
            assert!(
                Instant::now() < deadline,
                "claim {claim_id} never decided: {:?}",
                r.body
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn stop(&mut self) {
        self.shutdown.cancel();
        if let Some(j) = self.join.take() {
            let _ = tokio::time::timeout(Duration::from_secs(15), j).await;
        }
    }

    /// Stops the app and removes what the test created (database, queues, exchanges).
    pub async fn cleanup(mut self) {
        self.stop().await;
        let _ = self.state.store.db.drop().await;
        let _ = game_event_service::mq::delete_topology(&self.settings).await;
    }
}

/// A queue bound to the test's rewards exchange, read with basic.get.
pub struct Probe {
    conn: Connection,
    channel: Channel,
    pub queue: String,
}

pub struct ProbeMessage {
    pub message_id: Option<String>,
    pub routing_key: String,
    pub body: Value,
}

impl Probe {
    pub async fn bind(exchange: &str, routing_key: &str) -> Probe {
        let args = game_event_service::mq::connection_args(&amqp_url()).unwrap();
        let conn = Connection::open(&args).await.expect("amqp");
        let channel = conn.open_channel(None).await.unwrap();
        channel
            .exchange_declare(
                amqprs::channel::ExchangeDeclareArguments::new(exchange, "topic")
                    .durable(true)
                    .finish(),
            )
            .await
            .unwrap();
        let (queue, _, _) = channel
            .queue_declare(
                QueueDeclareArguments::exclusive_server_named()
                    .auto_delete(true)
                    .finish(),
            )
            .await
            .unwrap()
            .unwrap();
        channel
            .queue_bind(QueueBindArguments::new(&queue, exchange, routing_key))
            .await
            .unwrap();
        Probe {
            conn,
            channel,
            queue,
        }
    }

    pub async fn next(&self, timeout: Duration) -> Option<ProbeMessage> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some((get_ok, props, body)) = self
                .channel
                .basic_get(BasicGetArguments::new(&self.queue).no_ack(true).finish())
                .await
                .unwrap()
            {
                return Some(ProbeMessage {
                    message_id: props.message_id().cloned(),
                    routing_key: get_ok.routing_key().clone(),
                    body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                });
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every message until none arrived for `quiet` (at most `max` in all).
    pub async fn until_quiet(&self, quiet: Duration, max: Duration) -> Vec<ProbeMessage> {
        let deadline = Instant::now() + max;
        let mut out = Vec::new();
        while Instant::now() < deadline {
            match self.next(quiet).await {
                Some(m) => out.push(m),
                None => break,
            }
        }
        out
    }

    /// Asserts one `reward.granted` per id of `approved` and nothing else: none missing,
    /// none published twice.
    pub async fn expect_one_grant_each(&self, approved: &std::collections::HashSet<String>) {
        let got = self
            .until_quiet(Duration::from_secs(2), Duration::from_secs(60))
            .await;
        let ids: Vec<String> = got.iter().filter_map(|m| m.message_id.clone()).collect();
        let distinct: std::collections::HashSet<String> = ids.iter().cloned().collect();
        assert_eq!(&distinct, approved, "one reward.granted per approved claim");
        assert_eq!(
            ids.len(),
            approved.len(),
            "no reward.granted published twice"
        );
        for m in &got {
            assert_eq!(m.routing_key, "reward.granted");
            assert_eq!(m.body["claimId"].as_str(), m.message_id.as_deref());
        }
    }

    /// Publishes as the tests' broker user with exactly these properties (no confirm): what a
    /// misbehaving or hostile publisher would send.
    pub async fn publish_raw(
        &self,
        exchange: &str,
        routing_key: &str,
        body: &[u8],
        content_type: Option<&str>,
        user_id: Option<&str>,
    ) {
        let mut props = amqprs::BasicProperties::default();
        props.with_persistence(true);
        if let Some(ct) = content_type {
            props.with_content_type(ct);
        }
        if let Some(u) = user_id {
            props.with_user_id(u);
        }
        self.channel
            .basic_publish(
                props,
                body.to_vec(),
                amqprs::channel::BasicPublishArguments::new(exchange, routing_key),
            )
            .await
            .unwrap();
    }

    /// Counts messages currently in a named queue (passive declare).
    pub async fn count(&self, queue: &str) -> u32 {
        self.channel
            .queue_declare(QueueDeclareArguments::new(queue).passive(true).finish())
            .await
            .ok()
            .flatten()
            .map(|(_, n, _)| n)
            .unwrap_or(0)
    }

    pub async fn close(self) {
        let _ = self
            .channel
            .queue_delete(QueueDeleteArguments::new(&self.queue))
            .await;
        let _ = self.channel.close().await;
        let _ = self.conn.close().await;
    }
}

/// A TCP proxy in front of a real dependency, so a test can make it vanish and come back
/// without touching the shared servers.
pub struct Proxy {
    pub port: u16,
    upstream: String,
    task: Option<tokio::task::JoinHandle<()>>,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Proxy {
    /// Reserves a port without listening yet (the dependency looks down).
    pub fn new(upstream: &str) -> Proxy {
        Proxy {
            port: free_port(),
            upstream: upstream.to_string(),
            task: None,
        }
    }

    pub async fn start(&mut self) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .unwrap();
        let upstream = self.upstream.clone();
        self.task = Some(tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    break;
                };
                let upstream = upstream.clone();
                conns.spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        }));
    }

    /// Closes the listener and every proxied connection.
    pub async fn stop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
    }
}

/// A typed event id from a response body's id.
pub fn eid(id: &str) -> EventId {
    EventId::parse(id).expect("event id")
}

/// A typed claim id from a response body's id.
pub fn cid(id: &str) -> ClaimId {
    ClaimId::parse(id).expect("claim id")
}
