//! Builds the application (HTTP server + background tasks) and runs it until shutdown.
use crate::auth::Verifier;
use crate::cache::Catalog;
use crate::configuration::Settings;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::mq::Broker;
use crate::routes::{self, claims, events, health, progress};
use crate::state::AppState;
use crate::store::Store;
use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServerHandle, ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, Next};
use actix_web::{web as aweb, HttpServer};
use paperclip::actix::{web, OpenApiExt};
use secrecy::ExposeSecret;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const SWAGGER_FILES: &[&str] = &[
    "index.html",
    "swagger-ui.css",
    "swagger-ui.css.map",
    "swagger-ui.js",
    "swagger-ui.js.map",
    "swagger-ui-bundle.js",
    "swagger-ui-bundle.js.map",
    "swagger-ui-standalone-preset.js",
    "swagger-ui-standalone-preset.js.map",
    "swagger-ui-es-bundle.js",
    "swagger-ui-es-bundle.js.map",
    "swagger-ui-es-bundle-core.js",
    "swagger-ui-es-bundle-core.js.map",
    "oauth2-redirect.html",
    "favicon-32x32.png",
    "favicon-16x16.png",
];

/// paperclip's Swagger UI handler panics on an unknown file: only known files get through.
async fn docs_guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if let Some(file) = req.path().strip_prefix("/docs/") {
        if !SWAGGER_FILES.contains(&file) {
            return Err(ApiError::RouteNotFound.into());
        }
    }
    next.call(req).await
}

pub struct Application {
    port: u16,
    server: Server,
    state: aweb::Data<AppState>,
    tasks: Vec<JoinHandle<()>>,
}

pub fn redis_pool(settings: &Settings) -> anyhow::Result<deadpool_redis::Pool> {
    let mut cfg = deadpool_redis::Config::from_url(settings.redis_url.expose_secret());
    let mut pool = deadpool_redis::PoolConfig::new(16);
    pool.timeouts.wait = Some(Duration::from_secs(2));
    pool.timeouts.create = Some(Duration::from_secs(2));
    pool.timeouts.recycle = Some(Duration::from_secs(2));
    cfg.pool = Some(pool);
    Ok(cfg.create_pool(Some(deadpool_redis::Runtime::Tokio1))?)
}

impl Application {
    pub async fn build(settings: Settings, logger: slog::Logger) -> anyhow::Result<Self> {
        let store = Store::new(
            &settings.mongodb_uri,
            &settings.mongodb_database,
            settings.mongodb_timeout(),
        )
        .await?;
        let redis = redis_pool(&settings)?;
        let state = aweb::Data::new(AppState {
            auth: Arc::new(Verifier::new(&settings, logger.clone())),
            cache: Catalog::new(Duration::from_millis(settings.catalog_cache_ttl_ms)),
            settings: settings.clone(),
            logger: logger.clone(),
            store,
            redis,
            broker: Broker::default(),
            metrics: Metrics::new(),
            outbox_wakeup: Arc::default(),
            shutdown: CancellationToken::new(),
        });

        let listener = TcpListener::bind(settings.address())?;
        let port = listener.local_addr()?.port();
        let st = state.clone();
        let server = HttpServer::new(move || {
            actix_web::App::new()
                .wrap_api()
                .app_data(st.clone())
                .service(
                    web::resource("/healthz")
                        .route(web::get().to(health::healthz))
                        .default_service(aweb::to(routes::method_not_allowed)),
                )
                .service(
                    web::resource("/readyz")
                        .route(web::get().to(health::readyz))
                        .default_service(aweb::to(routes::method_not_allowed)),
                )
                .service(
                    web::resource("/metrics")
                        .route(web::get().to(health::metrics))
                        .default_service(aweb::to(routes::method_not_allowed)),
                )
                .service(
                    web::resource("/events")
                        .route(web::get().to(events::list_events))
                        .route(web::post().to(events::create_event))
                        .default_service(aweb::to(routes::method_not_allowed)),
                )
                .service(
                    web::resource("/events/{id}")
                        .route(web::get().to(events::get_event))
                        .route(web::patch().to(events::patch_event))
                        .route(web::delete().to(events::delete_event))
                        .default_service(aweb::to(routes::method_not_allowed)),
                )
                .service(
                    web::resource("/events/{id}/rewards")
                        .route(web::get().to(events::list_rewards))
                        .route(web::post().to(events::add_reward))
                        .default_service(aweb::to(routes::method_not_allowed)),
                )
                .service(
                    web::resource("/events/{id}/eligibility")
                        .route(web::get().to(events::get_eligibility))
                        .default_service(aweb::to(routes::method_not_allowed)),
                )
                .service(
                    web::resource("/events/{id}/claims")
                        .route(web::post().to(claims::create_claim))
                        .default_service(aweb::to(routes::method_not_allowed)),
                )
                .service(
                    web::resource("/claims")
                        .route(web::get().to(claims::list_claims))
                        .default_service(aweb::to(routes::method_not_allowed)),
                )
                .service(
                    web::resource("/claims/me")
                        .route(web::get().to(claims::my_claims))
                        .default_service(aweb::to(routes::method_not_allowed)),
                )
                .service(
                    web::resource("/claims/{id}")
                        .route(web::get().to(claims::get_claim))
                        .default_service(aweb::to(routes::method_not_allowed)),
                )
                .service(
                    web::resource("/progress/me")
                        .route(web::get().to(progress::my_progress))
                        .default_service(aweb::to(routes::method_not_allowed)),
                )
                .service(
                    web::resource("/users/{id}/progress")
                        .route(web::get().to(progress::user_progress))
                        .default_service(aweb::to(routes::method_not_allowed)),
                )
                .service(
                    web::resource("/activities")
                        .route(web::post().to(progress::record_activity))
                        .default_service(aweb::to(routes::method_not_allowed)),
                )
                .with_json_spec_at("/swagger.json")
                .with_json_spec_v3_at("/openapi.json")
                .with_swagger_ui_at("/docs")
                .build()
                .default_service(aweb::to(routes::route_not_found))
                .wrap(from_fn(docs_guard))
                .wrap(from_fn(crate::telemetry::request_middleware))
        })
        .listen(listener)?
        .disable_signals()
        .shutdown_timeout(settings.shutdown_timeout_seconds)
        .run();

        let token = state.shutdown.clone();
        let mut tasks = vec![
            tokio::spawn(crate::mq::supervise(state.clone(), token.clone())),
            tokio::spawn(crate::worker::run_sweeper(state.clone(), token.clone())),
            tokio::spawn(crate::worker::run_outbox_relay(
                state.clone(),
                token.clone(),
            )),
            tokio::spawn(crate::auth::run_revocation_sync(
                state.clone(),
                token.clone(),
            )),
        ];
        let st = state.clone();
        tasks.push(tokio::spawn(async move {
            // Retried until MongoDB answers; the service serves meanwhile (uniqueness is on _id).
            loop {
                match st.store.ensure_indexes().await {
                    Ok(()) => break,
                    Err(e) => {
                        slog::debug!(st.logger, "index creation deferred"; "error" => e.to_string())
                    }
                }
                tokio::select! {
                    _ = st.shutdown.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                }
            }
        }));
        slog::info!(logger, "listening"; "address" => format!("{}:{}", settings.app_host, port));
        Ok(Application {
            port,
            server,
            state,
            tasks,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> aweb::Data<AppState> {
        self.state.clone()
    }

    pub fn server_handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Cancelling this token shuts the application down gracefully (as SIGTERM does).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.state.shutdown.clone()
    }

    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let handle = self.server.handle();
        let token = self.state.shutdown.clone();
        let mut server = tokio::spawn(self.server);
        let logger = self.state.logger.clone();
        tokio::select! {
            res = &mut server => {
                token.cancel();
                res??;
                return Ok(());
            }
            _ = shutdown_signal() => slog::info!(logger, "signal received, shutting down"),
            _ = token.cancelled() => slog::info!(logger, "shutdown requested"),
        }
        // Stop accepting, let in-flight requests finish, then stop consumers and relays.
        handle.stop(true).await;
        token.cancel();
        let _ = server.await;
        let grace = Duration::from_secs(self.state.settings.shutdown_timeout_seconds);
        for t in self.tasks {
            let _ = tokio::time::timeout(grace, t).await;
        }
        slog::info!(logger, "stopped");
        Ok(())
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
