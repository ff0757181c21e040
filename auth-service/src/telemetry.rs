//! Structured JSON logs (slog). One process-wide root logger; request-scoped children carry
//! the request id.

use slog::{o, Drain, Level, Logger};
use std::sync::OnceLock;

static ROOT: OnceLock<Logger> = OnceLock::new();

tokio::task_local! {
    /// The current request's id, scoped by the request middleware so that error bodies and
    /// log lines made far from the request (extractors, `ResponseError`) can still carry it.
    pub static REQUEST_ID: String;
}

pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(|id| id.clone()).ok()
}

fn parse_level(s: &str) -> Level {
    match s.to_ascii_lowercase().as_str() {
        "trace" => Level::Trace,
        "debug" => Level::Debug,
        "warn" | "warning" => Level::Warning,
        "error" => Level::Error,
        "critical" | "off" => Level::Critical,
        _ => Level::Info,
    }
}

/// Installs the root logger once; later calls (several apps in one test process) reuse it.
pub fn init(level: &str) -> Logger {
    ROOT.get_or_init(|| {
        let json = slog_json::Json::new(std::io::stdout())
            .add_default_keys()
            .set_newlines(true)
            .build()
            .fuse();
        let drain = slog_async::Async::new(json)
            .chan_size(8192)
            .build()
            .filter_level(parse_level(level))
            .fuse();
        Logger::root(drain, o!("service" => "auth-service"))
    })
    .clone()
}

/// Lets tests install a silent logger before any app starts.
pub fn install(logger: Logger) {
    let _ = ROOT.set(logger);
}

pub fn root() -> Logger {
    ROOT.get()
        .cloned()
        .unwrap_or_else(|| Logger::root(slog::Discard, o!()))
}

/// A logger for the current request (carries `request_id` when inside one).
pub fn current() -> Logger {
    match current_request_id() {
        Some(id) => root().new(o!("request_id" => id)),
        None => root(),
    }
}

pub fn log_internal_error(e: &anyhow::Error) {
    slog::error!(current(), "internal error"; "error" => format!("{e:#}"));
}
