mod events;
mod health;
mod helpers;
mod internal;
mod login;
mod register;
mod tokens;
mod users;
