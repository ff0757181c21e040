//! Which headers cross the gateway, both ways, and the identity and tracing headers it sets.

use crate::auth::Identity;
use crate::domain::{is_valid_traceparent, new_traceparent};
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::HttpRequest;
use std::net::IpAddr;

static X_USER_ID: HeaderName = HeaderName::from_static("x-user-id");
static X_USER_ROLES: HeaderName = HeaderName::from_static("x-user-roles");
static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static FORWARDED: HeaderName = HeaderName::from_static("forwarded");

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
    peer_ip: Option<IpAddr>,
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
    let proto = if req.app_config().secure() {
        "https"
    } else {
        "http"
    };
    set_forwarded(&mut h, peer_ip, proto, incoming.get(header::HOST));
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

/// The client as this gateway saw it. What the client sent in these headers was dropped: a
/// client can write anything there, and an upstream that trusts the gateway must get the peer
/// address, not an appended chain that starts with the client's claim.
fn set_forwarded(
    h: &mut HeaderMap,
    peer: Option<IpAddr>,
    proto: &'static str,
    host: Option<&HeaderValue>,
) {
    let mut forwarded = String::new();
    if let Some(ip) = peer {
        if let Ok(v) = HeaderValue::from_str(&ip.to_string()) {
            h.insert(X_FORWARDED_FOR.clone(), v);
        }
        // RFC 7239: an IPv6 node is quoted and bracketed.
        forwarded = match ip {
            IpAddr::V4(v4) => format!("for={v4}"),
            IpAddr::V6(v6) => format!("for=\"[{v6}]\""),
        };
        forwarded.push(';');
    }
    forwarded.push_str("proto=");
    forwarded.push_str(proto);
    h.insert(X_FORWARDED_PROTO.clone(), HeaderValue::from_static(proto));
    if let Some(host) = host {
        h.insert(X_FORWARDED_HOST.clone(), host.clone());
        let quotable = host.to_str().ok().filter(|v| !v.contains(['"', '\\']));
        if let Some(v) = quotable {
            forwarded.push_str(&format!(";host=\"{v}\""));
        }
    }
    if let Ok(v) = HeaderValue::from_str(&forwarded) {
        h.insert(FORWARDED.clone(), v);
    }
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

    #[test]
    fn forwarded_names_the_peer_only_with_ipv6_quoted() {
        let mut h = HeaderMap::new();
        let host = HeaderValue::from_static("gw.example.com");
        set_forwarded(
            &mut h,
            Some("2001:db8::1".parse().unwrap()),
            "https",
            Some(&host),
        );
        assert_eq!(h.get("x-forwarded-for").unwrap(), "2001:db8::1");
        assert_eq!(
            h.get("forwarded").unwrap(),
            "for=\"[2001:db8::1]\";proto=https;host=\"gw.example.com\""
        );
        let mut h = HeaderMap::new();
        let odd = HeaderValue::from_static("a\"b");
        set_forwarded(&mut h, None, "http", Some(&odd));
        assert!(h.get("x-forwarded-for").is_none());
        assert_eq!(h.get("forwarded").unwrap(), "proto=http");
    }
}
