//! Builds the application (state, background tasks, HTTP server) and runs it.

use crate::cache::Redis;
use crate::configuration::Settings;
use crate::extract::MAX_BODY_BYTES;
use crate::keys::{self, KeyRing, SigningKey};
use crate::metrics::Metrics;
use crate::middleware::request_context;
use crate::mq::Relay;
use crate::service::{accounts, roles};
use crate::state::AppState;
use crate::store::{self, SigningKeyStore};
use crate::{openapi_doc, routes};
use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::from_fn;
use actix_web::App;
use paperclip::actix::{web, OpenApiExt};
use paperclip::v2::models::{DefaultApiRaw, Info};
use secrecy::ExposeSecret;
use std::net::TcpListener;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

/// Keys from configuration, if any; `None` means "use the shared development key".
fn configured_keys(settings: &Settings) -> anyhow::Result<Option<KeyRing>> {
    if let Some(dir) = &settings.jwt.private_keys_dir {
        return Ok(Some(KeyRing::new(keys::load_dir(dir)?)?));
    }
    if let Some(pem) = &settings.jwt.private_key_pem {
        let pem = pem.expose_secret().replace("\\n", "\n");
        return Ok(Some(KeyRing::new(vec![SigningKey::from_pem(&pem, None)?])?));
    }
    Ok(None)
}

/// Everything that needs MongoDB before the service is fully useful; retried until it works
/// so that the process can start while MongoDB is still down.
async fn initialize(
    state: web::Data<AppState>,
    settings: Settings,
    need_dev_key: bool,
    shutdown: CancellationToken,
) {
    let log = crate::telemetry::root();
    let mut backoff = Duration::from_millis(200);
    loop {
        let attempt = async {
            store::ensure_indexes(&state.db).await?;
            if need_dev_key {
                let der = SigningKeyStore::new(&state.db).dev_key().await?;
                state.set_key_ring(KeyRing::new(vec![SigningKey::from_pkcs8(&der, None)?])?);
            }
            if let Some(admin) = &settings.bootstrap_admin {
                roles::bootstrap_admin(
                    &state,
                    &admin.email,
                    admin.password.expose_secret(),
                    &admin.nickname,
                )
                .await?;
            }
            anyhow::Ok(())
        };
        match attempt.await {
            Ok(()) => break,
            Err(e) => {
                slog::warn!(log, "initialization failed; retrying"; "error" => format!("{e:#}"), "retry_in_ms" => backoff.as_millis() as u64);
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
    accounts::warm_up(&state).await;
    state.initialized.store(true, Ordering::SeqCst);
    slog::info!(log, "initialized");
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let _ = crate::telemetry::init(&settings.log_level);
        if settings.internal.token.is_none() {
            slog::warn!(crate::telemetry::root(), "INTERNAL_TOKEN is not set: /internal/revocations answers anonymous callers (session and token ids only)");
        }
        let db = store::connect(&settings.mongodb.uri, &settings.mongodb.database).await?;
        let redis = Redis::new(&settings.redis.url, &settings.redis.key_prefix)?;
        let metrics = Arc::new(Metrics::new());
        let state = web::Data::new(AppState::new(&settings, db, redis, metrics.clone()));
        let ring = configured_keys(&settings)?;
        let need_dev_key = ring.is_none();
        if let Some(ring) = ring {
            state.set_key_ring(ring);
        }
        let shutdown = CancellationToken::new();
        let mut tasks = Vec::new();
        tasks.push(tokio::spawn(initialize(
            state.clone(),
            settings.clone(),
            need_dev_key,
            shutdown.clone(),
        )));
        let relay = Relay {
            url: settings.amqp.url.clone(),
            exchange: settings.amqp.exchange.clone(),
            outbox: state.outbox.clone(),
            audit: state.audit.clone(),
            wake: state.outbox_wake.clone(),
            connected: state.amqp_connected.clone(),
            metrics,
            poll_interval: Duration::from_millis(1000),
        };
        tasks.push(tokio::spawn(relay.run(shutdown.clone())));

        let listener = TcpListener::bind((settings.http.host.as_str(), settings.http.port))?;
        let port = listener.local_addr()?.port();
        let app_state = state.clone();
        let server = actix_web::HttpServer::new(move || {
            let spec = DefaultApiRaw {
                info: Info {
                    version: env!("CARGO_PKG_VERSION").into(),
                    title: "auth-service".into(),
                    description: Some("Accounts, tokens, sessions and roles".into()),
                    ..Default::default()
                },
                ..Default::default()
            };
            App::new()
                .wrap_api_with_spec(spec)
                .wrap(from_fn(request_context))
                .app_data(app_state.clone())
                .app_data(actix_web::web::PayloadConfig::new(MAX_BODY_BYTES))
                .configure(routes::config)
                .with_raw_json_spec(|app, mut spec| {
                    openapi_doc::complete(&mut spec, &openapi_doc::AUTH_SERVICE);
                    app.service(openapi_doc::Serve::new("/swagger.json", &spec))
                })
                .with_raw_json_spec_v3(|app, mut spec| {
                    openapi_doc::complete(&mut spec, &openapi_doc::AUTH_SERVICE);
                    app.service(openapi_doc::Serve::new("/openapi.json", &spec))
                })
                // Registered after the completed documents, so only Swagger UI uses these.
                .with_json_spec_at("/swagger.json")
                .with_json_spec_v3_at("/openapi.json")
                .with_swagger_ui_at("/docs")
                .build()
        })
        .listen(listener)?
        .shutdown_timeout(settings.http.shutdown_timeout_seconds)
        .run();
        Ok(Application {
            port,
            server,
            state,
            shutdown,
            tasks,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Lets a caller (tests, or anything embedding the app) stop the server gracefully.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// Serves until SIGTERM/SIGINT (or `handle().stop(true)`): stops accepting, lets in-flight
    /// requests finish, then stops the background tasks after a last outbox flush.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.shutdown.cancel();
        for task in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
        slog::info!(crate::telemetry::root(), "stopped");
        result
    }
}
