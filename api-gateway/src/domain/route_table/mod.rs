//! The route table: parsed from YAML (`parse`), validated once at start-up, matched per
//! request (here).
//!
//! Selection rule: among the routes whose path pattern and method match, the highest
//! `priority` wins; on equal priority the most specific pattern (most literal segments, exact
//! before prefix) wins; then file order.

mod parse;
mod pattern;

pub use parse::RouteTableError;
pub use pattern::PathPattern;

use super::Role;
use actix_web::http::Method;
use serde::Deserialize;
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

impl RouteTable {
    /// Sorts into selection order.
    fn new(mut routes: Vec<Route>) -> Self {
        routes.sort_by(|a, b| {
            b.priority
                .cmp(&a.priority)
                .then_with(|| b.pattern.specificity().cmp(&a.pattern.specificity()))
                .then_with(|| a.order.cmp(&b.order))
        });
        RouteTable { routes }
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
                // GET admits HEAD, so `Allow` names it too.
                let implied = ms.contains(&Method::GET).then_some(Method::HEAD);
                for m in ms.iter().chain(implied.as_ref()) {
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
    fn head_is_admitted_wherever_get_is_and_allowed_with_it() {
        let t = table();
        assert_eq!(name(&t, Method::HEAD, "/users"), "users-list");
        let yaml = "routes:\n  - name: j\n    path: /jwks\n    methods: [GET]\n    upstream: a\n    access: public\n";
        let t = RouteTable::from_yaml(yaml, "t", &any_upstream).unwrap();
        match t.find(&Method::POST, "/jwks") {
            RouteMatch::MethodNotAllowed(m) => assert_eq!(m, vec![Method::GET, Method::HEAD]),
            other => panic!("{other:?}"),
        }
    }
}
