//! Test harness: live upstreams (echo servers with a JWKS, revocation list and OpenAPI
//! document) on random ports, a signing key, and the gateway built on port 0.

use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use api_gateway::app::AppState;
use api_gateway::configuration::Settings;
use api_gateway::startup::Application;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use futures_util::StreamExt;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const ISSUER: &str = "liveops-auth";
pub const AUDIENCE: &str = "liveops";
pub const METRICS_TOKEN: &str = "test-metrics-token";

pub struct TestKeys {
    pub kid: String,
    encoding: jsonwebtoken::EncodingKey,
    pub x: String,
}

impl TestKeys {
    pub fn generate() -> Self {
        let rng = SystemRandom::new();
        let doc = Ed25519KeyPair::generate_pkcs8(&rng).expect("ed25519 key");
        let pair = Ed25519KeyPair::from_pkcs8(doc.as_ref()).expect("parse key");
        TestKeys {
            kid: uuid::Uuid::now_v7().to_string(),
            encoding: jsonwebtoken::EncodingKey::from_ed_der(doc.as_ref()),
            x: URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
        }
    }

    pub fn jwk(&self) -> Value {
        json!({"kty": "OKP", "crv": "Ed25519", "x": self.x, "kid": self.kid, "alg": "EdDSA", "use": "sig"})
    }

    pub fn jwks(&self) -> Value {
        json!({"keys": [self.jwk()]})
    }

    pub fn sign(&self, claims: &Value, kid: &str, typ: &str) -> String {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
        header.kid = Some(kid.to_owned());
        header.typ = Some(typ.to_owned());
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("sign")
    }

    pub fn claims(&self, sub: &str, roles: &[&str]) -> Value {
        let now = chrono::Utc::now().timestamp();
        json!({
            "sub": sub, "roles": roles, "jti": uuid::Uuid::new_v4().to_string(),
            "sid": uuid::Uuid::now_v7().to_string(), "iat": now, "nbf": now, "exp": now + 900,
            "iss": ISSUER, "aud": AUDIENCE
        })
    }

    /// A valid access token for a user with these roles.
    pub fn token(&self, sub: &str, roles: &[&str]) -> String {
        self.sign(&self.claims(sub, roles), &self.kid, "at+jwt")
    }
}

#[derive(Clone)]
pub struct UpstreamState {
    pub name: String,
    pub keys: Arc<TestKeys>,
    /// Keys published after start (rotation).
    pub extra_jwks: Arc<Mutex<Vec<Value>>>,
    pub jwks_hits: Arc<AtomicUsize>,
    pub revocations: Arc<Mutex<Vec<Value>>>,
    pub openapi: Value,
    pub hits: Arc<AtomicUsize>,
}

pub struct TestUpstream {
    pub url: String,
    pub handle: ServerHandle,
    pub state: UpstreamState,
}

async fn echo(
    req: HttpRequest,
    mut body: web::Payload,
    st: web::Data<UpstreamState>,
) -> HttpResponse {
    st.hits.fetch_add(1, Ordering::SeqCst);
    if let Some(ms) = req
        .headers()
        .get("x-test-delay-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let mut hasher = Sha256::new();
    let mut len = 0usize;
    let mut small = Vec::new();
    while let Some(chunk) = body.next().await {
        let Ok(chunk) = chunk else {
            return HttpResponse::BadRequest().finish();
        };
        len += chunk.len();
        hasher.update(&chunk);
        if small.len() < 65_536 {
            small.extend_from_slice(&chunk);
        }
    }
    let mut headers = serde_json::Map::new();
    for (k, v) in req.headers() {
        let v = v.to_str().unwrap_or("<binary>").to_owned();
        match headers.get_mut(k.as_str()) {
            Some(Value::String(prev)) => {
                prev.push_str(", ");
                prev.push_str(&v);
            }
            _ => {
                headers.insert(k.as_str().to_owned(), Value::String(v));
            }
        }
    }
    let port = req.app_config().local_addr().port();
    HttpResponse::Ok()
        .insert_header(("x-powered-by", "Express"))
        .insert_header(("server", "test-upstream"))
        .insert_header(("keep-alive", "timeout=5"))
        .insert_header(("proxy-authenticate", "Basic"))
        .insert_header(("x-upstream-name", st.name.as_str()))
        .json(json!({
            "upstream": st.name,
            "port": port,
            "method": req.method().as_str(),
            "path": req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/"),
            "headers": headers,
            "bodyLen": len,
            "bodySha256": STANDARD.encode(hasher.finalize()),
            "body": String::from_utf8_lossy(&small),
        }))
}

impl Drop for TestUpstream {
    fn drop(&mut self) {
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let h = self.handle.clone();
            rt.spawn(async move { h.stop(false).await });
        }
    }
}

impl TestUpstream {
    pub async fn start(name: &str, keys: Arc<TestKeys>, openapi: Value) -> Self {
        Self::start_on(0, name, keys, openapi).await
    }

    /// Starts on a given port (0 = any), e.g. to bring a "crashed" upstream back.
    pub async fn start_on(port: u16, name: &str, keys: Arc<TestKeys>, openapi: Value) -> Self {
        let state = UpstreamState {
            name: name.to_owned(),
            keys,
            extra_jwks: Arc::new(Mutex::new(Vec::new())),
            jwks_hits: Arc::new(AtomicUsize::new(0)),
            revocations: Arc::new(Mutex::new(Vec::new())),
            openapi,
            hits: Arc::new(AtomicUsize::new(0)),
        };
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let st = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(st.clone()))
                .app_data(web::PayloadConfig::new(usize::MAX))
                .route(
                    "/healthz",
                    web::get().to(|| async { HttpResponse::Ok().json(json!({"status": "ok"})) }),
                )
                .route(
                    "/.well-known/jwks.json",
                    web::get().to(|st: web::Data<UpstreamState>| async move {
                        st.jwks_hits.fetch_add(1, Ordering::SeqCst);
                        let mut jwks = st.keys.jwks();
                        let extra = st.extra_jwks.lock().unwrap().clone();
                        jwks["keys"].as_array_mut().unwrap().extend(extra);
                        HttpResponse::Ok().json(jwks)
                    }),
                )
                .route(
                    "/internal/revocations",
                    web::get().to(|st: web::Data<UpstreamState>| async move {
                        let items = st.revocations.lock().unwrap().clone();
                        HttpResponse::Ok().json(json!({"items": items}))
                    }),
                )
                .route(
                    "/openapi.json",
                    web::get().to(|st: web::Data<UpstreamState>| async move {
                        HttpResponse::Ok().json(st.openapi.clone())
                    }),
                )
                .default_service(web::to(echo))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        TestUpstream {
            url: format!("http://127.0.0.1:{port}"),
            handle,
            state,
        }
    }

    pub fn port(&self) -> u16 {
        self.url.rsplit(':').next().unwrap().parse().unwrap()
    }

    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }

    pub fn hits(&self) -> usize {
        self.state.hits.load(Ordering::SeqCst)
    }
}

pub fn auth_openapi() -> Value {
    json!({
        "openapi": "3.0.0", "info": {"title": "auth-service", "version": "1"},
        "paths": {
            "/auth/login": {"post": {"responses": {"200": {"description": "tokens", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TokenPair"}}}}}}},
            "/auth/me": {"get": {"responses": {"200": {"description": "me"}}}},
            "/users/{id}/roles": {"patch": {"responses": {"200": {"description": "ok"}}}},
            "/internal/revocations": {"get": {"responses": {"200": {"description": "internal"}}}},
            "/healthz": {"get": {"responses": {"200": {"description": "ok"}}}}
        },
        "components": {"schemas": {
            "TokenPair": {"type": "object", "properties": {"accessToken": {"type": "string"}}},
            "Problem": {"type": "object", "properties": {"code": {"type": "string"}}}
        }}
    })
}

pub fn game_openapi() -> Value {
    json!({
        "openapi": "3.0.0", "info": {"title": "game-event-service", "version": "1"},
        "paths": {
            "/events": {"get": {"responses": {"200": {"description": "events"}}}},
            "/events/{id}/claims": {"post": {"responses": {"202": {"description": "claim", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}}}},
            "/users/{id}/progress": {"get": {"responses": {"200": {"description": "progress"}}}}
        },
        "components": {"schemas": {
            "Problem": {"type": "object", "properties": {"code": {"type": "string"}, "claimId": {"type": "string"}}}
        }}
    })
}

pub struct Fixture {
    pub keys: Arc<TestKeys>,
    pub auth: TestUpstream,
    pub game: TestUpstream,
}

pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub http: reqwest::Client,
    pub keys: Arc<TestKeys>,
    pub auth: TestUpstream,
    pub game: TestUpstream,
    pub handle: ServerHandle,
    pub state: actix_web::web::Data<AppState>,
    pub settings: Settings,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut r = self.http.get(self.url(path));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send().await.expect("request")
    }

    /// The Prometheus text, fetched with the metrics token.
    pub async fn metrics(&self) -> String {
        let r = self.get("/metrics", Some(METRICS_TOKEN)).await;
        assert_eq!(r.status(), 200);
        r.text().await.unwrap()
    }

    pub fn token(&self, roles: &[&str]) -> String {
        self.keys.token(&uuid::Uuid::now_v7().to_string(), roles)
    }
}

/// Closed port: bound then released, so connecting is refused.
pub fn closed_port_url() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("http://127.0.0.1:{port}")
}

pub fn write_routes(yaml: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("gw-routes-{}.yaml", uuid::Uuid::new_v4()));
    std::fs::write(&p, yaml).unwrap();
    p
}

pub fn amqp_url() -> String {
    std::env::var("AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

pub fn default_routes_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("routes.yaml")
}

pub async fn fixture() -> Fixture {
    let keys = Arc::new(TestKeys::generate());
    let auth = TestUpstream::start("auth-service", keys.clone(), auth_openapi()).await;
    let game = TestUpstream::start("game-event-service", keys.clone(), game_openapi()).await;
    Fixture { keys, auth, game }
}

pub fn base_settings(fx: &Fixture) -> Settings {
    let mut s = Settings::defaults();
    s.server.port = 0;
    s.server.workers = 2;
    s.routes_file = default_routes_file();
    s.upstreams
        .instances
        .insert("auth-service".into(), fx.auth.url.clone());
    s.upstreams
        .instances
        .insert("game-event-service".into(), fx.game.url.clone());
    s.auth.service_url = Some(fx.auth.url.clone());
    // Only the test about the RabbitMQ feed talks to the real broker (and deletes its exchange);
    // everywhere else the feed just retries against a closed port, leaving nothing behind.
    s.auth.amqp_url = secrecy::SecretString::from("amqp://guest:guest@127.0.0.1:1/%2f");
    s.auth.events_exchange = format!("test.auth.events.{}", uuid::Uuid::new_v4());
    s.upstreams.health_check_interval = None;
    s.server.shutdown_timeout_secs = 5;
    s.metrics_token = Some(secrecy::SecretString::from(METRICS_TOKEN));
    // Real Redis, with keys of this gateway only (tests run in parallel from one IP).
    s.limits.redis_url = Some(secrecy::SecretString::from(redis_url()));
    s.limits.redis_prefix = format!("test:gw:{}:", uuid::Uuid::new_v4());
    s
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_, _| {}).await
}

pub async fn spawn_app_with(tweak: impl FnOnce(&mut Settings, &Fixture)) -> TestApp {
    let fx = fixture().await;
    let mut settings = base_settings(&fx);
    tweak(&mut settings, &fx);
    spawn_with_settings(fx, settings).await
}

pub async fn spawn_with_settings(fx: Fixture, settings: Settings) -> TestApp {
    let logger = if std::env::var("TEST_LOG").is_ok() {
        api_gateway::telemetry::init_logger("debug")
    } else {
        api_gateway::telemetry::null_logger()
    };
    let app = Application::build(settings.clone(), logger)
        .await
        .expect("gateway builds");
    let port = app.port();
    let handle = app.handle();
    let state = app.state();
    tokio::spawn(app.run_until_stopped());
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let t = TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        http,
        keys: fx.keys,
        auth: fx.auth,
        game: fx.game,
        handle,
        state,
        settings,
    };
    // The JWKS is fetched in the background at start; wait so tests are deterministic.
    wait_until(Duration::from_secs(10), || async {
        t.state.verifier.key_count() > 0
    })
    .await;
    t
}

/// Polls `cond` until it holds or the deadline passes; returns whether it held.
pub async fn wait_until<F, Fut>(deadline: Duration, mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = Instant::now() + deadline;
    loop {
        if cond().await {
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sends a `Transfer-Encoding: chunked` request over a raw socket (no Content-Length), so the
/// gateway must stream it. Returns status and decoded body.
pub async fn raw_chunked_post(
    port: u16,
    path: &str,
    headers: &[(&str, &str)],
    chunks: Vec<Vec<u8>>,
) -> (u16, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n"
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).await.unwrap();
    for c in chunks {
        let frame = format!("{:x}\r\n", c.len());
        if s.write_all(frame.as_bytes()).await.is_err()
            || s.write_all(&c).await.is_err()
            || s.write_all(b"\r\n").await.is_err()
        {
            break;
        }
    }
    let _ = s.write_all(b"0\r\n\r\n").await;
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf).await;
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("response head");
    let head = String::from_utf8_lossy(&buf[..split]).to_ascii_lowercase();
    let status: u16 = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut body = buf[split + 4..].to_vec();
    if head.contains("transfer-encoding: chunked") {
        let mut out = Vec::new();
        let mut rest = &body[..];
        loop {
            let nl = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            let n = usize::from_str_radix(std::str::from_utf8(&rest[..nl]).unwrap().trim(), 16)
                .unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&rest[nl + 2..nl + 2 + n]);
            rest = &rest[nl + 2 + n + 2..];
        }
        body = out;
    }
    (status, body)
}
