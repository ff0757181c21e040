//! Extractors that turn every kind of bad input into a 4xx naming the field, and the caller's
//! identity.

mod auth;
mod json;
mod query;

pub use auth::{Auth, AuthenticatedUser, InternalCaller};
pub use json::{parse_json, ApiJson, OptionalApiJson};
pub use query::{parse_query, ApiQuery};

pub const MAX_BODY_BYTES: usize = 64 * 1024;
