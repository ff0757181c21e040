//! Reading the route table from YAML: the file's shape, validation, and error messages that
//! name the file, the entry and its line.

use super::pattern::PathPattern;
use super::{Access, RateLimitSpec, Route, RouteTable};
use crate::domain::{upstream_env_name, Role};
use actix_web::http::Method;
use serde::Deserialize;
use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

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
        let file: RouteFile =
            serde_yaml::from_str(source).map_err(|e| syntax_error(source, origin, &e))?;
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
            if !spec.name.trim().is_empty() && !names.insert(spec.name.clone()) {
                return Err(fail("duplicate route name".into()));
            }
            let route = validate(&spec, i, known_upstreams).map_err(fail)?;
            routes.push(route);
        }
        if routes.is_empty() {
            return Err(RouteTableError(format!(
                "{origin}: the route table is empty"
            )));
        }
        Ok(RouteTable::new(routes))
    }
}

/// serde locates syntax errors by line; the entry number is added so the message reads like
/// the semantic ones.
fn syntax_error(source: &str, origin: &str, e: &serde_yaml::Error) -> RouteTableError {
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
}

/// One entry's semantic checks (serde has already checked the shape).
fn validate(
    spec: &RouteSpec,
    order: usize,
    known_upstreams: &dyn Fn(&str) -> bool,
) -> Result<Route, String> {
    if spec.name.trim().is_empty() {
        return Err("name must not be empty".into());
    }
    let pattern = PathPattern::parse(&spec.path)?;
    if pattern.starts_with_literal("internal") {
        return Err("/internal/** is never routed by the gateway".into());
    }
    let methods = parse_methods(&spec.methods)?;
    if !known_upstreams(&spec.upstream) {
        return Err(format!(
            "upstream {:?} has no instances (set {})",
            spec.upstream,
            upstream_env_name(&spec.upstream)
        ));
    }
    let access = match &spec.access {
        AccessSpec::Keyword(AccessKeyword::Public) => Access::Public,
        AccessSpec::Keyword(AccessKeyword::Authenticated) => Access::Authenticated,
        AccessSpec::Roles(r) if r.is_empty() => {
            return Err("access role list must not be empty".into())
        }
        AccessSpec::Roles(r) => Access::Roles(r.clone()),
    };
    if spec.timeout_ms == Some(0) {
        return Err("timeout_ms must be > 0".into());
    }
    if let Some(rl) = spec.rate_limit {
        if rl.per_minute == 0 || rl.burst == Some(0) {
            return Err("rate_limit per_minute and burst must be > 0".into());
        }
    }
    if spec.body_limit_bytes == Some(0) {
        return Err("body_limit_bytes must be > 0".into());
    }
    Ok(Route {
        name: spec.name.clone(),
        pattern,
        methods,
        upstream: spec.upstream.clone(),
        access,
        priority: spec.priority,
        timeout: spec.timeout_ms.map(Duration::from_millis),
        rate_limit: spec.rate_limit,
        body_limit_bytes: spec.body_limit_bytes,
        order,
    })
}

/// Empty or `*`: any method (`None`).
fn parse_methods(methods: &[String]) -> Result<Option<Vec<Method>>, String> {
    if methods.is_empty() || methods.iter().any(|m| m == "*") {
        return Ok(None);
    }
    let mut ms = Vec::new();
    for m in methods {
        let up = m.to_ascii_uppercase();
        if !KNOWN_METHODS.contains(&up.as_str()) {
            return Err(format!("unknown method {m:?}"));
        }
        ms.push(Method::from_bytes(up.as_bytes()).expect("known method"));
    }
    Ok(Some(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn any_upstream(_: &str) -> bool {
        true
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
