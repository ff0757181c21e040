mod auth;
mod docs;
mod health;
mod helpers;
mod identity;
mod limits;
mod resilience;
mod routing;
