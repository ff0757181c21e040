//! Helmet-equivalent security headers on every response.

use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// Helmet's default Content-Security-Policy.
const CSP: &str = "default-src 'self';base-uri 'self';font-src 'self' https: data:;\
form-action 'self';frame-ancestors 'self';img-src 'self' data:;object-src 'none';\
script-src 'self';script-src-attr 'none';style-src 'self' https: 'unsafe-inline';\
upgrade-insecure-requests";

/// Swagger UI's page boots with an inline script; only /docs gets this relaxation.
const DOCS_CSP: &str = "default-src 'self';base-uri 'self';font-src 'self' https: data:;\
form-action 'self';frame-ancestors 'self';img-src 'self' data:;object-src 'none';\
script-src 'self' 'unsafe-inline';script-src-attr 'none';style-src 'self' https: 'unsafe-inline';\
connect-src 'self'";

/// The staff console ships every script, style and font itself and talks only to this origin,
/// so it gets the strictest policy of all.
const CONSOLE_CSP: &str = "default-src 'self';base-uri 'self';connect-src 'self';\
font-src 'self';form-action 'self';frame-ancestors 'none';img-src 'self';object-src 'none';\
script-src 'self';script-src-attr 'none';style-src 'self'";

/// Which kind of page a response belongs to, for its Content-Security-Policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Page {
    Api,
    Docs,
    Console,
}

impl Page {
    pub fn of(path: &str) -> Page {
        if super::own_paths::is_docs(path) {
            Page::Docs
        } else if crate::routes::console::is_console(path) {
            Page::Console
        } else {
            Page::Api
        }
    }

    fn csp(self) -> &'static str {
        match self {
            Page::Api => CSP,
            Page::Docs => DOCS_CSP,
            Page::Console => CONSOLE_CSP,
        }
    }
}

pub fn security_headers(h: &mut HeaderMap, page: Page, hsts: &HeaderValue) {
    let set = |h: &mut HeaderMap, k: &'static str, v: &'static str| {
        h.insert(HeaderName::from_static(k), HeaderValue::from_static(v));
    };
    set(h, "content-security-policy", page.csp());
    set(h, "cross-origin-opener-policy", "same-origin");
    set(h, "cross-origin-resource-policy", "same-origin");
    set(h, "origin-agent-cluster", "?1");
    set(h, "referrer-policy", "no-referrer");
    h.insert(header::STRICT_TRANSPORT_SECURITY, hsts.clone());
    set(h, "x-content-type-options", "nosniff");
    set(h, "x-dns-prefetch-control", "off");
    set(h, "x-download-options", "noopen");
    set(h, "x-frame-options", "SAMEORIGIN");
    set(h, "x-permitted-cross-domain-policies", "none");
    set(h, "x-xss-protection", "0");
    h.remove(header::SERVER);
    h.remove("x-powered-by");
}
