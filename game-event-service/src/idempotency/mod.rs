//! The Idempotency-Key protocol of `POST /events/{id}/claims`: the first request with a key
//! runs, every later one with the same key gets the first one's response replayed.
//!
//! A key's record goes `absent -> in progress -> done(response)`; `try_processing` moves it out
//! of `absent` or tells the caller what to answer instead.
mod key;
mod persistence;

pub use key::IdempotencyKey;
pub use persistence::{try_processing, IdempotencyError, InFlight, NextAction};
