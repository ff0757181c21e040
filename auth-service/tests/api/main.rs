mod events;
mod health;
mod helpers;
mod login;
mod register;
mod tokens;
mod users;
