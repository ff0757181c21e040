//! Builds the application (state, background tasks, HTTP server) and runs it.

use crate::auth::{Denylist, Verifier};
use crate::configuration::{upstream_env_name, Settings};
use crate::domain::route_table::RateLimitSpec;
use crate::domain::RouteTable;
use crate::metrics::Metrics;
use crate::openapi::OpenApiAggregator;
use crate::problem::method_not_allowed;
use crate::ratelimit::RateLimits;
use crate::upstream::{Circuit, Upstream, Upstreams};
use crate::{edge, openapi, proxy, revocation, routes};
use actix_web::dev::{Server, ServerHandle};
use actix_web::http::header::HeaderValue;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use anyhow::Context;
use paperclip::actix::{web as pweb, OpenApiExt};
use slog::Logger;
use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub struct AppState {
    pub settings: Settings,
    pub table: RouteTable,
    pub upstreams: Upstreams,
    pub verifier: Arc<Verifier>,
    pub limits: RateLimits,
    pub metrics: Metrics,
    pub logger: Logger,
    pub openapi: Arc<OpenApiAggregator>,
    pub revocation_feed_up: Arc<AtomicBool>,
    pub hsts: HeaderValue,
}

/// Reads and validates the route table, checking every upstream it names has instances.
pub fn load_route_table(settings: &Settings) -> anyhow::Result<RouteTable> {
    let path = &settings.routes_file;
    let source = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read route table {} (ROUTES_FILE)", path.display()))?;
    let origin = path.display().to_string();
    let has_instances = |name: &str| {
        settings
            .upstream_instances(name)
            .is_some_and(|v| !v.is_empty())
    };
    Ok(RouteTable::from_yaml(&source, &origin, &has_instances)?)
}

fn build_upstreams(settings: &Settings, table: &RouteTable) -> anyhow::Result<Upstreams> {
    let mut map = BTreeMap::new();
    for name in table.upstream_names() {
        let urls = settings.upstream_instances(&name).unwrap_or_default();
        for u in &urls {
            let uri: awc::http::Uri = u
                .parse()
                .with_context(|| format!("{}: {u:?} is not a URL", upstream_env_name(&name)))?;
            let scheme_ok = matches!(uri.scheme_str(), Some("http") | Some("https"));
            if !scheme_ok || uri.authority().is_none() {
                anyhow::bail!(
                    "{}: {u:?} must be an http(s) base URL such as http://127.0.0.1:3001",
                    upstream_env_name(&name)
                );
            }
        }
        let circuit = Circuit::new(
            settings.circuit_failure_threshold,
            settings.circuit_open_duration,
        );
        map.insert(
            name.clone(),
            Arc::new(Upstream::new(
                &name,
                urls,
                circuit,
                settings.instance_cooloff,
            )),
        );
    }
    Ok(Upstreams(Arc::new(map)))
}

pub struct Application {
    port: u16,
    server: Server,
    cancel: CancellationToken,
    state: web::Data<AppState>,
}

impl Application {
    pub async fn build(settings: Settings, logger: Logger) -> anyhow::Result<Self> {
        let table = load_route_table(&settings)?;
        let upstreams = build_upstreams(&settings, &table)?;
        let denylist = Arc::new(Denylist::default());
        let auth_base = settings.auth_base_url();
        let verifier = Arc::new(Verifier::new(
            &auth_base,
            &settings.jwt_issuer,
            &settings.jwt_audience,
            settings.jwks_refetch_min_interval,
            denylist.clone(),
        ));
        let limits = RateLimits::new(
            RateLimitSpec {
                per_minute: settings.rate_limit_per_minute,
                burst: Some(settings.rate_limit_burst),
            },
            &table,
        );
        let hsts = HeaderValue::from_str(&format!(
            "max-age={}; includeSubDomains",
            settings.hsts_max_age_secs
        ))?;
        let state = web::Data::new(AppState {
            settings: settings.clone(),
            table,
            upstreams: upstreams.clone(),
            verifier: verifier.clone(),
            limits,
            metrics: Metrics::new(),
            logger: logger.clone(),
            openapi: Arc::new(OpenApiAggregator::new()),
            revocation_feed_up: Arc::new(AtomicBool::new(false)),
            hsts,
        });

        let cancel = CancellationToken::new();
        tokio::spawn(crate::auth::run_jwks_refresher(
            verifier.clone(),
            logger.clone(),
            cancel.clone(),
        ));
        tokio::spawn(revocation::run_sync_loop(
            auth_base.clone(),
            denylist.clone(),
            settings.revocation_sync_interval,
            logger.clone(),
            cancel.clone(),
        ));
        tokio::spawn(revocation::run_amqp_supervisor(
            settings.amqp_url.clone(),
            settings.auth_events_exchange.clone(),
            denylist.clone(),
            state.revocation_feed_up.clone(),
            logger.clone(),
            cancel.clone(),
        ));
        if let Some(interval) = settings.health_check_interval {
            tokio::spawn(crate::upstream::run_health_probes(
                upstreams.clone(),
                interval,
                cancel.clone(),
            ));
        }
        tokio::spawn(openapi::run_refresher(
            state.openapi.clone(),
            upstreams.clone(),
            settings.openapi_refresh_interval,
            cancel.clone(),
        ));
        {
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

        let listener = TcpListener::bind((settings.host.as_str(), settings.port))
            .with_context(|| format!("cannot bind {}:{}", settings.host, settings.port))?;
        let port = listener.local_addr()?.port();
        let server = run(listener, state.clone(), &settings)?;
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

fn run(
    listener: TcpListener,
    state: web::Data<AppState>,
    settings: &Settings,
) -> anyhow::Result<Server> {
    let connect_timeout = settings.connect_timeout;
    let server = HttpServer::new(move || {
        // awc's client is !Send: one per worker, each with its own keep-alive pool.
        let client = awc::Client::builder()
            .connector(awc::Connector::new().timeout(connect_timeout).limit(1024))
            .disable_redirects()
            .no_default_headers()
            .disable_timeout()
            .finish();
        let openapi_slot = state.openapi.clone();
        App::new()
            .app_data(state.clone())
            .app_data(web::Data::new(client))
            .app_data(web::PayloadConfig::new(usize::MAX))
            .wrap_api()
            .service(
                pweb::resource("/healthz")
                    .route(pweb::get().to(routes::healthz))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                pweb::resource("/readyz")
                    .route(pweb::get().to(routes::readyz))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                pweb::resource("/metrics")
                    .route(pweb::get().to(routes::metrics))
                    .default_service(web::to(method_not_allowed)),
            )
            .with_raw_json_spec_v3(move |app, mut spec| {
                openapi::describe_gateway_responses(&mut spec);
                *openapi_slot.gateway_doc.write().expect("lock") = Some(spec);
                app
            })
            .with_json_spec_at("/swagger.json")
            .with_swagger_ui_at("/docs")
            .build()
            .route("/openapi.json", web::get().to(routes::merged_openapi))
            .default_service(web::to(proxy::proxy))
            .wrap(from_fn(edge::edge))
    })
    .workers(settings.workers)
    .shutdown_timeout(settings.shutdown_timeout_secs)
    .listen(listener)?
    .run();
    Ok(server)
}
