//! Completes paperclip's generated documents (Swagger 2.0 and OpenAPI 3.0) so that they are
//! valid and say what clients see: every operation has its responses, every error is the shared
//! `Problem` (application/problem+json), and one bearer scheme guards the authenticated
//! operations. paperclip leaves `responses` empty for handlers returning a bare `HttpResponse`
//! and emits one security scheme per extractor, which validators and client generators reject.

use actix_web::dev::{AppService, HttpServiceFactory};
use actix_web::{web, HttpResponse};
use paperclip::v2::models::{DefaultOperationRaw, DefaultSchemaRaw, HttpMethod, SecurityScheme};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

pub const SCHEME: &str = "bearerAuth";
const METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch"];

/// What the generated document cannot know about this service's operations.
pub struct Described<'a> {
    /// Paths that answer without a token.
    pub public: &'a [&'a str],
    /// `(method, path, statuses)` for successes other than 200 (201, 202, 204 ...).
    pub success: &'a [(&'a str, &'a str, &'a [u16])],
    /// `(method, path, statuses)` for errors the general rules below do not imply.
    pub errors: &'a [(&'a str, &'a str, &'a [&'a str])],
    /// GET paths whose 200 is a `text/event-stream` (Server-Sent Events), not JSON.
    pub event_streams: &'a [&'a str],
}

pub const GAME_EVENT_SERVICE: Described<'static> = Described {
    public: &["/healthz", "/readyz", "/metrics", "/docs"],
    success: &[
        ("post", "/events", &[201]),
        ("delete", "/events/{id}", &[204]),
        ("post", "/events/{id}/rewards", &[201]),
        // A replayed claim or activity answers 200 with the first outcome.
        ("post", "/events/{id}/claims", &[200, 202]),
        ("post", "/activities", &[200, 201]),
        ("post", "/segments", &[201]),
        ("post", "/events/{id}/grants", &[202]),
        // Removing members answers how many were removed.
        ("delete", "/segments/{id}/members", &[200]),
    ],
    errors: &[],
    event_streams: &["/claims/me/stream", "/events/{id}/stats/stream"],
};

/// The body of every 4xx/5xx answer (RFC 9457 plus the fields this platform adds).
pub fn problem_schema() -> Value {
    json!({
        "type": "object",
        "description": "RFC 9457 problem details",
        "required": ["type", "title", "status"],
        "properties": {
            "type": {"type": "string", "description": "problem type URI; about:blank when the status says it all"},
            "title": {"type": "string"},
            "status": {"type": "integer", "format": "int32"},
            "detail": {"type": "string"},
            "instance": {"type": "string"},
            "code": {"type": "string", "description": "stable machine-readable error code, e.g. INVALID_FIELD"},
            "requestId": {"type": "string", "description": "the X-Request-Id of the request"},
            "field": {"type": "string", "description": "the first invalid field, on validation errors"},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["field", "message"],
                    "properties": {"field": {"type": "string"}, "message": {"type": "string"}}
                }
            }
        }
    })
}

fn reason(status: &str) -> &'static str {
    match status {
        "200" => "OK",
        "201" => "Created",
        "202" => "Accepted",
        "204" => "No Content",
        "400" => "invalid request (the problem names the field)",
        "401" => "missing, invalid, expired or revoked token",
        "403" => "the token's roles do not allow this",
        "404" => "not found",
        "409" => "conflicts with the current state",
        "429" => "rate limited (see Retry-After)",
        "503" => "a dependency is unavailable",
        _ => "unexpected error",
    }
}

/// A 200 that is a stream of Server-Sent Events (see docs/contracts.md for the frames).
fn event_stream_response(v2: bool) -> Value {
    let description = "Server-Sent Events: `event:`/`id:`/`data:` frames (data is one JSON \
        object) and `: keepalive` comments; reconnect with `Last-Event-ID`";
    let schema = json!({"type": "string", "description": "text/event-stream frames"});
    if v2 {
        json!({"description": description, "schema": schema})
    } else {
        json!({"description": description, "content": {"text/event-stream": {"schema": schema}}})
    }
}

/// Completes a document in place; `swagger: "2.0"` and `openapi: 3.x` are both understood.
/// Idempotent, so a document built from completed ones can be completed again.
pub fn complete(doc: &mut Value, described: &Described) {
    let v2 = doc.get("swagger").is_some();
    if !v2 {
        nullable_optionals(doc);
    }
    let Some(root) = doc.as_object_mut() else {
        return;
    };
    root.remove("security");
    if v2 {
        let defs = object_at(root, "definitions");
        defs.insert("Problem".into(), problem_schema());
        root.insert(
            "securityDefinitions".into(),
            json!({SCHEME: {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "`Bearer <access token>` (JWT from POST /auth/login)"}}),
        );
    } else {
        let comps = object_at(root, "components");
        object_at(comps, "schemas").insert("Problem".into(), problem_schema());
        comps.insert(
            "securitySchemes".into(),
            json!({SCHEME: {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}),
        );
    }
    let Some(paths) = root.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, op) in item.iter_mut() {
            if let (true, Some(op)) = (METHODS.contains(&method.as_str()), op.as_object_mut()) {
                complete_operation(op, method, path, described, v2);
            }
        }
    }
}

fn object_at<'a>(m: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let v = m
        .entry(key.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    v.as_object_mut().expect("object")
}

fn complete_operation(
    op: &mut Map<String, Value>,
    method: &str,
    path: &str,
    described: &Described,
    v2: bool,
) {
    let public = described
        .public
        .iter()
        .any(|p| *p == path || path.starts_with("/docs/"));
    let authenticated = !public
        && op
            .get("security")
            .is_some_and(|s| s.as_array().is_some_and(|a| !a.is_empty()));
    if authenticated {
        op.insert("security".into(), json!([{SCHEME: []}]));
    } else {
        op.remove("security");
    }
    let has_path_params = path.contains('{');
    let mutating = matches!(method, "post" | "put" | "patch" | "delete");
    let responses = object_at(op, "responses");
    // paperclip does not know the handler's body here, so any JSON value is documented.
    if !responses
        .keys()
        .any(|k| k.starts_with('2') || k.starts_with('3'))
    {
        let statuses = described
            .success
            .iter()
            .find(|(m, p, _)| *m == method && *p == path)
            .map(|(_, _, s)| s.to_vec())
            .unwrap_or_else(|| vec![if method == "delete" { 204 } else { 200 }]);
        let stream = method == "get" && described.event_streams.contains(&path);
        for status in statuses {
            let key = status.to_string();
            let body = if stream {
                event_stream_response(v2)
            } else if status == 204 {
                json!({"description": reason(&key)})
            } else if v2 {
                json!({"description": reason(&key), "schema": {}})
            } else {
                json!({"description": reason(&key), "content": {"application/json": {"schema": {}}}})
            };
            responses.insert(key, body);
        }
    }
    let mut errors = vec!["400", "429", "500", "503"];
    if authenticated {
        errors.extend(["401", "403"]);
    }
    if has_path_params {
        errors.push("404");
    }
    if mutating && authenticated {
        errors.push("409");
    }
    if let Some((_, _, extra)) = described
        .errors
        .iter()
        .find(|(m, p, _)| *m == method && *p == path)
    {
        errors.extend(extra.iter());
    }
    for e in errors {
        responses.entry(e.to_owned()).or_insert(Value::Null);
    }
    let problem = if v2 {
        json!({"$ref": "#/definitions/Problem"})
    } else {
        json!({"$ref": "#/components/schemas/Problem"})
    };
    for (status, resp) in responses.iter_mut() {
        if !(status.starts_with('4') || status.starts_with('5') || status == "default") {
            continue;
        }
        let description = resp
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| reason(status).to_owned());
        *resp = if v2 {
            json!({"description": description, "schema": problem})
        } else {
            json!({"description": description, "content": {"application/problem+json": {"schema": problem}}})
        };
    }
    if v2 {
        let first = if method == "get" && described.event_streams.contains(&path) {
            "text/event-stream"
        } else {
            "application/json"
        };
        let produces = op
            .entry("produces".to_owned())
            .or_insert_with(|| json!([first]));
        if let Some(list) = produces.as_array_mut() {
            if !list.iter().any(|v| v == "application/problem+json") {
                list.push(json!("application/problem+json"));
            }
        }
    }
}

/// Serves a completed document. paperclip's App accepts only `Mountable` services; this one
/// adds nothing to the document it serves.
pub struct Serve {
    path: String,
    doc: web::Bytes,
}

impl Serve {
    pub fn new(path: &str, doc: &Value) -> Self {
        Serve {
            path: path.to_owned(),
            doc: web::Bytes::from(serde_json::to_vec(doc).expect("json")),
        }
    }
}

impl paperclip::actix::Mountable for Serve {
    fn path(&self) -> &str {
        &self.path
    }
    fn operations(&mut self) -> BTreeMap<HttpMethod, DefaultOperationRaw> {
        BTreeMap::new()
    }
    fn definitions(&mut self) -> BTreeMap<String, DefaultSchemaRaw> {
        BTreeMap::new()
    }
    fn security_definitions(&mut self) -> BTreeMap<String, SecurityScheme> {
        BTreeMap::new()
    }
}

impl HttpServiceFactory for Serve {
    fn register(self, config: &mut AppService) {
        let doc = self.doc;
        web::resource(self.path)
            .route(web::get().to(move || {
                let doc = doc.clone();
                async move {
                    HttpResponse::Ok()
                        .content_type("application/json")
                        .body(doc)
                }
            }))
            .register(config)
    }
}

/// serde writes an absent `Option` as `null`, and paperclip leaves such fields out of
/// `required`: in OpenAPI 3.0 they are therefore `nullable`, or a client (and schemathesis)
/// rejects the `null` the service really sends.
fn nullable_optionals(v: &mut Value) {
    match v {
        Value::Object(m) => {
            let required: Vec<String> = m
                .get("required")
                .and_then(Value::as_array)
                .map(|r| {
                    r.iter()
                        .filter_map(|s| s.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            if let Some(Value::Object(props)) = m.get_mut("properties") {
                for (name, prop) in props.iter_mut() {
                    if let Some(p) = prop.as_object_mut() {
                        if !required.contains(name) && !p.contains_key("$ref") {
                            p.insert("nullable".into(), Value::Bool(true));
                        }
                    }
                }
            }
            m.values_mut().for_each(nullable_optionals);
        }
        Value::Array(a) => a.iter_mut().for_each(nullable_optionals),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks the invariants a validator and a client generator rely on.
    pub fn assert_complete(doc: &Value, public: &[&str]) {
        let v2 = doc.get("swagger").is_some();
        let schemes = if v2 {
            &doc["securityDefinitions"]
        } else {
            &doc["components"]["securitySchemes"]
        };
        assert_eq!(schemes.as_object().unwrap().len(), 1, "{schemes}");
        assert!(schemes.get(SCHEME).is_some());
        let problem = if v2 {
            "#/definitions/Problem"
        } else {
            "#/components/schemas/Problem"
        };
        let mut operations = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                if !METHODS.contains(&method.as_str()) {
                    continue;
                }
                operations += 1;
                let responses = op["responses"].as_object().unwrap();
                assert!(
                    responses.keys().any(|k| k.starts_with('2')),
                    "{method} {path} has no success response"
                );
                assert!(responses.contains_key("400") && responses.contains_key("500"));
                for (status, r) in responses {
                    if status.starts_with('4') || status.starts_with('5') {
                        let schema = if v2 {
                            &r["schema"]
                        } else {
                            &r["content"]["application/problem+json"]["schema"]
                        };
                        assert_eq!(schema["$ref"], problem, "{method} {path} {status}");
                    }
                }
                let secured = op.get("security").is_some();
                assert_eq!(secured, !public.contains(&path.as_str()), "{method} {path}");
                if secured {
                    assert_eq!(op["security"], json!([{SCHEME: []}]));
                    assert!(responses.contains_key("401"));
                }
            }
        }
        assert!(operations > 0);
    }

    fn generated(v3: bool) -> Value {
        use paperclip::actix::OpenApiExt;
        let mut out = Value::Null;
        let app = actix_web::App::new()
            .wrap_api()
            .configure(crate::routes::config);
        let capture = |app, spec| {
            out = spec;
            app
        };
        let _ = if v3 {
            app.with_raw_json_spec_v3(capture)
        } else {
            app.with_raw_json_spec(capture)
        };
        out
    }

    #[test]
    fn both_generated_documents_are_completed() {
        for v3 in [false, true] {
            let mut doc = generated(v3);
            assert!(doc["paths"]["/events"]["get"].get("security").is_some());
            complete(&mut doc, &GAME_EVENT_SERVICE);
            assert_complete(&doc, GAME_EVENT_SERVICE.public);
            assert!(doc["paths"]["/events/{id}/claims"]["post"]["responses"]
                .get("202")
                .is_some());
            let again = {
                let mut d = doc.clone();
                complete(&mut d, &GAME_EVENT_SERVICE);
                d
            };
            assert_eq!(again, doc, "completing twice changes nothing");
        }
    }
}
