//! Progress ingestion: `game.activity` messages and auth-service's login/registration events
//! become activity records, each applied at most once (keyed by its id).
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
    pub fn new(store: Store, metrics: Metrics, logger: slog::Logger) -> Self {
        Ingestor {
            store,
            metrics,
            logger,
        }
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

    /// A `game.activity` message; invalid ones are dead-lettered.
    pub async fn handle_activity(&self, d: Delivery) -> Outcome {
        let parsed = crate::extract::parse_json::<ActivityInput>(&d.body)
            .map_err(|e| e.to_string())
            .and_then(|i| {
                i.into_activity(Source::GameQueue)
                    .map_err(|f| format!("{}: {}", f.field, f.message))
            });
        match parsed {
            Ok(a) => self.ingest(a, "queue").await,
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
