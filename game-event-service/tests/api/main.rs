mod auth;
mod claims;
mod events;
mod health;
mod helpers;
mod progress;
mod stock;
