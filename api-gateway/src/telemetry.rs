//! Structured JSON logging (one JSON object per line on stdout).

use slog::{o, Drain, Level, Logger};

pub fn parse_level(level: &str) -> Level {
    match level.trim().to_ascii_lowercase().as_str() {
        "trace" => Level::Trace,
        "debug" => Level::Debug,
        "warn" | "warning" => Level::Warning,
        "error" => Level::Error,
        "critical" | "crit" | "off" => Level::Critical,
        _ => Level::Info,
    }
}

pub fn init_logger(level: &str) -> Logger {
    let drain = slog_json::Json::new(std::io::stdout())
        .set_newlines(true)
        .add_key_value(o!(
            "ts" => slog::PushFnValue(|_, ser| ser.emit(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true))),
            "level" => slog::FnValue(|r| r.level().as_short_str()),
            "msg" => slog::PushFnValue(|r, ser| ser.emit(r.msg())),
        ))
        .build()
        .fuse();
    // Drop (and count) lines rather than block request handling when stdout is slow.
    let drain = slog_async::Async::new(drain)
        .chan_size(16_384)
        .overflow_strategy(slog_async::OverflowStrategy::DropAndReport)
        .build()
        .fuse();
    let drain = drain.filter_level(parse_level(level)).fuse();
    Logger::root(drain, o!("service" => "api-gateway"))
}

/// A logger that discards everything (tests that do not care about logs).
pub fn null_logger() -> Logger {
    Logger::root(slog::Discard, o!())
}
