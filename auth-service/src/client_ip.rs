//! The client address that login throttling counts against.
//!
//! `X-Forwarded-For` (or, without it, `Forwarded`) is believed only as far as it was written by
//! proxies we trust (`TRUSTED_PROXIES`): walking the chain from the nearest hop outwards, the
//! first address that is not a trusted proxy is the client. A client talking to us directly, or
//! through an untrusted hop, is its peer address, whatever headers it sends.

use crate::configuration::ProxySettings;
use actix_web::HttpRequest;
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};

#[derive(Clone, Debug)]
pub struct ClientIpPolicy {
    trusted: Vec<IpNet>,
}

impl ClientIpPolicy {
    pub fn new(settings: &ProxySettings) -> Self {
        ClientIpPolicy {
            trusted: settings.trusted_proxies.clone(),
        }
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.trusted.iter().any(|net| net.contains(&ip))
    }

    pub fn client_ip(&self, req: &HttpRequest) -> String {
        let Some(peer) = req.peer_addr().map(|a| canonical(a.ip())) else {
            return "unknown".into();
        };
        let headers = req.headers();
        let joined = |name: &str| {
            let values: Vec<&str> = headers
                .get_all(name)
                .filter_map(|v| v.to_str().ok())
                .collect();
            (!values.is_empty()).then(|| values.join(","))
        };
        let chain: Vec<Option<IpAddr>> = if let Some(xff) = joined("x-forwarded-for") {
            xff.split(',').map(|e| parse_addr(e.trim())).collect()
        } else if let Some(fwd) = joined("forwarded") {
            fwd.split(',').map(forwarded_for).collect()
        } else {
            Vec::new()
        };
        self.client_from_chain(peer, &chain).to_string()
    }

    /// `chain` is the forwarded list as sent (client first, nearest proxy last); `None` marks an
    /// entry that is not an address.
    pub fn client_from_chain(&self, peer: IpAddr, chain: &[Option<IpAddr>]) -> IpAddr {
        let mut hop = peer;
        for entry in chain.iter().rev() {
            if !self.is_trusted(hop) {
                return hop;
            }
            match entry {
                Some(ip) => hop = canonical(*ip),
                // Garbage written by a trusted hop's client: the hop is as far as we can see.
                None => return hop,
            }
        }
        hop
    }
}

/// IPv4-mapped IPv6 (`::ffff:a.b.c.d`, what a dual-stack socket reports) as plain IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// `1.2.3.4`, `1.2.3.4:80`, `::1`, `[::1]`, `[::1]:80`.
fn parse_addr(s: &str) -> Option<IpAddr> {
    let s = s.trim().trim_matches('"');
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some(sa.ip());
    }
    s.strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .and_then(|r| r.parse().ok())
}

/// The `for=` parameter of one RFC 7239 `Forwarded` element.
fn forwarded_for(element: &str) -> Option<IpAddr> {
    element.split(';').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("for")
            .then(|| parse_addr(v))
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::configuration::parse_trusted_proxies;

    fn policy(raw: &str) -> ClientIpPolicy {
        ClientIpPolicy {
            trusted: parse_trusted_proxies(raw).unwrap(),
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn chain(entries: &[&str]) -> Vec<Option<IpAddr>> {
        entries.iter().map(|e| parse_addr(e)).collect()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_sends() {
        let p = policy("10.0.0.0/8");
        assert_eq!(
            p.client_from_chain(ip("203.0.113.9"), &chain(&["1.1.1.1"])),
            ip("203.0.113.9")
        );
        assert_eq!(
            policy("").client_from_chain(ip("127.0.0.1"), &chain(&["1.1.1.1"])),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn the_first_untrusted_hop_from_the_right_is_the_client() {
        let p = policy("10.0.0.1, 10.0.0.2/32");
        // A spoofed entry to the left of the real client is never reached.
        let c = chain(&["6.6.6.6", "198.51.100.7", "10.0.0.2"]);
        assert_eq!(p.client_from_chain(ip("10.0.0.1"), &c), ip("198.51.100.7"));
        // Only trusted hops: the leftmost is as far as we can see.
        assert_eq!(
            p.client_from_chain(ip("10.0.0.1"), &chain(&["10.0.0.2"])),
            ip("10.0.0.2")
        );
        // Garbage stops the walk at the hop that passed it on.
        assert_eq!(
            p.client_from_chain(ip("10.0.0.1"), &chain(&["junk"])),
            ip("10.0.0.1")
        );
        // No header at all: the peer.
        assert_eq!(p.client_from_chain(ip("10.0.0.1"), &[]), ip("10.0.0.1"));
    }

    #[test]
    fn forwarded_elements_and_mapped_addresses_parse() {
        assert_eq!(
            forwarded_for("for=192.0.2.60;proto=http"),
            Some(ip("192.0.2.60"))
        );
        assert_eq!(
            forwarded_for(r#" For="[2001:db8::1]:4711""#),
            Some(ip("2001:db8::1"))
        );
        assert_eq!(forwarded_for("for=unknown"), None);
        assert_eq!(forwarded_for("proto=https"), None);
        assert_eq!(canonical(ip("::ffff:127.0.0.1")), ip("127.0.0.1"));
        assert!(parse_trusted_proxies("127.0.0.1/8, ::1, 10.1.2.3").is_ok());
        assert!(parse_trusted_proxies("nope").is_err());
    }
}
