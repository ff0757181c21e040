//! Builds the application (HTTP server + background tasks), wires the broker's consumers to
//! their handlers, and runs it until shutdown.
use crate::auth::Verifier;
use crate::cache::Catalog;
use crate::claims::{Acceptor, ClaimQueue};
use crate::configuration::Settings;
use crate::error::ApiError;
use crate::jobs::decisions::Decider;
use crate::jobs::ingestion::Ingestor;
use crate::jobs::outbox_relay::{Handoff, OutboxRelay};
use crate::metrics::Metrics;
use crate::mq::{Broker, ConsumerOptions, Outcome, Source};
use crate::state::AppState;
use crate::store::Store;
use crate::streams::LiveFeed;
use crate::{openapi_doc, routes};
use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServerHandle, ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, Next};
use actix_web::{web as aweb, HttpServer};
use paperclip::actix::OpenApiExt;
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
    let mut cfg = deadpool_redis::Config::from_url(settings.redis.url.expose_secret());
    let mut pool = deadpool_redis::PoolConfig::new(16);
    pool.timeouts.wait = Some(Duration::from_secs(2));
    pool.timeouts.create = Some(Duration::from_secs(2));
    pool.timeouts.recycle = Some(Duration::from_secs(2));
    cfg.pool = Some(pool);
    Ok(cfg.create_pool(Some(deadpool_redis::Runtime::Tokio1))?)
}

async fn build_state(settings: Settings, logger: slog::Logger) -> anyhow::Result<AppState> {
    let store = Store::new(
        &settings.mongodb.uri,
        &settings.mongodb.database,
        settings.mongodb_timeout(),
    )
    .await?;
    let broker = Broker::default();
    let metrics = Metrics::new();
    let outbox_wakeup: Arc<tokio::sync::Notify> = Arc::default();
    let outbox = Handoff::new(
        outbox_wakeup.clone(),
        Duration::from_secs(settings.outbox.lease_seconds),
    );
    let claim_queue = ClaimQueue::new(broker.clone(), settings.amqp.claims_queue.clone());
    let cache = Catalog::new(Duration::from_millis(settings.catalog.cache_ttl_ms));
    let shutdown = CancellationToken::new();
    let live = LiveFeed::new(
        store.clone(),
        settings.amqp.decisions_exchange.clone(),
        settings.streams.clone(),
        logger.clone(),
        &shutdown,
    );
    Ok(AppState {
        auth: Arc::new(Verifier::new(&settings.auth, logger.clone())),
        cache: cache.clone(),
        redis: redis_pool(&settings)?,
        acceptor: Acceptor::new(
            store.clone(),
            claim_queue.clone(),
            metrics.clone(),
            logger.clone(),
        ),
        decider: Decider::new(
            store.clone(),
            cache,
            metrics.clone(),
            logger.clone(),
            Duration::from_secs(settings.claims.lease_seconds),
            outbox.clone(),
        )
        .with_feed(live.clone())
        .trusting(crate::mq::amqp_user(settings.amqp.url.expose_secret()).ok()),
        live,
        claim_queue,
        settings,
        logger,
        store,
        broker,
        metrics,
        outbox_wakeup,
        outbox,
        grants_wakeup: Arc::default(),
        shutdown,
    })
}

/// Start-up is where the broker learns which handler consumes which queue.
fn register_consumers(state: &AppState) {
    let (broker, s) = (&state.broker, &state.settings);
    let each = |prefetch, concurrency| ConsumerOptions {
        prefetch,
        concurrency,
    };
    let ingest = Ingestor::new(
        state.store.clone(),
        state.metrics.clone(),
        state.logger.clone(),
        &s.auth.events_publisher,
    );
    let trust = ingest.clone();
    let i = ingest.clone();
    broker.consume(
        Source::Queue(s.amqp.activity_queue.clone()),
        each(64, 8),
        move |d| {
            let i = i.clone();
            async move { i.handle_activity(d).await }
        },
    );
    broker.consume(
        Source::Queue(s.amqp.auth_events_queue.clone()),
        each(64, 8),
        move |d| {
            let i = ingest.clone();
            async move { i.handle_auth_event(d).await }
        },
    );
    let verifier = state.auth.clone();
    broker.consume(
        Source::Broadcast {
            exchange: s.amqp.auth_events_exchange.clone(),
            routing_key: "session.revoked".into(),
        },
        each(64, 1),
        move |d| {
            // A forged revocation is ignored (this private copy has no dead-letter queue).
            if trust.from_auth_service(&d) {
                verifier.handle_revocation_message(&d.body);
            }
            std::future::ready(Outcome::Ack)
        },
    );
    let cache = state.cache.clone();
    broker.consume(
        Source::Broadcast {
            exchange: s.amqp.catalog_exchange.clone(),
            routing_key: String::new(),
        },
        each(64, 1),
        move |d| {
            let cache = cache.clone();
            async move {
                cache.handle_invalidation(&d.body).await;
                Outcome::Ack
            }
        },
    );
    let live = state.live.clone();
    broker.consume(
        Source::Broadcast {
            exchange: s.amqp.decisions_exchange.clone(),
            routing_key: String::new(),
        },
        each(64, 1),
        move |d| {
            let live = live.clone();
            async move {
                live.receive(&d.body).await;
                Outcome::Ack
            }
        },
    );
    if s.claims.worker_enabled {
        let decider = state.decider.clone();
        broker.consume_batches(
            Source::Queue(s.amqp.claims_queue.clone()),
            each(s.claims.worker_prefetch, s.claims.worker_concurrency),
            s.claims.worker_batch,
            move |d| {
                let decider = decider.clone();
                async move { decider.handle_batch(d).await }
            },
        );
    }
}

fn spawn_jobs(state: &aweb::Data<AppState>) -> Vec<JoinHandle<()>> {
    let (s, token) = (&state.settings, state.shutdown.clone());
    let wakeup = state.outbox_wakeup.clone();
    let relay = OutboxRelay {
        store: state.store.clone(),
        broker: state.broker.clone(),
        exchange: s.amqp.rewards_exchange.clone(),
        metrics: state.metrics.clone(),
        logger: state.logger.clone(),
        handoff: state.outbox.clone(),
    };
    let st = state.clone();
    vec![
        tokio::spawn(state.broker.clone().supervise(
            s.clone(),
            state.logger.clone(),
            token.clone(),
            move || wakeup.notify_one(),
        )),
        tokio::spawn(crate::jobs::sweeper::run(
            state.store.clone(),
            state.claim_queue.clone(),
            Duration::from_secs(s.claims.pending_redelivery_seconds),
            state.logger.clone(),
            token.clone(),
        )),
        tokio::spawn(relay.run(token.clone())),
        tokio::spawn(
            crate::jobs::grants::GrantRunner {
                store: state.store.clone(),
                catalog: state.cache.clone(),
                logger: state.logger.clone(),
                lease: Duration::from_secs(s.claims.lease_seconds),
                wakeup: state.grants_wakeup.clone(),
                outbox_wakeup: state.outbox_wakeup.clone(),
                feed: state.live.clone(),
            }
            .run(token.clone()),
        ),
        tokio::spawn(
            state
                .live
                .clone()
                .run_publisher(state.broker.clone(), token.clone()),
        ),
        tokio::spawn(crate::auth::run_revocation_sync(
            state.auth.clone(),
            Duration::from_secs(s.auth.revocation_sync_seconds),
            token.clone(),
        )),
        tokio::spawn(async move {
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
        }),
    ]
}

impl Application {
    pub async fn build(settings: Settings, logger: slog::Logger) -> anyhow::Result<Self> {
        let state = aweb::Data::new(build_state(settings.clone(), logger.clone()).await?);
        register_consumers(&state);
        let listener = TcpListener::bind(settings.address())?;
        let port = listener.local_addr()?.port();
        let st = state.clone();
        let verifier = aweb::Data::from(state.auth.clone());
        let server = HttpServer::new(move || {
            actix_web::App::new()
                .wrap_api()
                .app_data(st.clone())
                .app_data(verifier.clone())
                .configure(routes::config)
                .with_raw_json_spec(|app, mut spec| {
                    openapi_doc::complete(&mut spec, &openapi_doc::GAME_EVENT_SERVICE);
                    app.service(openapi_doc::Serve::new("/swagger.json", &spec))
                })
                .with_raw_json_spec_v3(|app, mut spec| {
                    openapi_doc::complete(&mut spec, &openapi_doc::GAME_EVENT_SERVICE);
                    app.service(openapi_doc::Serve::new("/openapi.json", &spec))
                })
                // Swagger UI needs a document path; paperclip's own handler registered here is
                // shadowed by the completed document above. Its v3 twin is not registered: it
                // would keep a converted copy of the whole document in every worker.
                .with_json_spec_at("/openapi.json")
                .with_swagger_ui_at("/docs")
                .build()
                .default_service(aweb::to(routes::route_not_found))
                .wrap(from_fn(docs_guard))
                .wrap(from_fn(crate::telemetry::request_middleware))
        })
        .listen(listener)?
        .disable_signals()
        .shutdown_timeout(settings.app.shutdown_timeout_seconds)
        .run();

        let tasks = spawn_jobs(&state);
        slog::info!(logger, "listening"; "address" => format!("{}:{}", settings.app.host, port));
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
        // Stop accepting, let in-flight requests finish (live streams end now: their clients
        // reconnect elsewhere), then stop consumers and relays.
        self.state.live.close_streams();
        handle.stop(true).await;
        token.cancel();
        let _ = server.await;
        let grace = Duration::from_secs(self.state.settings.app.shutdown_timeout_seconds);
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
