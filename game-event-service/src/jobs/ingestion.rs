//! Progress ingestion: `game.activity` messages and auth-service's login/registration events
//! become activity records, each applied at most once (keyed by its id).
//!
//! Trust: RabbitMQ refuses a published `user_id` other than the publishing connection's broker
//! user, so a message on the auth events exchange is auth-service's only when its `user_id` is
//! auth-service's broker user (`AUTH_EVENTS_PUBLISHER`); anything else is forged and refused.
//! A `game.activity` must be `application/json` and name a user this service knows from
//! `user.registered`. Refused messages are dead-lettered, the reason logged.
use super::RETRY_PAUSE;
use crate::domain::activity::{Activity, ActivityInput, Source, INVITE, LOGIN};
use crate::domain::audit::AuditRecord;
use crate::domain::{valid_id, UserId};
use crate::metrics::Metrics;
use crate::mq::{Delivery, Outcome};
use crate::store::Store;
use serde::Deserialize;

#[derive(Clone)]
pub struct Ingestor {
    store: Store,
    metrics: Metrics,
    logger: slog::Logger,
    /// auth-service's broker user.
    auth_publisher: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuthEvent {
    message_id: String,
    user_id: String,
    #[serde(default)]
    invited_by: Option<String>,
    occurred_at: chrono::DateTime<chrono::Utc>,
}

impl Ingestor {
    pub fn new(store: Store, metrics: Metrics, logger: slog::Logger, auth_publisher: &str) -> Self {
        Ingestor {
            store,
            metrics,
            logger,
            auth_publisher: auth_publisher.to_string(),
        }
    }

    /// Whether `d` was published by auth-service's broker user; logs the refusal otherwise.
    pub fn from_auth_service(&self, d: &Delivery) -> bool {
        if d.user_id.as_deref() == Some(self.auth_publisher.as_str()) {
            return true;
        }
        slog::warn!(self.logger, "auth event refused: not published by auth-service";
            "reason" => "publisher", "routingKey" => &d.routing_key,
            "userId" => d.user_id.as_deref().unwrap_or("(none)"),
            "expected" => &self.auth_publisher);
        self.count("auth", "refused");
        false
    }

    fn count(&self, source: &str, result: &str) {
        self.metrics
            .activities
            .with_label_values(&[source, result])
            .inc();
    }

    async fn ingest(&self, a: Activity, source: &str) -> Outcome {
        match self.store.insert_activity(&a).await {
            Ok(fresh) => {
                self.count(source, if fresh { "applied" } else { "duplicate" });
                Outcome::Ack
            }
            Err(e) => {
                slog::warn!(self.logger, "activity insert failed"; "error" => e.to_string());
                tokio::time::sleep(RETRY_PAUSE).await;
                Outcome::Requeue
            }
        }
    }

    /// A `game.activity` message; invalid ones, other content types and unknown users are
    /// dead-lettered.
    pub async fn handle_activity(&self, d: Delivery) -> Outcome {
        if !is_json(d.content_type.as_deref()) {
            slog::warn!(self.logger, "game.activity refused: content_type is not application/json";
                "reason" => "content_type", "contentType" => d.content_type.as_deref().unwrap_or("(none)"));
            self.count("queue", "refused");
            return Outcome::DeadLetter;
        }
        let parsed = crate::extract::parse_json::<ActivityInput>(&d.body)
            .map_err(|e| e.to_string())
            .and_then(|i| {
                i.into_activity(Source::GameQueue)
                    .map_err(|f| format!("{}: {}", f.field, f.message))
            });
        match parsed {
            Ok(a) => match self.store.is_known_user(&a.user_id).await {
                Ok(true) => self.ingest(a, "queue").await,
                Ok(false) => {
                    slog::warn!(self.logger, "game.activity refused: unknown userId";
                        "reason" => "unknown_user", "userId" => a.user_id.as_str());
                    self.count("queue", "refused");
                    Outcome::DeadLetter
                }
                Err(e) => {
                    slog::warn!(self.logger, "user lookup failed"; "error" => e.to_string());
                    tokio::time::sleep(RETRY_PAUSE).await;
                    Outcome::Requeue
                }
            },
            Err(e) => {
                slog::warn!(self.logger, "invalid game.activity message"; "error" => e);
                self.count("queue", "invalid");
                Outcome::DeadLetter
            }
        }
    }

    /// `user.logged_in` is a login of that user; `user.registered` with `invitedBy` is an
    /// invite of the inviter.
    pub async fn handle_auth_event(&self, d: Delivery) -> Outcome {
        // Everything bound to this queue (user.*, audit.recorded) is auth-service's to say.
        if !self.from_auth_service(&d) {
            return Outcome::DeadLetter;
        }
        if d.routing_key == "audit.recorded" {
            return self.handle_audit_record(d).await;
        }
        let ev: AuthEvent = match serde_json::from_slice(&d.body) {
            Ok(e) => e,
            Err(e) => {
                slog::warn!(self.logger, "malformed auth event"; "routingKey" => &d.routing_key, "error" => e.to_string());
                return Outcome::DeadLetter;
            }
        };
        if d.routing_key == "user.registered" {
            if let Some(user) = UserId::parse(&ev.user_id) {
                // Audiences bound by registration time read this; it must land before the ack.
                if let Err(e) = self.store.record_registration(&user, ev.occurred_at).await {
                    slog::warn!(self.logger, "registration not recorded"; "error" => e.to_string());
                    tokio::time::sleep(RETRY_PAUSE).await;
                    return Outcome::Requeue;
                }
            }
        }
        let (key, user, subject) = match d.routing_key.as_str() {
            "user.logged_in" => (LOGIN, ev.user_id, None),
            "user.registered" => match ev.invited_by {
                Some(inviter) => (INVITE, inviter, Some(ev.user_id)),
                None => return Outcome::Ack,
            },
            _ => return Outcome::Ack,
        };
        let Some(user_id) = UserId::parse(&user).filter(|_| valid_id(&ev.message_id)) else {
            return Outcome::DeadLetter;
        };
        let activity = Activity {
            id: ev.message_id,
            user_id,
            key: key.into(),
            value: 1,
            occurred_at: ev.occurred_at,
            subject_user_id: subject.and_then(|s| UserId::parse(&s)),
        };
        self.ingest(activity, "auth").await
    }

    /// auth-service's audit record (`audit.recorded`), kept beside this service's own so that
    /// `GET /audit` answers over both; stored once per record id.
    async fn handle_audit_record(&self, d: Delivery) -> Outcome {
        let rec = match crate::extract::parse_json::<AuditRecord>(&d.body) {
            Ok(r) => r,
            Err(e) => {
                slog::warn!(self.logger, "malformed audit record"; "error" => e.to_string());
                return Outcome::DeadLetter;
            }
        };
        if let Err(errs) = rec.validate() {
            slog::warn!(self.logger, "invalid audit record"; "field" => &errs[0].field);
            return Outcome::DeadLetter;
        }
        match self.store.append_audit(&rec).await {
            Ok(_) => Outcome::Ack,
            Err(e) => {
                slog::warn!(self.logger, "audit record insert failed"; "error" => e.to_string());
                tokio::time::sleep(RETRY_PAUSE).await;
                Outcome::Requeue
            }
        }
    }
}

/// `application/json`, parameters (`; charset=utf-8`) allowed.
fn is_json(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|c| c.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_json_content_types_pass() {
        assert!(super::is_json(Some("application/json")));
        assert!(super::is_json(Some("Application/JSON; charset=utf-8")));
        assert!(!super::is_json(Some("text/plain")));
        assert!(!super::is_json(Some("application/jsonx")));
        assert!(!super::is_json(None));
    }
}
