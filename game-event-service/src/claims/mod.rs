//! The claims engine's front half: how a claim request is accepted and handed to the deciders.
pub mod accept;
pub mod queue;
pub mod revoke;

pub use accept::{AcceptError, Acceptor};
pub use queue::{ClaimMessage, ClaimQueue};
