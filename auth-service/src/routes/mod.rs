pub mod auth;
pub mod dto;
pub mod health;
pub mod keys;
pub mod users;
