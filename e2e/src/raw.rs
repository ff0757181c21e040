//! What a hostile client does below HTTP: sockets from a chosen loopback address (127.0.0.0/8 is
//! all local on Linux, so each address is another client to the gateway), requests sent in part,
//! and the raw response read back.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpSocket, TcpStream};

use crate::Platform;

/// `127.0.0.<n>`.
pub fn loopback(n: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, n])
}

/// A TCP connection to `to` whose source address is `from`.
pub async fn connect_from(from: IpAddr, to: SocketAddr) -> Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(from, 0))?;
    socket
        .connect(to)
        .await
        .with_context(|| format!("connect {from} -> {to}"))
}

/// An HTTP client whose connections come from `from`.
pub fn http_client_from(from: IpAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(from)
        .timeout(Duration::from_secs(30))
        .pool_idle_timeout(Duration::from_secs(2))
        .build()
        .expect("http client")
}

/// What came back on a raw socket before it was closed or `wait` ran out.
#[derive(Debug)]
pub struct RawAnswer {
    /// The status of the response, if one arrived.
    pub status: Option<u16>,
    pub text: String,
    /// The server closed the connection.
    pub closed: bool,
    pub after: Duration,
}

/// Reads until the server closes the connection or `wait` passes.
pub async fn read_until_closed(s: &mut TcpStream, wait: Duration) -> RawAnswer {
    let started = Instant::now();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let closed = tokio::time::timeout(wait, async {
        loop {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await
    .is_ok();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|t| t.get(..3))
        .and_then(|c| c.parse().ok());
    RawAnswer {
        status,
        text,
        closed,
        after: started.elapsed(),
    }
}

impl Platform {
    /// The first gateway's socket address.
    pub fn gateway_addr(&self) -> SocketAddr {
        self.gateways[0]
            .trim_start_matches("http://")
            .parse()
            .expect("gateway address")
    }
}

/// Latencies of a series of requests, in milliseconds.
#[derive(Debug, Clone, Default)]
pub struct Latencies(pub Vec<f64>);

impl Latencies {
    pub fn push(&mut self, d: Duration) {
        self.0.push(d.as_secs_f64() * 1000.0);
    }

    pub fn quantile(&self, q: f64) -> f64 {
        let mut v = self.0.clone();
        v.sort_by(|a, b| a.total_cmp(b));
        if v.is_empty() {
            return 0.0;
        }
        v[((v.len() - 1) as f64 * q).round() as usize]
    }

    pub fn summary(&self) -> serde_json::Value {
        serde_json::json!({
            "n": self.0.len(),
            "p50Ms": (self.quantile(0.5) * 10.0).round() / 10.0,
            "p95Ms": (self.quantile(0.95) * 10.0).round() / 10.0,
            "maxMs": (self.quantile(1.0) * 10.0).round() / 10.0,
        })
    }
}
