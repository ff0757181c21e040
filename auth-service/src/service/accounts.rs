//! Accounts: registration, profiles, listing.

use super::{audit, bcrypt_hash, now, pending, wake_relay};
use crate::domain::audit::{Actor, ADMIN_BOOTSTRAPPED};
use crate::domain::events::UserRegistered;
use crate::domain::{
    rfc3339, Email, InviteCode, MessageId, Nickname, Page, Password, RefreshToken, Role, RoleSet,
    RuleViolation, User, UserId,
};
use crate::error::AppError;
use crate::state::AppState;
use crate::store::{is_duplicate_key, Pending, UserDoc};

pub async fn register(
    state: &AppState,
    email: &str,
    password: &str,
    nickname: &str,
    invite_code: Option<&str>,
) -> Result<User, AppError> {
    let email = Email::parse(email)?;
    let password = Password::parse(password)?;
    let nickname = Nickname::parse(nickname)?;
    let unknown_code = || RuleViolation::new("inviteCode", "unknown invite code");
    let invited_by = match invite_code {
        None => None,
        Some(raw) => {
            let code = InviteCode::parse(raw).ok_or_else(unknown_code)?;
            let inviter = state
                .users
                .by_invite_code(code.as_str())
                .await?
                .ok_or_else(unknown_code)?;
            Some(inviter.id)
        }
    };
    if state.users.by_email(email.as_str()).await?.is_some() {
        return Err(AppError::EmailTaken);
    }
    let hash = bcrypt_hash(password.expose().to_string(), state.bcrypt_cost).await?;
    let user = insert_user(
        state,
        &email,
        &nickname,
        hash,
        RoleSet::new_account(),
        invited_by,
        None,
    )
    .await?;
    Ok(user.to_user())
}

/// Inserts a new user carrying its `user.registered` event (and, for a staff creation, its
/// audit record by `audited_by`); the unique email index is the real guard against a racing
/// twin.
pub(super) async fn insert_user(
    state: &AppState,
    email: &Email,
    nickname: &Nickname,
    password_hash: String,
    roles: RoleSet,
    invited_by: Option<String>,
    audited_by: Option<Actor>,
) -> Result<UserDoc, AppError> {
    let created = now();
    for _ in 0..5 {
        let id = UserId::generate();
        let registered = pending(&UserRegistered {
            message_id: MessageId::generate(),
            user_id: id.clone(),
            email: email.as_str().to_string(),
            nickname: nickname.as_str().to_string(),
            invited_by: invited_by.as_deref().map(Into::into),
            occurred_at: rfc3339(created),
        })?;
        let user = UserDoc {
            id: id.into_string(),
            email: email.as_str().to_string(),
            nickname: nickname.as_str().to_string(),
            roles: roles.to_strings(),
            invite_code: InviteCode::generate().as_str().to_string(),
            invited_by: invited_by.clone(),
            password_hash: password_hash.clone(),
            version: 1,
            created_at: created,
            updated_at: created,
            outbox: Pending::with(vec![registered]),
        };
        let record = audited_by.clone().map(|actor| {
            audit::user_change(
                actor,
                ADMIN_BOOTSTRAPPED,
                &user.id,
                None,
                Some(serde_json::json!({"email": user.email, "roles": user.roles})),
            )
        });
        let mut user = user;
        if let Some(r) = &record {
            user.outbox.push([audit::recorded(r)?]);
            user.outbox.push_audit(audit::pending(r));
        }
        match state.users.insert(&user).await {
            Ok(()) => {
                if let Some(r) = &record {
                    audit::append(state, r).await?;
                }
                wake_relay(state);
                return Ok(user);
            }
            Err(e) if is_duplicate_key(&e) => {
                if state.users.by_email(email.as_str()).await?.is_some() {
                    return Err(AppError::EmailTaken);
                }
                // Otherwise the random invite code collided: draw another.
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::Internal(anyhow::anyhow!(
        "could not allocate an invite code"
    )))
}

/// The caller's own account; gone means their token outlived it.
pub async fn profile(state: &AppState, id: &UserId) -> Result<User, AppError> {
    state
        .users
        .by_id(id.as_str())
        .await?
        .map(|u| u.to_user())
        .ok_or(AppError::Unauthenticated("account no longer exists"))
}

pub async fn get(state: &AppState, id: &UserId) -> Result<User, AppError> {
    state
        .users
        .by_id(id.as_str())
        .await?
        .map(|u| u.to_user())
        .ok_or_else(|| AppError::NotFound("user not found".into()))
}

/// The user with this email (normalised as at registration); a malformed one is 400 naming
/// `email`.
pub async fn find_by_email(state: &AppState, raw: &str) -> Result<Option<User>, AppError> {
    let email = Email::parse(raw).map_err(|v| AppError::InvalidQuery {
        field: "email".into(),
        message: v.message,
    })?;
    Ok(state
        .users
        .by_email(email.as_str())
        .await?
        .map(|u| u.to_user()))
}

/// Users oldest first, optionally holding `role`, strictly after the user `after`.
pub async fn list(
    state: &AppState,
    role: Option<Role>,
    after: Option<&UserId>,
    limit: usize,
) -> Result<Page<User>, AppError> {
    let mut docs = state
        .users
        .list(
            role.map(Role::as_str),
            after.map(UserId::as_str),
            limit as i64 + 1,
        )
        .await?;
    let has_more = docs.len() > limit;
    docs.truncate(limit);
    Ok(Page {
        items: docs.iter().map(UserDoc::to_user).collect(),
        has_more,
    })
}

/// A hash at the configured cost to verify against when the email is unknown, so that
/// unknown email and wrong password take the same time.
pub(super) async fn dummy_hash(state: &AppState) -> String {
    if let Some(h) = state.dummy_hash.get() {
        return h.clone();
    }
    let h = bcrypt_hash(RefreshToken::generate().into_string(), state.bcrypt_cost)
        .await
        .unwrap_or_default();
    state.dummy_hash.get_or_init(|| h).clone()
}

/// Computes the dummy hash before the first login needs it.
pub async fn warm_up(state: &AppState) {
    let _ = dummy_hash(state).await;
}
