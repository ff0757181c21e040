//! Upstream pools: instances with passive (and optional active) health, round-robin balancing,
//! and one circuit breaker per upstream.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Milliseconds since process start; 0 is reserved for "never".
pub fn now_ms() -> u64 {
    epoch().elapsed().as_millis() as u64 + 1
}

pub struct Instance {
    pub base_url: String,
    down_until: AtomicU64,
    /// Consecutive probes that timed out or answered non-2xx.
    slow_probes: AtomicU32,
}

/// A probe that merely times out (a busy instance) ejects the instance only after this many in a
/// row; a refused connection ejects it at once.
const SLOW_PROBES_TO_EJECT: u32 = 3;

impl Instance {
    fn available(&self, now: u64) -> bool {
        self.down_until.load(Ordering::Relaxed) <= now
    }

    pub fn mark_down(&self, for_: Duration) {
        self.down_until
            .store(now_ms() + for_.as_millis() as u64, Ordering::Relaxed);
    }

    pub fn mark_up(&self) {
        self.down_until.store(0, Ordering::Relaxed);
        self.slow_probes.store(0, Ordering::Relaxed);
    }

    /// Records a failed probe; true when the instance should leave the rotation.
    fn probe_failed(&self, refused: bool) -> bool {
        let n = self.slow_probes.fetch_add(1, Ordering::Relaxed) + 1;
        refused || n >= SLOW_PROBES_TO_EJECT
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitState {
    Closed,
    Open,
    HalfOpen,
}

impl CircuitState {
    pub fn as_gauge(self) -> i64 {
        match self {
            CircuitState::Closed => 0,
            CircuitState::Open => 1,
            CircuitState::HalfOpen => 2,
        }
    }
}

/// Consecutive transport failures open the circuit for `open_for`; afterwards a single trial
/// request is let through (half-open) and its outcome closes or re-opens the circuit.
pub struct Circuit {
    threshold: u32,
    open_for: Duration,
    failures: AtomicU32,
    open_until: AtomicU64,
    trial_in_flight: AtomicBool,
}

/// Outcome of asking the circuit for permission.
pub enum Permit {
    Allowed { trial: bool },
    Rejected { retry_after: Duration },
}

impl Circuit {
    pub fn new(threshold: u32, open_for: Duration) -> Self {
        Circuit {
            threshold: threshold.max(1),
            open_for,
            failures: AtomicU32::new(0),
            open_until: AtomicU64::new(0),
            trial_in_flight: AtomicBool::new(false),
        }
    }

    pub fn state(&self) -> CircuitState {
        let until = self.open_until.load(Ordering::Relaxed);
        if until == 0 {
            CircuitState::Closed
        } else if until > now_ms() {
            CircuitState::Open
        } else {
            CircuitState::HalfOpen
        }
    }

    pub fn permit(&self) -> Permit {
        let until = self.open_until.load(Ordering::Relaxed);
        if until == 0 {
            return Permit::Allowed { trial: false };
        }
        let now = now_ms();
        if until > now {
            return Permit::Rejected {
                retry_after: Duration::from_millis(until - now),
            };
        }
        if self
            .trial_in_flight
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            Permit::Allowed { trial: true }
        } else {
            Permit::Rejected {
                retry_after: Duration::from_secs(1),
            }
        }
    }

    pub fn on_success(&self) {
        self.failures.store(0, Ordering::Relaxed);
        if self.open_until.load(Ordering::Relaxed) != 0 {
            self.open_until.store(0, Ordering::Relaxed);
        }
        self.trial_in_flight.store(false, Ordering::Release);
    }

    pub fn on_failure(&self) {
        let f = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        let was_trial = self.trial_in_flight.swap(false, Ordering::AcqRel);
        if f >= self.threshold || was_trial {
            self.open_until.store(
                now_ms() + self.open_for.as_millis() as u64,
                Ordering::Relaxed,
            );
        }
    }

    /// A trial request that ended without a verdict (e.g. client went away) frees the slot.
    pub fn release_trial(&self) {
        self.trial_in_flight.store(false, Ordering::Release);
    }
}

pub struct Upstream {
    pub name: String,
    pub instances: Vec<Instance>,
    next: AtomicUsize,
    pub circuit: Circuit,
    pub cooloff: Duration,
}

impl Upstream {
    pub fn new(name: &str, urls: Vec<String>, circuit: Circuit, cooloff: Duration) -> Self {
        Upstream {
            name: name.to_owned(),
            instances: urls
                .into_iter()
                .map(|base_url| Instance {
                    base_url,
                    down_until: AtomicU64::new(0),
                    slow_probes: AtomicU32::new(0),
                })
                .collect(),
            next: AtomicUsize::new(0),
            circuit,
            cooloff,
        }
    }

    /// Round robin over the instances not marked down, skipping those already tried.
    pub fn pick(&self, tried: &[usize]) -> Option<usize> {
        let n = self.instances.len();
        if n == 0 {
            return None;
        }
        let now = now_ms();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..n)
            .map(|i| (start + i) % n)
            .find(|&i| !tried.contains(&i) && self.instances[i].available(now))
    }

    pub fn healthy_count(&self) -> usize {
        let now = now_ms();
        self.instances.iter().filter(|i| i.available(now)).count()
    }
}

#[derive(Clone, Default)]
pub struct Upstreams(pub Arc<BTreeMap<String, Arc<Upstream>>>);

impl Upstreams {
    pub fn get(&self, name: &str) -> Option<&Arc<Upstream>> {
        self.0.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Upstream>> {
        self.0.values()
    }
}

/// Active probing: `GET {instance}/healthz` every `interval`; a failing instance is kept out
/// of rotation until a probe succeeds again.
pub async fn run_health_probes(
    upstreams: Upstreams,
    interval: Duration,
    cancel: tokio_util::sync::CancellationToken,
) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("reqwest client");
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        for up in upstreams.iter() {
            for inst in &up.instances {
                let probe = http.get(format!("{}/healthz", inst.base_url)).send().await;
                match probe {
                    Ok(r) if r.status().is_success() => inst.mark_up(),
                    other => {
                        let refused = matches!(&other, Err(e) if e.is_connect());
                        if inst.probe_failed(refused) {
                            // Stay out of rotation until the next probe at least.
                            inst.mark_down(interval + interval / 2);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up(n: usize) -> Upstream {
        Upstream::new(
            "u",
            (0..n).map(|i| format!("http://h{i}")).collect(),
            Circuit::new(2, Duration::from_millis(50)),
            Duration::from_secs(5),
        )
    }

    #[test]
    fn round_robin_skips_down_instances() {
        let u = up(3);
        let picks: Vec<usize> = (0..6).map(|_| u.pick(&[]).unwrap()).collect();
        assert_eq!(picks, vec![0, 1, 2, 0, 1, 2]);
        u.instances[1].mark_down(Duration::from_secs(10));
        let picks: Vec<usize> = (0..4).map(|_| u.pick(&[]).unwrap()).collect();
        assert!(!picks.contains(&1));
        assert_eq!(u.pick(&[0, 2]), None);
        u.instances[0].mark_down(Duration::from_secs(10));
        u.instances[2].mark_down(Duration::from_secs(10));
        assert_eq!(u.pick(&[]), None);
        assert_eq!(u.healthy_count(), 0);
    }

    #[test]
    fn circuit_opens_then_half_opens_with_one_trial() {
        let c = Circuit::new(2, Duration::from_millis(30));
        c.on_failure();
        assert_eq!(c.state(), CircuitState::Closed);
        c.on_failure();
        assert_eq!(c.state(), CircuitState::Open);
        assert!(matches!(c.permit(), Permit::Rejected { .. }));
        std::thread::sleep(Duration::from_millis(40));
        assert!(matches!(c.permit(), Permit::Allowed { trial: true }));
        assert!(matches!(c.permit(), Permit::Rejected { .. }));
        c.on_failure();
        assert_eq!(c.state(), CircuitState::Open);
        std::thread::sleep(Duration::from_millis(40));
        assert!(matches!(c.permit(), Permit::Allowed { trial: true }));
        c.on_success();
        assert_eq!(c.state(), CircuitState::Closed);
        assert!(matches!(c.permit(), Permit::Allowed { trial: false }));
    }
}
