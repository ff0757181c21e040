//! Roles: the ADMIN role change and the configured admin bootstrap.

use super::accounts::insert_user;
use super::sessions::revoke_session;
use super::{audit, bcrypt_hash, now, pending, wake_relay};
use crate::domain::audit::{Actor, ADMIN_BOOTSTRAPPED as BOOTSTRAPPED, ROLES_CHANGED};
use crate::domain::events::{RevokeReason, UserRolesChanged};
use crate::domain::{
    rfc3339, Email, MessageId, Nickname, Password, Role, RoleSet, RuleViolation, User, UserId,
};
use crate::error::AppError;
use crate::keys::Claims;
use crate::state::AppState;
use crate::store::UserDoc;

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
        if replace_roles(state, &user, &roles, by, ROLES_CHANGED).await? {
            revoke_all_sessions(state, &user).await?;
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
            if replace_roles(state, &user, &updated, Actor::bootstrap(), BOOTSTRAPPED).await? {
                revoke_all_sessions(state, &user).await?;
                return Ok(());
            }
            continue;
        }
        let hash = bcrypt_hash(password.expose().to_string(), state.bcrypt_cost)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let roles = RoleSet::from_roles([Role::User, Role::Admin]).expect("non-empty");
        let creator = Some(Actor::bootstrap());
        match insert_user(state, &email, &nickname, hash, roles, None, creator).await {
            Ok(_) => return Ok(()),
            Err(AppError::EmailTaken) => continue,
            Err(e) => anyhow::bail!("{e}"),
        }
    }
    anyhow::bail!("bootstrap admin: too much contention")
}

/// The new roles, their `user.roles_changed` event and their audit record, in one versioned
/// replace; the audit record is then appended at once.
async fn replace_roles(
    state: &AppState,
    user: &UserDoc,
    roles: &RoleSet,
    actor: Actor,
    action: &str,
) -> Result<bool, AppError> {
    let previous = roles_of(user).to_strings();
    let event = pending(&UserRolesChanged {
        message_id: MessageId::generate(),
        user_id: user.id.as_str().into(),
        roles: roles.to_strings(),
        previous_roles: previous.clone(),
        changed_by: actor.id.clone(),
        occurred_at: rfc3339(now()),
    })?;
    let record = audit::user_change(
        actor,
        action,
        &user.id,
        Some(serde_json::json!({ "roles": previous })),
        Some(serde_json::json!({"roles": roles.to_strings()})),
    );
    let mut next = user.clone();
    next.roles = roles.to_strings();
    next.version = user.version + 1;
    next.updated_at = now();
    next.outbox.push([event, audit::recorded(&record)?]);
    next.outbox.push_audit(audit::pending(&record));
    if !state.users.replace(&next, user.version).await? {
        return Ok(false);
    }
    wake_relay(state);
    audit::append(state, &record).await?;
    Ok(true)
}

/// Every session of the user revoked, so no token carries the old roles.
async fn revoke_all_sessions(state: &AppState, user: &UserDoc) -> Result<(), AppError> {
    for session in state.sessions.active_sessions_of(&user.id).await? {
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
