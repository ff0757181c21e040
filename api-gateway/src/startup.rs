//! Builds the application (state, background tasks, HTTP server) and runs it.

use crate::app::AppState;
use crate::configuration::Settings;
use crate::{edge, openapi, openapi_doc, proxy, revocation, routes};
use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use anyhow::Context;
use paperclip::actix::OpenApiExt;
use slog::Logger;
use std::net::TcpListener;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub struct Application {
    port: u16,
    server: Server,
    cancel: CancellationToken,
    state: web::Data<AppState>,
}

impl Application {
    pub async fn build(settings: Settings, logger: Logger) -> anyhow::Result<Self> {
        let state = web::Data::new(AppState::build(settings, logger)?);
        let cancel = CancellationToken::new();
        spawn_background_tasks(&state, &cancel);
        let s = &state.settings.server;
        let listener = TcpListener::bind((s.host.as_str(), s.port))
            .with_context(|| format!("cannot bind {}:{}", s.host, s.port))?;
        let port = listener.local_addr()?.port();
        let server = run(listener, state.clone())?;
        Ok(Application {
            port,
            server,
            cancel,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// Serves until SIGINT/SIGTERM (or `handle().stop(..)`): stops accepting, lets in-flight
    /// requests finish within the shutdown timeout, then stops background tasks.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let res = self.server.await;
        self.cancel.cancel();
        res
    }
}

/// JWKS refresher, revocation sync and feed, health probes, OpenAPI refresher and the
/// housekeeping of in-memory tables; all stop with `cancel`.
fn spawn_background_tasks(state: &web::Data<AppState>, cancel: &CancellationToken) {
    let settings = &state.settings;
    let logger = &state.logger;
    let denylist = state.verifier.denylist.clone();
    tokio::spawn(crate::auth::run_jwks_refresher(
        state.verifier.clone(),
        logger.clone(),
        cancel.clone(),
    ));
    tokio::spawn(revocation::run_sync_loop(
        settings.auth_base_url(),
        settings.auth.internal_token.clone(),
        denylist.clone(),
        settings.auth.revocation_sync_interval,
        logger.clone(),
        cancel.clone(),
    ));
    tokio::spawn(revocation::run_amqp_supervisor(
        settings.auth.amqp_url.clone(),
        settings.auth.events_exchange.clone(),
        settings.auth.events_publisher.clone(),
        denylist,
        state.revocation_feed_up.clone(),
        logger.clone(),
        cancel.clone(),
    ));
    if let Some(interval) = settings.upstreams.health_check_interval {
        tokio::spawn(crate::upstream::run_health_probes(
            state.upstreams.clone(),
            interval,
            cancel.clone(),
        ));
    }
    tokio::spawn(openapi::run_refresher(
        state.openapi.clone(),
        state.upstreams.clone(),
        settings.upstreams.openapi_refresh_interval,
        cancel.clone(),
    ));
    let state = state.clone();
    let cancel = cancel.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tick.tick() => {
                    state.limits.retain_recent();
                    state.verifier.denylist.purge_expired(chrono::Utc::now().timestamp());
                }
            }
        }
    });
}

fn run(listener: TcpListener, state: web::Data<AppState>) -> anyhow::Result<Server> {
    let server_settings = state.settings.server.clone();
    let connect_timeout = state.settings.upstreams.connect_timeout;
    let client_limits = state.client_limits.clone();
    let server = HttpServer::new(move || {
        // awc's client is !Send: one per worker, each with its own keep-alive pool.
        let client = awc::Client::builder()
            .connector(awc::Connector::new().timeout(connect_timeout).limit(1024))
            .disable_redirects()
            .no_default_headers()
            .disable_timeout()
            .finish();
        let openapi_slot = state.openapi.clone();
        let console_dir = state.settings.edge.console_dir.clone();
        App::new()
            .app_data(state.clone())
            .app_data(web::Data::new(client))
            .app_data(web::PayloadConfig::new(usize::MAX))
            .wrap_api()
            .configure(routes::config)
            .with_raw_json_spec(|app, mut spec| {
                openapi_doc::complete(&mut spec, &openapi_doc::GATEWAY);
                app.service(openapi_doc::Serve::new("/swagger.json", &spec))
            })
            .with_raw_json_spec_v3(move |app, mut spec| {
                openapi::describe_gateway_responses(&mut spec);
                *openapi_slot.gateway_doc.write().expect("lock") = Some(spec);
                app
            })
            // Registered after the completed document, so only Swagger UI uses it.
            .with_json_spec_at("/swagger.json")
            .with_swagger_ui_at("/docs")
            .build()
            .route("/openapi.json", web::get().to(routes::merged_openapi))
            .configure(|cfg| {
                if let Some(dir) = &console_dir {
                    cfg.service(routes::console::services(dir));
                }
            })
            .default_service(web::to(proxy::proxy))
            .wrap(from_fn(edge::edge))
    })
    .on_connect(move |conn, data| {
        if let Some(sock) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
            if let Ok(peer) = sock.peer_addr() {
                data.insert(client_limits.connect(peer.ip()));
            }
        }
    })
    .client_request_timeout(server_settings.header_timeout)
    .workers(server_settings.workers)
    .shutdown_timeout(server_settings.shutdown_timeout_secs)
    .listen(listener)?
    .run();
    Ok(server)
}
