mod auth;
mod claims;
mod events;
mod health;
mod helpers;
mod liveops;
mod progress;
mod stock;
