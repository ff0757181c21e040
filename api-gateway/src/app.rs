//! The application state shared by every worker: settings, route table, upstream pools,
//! token verifier, rate limiters, metrics and the OpenAPI cache. Built once at start-up.

use crate::auth::{Denylist, Verifier};
use crate::client_limits::ClientLimits;
use crate::configuration::{upstream_env_name, Settings};
use crate::domain::route_table::RateLimitSpec;
use crate::domain::RouteTable;
use crate::metrics::Metrics;
use crate::openapi::OpenApiAggregator;
use crate::ratelimit::{RateLimits, SharedStore};
use crate::upstream::{Circuit, Upstream, Upstreams};
use actix_web::http::header::HeaderValue;
use anyhow::Context;
use slog::Logger;
use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

pub struct AppState {
    pub settings: Settings,
    pub table: RouteTable,
    pub upstreams: Upstreams,
    pub verifier: Arc<Verifier>,
    pub limits: RateLimits,
    pub client_limits: Arc<ClientLimits>,
    pub metrics: Metrics,
    pub logger: Logger,
    pub openapi: Arc<OpenApiAggregator>,
    pub revocation_feed_up: Arc<AtomicBool>,
    pub hsts: HeaderValue,
}

impl AppState {
    /// Validates the route table and upstream URLs; fails naming the offending setting.
    pub fn build(settings: Settings, logger: Logger) -> anyhow::Result<Self> {
        let table = load_route_table(&settings)?;
        let upstreams = build_upstreams(&settings, &table)?;
        let verifier = Arc::new(Verifier::new(
            &settings.auth_base_url(),
            &settings.auth.issuer,
            &settings.auth.audience,
            settings.auth.jwks_refetch_min_interval,
            Arc::new(Denylist::default()),
        ));
        let l = &settings.limits;
        let shared = match &l.redis_url {
            Some(url) => Some(
                SharedStore::new(url, &l.redis_prefix, l.redis_timeout, logger.clone())
                    .context("REDIS_URL")?,
            ),
            None => None,
        };
        let limits = RateLimits::new(
            RateLimitSpec {
                per_minute: l.rate_limit_per_minute,
                burst: Some(l.rate_limit_burst),
            },
            &table,
            shared,
        );
        let hsts = HeaderValue::from_str(&format!(
            "max-age={}; includeSubDomains",
            settings.edge.hsts_max_age_secs
        ))?;
        let client_limits = Arc::new(ClientLimits::new(
            settings.limits.client_max_connections,
            settings.limits.client_max_in_flight,
        ));
        Ok(AppState {
            settings,
            table,
            upstreams,
            verifier,
            limits,
            client_limits,
            metrics: Metrics::new(),
            logger,
            openapi: Arc::new(OpenApiAggregator::new()),
            revocation_feed_up: Arc::new(AtomicBool::new(false)),
            hsts,
        })
    }
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
    let cfg = &settings.upstreams;
    let mut map = BTreeMap::new();
    for name in table.upstream_names() {
        let urls = settings.upstream_instances(&name).unwrap_or_default();
        for u in &urls {
            check_base_url(&name, u)?;
        }
        let circuit = Circuit::new(cfg.circuit_failure_threshold, cfg.circuit_open_duration);
        map.insert(
            name.clone(),
            Arc::new(Upstream::new(&name, urls, circuit, cfg.instance_cooloff)),
        );
    }
    Ok(Upstreams(Arc::new(map)))
}

fn check_base_url(upstream: &str, url: &str) -> anyhow::Result<()> {
    let uri: awc::http::Uri = url
        .parse()
        .with_context(|| format!("{}: {url:?} is not a URL", upstream_env_name(upstream)))?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http") | Some("https"));
    if !scheme_ok || uri.authority().is_none() {
        anyhow::bail!(
            "{}: {url:?} must be an http(s) base URL such as http://127.0.0.1:3001",
            upstream_env_name(upstream)
        );
    }
    Ok(())
}
