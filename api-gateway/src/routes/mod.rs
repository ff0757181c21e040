//! The gateway's own endpoints (everything else is proxied).

mod health;
mod observability;

pub use health::{healthz, readyz};
pub use observability::{merged_openapi, metrics};
