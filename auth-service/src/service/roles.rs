//! Roles: the ADMIN role change and the configured admin bootstrap.

use super::accounts::insert_user;
use super::sessions::revoke_session;
use super::{audit, bcrypt_hash, now, pending, wake_relay};
use crate::domain::audit::Actor;
use crate::domain::events::{RevokeReason, UserRolesChanged};
use crate::domain::{
    rfc3339, Email, MessageId, Nickname, Password, Role, RoleSet, RuleViolation, User, UserId,
};
use crate::error::AppError;
use crate::keys::Claims;
use crate::state::AppState;
use crate::store::UserDoc;

/// Audit actions of this module.
pub const ROLES_CHANGED: &str = "user.roles_changed";
pub const BOOTSTRAPPED: &str = "user.admin_bootstrapped";

fn roles_of(user: &UserDoc) -> RoleSet {
    RoleSet::from_stored(user.roles.iter().map(String::as_str))
}

pub async fn change_roles(
    state: &AppState,
    actor: &Claims,
    target: &UserId,
    roles: Vec<Role>,
) -> Result<User, AppError> {
    let roles = RoleSet::from_roles(roles)
        .ok_or_else(|| RuleViolation::new("roles", "must name at least one role"))?;
    if &actor.sub == target && !roles.contains(Role::Admin) {
        return Err(AppError::Conflict(
            "an admin cannot remove their own ADMIN role".into(),
        ));
    }
    let not_found = || AppError::NotFound("user not found".into());
    for _ in 0..5 {
        let user = state
            .users
            .by_id(target.as_str())
            .await?
            .ok_or_else(not_found)?;
        if roles_of(&user) == roles {
            return Ok(user.to_user());
        }
        let by = Actor {
            id: actor.sub.to_string(),
            roles: actor.roles.clone(),
        };
        if replace_roles(state, &user, &roles, &by.id).await? {
            after_roles_changed(state, &user, &roles, by, ROLES_CHANGED).await?;
            return state
                .users
                .by_id(target.as_str())
                .await?
                .map(|u| u.to_user())
                .ok_or_else(not_found);
        }
    }
    Err(AppError::Conflict(
        "user was modified concurrently, retry".into(),
    ))
}

/// Creates the configured admin or makes sure the existing account holds ADMIN. Safe when
/// several instances run it at once: the unique email index lets one insert win.
pub async fn bootstrap_admin(
    state: &AppState,
    email: &str,
    password: &str,
    nickname: &str,
) -> anyhow::Result<()> {
    let email =
        Email::parse(email).map_err(|v| anyhow::anyhow!("BOOTSTRAP_ADMIN_EMAIL: {}", v.message))?;
    let password = Password::parse(password)
        .map_err(|v| anyhow::anyhow!("BOOTSTRAP_ADMIN_PASSWORD: {}", v.message))?;
    let nickname = Nickname::parse(nickname)
        .map_err(|v| anyhow::anyhow!("BOOTSTRAP_ADMIN_NICKNAME: {}", v.message))?;
    for _ in 0..10 {
        if let Some(user) = state.users.by_email(email.as_str()).await? {
            let mut current = roles_of(&user);
            if current.is_empty() {
                current = RoleSet::new_account();
            }
            if current.contains(Role::Admin) {
                return Ok(());
            }
            let updated = current.with(Role::Admin);
            if replace_roles(state, &user, &updated, "bootstrap").await? {
                after_roles_changed(state, &user, &updated, Actor::bootstrap(), BOOTSTRAPPED)
                    .await?;
                return Ok(());
            }
            continue;
        }
        let hash = bcrypt_hash(password.expose().to_string(), state.bcrypt_cost)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let roles = RoleSet::from_roles([Role::User, Role::Admin]).expect("non-empty");
        match insert_user(state, &email, &nickname, hash, roles, None).await {
            Ok(user) => {
                let record = audit::user_change(
                    Actor::bootstrap(),
                    BOOTSTRAPPED,
                    &user.id,
                    None,
                    Some(serde_json::json!({"email": user.email, "roles": user.roles})),
                );
                audit::append(state, &record)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                return Ok(());
            }
            Err(AppError::EmailTaken) => continue,
            Err(e) => anyhow::bail!("{e}"),
        }
    }
    anyhow::bail!("bootstrap admin: too much contention")
}

/// The new roles and their `user.roles_changed` event, in one versioned replace.
async fn replace_roles(
    state: &AppState,
    user: &UserDoc,
    roles: &RoleSet,
    changed_by: &str,
) -> Result<bool, AppError> {
    let event = pending(&UserRolesChanged {
        message_id: MessageId::generate(),
        user_id: user.id.as_str().into(),
        roles: roles.to_strings(),
        previous_roles: roles_of(user).to_strings(),
        changed_by: changed_by.to_string(),
        occurred_at: rfc3339(now()),
    })?;
    let mut next = user.clone();
    next.roles = roles.to_strings();
    next.version = user.version + 1;
    next.updated_at = now();
    next.outbox.push([event]);
    let replaced = state.users.replace(&next, user.version).await?;
    if replaced {
        wake_relay(state);
    }
    Ok(replaced)
}

/// The audit record, then every session of the user revoked so no token carries the old roles.
async fn after_roles_changed(
    state: &AppState,
    before: &UserDoc,
    roles: &RoleSet,
    actor: Actor,
    action: &str,
) -> Result<(), AppError> {
    let record = audit::user_change(
        actor,
        action,
        &before.id,
        Some(serde_json::json!({"roles": roles_of(before).to_strings()})),
        Some(serde_json::json!({"roles": roles.to_strings()})),
    );
    audit::append(state, &record).await?;
    for session in state.sessions.active_sessions_of(&before.id).await? {
        revoke_session(
            state,
            &session.id.as_str().into(),
            RevokeReason::RolesChanged,
            None,
        )
        .await?;
    }
    Ok(())
}
