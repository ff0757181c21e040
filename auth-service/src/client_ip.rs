//! The client address that login throttling counts against.

use crate::configuration::ProxySettings;
use actix_web::HttpRequest;

#[derive(Clone, Debug)]
pub struct ClientIpPolicy {
    trust_forwarded_for: bool,
}

impl ClientIpPolicy {
    pub fn new(settings: &ProxySettings) -> Self {
        ClientIpPolicy {
            trust_forwarded_for: settings.trust_forwarded_for,
        }
    }

    pub fn client_ip(&self, req: &HttpRequest) -> String {
        if self.trust_forwarded_for {
            // The nearest trusted proxy appends the address it saw: take the last entry.
            if let Some(last) = req
                .headers()
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').map(str::trim).rfind(|s| !s.is_empty()))
            {
                return last.to_string();
            }
        }
        req.peer_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_else(|| "unknown".into())
    }
}
