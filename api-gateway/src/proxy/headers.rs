//! Which headers cross the gateway, both ways, and the identity and tracing headers it sets.

use crate::auth::Identity;
use crate::domain::{is_valid_traceparent, new_traceparent};
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::HttpRequest;

static X_USER_ID: HeaderName = HeaderName::from_static("x-user-id");
static X_USER_ROLES: HeaderName = HeaderName::from_static("x-user-roles");
static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// RFC 9110 §7.6.1 connection-specific fields plus the de-facto `Proxy-*`/`Keep-Alive` ones.
fn is_hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
    ) || name.as_str().starts_with("proxy-")
}

/// Field names listed in `Connection` are hop-by-hop too.
pub fn connection_listed(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::CONNECTION)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Request headers the gateway never passes through as sent by the client.
fn drop_request_header(name: &HeaderName, listed: &[String]) -> bool {
    let n = name.as_str();
    is_hop_by_hop(name)
        || n.starts_with("x-user-")
        || matches!(
            n,
            "host"
                | "content-length"
                | "expect"
                | "x-request-id"
                | "traceparent"
                | "x-forwarded-for"
                | "x-forwarded-proto"
                | "x-forwarded-host"
                | "forwarded"
        )
        || listed.iter().any(|l| l == n)
}

pub fn drop_response_header(name: &HeaderName, listed: &[String]) -> bool {
    let n = name.as_str();
    is_hop_by_hop(name)
        || matches!(n, "server" | "x-powered-by" | "content-length" | "date")
        || listed.iter().any(|l| l == n)
}

pub fn upstream_headers(
    req: &HttpRequest,
    request_id: &str,
    identity: Option<&Identity>,
    peer_ip: Option<&str>,
) -> HeaderMap {
    let incoming = req.headers();
    let listed = connection_listed(incoming);
    let mut h = HeaderMap::with_capacity(incoming.len() + 8);
    for (name, value) in incoming {
        if !drop_request_header(name, &listed) {
            h.append(name.clone(), value.clone());
        }
    }
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert(X_REQUEST_ID.clone(), v);
    }
    let tp = incoming
        .get(&TRACEPARENT)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_valid_traceparent(v))
        .map(str::to_owned)
        .unwrap_or_else(new_traceparent);
    if let Ok(v) = HeaderValue::from_str(&tp) {
        h.insert(TRACEPARENT.clone(), v);
    }
    let prior: Vec<&str> = incoming
        .get_all(&X_FORWARDED_FOR)
        .filter_map(|v| v.to_str().ok())
        .collect();
    let mut xff = prior.join(", ");
    if let Some(ip) = peer_ip {
        if !xff.is_empty() {
            xff.push_str(", ");
        }
        xff.push_str(ip);
    }
    if let Ok(v) = HeaderValue::from_str(&xff) {
        if !xff.is_empty() {
            h.insert(X_FORWARDED_FOR.clone(), v);
        }
    }
    let proto = if req.app_config().secure() {
        "https"
    } else {
        "http"
    };
    h.insert(X_FORWARDED_PROTO.clone(), HeaderValue::from_static(proto));
    if let Some(host) = incoming.get(header::HOST) {
        h.insert(X_FORWARDED_HOST.clone(), host.clone());
    }
    if let Some(id) = identity {
        if let Ok(v) = HeaderValue::from_str(&id.user_id) {
            h.insert(X_USER_ID.clone(), v);
        }
        if let Ok(v) = HeaderValue::from_str(&id.roles.join(",")) {
            h.insert(X_USER_ROLES.clone(), v);
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_and_identity_headers_are_dropped() {
        let listed = vec!["x-custom-hop".to_string()];
        for n in [
            "connection",
            "keep-alive",
            "te",
            "trailer",
            "transfer-encoding",
            "upgrade",
            "proxy-authorization",
            "x-user-id",
            "x-user-roles",
            "x-user-anything",
            "x-custom-hop",
        ] {
            assert!(
                drop_request_header(&HeaderName::from_static(n), &listed),
                "{n}"
            );
        }
        for n in ["authorization", "content-type", "accept", "idempotency-key"] {
            assert!(
                !drop_request_header(&HeaderName::from_static(n), &listed),
                "{n}"
            );
        }
        assert!(drop_response_header(
            &HeaderName::from_static("server"),
            &[]
        ));
        assert!(drop_response_header(
            &HeaderName::from_static("x-powered-by"),
            &[]
        ));
        assert!(!drop_response_header(
            &HeaderName::from_static("location"),
            &[]
        ));
    }
}
