//! Activity records: the single source of all progress.
use super::errors::FieldError;
use super::ids::{new_id, valid_id, UserId};
use chrono::{DateTime, Utc};
use paperclip::actix::Apiv2Schema;
use serde::{Deserialize, Serialize};

pub const LOGIN: &str = "login";
pub const INVITE: &str = "invite";

/// `^[a-z0-9_.:-]{1,64}$`
pub fn valid_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 64
        && k.bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b':' | b'-'))
}

pub fn is_reserved(k: &str) -> bool {
    k == LOGIN || k == INVITE
}

#[derive(Debug, Clone, PartialEq)]
pub struct Activity {
    pub id: String,
    pub user_id: UserId,
    pub key: String,
    pub value: i64,
    pub occurred_at: DateTime<Utc>,
    pub subject_user_id: Option<UserId>,
}

/// Wire schema of `game.activity` messages and of `POST /activities`.
#[derive(Debug, Clone, Deserialize, Serialize, Apiv2Schema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ActivityInput {
    #[serde(default)]
    pub id: Option<String>,
    pub user_id: String,
    pub key: String,
    pub value: i64,
    pub occurred_at: DateTime<Utc>,
    #[serde(default)]
    pub subject_user_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Game servers may not forge logins or invites.
    GameQueue,
    /// ADMIN backfill may record any key, reserved ones included.
    Admin,
}

impl ActivityInput {
    pub fn into_activity(self, source: Source) -> Result<Activity, FieldError> {
        let id = match (self.id, source) {
            (Some(id), _) => id,
            (None, Source::Admin) => new_id(),
            (None, Source::GameQueue) => return Err(FieldError::new("id", "is required")),
        };
        if !valid_id(&id) {
            return Err(FieldError::new(
                "id",
                "must be 1 to 128 characters of [A-Za-z0-9._:-]",
            ));
        }
        let user_id = UserId::parse(&self.user_id).ok_or_else(|| {
            FieldError::new("userId", "must be 1 to 128 characters of [A-Za-z0-9._:-]")
        })?;
        if !valid_key(&self.key) {
            return Err(FieldError::new("key", "must match ^[a-z0-9_.:-]{1,64}$"));
        }
        if source == Source::GameQueue && is_reserved(&self.key) {
            return Err(FieldError::new("key", "is reserved"));
        }
        if self.value < 0 {
            return Err(FieldError::new("value", "must be an integer >= 0"));
        }
        let subject_user_id = match &self.subject_user_id {
            Some(s) => Some(
                UserId::parse(s)
                    .ok_or_else(|| FieldError::new("subjectUserId", "is not a valid id"))?,
            ),
            None => None,
        };
        Ok(Activity {
            id,
            user_id,
            key: self.key,
            value: self.value,
            occurred_at: self.occurred_at,
            subject_user_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(key: &str, value: i64) -> ActivityInput {
        ActivityInput {
            id: Some("a1".into()),
            user_id: "u1".into(),
            key: key.into(),
            value,
            occurred_at: Utc::now(),
            subject_user_id: None,
        }
    }

    #[test]
    fn keys_are_validated_and_reserved_keys_only_for_admin() {
        assert!(input("kills", 3).into_activity(Source::GameQueue).is_ok());
        assert_eq!(
            input("login", 1)
                .into_activity(Source::GameQueue)
                .unwrap_err()
                .field,
            "key"
        );
        assert!(input("login", 1).into_activity(Source::Admin).is_ok());
        assert_eq!(
            input("Kills", 1)
                .into_activity(Source::GameQueue)
                .unwrap_err()
                .field,
            "key"
        );
        assert_eq!(
            input("kills", -1)
                .into_activity(Source::GameQueue)
                .unwrap_err()
                .field,
            "value"
        );
        let mut no_id = input("kills", 1);
        no_id.id = None;
        assert!(no_id.clone().into_activity(Source::GameQueue).is_err());
        assert!(no_id.into_activity(Source::Admin).is_ok());
    }
}
