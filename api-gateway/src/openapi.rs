//! One OpenAPI 3 document for the whole platform: the gateway's own routes plus every
//! upstream's operations that the route table actually sends to that upstream.

use crate::domain::{RouteMatch, RouteTable};
use crate::upstream::{Upstream, Upstreams};
use actix_web::http::Method;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;
use std::time::{Duration, Instant};

const HTTP_METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

pub struct OpenApiAggregator {
    http: reqwest::Client,
    docs: RwLock<BTreeMap<String, (Value, Instant)>>,
    /// Last failed fetch per upstream, so a down upstream is not re-fetched on every call.
    last_failure: RwLock<HashMap<String, Instant>>,
    /// The gateway's own (paperclip-generated) document.
    pub gateway_doc: RwLock<Option<Value>>,
}

impl Default for OpenApiAggregator {
    fn default() -> Self {
        Self::new()
    }
}

impl OpenApiAggregator {
    pub fn new() -> Self {
        OpenApiAggregator {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(3))
                .build()
                .expect("reqwest client"),
            docs: RwLock::new(BTreeMap::new()),
            last_failure: RwLock::new(HashMap::new()),
            gateway_doc: RwLock::new(None),
        }
    }

    /// Tries each instance until one serves a JSON document.
    pub async fn refresh(&self, up: &Upstream) -> anyhow::Result<()> {
        let res = self.fetch(up).await;
        let mut failures = self.last_failure.write().expect("lock");
        match &res {
            Ok(()) => failures.remove(&up.name),
            Err(_) => failures.insert(up.name.clone(), Instant::now()),
        };
        res
    }

    async fn fetch(&self, up: &Upstream) -> anyhow::Result<()> {
        let mut last_err = anyhow::anyhow!("{} has no instances", up.name);
        for inst in &up.instances {
            let res = async {
                let v: Value = self
                    .http
                    .get(format!("{}/openapi.json", inst.base_url))
                    .send()
                    .await?
                    .error_for_status()?
                    .json()
                    .await?;
                anyhow::Ok(v)
            }
            .await;
            match res {
                Ok(v) if v.get("paths").is_some_and(Value::is_object) => {
                    self.docs
                        .write()
                        .expect("lock")
                        .insert(up.name.clone(), (v, Instant::now()));
                    return Ok(());
                }
                Ok(_) => last_err = anyhow::anyhow!("{} served no OpenAPI paths", inst.base_url),
                Err(e) => last_err = e,
            }
        }
        Err(last_err)
    }

    /// The merged document; upstreams whose document is missing are fetched on demand (not
    /// within 2 s of a failed fetch, so a down upstream does not slow every call).
    pub async fn merged(&self, table: &RouteTable, upstreams: &Upstreams) -> Value {
        for up in upstreams.iter() {
            let have = self.docs.read().expect("lock").contains_key(&up.name);
            let recent = self
                .last_failure
                .read()
                .expect("lock")
                .get(&up.name)
                .is_some_and(|t| t.elapsed() < Duration::from_secs(2));
            if !have && !recent {
                let _ = self.refresh(up).await;
            }
        }
        let base = self
            .gateway_doc
            .read()
            .expect("lock")
            .clone()
            .unwrap_or_else(|| json!({"openapi": "3.0.0", "paths": {}}));
        let docs: Vec<(String, Value)> = self
            .docs
            .read()
            .expect("lock")
            .iter()
            .map(|(k, (v, _))| (k.clone(), v.clone()))
            .collect();
        let mut doc = merge(base, &docs, &|upstream, method, path| {
            routed_to(table, upstream, method, path)
        });
        crate::openapi_doc::complete(&mut doc, &crate::openapi_doc::GATEWAY);
        doc
    }
}

/// paperclip documents handlers returning a bare `HttpResponse` without any response; OpenAPI
/// requires at least one, and contract-testing tools validate against them.
pub fn describe_gateway_responses(doc: &mut Value) {
    let problem = json!({"description": "problem+json", "content": {"application/problem+json": {"schema": {"type": "object"}}}});
    let described: &[(&str, Value)] = &[
        (
            "/healthz",
            json!({"200": {"description": "alive", "content": {"application/json": {"schema": {"type": "object", "properties": {"status": {"type": "string"}}}}}}}),
        ),
        (
            "/readyz",
            json!({"200": {"description": "every upstream has a healthy instance", "content": {"application/json": {"schema": {"type": "object", "properties": {"status": {"type": "string"}, "checks": {"type": "object", "additionalProperties": {"type": "string"}}}}}}}, "503": problem}),
        ),
        (
            "/metrics",
            json!({"200": {"description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}}, "401": problem, "404": problem}),
        ),
    ];
    for (path, responses) in described {
        // HEAD answers with GET's status and headers.
        for method in ["get", "head"] {
            let pointer = format!("/paths/{}/{method}", path.replace('/', "~1"));
            if let Some(o) = doc.pointer_mut(&pointer).and_then(Value::as_object_mut) {
                o.insert("responses".into(), responses.clone());
            }
        }
    }
}

/// Whether the table sends `method path-template` to `upstream`. Template parameters are
/// replaced by a sample value so `{id}` segments match route `{param}`s.
pub fn routed_to(table: &RouteTable, upstream: &str, method: &str, template: &str) -> bool {
    let Ok(m) = Method::from_bytes(method.to_ascii_uppercase().as_bytes()) else {
        return false;
    };
    let sample: String = template
        .split('/')
        .map(|s| {
            if s.starts_with('{') && s.ends_with('}') {
                "sample"
            } else {
                s
            }
        })
        .collect::<Vec<_>>()
        .join("/");
    matches!(table.find(&m, &sample), RouteMatch::Found(r) if r.upstream == upstream)
}

fn pascal(name: &str) -> String {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|s| !s.is_empty())
        .map(|s| {
            let mut c = s.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn rewrite_refs(v: &mut Value, renames: &HashMap<String, String>) {
    match v {
        Value::Object(m) => {
            for (k, val) in m.iter_mut() {
                if k == "$ref" {
                    if let Value::String(s) = val {
                        if let Some(n) = renames.get(s.as_str()) {
                            *s = n.clone();
                        }
                    }
                } else {
                    rewrite_refs(val, renames);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| rewrite_refs(x, renames)),
        _ => {}
    }
}

pub fn merge(
    mut base: Value,
    upstream_docs: &[(String, Value)],
    keep: &dyn Fn(&str, &str, &str) -> bool,
) -> Value {
    if !base.is_object() {
        base = json!({});
    }
    let root = base.as_object_mut().expect("object");
    root.insert("openapi".into(), json!("3.0.0"));
    root.insert(
        "info".into(),
        json!({
            "title": "Live-ops platform API (through api-gateway)",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Every route as clients see it through the gateway. Bearer tokens come from POST /auth/login."
        }),
    );
    root.insert("servers".into(), json!([{"url": "/"}]));
    let mut paths = root
        .remove("paths")
        .and_then(|p| p.as_object().cloned())
        .unwrap_or_default();
    let mut components = root
        .remove("components")
        .and_then(|p| p.as_object().cloned())
        .unwrap_or_default();
    let mut tags: Vec<Value> = root
        .remove("tags")
        .and_then(|t| t.as_array().cloned())
        .unwrap_or_default();

    for (upstream, doc) in upstream_docs {
        let mut doc = doc.clone();
        // Decide renames for colliding component names first, then rewrite refs everywhere.
        let mut renames = HashMap::new();
        if let Some(comps) = doc.get("components").and_then(Value::as_object) {
            for (section, entries) in comps {
                let Some(entries) = entries.as_object() else {
                    continue;
                };
                let existing = components.get(section).and_then(Value::as_object);
                for (name, def) in entries {
                    if let Some(prev) = existing.and_then(|e| e.get(name)) {
                        if prev != def {
                            renames.insert(
                                format!("#/components/{section}/{name}"),
                                format!("#/components/{section}/{}{name}", pascal(upstream)),
                            );
                        }
                    }
                }
            }
        }
        if !renames.is_empty() {
            rewrite_refs(&mut doc, &renames);
        }
        if let Some(comps) = doc.get("components").and_then(Value::as_object) {
            for (section, entries) in comps {
                let Some(entries) = entries.as_object() else {
                    continue;
                };
                let target = components
                    .entry(section.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                let Some(target) = target.as_object_mut() else {
                    continue;
                };
                for (name, def) in entries {
                    let key = format!("#/components/{section}/{name}");
                    let new_name = renames
                        .get(&key)
                        .and_then(|n| n.rsplit('/').next())
                        .unwrap_or(name);
                    target
                        .entry(new_name.to_owned())
                        .or_insert_with(|| def.clone());
                }
            }
        }
        if let Some(up_paths) = doc.get("paths").and_then(Value::as_object) {
            for (path, item) in up_paths {
                let Some(item) = item.as_object() else {
                    continue;
                };
                let mut kept = Map::new();
                for (k, op) in item {
                    if HTTP_METHODS.contains(&k.as_str()) {
                        if keep(upstream, k, path) {
                            let mut op = op.clone();
                            if let Some(o) = op.as_object_mut() {
                                o.insert("x-upstream".into(), json!(upstream));
                            }
                            kept.insert(k.clone(), op);
                        }
                    } else {
                        // Path-level parameters, summary, etc.
                        kept.insert(k.clone(), op.clone());
                    }
                }
                if !kept.keys().any(|k| HTTP_METHODS.contains(&k.as_str())) {
                    continue;
                }
                let entry = paths
                    .entry(path.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Some(e) = entry.as_object_mut() {
                    for (k, v) in kept {
                        e.entry(k).or_insert(v);
                    }
                }
            }
        }
        if let Some(t) = doc.get("tags").and_then(Value::as_array) {
            for tag in t {
                if !tags.contains(tag) {
                    tags.push(tag.clone());
                }
            }
        }
    }

    let schemes = components
        .entry("securitySchemes")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(s) = schemes.as_object_mut() {
        s.entry("bearerAuth")
            .or_insert_with(|| json!({"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}));
    }
    root.insert("paths".into(), Value::Object(paths));
    root.insert("components".into(), Value::Object(components));
    if !tags.is_empty() {
        root.insert("tags".into(), Value::Array(tags));
    }
    base
}

/// Refreshes every upstream's document periodically (quickly while one is missing).
pub async fn run_refresher(
    agg: std::sync::Arc<OpenApiAggregator>,
    upstreams: Upstreams,
    interval: Duration,
    cancel: tokio_util::sync::CancellationToken,
) {
    loop {
        let mut all_ok = true;
        for up in upstreams.iter() {
            if agg.refresh(up).await.is_err() {
                all_ok = false;
            }
        }
        let wait = if all_ok {
            interval
        } else {
            interval.min(Duration::from_secs(5))
        };
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_routed_paths_and_renames_colliding_schemas() {
        let base = json!({"paths": {"/healthz": {"get": {}}}, "components": {"schemas": {"Problem": {"type": "object"}}}});
        let auth = json!({
            "paths": {
                "/auth/login": {"post": {"responses": {"200": {"$ref": "#/components/schemas/Problem"}}}},
                "/internal/revocations": {"get": {}}
            },
            "components": {"schemas": {"Problem": {"type": "string"}, "User": {"type": "object"}}}
        });
        let game = json!({"paths": {"/events": {"get": {}, "post": {}}}});
        let keep = |up: &str, _m: &str, p: &str| match up {
            "auth-service" => p.starts_with("/auth"),
            _ => p.starts_with("/events"),
        };
        let merged = merge(
            base,
            &[
                ("auth-service".into(), auth),
                ("game-event-service".into(), game),
            ],
            &keep,
        );
        let paths = merged["paths"].as_object().unwrap();
        assert!(paths.contains_key("/healthz"));
        assert!(paths.contains_key("/auth/login"));
        assert!(paths.contains_key("/events"));
        assert!(!paths.contains_key("/internal/revocations"));
        let schemas = merged["components"]["schemas"].as_object().unwrap();
        assert_eq!(schemas["Problem"], json!({"type": "object"}));
        assert_eq!(schemas["AuthServiceProblem"], json!({"type": "string"}));
        assert!(schemas.contains_key("User"));
        assert_eq!(
            merged["paths"]["/auth/login"]["post"]["responses"]["200"]["$ref"],
            json!("#/components/schemas/AuthServiceProblem")
        );
        assert_eq!(
            merged["paths"]["/events"]["post"]["x-upstream"],
            json!("game-event-service")
        );
    }
}
