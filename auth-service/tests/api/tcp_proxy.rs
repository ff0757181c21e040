//! A cuttable TCP forwarder, to simulate a dependency outage without touching the shared one.

use std::sync::Mutex;
use std::time::Duration;

/// `host:port` of a URL like `scheme://user:pass@host:port/path?query`.
pub fn host_port(url: &str) -> String {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let rest = rest.rsplit_once('@').map(|(_, r)| r).unwrap_or(rest);
    rest.split(['/', '?']).next().unwrap().to_string()
}

/// A TCP forwarder in front of a real dependency that a test can cut and restore, to simulate
/// an outage without touching the shared Redis/RabbitMQ/MongoDB.
pub struct TcpProxy {
    pub port: u16,
    target: String,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl TcpProxy {
    pub async fn start(target: &str) -> TcpProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let proxy = TcpProxy {
            port,
            target: target.to_string(),
            task: Mutex::new(None),
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&self, listener: tokio::net::TcpListener) {
        let target = self.target.clone();
        let task = tokio::spawn(async move {
            // Connection tasks live in this set: aborting the accept task drops them all.
            let mut conns = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((mut inbound, _)) = accepted else { continue };
                        let target = target.clone();
                        conns.spawn(async move {
                            if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                            }
                        });
                    }
                    Some(_) = conns.join_next(), if !conns.is_empty() => {}
                }
            }
        });
        *self.task.lock().unwrap() = Some(task);
    }

    /// Closes the listener and every open connection.
    pub async fn cut(&self) {
        let task = self.task.lock().unwrap().take();
        if let Some(t) = task {
            t.abort();
            let _ = t.await;
        }
    }

    pub async fn restore(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            match tokio::net::TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(l) => return self.serve(l),
                Err(e) => {
                    assert!(tokio::time::Instant::now() < deadline, "rebind: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
}
