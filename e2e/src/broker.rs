//! Which RabbitMQ user each service connects as. With the per-service users of docs/broker.md
//! (made by `scripts/dev up` / `scripts/dev broker-users`, or here through rabbitmqctl when they
//! are missing), every service gets its own least-privilege user and the consumers accept auth
//! events only from `auth-service`; without them (no local rabbitmqctl, or E2E_BROKER_USERS=0)
//! everything runs as AMQP_URL's user, as the services' integration tests do.

use std::time::Duration;

use amqprs::connection::Connection;

use crate::amqp::connection_args;

pub const AUTH_SERVICE: &str = "auth-service";
pub const GAME_EVENT_SERVICE: &str = "game-event-service";
pub const API_GATEWAY: &str = "api-gateway";

#[derive(Clone, Debug)]
pub struct BrokerUsers {
    /// AMQP_URL of each service.
    pub auth_service: String,
    pub game_event_service: String,
    pub api_gateway: String,
    /// The broker user auth-service publishes as (its messages' `user_id`).
    pub auth_publisher: String,
    /// Whether the services have users of their own (else all share AMQP_URL's).
    pub per_service: bool,
}

/// The same env names and dev defaults as scripts/broker-definitions.
fn password(user: &str) -> String {
    let var = format!("{}_AMQP_PASSWORD", user.replace('-', "_").to_uppercase());
    std::env::var(var).unwrap_or_else(|_| format!("{user}-dev"))
}

/// `base` with the user and password of `user`.
pub fn url_as(base: &str, user: &str, password: &str) -> String {
    let mut url = url::Url::parse(base).expect("AMQP_URL");
    url.set_username(user).expect("AMQP_URL has a host");
    url.set_password(Some(password))
        .expect("AMQP_URL has a host");
    url.to_string()
}

async fn can_connect(url: &str) -> bool {
    let Ok(args) = connection_args(url) else {
        return false;
    };
    match tokio::time::timeout(Duration::from_secs(5), Connection::open(&args)).await {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            true
        }
        _ => false,
    }
}

fn rabbitmqctl_available() -> bool {
    std::process::Command::new("rabbitmqctl")
        .arg("version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl BrokerUsers {
    pub async fn resolve(amqp_url: &str) -> BrokerUsers {
        let shared = BrokerUsers {
            auth_service: amqp_url.to_string(),
            game_event_service: amqp_url.to_string(),
            api_gateway: amqp_url.to_string(),
            auth_publisher: url::Url::parse(amqp_url)
                .ok()
                .map(|u| u.username().to_string())
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| "guest".into()),
            per_service: false,
        };
        if std::env::var("E2E_BROKER_USERS").as_deref() == Ok("0") {
            return shared;
        }
        let own = BrokerUsers {
            auth_service: url_as(amqp_url, AUTH_SERVICE, &password(AUTH_SERVICE)),
            game_event_service: url_as(amqp_url, GAME_EVENT_SERVICE, &password(GAME_EVENT_SERVICE)),
            api_gateway: url_as(amqp_url, API_GATEWAY, &password(API_GATEWAY)),
            auth_publisher: AUTH_SERVICE.into(),
            per_service: true,
        };
        if own.all_connect().await {
            return own;
        }
        if rabbitmqctl_available() {
            let made = tokio::process::Command::new(crate::repo_root().join("scripts/dev"))
                .arg("broker-users")
                .status()
                .await
                .is_ok_and(|s| s.success());
            if made && own.all_connect().await {
                return own;
            }
        }
        eprintln!("e2e: per-service RabbitMQ users unavailable; every service connects as AMQP_URL's user");
        shared
    }

    async fn all_connect(&self) -> bool {
        for url in [
            &self.auth_service,
            &self.game_event_service,
            &self.api_gateway,
        ] {
            if !can_connect(url).await {
                return false;
            }
        }
        true
    }
}
