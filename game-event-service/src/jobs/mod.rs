//! Background work, one job per file: claim decisions, the pending-claim sweeper, the outbox
//! relay, grant jobs and progress ingestion. Each job gets the parts it needs, never the HTTP state.
pub mod decisions;
pub mod grants;
pub mod ingestion;
pub mod outbox_relay;
pub mod sweeper;

use std::time::Duration;

/// Pause before a transient failure is handed back to the broker.
pub const RETRY_PAUSE: Duration = Duration::from_millis(500);
