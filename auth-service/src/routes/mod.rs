//! HTTP routes, one module per resource; each registers its own paths in `config`.

pub mod audit;
pub mod auth;
pub mod dto;
pub mod health;
pub mod internal;
pub mod keys;
pub mod params;
pub mod users;

use paperclip::actix::web;

/// Every route of the service.
pub fn config(cfg: &mut web::ServiceConfig) {
    health::config(cfg);
    auth::config(cfg);
    users::config(cfg);
    keys::config(cfg);
    internal::config(cfg);
    audit::config(cfg);
}
