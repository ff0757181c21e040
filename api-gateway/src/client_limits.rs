//! Per-client (peer IP) caps on open connections and on requests in flight, so a few clients
//! holding half-sent requests cannot take every worker's attention from the others.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Counts {
    connections: usize,
    in_flight: usize,
}

pub struct ClientLimits {
    max_connections: usize,
    max_in_flight: usize,
    per_ip: Mutex<HashMap<IpAddr, Counts>>,
}

/// Held for the life of a connection (in its connection data).
pub struct ConnectionSlot {
    limits: Arc<ClientLimits>,
    ip: IpAddr,
    /// The connection opened while its client already had the maximum.
    pub over_limit: bool,
}

/// Held while a request is being answered.
pub struct InFlight {
    limits: Arc<ClientLimits>,
    ip: IpAddr,
}

impl ClientLimits {
    /// 0 = unlimited.
    pub fn new(max_connections: usize, max_in_flight: usize) -> Self {
        ClientLimits {
            max_connections,
            max_in_flight,
            per_ip: Mutex::new(HashMap::new()),
        }
    }

    pub fn connect(self: &Arc<Self>, ip: IpAddr) -> ConnectionSlot {
        let mut m = self.per_ip.lock().expect("client limits lock");
        let c = m.entry(ip).or_default();
        c.connections += 1;
        ConnectionSlot {
            limits: self.clone(),
            ip,
            over_limit: self.max_connections > 0 && c.connections > self.max_connections,
        }
    }

    /// `None` when the client already has the maximum in flight.
    pub fn enter(self: &Arc<Self>, ip: IpAddr) -> Option<InFlight> {
        let mut m = self.per_ip.lock().expect("client limits lock");
        let c = m.entry(ip).or_default();
        if self.max_in_flight > 0 && c.in_flight >= self.max_in_flight {
            return None;
        }
        c.in_flight += 1;
        Some(InFlight {
            limits: self.clone(),
            ip,
        })
    }

    fn release(&self, ip: IpAddr, connection: bool) {
        let mut m = self.per_ip.lock().expect("client limits lock");
        if let Some(c) = m.get_mut(&ip) {
            if connection {
                c.connections = c.connections.saturating_sub(1);
            } else {
                c.in_flight = c.in_flight.saturating_sub(1);
            }
            if c.connections == 0 && c.in_flight == 0 {
                m.remove(&ip);
            }
        }
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.limits.release(self.ip, true);
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.limits.release(self.ip, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_count_per_ip_and_release_on_drop() {
        let l = Arc::new(ClientLimits::new(1, 2));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let c1 = l.connect(a);
        assert!(!c1.over_limit);
        assert!(l.connect(a).over_limit);
        assert!(!l.connect(b).over_limit);
        let r1 = l.enter(a).unwrap();
        let _r2 = l.enter(a).unwrap();
        assert!(l.enter(a).is_none());
        assert!(l.enter(b).is_some());
        drop(r1);
        assert!(l.enter(a).is_some());
        drop(c1);
        assert!(!l.connect(a).over_limit);
    }

    #[test]
    fn zero_is_unlimited() {
        let l = Arc::new(ClientLimits::new(0, 0));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let held: Vec<_> = (0..1000).map(|_| (l.connect(a), l.enter(a))).collect();
        assert!(held.iter().all(|(c, f)| !c.over_limit && f.is_some()));
    }
}
