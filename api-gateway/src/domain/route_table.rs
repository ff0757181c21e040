//! The route table: parsed from YAML, validated once at start-up, matched per request.
//!
//! Selection rule: among the routes whose path pattern and method match, the highest
//! `priority` wins; on equal priority the most specific pattern (most literal segments, exact
//! before prefix) wins; then file order.

use super::Role;
use actix_web::http::Method;
use serde::Deserialize;
use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    Public,
    Authenticated,
    /// The caller must hold at least one of these roles.
    Roles(Vec<Role>),
}

impl Access {
    pub fn needs_token(&self) -> bool {
        !matches!(self, Access::Public)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern {
    raw: String,
    segments: Vec<Segment>,
    /// Ends in `/**`: matches the prefix itself and everything below it.
    prefix: bool,
}

impl PathPattern {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if !raw.starts_with('/') {
            return Err(format!("path {raw:?} must start with '/'"));
        }
        let (body, prefix) = match raw.strip_suffix("/**") {
            Some(b) => (b, true),
            None => (raw, false),
        };
        let mut segments = Vec::new();
        if body != "/" && !body.is_empty() {
            for seg in body[1..].split('/') {
                if seg.is_empty() {
                    return Err(format!("path {raw:?} has an empty segment"));
                }
                if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    let ok = !name.is_empty()
                        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                    if !ok {
                        return Err(format!("path {raw:?}: bad parameter segment {seg:?}"));
                    }
                    segments.push(Segment::Param);
                } else if seg.contains(['{', '}', '*']) {
                    return Err(format!(
                        "path {raw:?}: segment {seg:?} must be a literal, a {{param}}, or a final /**"
                    ));
                } else {
                    segments.push(Segment::Literal(seg.to_owned()));
                }
            }
        }
        Ok(PathPattern {
            raw: raw.to_owned(),
            segments,
            prefix,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// `path` is the raw request path (no query). Segments are compared verbatim.
    pub fn matches(&self, path: &str) -> bool {
        let rest = match path.strip_prefix('/') {
            Some(r) => r,
            None => return false,
        };
        let mut parts = if rest.is_empty() {
            None
        } else {
            Some(rest.split('/'))
        };
        for seg in &self.segments {
            let part = match parts.as_mut().and_then(|p| p.next()) {
                Some(p) => p,
                None => return false,
            };
            match seg {
                Segment::Literal(l) => {
                    if l != part {
                        return false;
                    }
                }
                Segment::Param => {
                    if part.is_empty() {
                        return false;
                    }
                }
            }
        }
        match parts.as_mut().and_then(|p| p.next()) {
            None => true,
            // A trailing slash on an exact route is not the same resource.
            Some(_) => self.prefix,
        }
    }

    /// Larger is more specific.
    fn specificity(&self) -> (usize, bool, usize) {
        let literals = self
            .segments
            .iter()
            .filter(|s| matches!(s, Segment::Literal(_)))
            .count();
        (literals, !self.prefix, self.segments.len())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSpec {
    pub per_minute: u32,
    pub burst: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct Route {
    pub name: String,
    pub pattern: PathPattern,
    /// `None`: any method.
    pub methods: Option<Vec<Method>>,
    pub upstream: String,
    pub access: Access,
    pub priority: i32,
    pub timeout: Option<Duration>,
    pub rate_limit: Option<RateLimitSpec>,
    pub body_limit_bytes: Option<usize>,
    order: usize,
}

impl Route {
    pub fn allows(&self, method: &Method) -> bool {
        match &self.methods {
            None => true,
            Some(ms) => ms
                .iter()
                .any(|m| m == method || (method == Method::HEAD && m == Method::GET)),
        }
    }
}

#[derive(Debug)]
pub enum RouteMatch<'a> {
    Found(&'a Route),
    /// The path is routed, but not for this method; carries the allowed methods.
    MethodNotAllowed(Vec<Method>),
    NotFound,
}

#[derive(Debug, Clone)]
pub struct RouteTable {
    /// Sorted by selection order.
    routes: Vec<Route>,
}

// ---- YAML shape -------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteFile {
    routes: Vec<RouteSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteSpec {
    name: String,
    path: String,
    #[serde(default)]
    methods: Vec<String>,
    upstream: String,
    access: AccessSpec,
    #[serde(default)]
    priority: i32,
    timeout_ms: Option<u64>,
    rate_limit: Option<RateLimitSpec>,
    body_limit_bytes: Option<usize>,
}

enum AccessSpec {
    Keyword(AccessKeyword),
    Roles(Vec<Role>),
}

enum AccessKeyword {
    Public,
    Authenticated,
}

impl<'de> Deserialize<'de> for AccessSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        const EXPECTED: &str =
            "access must be `public`, `authenticated`, or a list of roles (USER, OPERATOR, AUDITOR, ADMIN)";
        match serde_yaml::Value::deserialize(d)? {
            serde_yaml::Value::String(s) if s == "public" => {
                Ok(AccessSpec::Keyword(AccessKeyword::Public))
            }
            serde_yaml::Value::String(s) if s == "authenticated" => {
                Ok(AccessSpec::Keyword(AccessKeyword::Authenticated))
            }
            v @ serde_yaml::Value::Sequence(_) => serde_yaml::from_value::<Vec<Role>>(v)
                .map(AccessSpec::Roles)
                .map_err(|e| D::Error::custom(format!("{EXPECTED}: {e}"))),
            other => Err(D::Error::custom(format!("{EXPECTED}, got {other:?}"))),
        }
    }
}

#[derive(Debug)]
pub struct RouteTableError(pub String);

impl fmt::Display for RouteTableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RouteTableError {}

const KNOWN_METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// Line numbers (1-based) of the items of the top-level `routes:` list, in order, so that
/// semantic errors (which serde cannot locate) still name the line of the bad entry.
fn entry_lines(source: &str) -> Vec<usize> {
    let mut lines = Vec::new();
    let mut indent: Option<usize> = None;
    let mut in_routes = false;
    for (i, line) in source.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('#') || trimmed.is_empty() {
            continue;
        }
        let ind = line.len() - trimmed.len();
        if ind == 0 && !trimmed.starts_with('-') {
            in_routes = trimmed.starts_with("routes:");
            continue;
        }
        if !in_routes || !(trimmed.starts_with("- ") || trimmed == "-") {
            continue;
        }
        match indent {
            None => {
                indent = Some(ind);
                lines.push(i + 1);
            }
            Some(n) if n == ind => lines.push(i + 1),
            _ => {}
        }
    }
    lines
}

impl RouteTable {
    /// Parses and validates; `origin` (e.g. the file name) prefixes every error message.
    pub fn from_yaml(
        source: &str,
        origin: &str,
        known_upstreams: &dyn Fn(&str) -> bool,
    ) -> Result<Self, RouteTableError> {
        let file: RouteFile = serde_yaml::from_str(source).map_err(|e| {
            let at = e
                .location()
                .map(|l| format!(" (line {}, column {})", l.line(), l.column()))
                .unwrap_or_default();
            let entry = e
                .location()
                .and_then(|l| {
                    let lines = entry_lines(source);
                    lines.iter().rposition(|&start| start <= l.line())
                })
                .map(|i| format!(" in route #{}", i + 1))
                .unwrap_or_default();
            RouteTableError(format!("{origin}{at}{entry}: {e}"))
        })?;
        let lines = entry_lines(source);
        let mut names = HashSet::new();
        let mut routes = Vec::with_capacity(file.routes.len());
        for (i, spec) in file.routes.into_iter().enumerate() {
            let line = lines
                .get(i)
                .map(|l| format!(" (line {l})"))
                .unwrap_or_default();
            let fail = |msg: String| {
                RouteTableError(format!(
                    "{origin}{line}: route #{} {:?}: {msg}",
                    i + 1,
                    spec.name
                ))
            };
            if spec.name.trim().is_empty() {
                return Err(fail("name must not be empty".into()));
            }
            if !names.insert(spec.name.clone()) {
                return Err(fail("duplicate route name".into()));
            }
            let pattern = PathPattern::parse(&spec.path).map_err(fail)?;
            if pattern
                .segments
                .first()
                .is_some_and(|s| *s == Segment::Literal("internal".into()))
            {
                return Err(fail("/internal/** is never routed by the gateway".into()));
            }
            let methods = if spec.methods.is_empty() || spec.methods.iter().any(|m| m == "*") {
                None
            } else {
                let mut ms = Vec::new();
                for m in &spec.methods {
                    let up = m.to_ascii_uppercase();
                    if !KNOWN_METHODS.contains(&up.as_str()) {
                        return Err(fail(format!("unknown method {m:?}")));
                    }
                    ms.push(Method::from_bytes(up.as_bytes()).expect("known method"));
                }
                Some(ms)
            };
            if !known_upstreams(&spec.upstream) {
                return Err(fail(format!(
                    "upstream {:?} has no instances (set {})",
                    spec.upstream,
                    crate::configuration::upstream_env_name(&spec.upstream)
                )));
            }
            let access = match spec.access {
                AccessSpec::Keyword(AccessKeyword::Public) => Access::Public,
                AccessSpec::Keyword(AccessKeyword::Authenticated) => Access::Authenticated,
                AccessSpec::Roles(r) if r.is_empty() => {
                    return Err(fail("access role list must not be empty".into()))
                }
                AccessSpec::Roles(r) => Access::Roles(r),
            };
            if spec.timeout_ms == Some(0) {
                return Err(fail("timeout_ms must be > 0".into()));
            }
            if let Some(rl) = spec.rate_limit {
                if rl.per_minute == 0 || rl.burst == Some(0) {
                    return Err(fail("rate_limit per_minute and burst must be > 0".into()));
                }
            }
            if spec.body_limit_bytes == Some(0) {
                return Err(fail("body_limit_bytes must be > 0".into()));
            }
            routes.push(Route {
                name: spec.name,
                pattern,
                methods,
                upstream: spec.upstream,
                access,
                priority: spec.priority,
                timeout: spec.timeout_ms.map(Duration::from_millis),
                rate_limit: spec.rate_limit,
                body_limit_bytes: spec.body_limit_bytes,
                order: i,
            });
        }
        if routes.is_empty() {
            return Err(RouteTableError(format!(
                "{origin}: the route table is empty"
            )));
        }
        routes.sort_by(|a, b| {
            b.priority
                .cmp(&a.priority)
                .then_with(|| b.pattern.specificity().cmp(&a.pattern.specificity()))
                .then_with(|| a.order.cmp(&b.order))
        });
        Ok(RouteTable { routes })
    }

    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    pub fn upstream_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.routes.iter().map(|r| r.upstream.clone()).collect();
        v.sort();
        v.dedup();
        v
    }

    pub fn find(&self, method: &Method, path: &str) -> RouteMatch<'_> {
        if has_dot_segment(path) {
            return RouteMatch::NotFound;
        }
        let mut allowed: Vec<Method> = Vec::new();
        let mut path_matched = false;
        for r in &self.routes {
            if !r.pattern.matches(path) {
                continue;
            }
            if r.allows(method) {
                return RouteMatch::Found(r);
            }
            path_matched = true;
            if let Some(ms) = &r.methods {
                for m in ms {
                    if !allowed.contains(m) {
                        allowed.push(m.clone());
                    }
                }
            }
        }
        if path_matched {
            RouteMatch::MethodNotAllowed(allowed)
        } else {
            RouteMatch::NotFound
        }
    }
}

/// `.`/`..` segments (also percent-encoded) could make an upstream resolve a different
/// resource than the one the gateway authorised, e.g. `/events/../internal/revocations`.
fn has_dot_segment(path: &str) -> bool {
    fn is_dot(seg: &str) -> bool {
        // Cheap pre-filter: the hot path allocates nothing for ordinary segments.
        if seg.is_empty()
            || seg.len() > 6
            || !seg
                .bytes()
                .all(|b| matches!(b, b'.' | b'%' | b'2' | b'e' | b'E'))
        {
            return false;
        }
        let s = seg.to_ascii_lowercase().replace("%2e", ".");
        s == "." || s == ".."
    }
    let encoded_slash = path
        .as_bytes()
        .windows(3)
        .any(|w| w[0] == b'%' && w[1] == b'2' && (w[2] == b'f' || w[2] == b'F'));
    encoded_slash || path.split('/').any(is_dot)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn any_upstream(_: &str) -> bool {
        true
    }

    const TABLE: &str = r#"
routes:
  - name: users-any
    path: /users/**
    upstream: auth
    access: authenticated
  - name: user-progress
    path: /users/{id}/progress
    methods: [GET]
    upstream: game
    access: authenticated
    priority: 10
  - name: users-list
    path: /users
    methods: [GET]
    upstream: auth
    access: [ADMIN]
    priority: 10
  - name: events
    path: /events/**
    upstream: game
    access: authenticated
  - name: event-rewards
    path: /events/{id}/rewards
    methods: [POST]
    upstream: game
    access: [OPERATOR, ADMIN]
"#;

    fn table() -> RouteTable {
        RouteTable::from_yaml(TABLE, "t.yaml", &any_upstream).unwrap()
    }

    fn name(t: &RouteTable, m: Method, p: &str) -> String {
        match t.find(&m, p) {
            RouteMatch::Found(r) => r.name.clone(),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn priority_beats_file_order_and_prefix() {
        let t = table();
        assert_eq!(name(&t, Method::GET, "/users/42/progress"), "user-progress");
        assert_eq!(name(&t, Method::GET, "/users"), "users-list");
        assert_eq!(name(&t, Method::PATCH, "/users/42/roles"), "users-any");
    }

    #[test]
    fn more_specific_wins_on_equal_priority() {
        let t = table();
        assert_eq!(name(&t, Method::POST, "/events/1/rewards"), "event-rewards");
        assert_eq!(name(&t, Method::GET, "/events/1/rewards"), "events");
        assert_eq!(name(&t, Method::GET, "/events"), "events");
    }

    #[test]
    fn unknown_paths_and_dot_segments_are_not_found() {
        let t = table();
        assert!(matches!(
            t.find(&Method::GET, "/nope"),
            RouteMatch::NotFound
        ));
        assert!(matches!(
            t.find(&Method::GET, "/events/../internal/revocations"),
            RouteMatch::NotFound
        ));
        assert!(matches!(
            t.find(&Method::GET, "/events/%2E%2e/x"),
            RouteMatch::NotFound
        ));
    }

    #[test]
    fn exact_route_with_wrong_method_is_405() {
        let yaml = "routes:\n  - name: a\n    path: /activities\n    methods: [POST]\n    upstream: g\n    access: [ADMIN]\n";
        let t = RouteTable::from_yaml(yaml, "t", &any_upstream).unwrap();
        match t.find(&Method::GET, "/activities") {
            RouteMatch::MethodNotAllowed(m) => assert_eq!(m, vec![Method::POST]),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            t.find(&Method::HEAD, "/activities"),
            RouteMatch::MethodNotAllowed(_)
        ));
    }

    #[test]
    fn params_match_one_non_empty_segment() {
        let p = PathPattern::parse("/users/{id}/progress").unwrap();
        assert!(p.matches("/users/abc/progress"));
        assert!(!p.matches("/users//progress"));
        assert!(!p.matches("/users/abc/progress/x"));
        assert!(!p.matches("/users/abc"));
        let w = PathPattern::parse("/auth/**").unwrap();
        assert!(w.matches("/auth"));
        assert!(w.matches("/auth/login"));
        assert!(!w.matches("/authx"));
    }

    #[test]
    fn validation_errors_name_the_entry_and_line() {
        let bad = "routes:\n  - name: ok\n    path: /a\n    upstream: u\n    access: public\n  - name: broken\n    path: a/b\n    upstream: u\n    access: public\n";
        let e = RouteTable::from_yaml(bad, "routes.yaml", &any_upstream)
            .unwrap_err()
            .0;
        assert!(
            e.contains("line 6") && e.contains("broken") && e.contains("#2"),
            "{e}"
        );

        let bad_role = "routes:\n  - name: ok\n    path: /a\n    upstream: u\n    access: public\n  - name: royal\n    path: /b\n    upstream: u\n    access: [KING]\n";
        let e = RouteTable::from_yaml(bad_role, "routes.yaml", &any_upstream)
            .unwrap_err()
            .0;
        assert!(
            e.contains("#2") && e.contains("access must be") && e.contains("KING"),
            "{e}"
        );

        let unknown_field = "routes:\n  - name: ok\n    path: /a\n    upstream: u\n    access: public\n    prio: 3\n";
        let e = RouteTable::from_yaml(unknown_field, "routes.yaml", &any_upstream)
            .unwrap_err()
            .0;
        assert!(e.contains("prio") && e.contains("line 6"), "{e}");

        let no_upstream = "routes:\n  - name: ok\n    path: /a\n    upstream: ghost-service\n    access: public\n";
        let e = RouteTable::from_yaml(no_upstream, "routes.yaml", &|_| false)
            .unwrap_err()
            .0;
        assert!(e.contains("UPSTREAM_GHOST_SERVICE"), "{e}");

        let internal =
            "routes:\n  - name: i\n    path: /internal/**\n    upstream: u\n    access: public\n";
        assert!(RouteTable::from_yaml(internal, "r", &any_upstream).is_err());
    }
}
