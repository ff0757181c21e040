//! Sessions: login (throttled), refresh-token rotation with reuse detection, logout and
//! revocation, and bearer-token authentication.

use super::accounts::dummy_hash;
use super::{bcrypt_verify, now, pending, wake_relay};
use crate::cache::ThrottleDecision;
use crate::domain::events::{RevokeReason, SessionRevoked, UserLoggedIn};
use crate::domain::{
    rfc3339, MessageId, RefreshToken, Revocation, RoleSet, SessionId, TokenId, TokenPair,
};
use crate::error::AppError;
use crate::keys::Claims;
use crate::state::AppState;
use crate::store::{
    Pending, RefreshTokenDoc, RevocationDoc, SessionDoc, SessionStatus, TokenStatus, UserDoc,
};
use chrono::{DateTime, Duration as ChronoDuration, Utc};

/// Counts the attempt before any password is checked; `Err` when over budget.
async fn reserve_attempt(state: &AppState, account: &str, ip: &str) -> Result<(), AppError> {
    match state.throttle.reserve(account, ip).await {
        Ok(ThrottleDecision::Allowed) => Ok(()),
        Ok(ThrottleDecision::Blocked {
            retry_after_seconds,
        }) => {
            state.metrics.logins.with_label_values(&["throttled"]).inc();
            Err(AppError::TooManyRequests {
                retry_after_seconds,
            })
        }
        Err(e) => {
            // Fail open: bcrypt still bounds guessing speed, and an outage of a cache must
            // not lock every player out.
            state.metrics.throttle_unavailable.inc();
            slog::warn!(crate::telemetry::current(), "login throttle unavailable, failing open"; "error" => format!("{e:#}"));
            Ok(())
        }
    }
}

pub async fn login(
    state: &AppState,
    email: &str,
    password: &str,
    ip: &str,
) -> Result<TokenPair, AppError> {
    let account = email.trim().to_lowercase();
    reserve_attempt(state, &account, ip).await?;
    let user = state.users.by_email(&account).await?;
    let hash = match &user {
        Some(u) => u.password_hash.clone(),
        None => dummy_hash(state).await,
    };
    state.metrics.password_checks.inc();
    let ok = bcrypt_verify(password.to_string(), hash).await;
    let user = match (ok, user) {
        (true, Some(u)) => u,
        _ => {
            state.metrics.logins.with_label_values(&["failed"]).inc();
            return Err(AppError::Unauthenticated("invalid email or password"));
        }
    };
    if let Err(e) = state.throttle.reset(&account, ip).await {
        slog::warn!(crate::telemetry::current(), "could not reset login throttle"; "error" => format!("{e:#}"));
    }
    let pair = open_session(state, &user).await?;
    state.metrics.logins.with_label_values(&["succeeded"]).inc();
    Ok(pair)
}

fn access_token(
    state: &AppState,
    user: &UserDoc,
    sid: &SessionId,
    jti: &TokenId,
    iat: i64,
) -> Result<String, AppError> {
    let policy = &state.tokens;
    let claims = Claims {
        sub: user.id.as_str().into(),
        roles: RoleSet::from_stored(user.roles.iter().map(String::as_str)).to_vec(),
        jti: jti.clone(),
        sid: sid.clone(),
        iat,
        nbf: iat,
        exp: iat + policy.access_ttl_seconds,
        iss: policy.issuer.clone(),
        aud: policy.audience.clone(),
    };
    state.key_ring()?.sign(&claims).map_err(AppError::Internal)
}

fn refresh_doc(
    state: &AppState,
    token: &RefreshToken,
    family: &SessionId,
    user_id: &str,
) -> RefreshTokenDoc {
    let t = now();
    RefreshTokenDoc {
        hash: token.hash().0,
        family_id: family.to_string(),
        user_id: user_id.to_string(),
        status: TokenStatus::Active,
        created_at: t,
        expires_at: t + ChronoDuration::seconds(state.tokens.refresh_ttl_seconds),
    }
}

/// Inserts the session carrying its `user.logged_in` event, and its first refresh token.
async fn open_session(state: &AppState, user: &UserDoc) -> Result<TokenPair, AppError> {
    let sid = SessionId::generate();
    let jti = TokenId::generate();
    let iat = now().timestamp();
    let ttl = state.tokens.access_ttl_seconds;
    let access = access_token(state, user, &sid, &jti, iat)?;
    let session = SessionDoc {
        id: sid.to_string(),
        user_id: user.id.clone(),
        status: SessionStatus::Active,
        version: 1,
        access_expires_at: iat + ttl,
        last_jti: jti.into_string(),
        created_at: now(),
        revoked_at: None,
        revoke_reason: None,
        outbox: Pending::with(vec![pending(&UserLoggedIn {
            message_id: MessageId::generate(),
            user_id: user.id.as_str().into(),
            occurred_at: rfc3339(now()),
        })?]),
    };
    state.sessions.insert_session(&session).await?;
    wake_relay(state);
    let refresh = RefreshToken::generate();
    state
        .sessions
        .insert_token(&refresh_doc(state, &refresh, &sid, &user.id))
        .await?;
    Ok(TokenPair {
        access_token: access,
        refresh_token: refresh.into_string(),
        expires_in: ttl,
    })
}

pub async fn refresh(state: &AppState, presented: &str) -> Result<TokenPair, AppError> {
    let invalid = || AppError::Unauthenticated("invalid refresh token");
    let token = RefreshToken::from_client(presented);
    let Some(doc) = state.sessions.token(&token.hash().0).await? else {
        return Err(invalid());
    };
    let Some(session) = state.sessions.session(&doc.family_id).await? else {
        return Err(invalid());
    };
    if session.status == SessionStatus::Revoked {
        return Err(invalid());
    }
    let sid: SessionId = session.id.as_str().into();
    if doc.status == TokenStatus::Used || !state.sessions.mark_used(&doc.hash).await? {
        // RFC 9700 §4.14.2: a rotated token came back, so either the client or an attacker
        // holds a stolen copy. Kill the whole family.
        state.metrics.refresh_reuse.inc();
        slog::warn!(crate::telemetry::current(), "refresh token reuse; revoking family"; "session_id" => &session.id, "user_id" => &session.user_id);
        revoke_session(state, &sid, RevokeReason::RefreshReuse, None).await?;
        return Err(invalid());
    }
    if doc.expires_at <= now() {
        return Err(invalid());
    }
    let Some(user) = state.users.by_id(&doc.user_id).await? else {
        return Err(invalid());
    };
    let next = RefreshToken::generate();
    state
        .sessions
        .insert_token(&refresh_doc(state, &next, &sid, &user.id))
        .await?;
    let jti = TokenId::generate();
    let iat = now().timestamp();
    let ttl = state.tokens.access_ttl_seconds;
    let access = access_token(state, &user, &sid, &jti, iat)?;
    let mut current = session;
    for _ in 0..5 {
        if current.status == SessionStatus::Revoked {
            return Err(invalid());
        }
        let mut updated = current.clone();
        updated.version += 1;
        updated.access_expires_at = updated.access_expires_at.max(iat + ttl);
        updated.last_jti = jti.to_string();
        if state
            .sessions
            .replace_session(&updated, current.version)
            .await?
        {
            return Ok(TokenPair {
                access_token: access,
                refresh_token: next.into_string(),
                expires_in: ttl,
            });
        }
        current = state
            .sessions
            .session(&current.id)
            .await?
            .ok_or_else(invalid)?;
    }
    Err(AppError::Conflict(
        "session was modified concurrently, retry".into(),
    ))
}

/// Revokes a session: revocation record (what other services sync), its event, then the
/// session status. Idempotent: revoking twice publishes once.
pub async fn revoke_session(
    state: &AppState,
    sid: &SessionId,
    reason: RevokeReason,
    jti: Option<TokenId>,
) -> Result<(), AppError> {
    let Some(mut session) = state.sessions.session(sid.as_str()).await? else {
        return Ok(());
    };
    let revoked_at = now();
    let expires_at = DateTime::<Utc>::from_timestamp(
        session.access_expires_at.max(revoked_at.timestamp()) + crate::keys::LEEWAY_SECONDS as i64,
        0,
    )
    .unwrap_or(revoked_at);
    let jti = jti.unwrap_or_else(|| session.last_jti.as_str().into());
    let event = pending(&SessionRevoked {
        message_id: MessageId::generate(),
        user_id: session.user_id.as_str().into(),
        session_id: sid.clone(),
        jti: Some(jti.clone()),
        reason,
        revoked_at: rfc3339(revoked_at),
        expires_at: rfc3339(expires_at),
    })?;
    // The revocation and its event in one insert; a second revocation of the session is a
    // duplicate key, so the event is stored (and published) once.
    let fresh = state
        .sessions
        .insert_revocation(&RevocationDoc {
            session_id: session.id.clone(),
            user_id: session.user_id.clone(),
            jti: Some(jti.to_string()),
            reason: reason.as_str().to_string(),
            revoked_at,
            expires_at,
            version: 1,
            outbox: Pending::with(vec![event]),
        })
        .await?;
    if fresh {
        wake_relay(state);
        state
            .metrics
            .sessions_revoked
            .with_label_values(&[reason.as_str()])
            .inc();
    }
    for _ in 0..5 {
        if session.status == SessionStatus::Revoked {
            return Ok(());
        }
        let mut updated = session.clone();
        updated.status = SessionStatus::Revoked;
        updated.version += 1;
        updated.revoked_at = Some(revoked_at);
        updated.revoke_reason = Some(reason.as_str().to_string());
        if state
            .sessions
            .replace_session(&updated, session.version)
            .await?
        {
            return Ok(());
        }
        match state.sessions.session(sid.as_str()).await? {
            Some(s) => session = s,
            None => return Ok(()),
        }
    }
    Err(AppError::Conflict(
        "session was modified concurrently, retry".into(),
    ))
}

pub async fn logout(
    state: &AppState,
    claims: &Claims,
    refresh_token: Option<&str>,
) -> Result<(), AppError> {
    revoke_session(
        state,
        &claims.sid,
        RevokeReason::Logout,
        Some(claims.jti.clone()),
    )
    .await?;
    // A refresh token from another session of the same user is revoked too; someone else's
    // token is ignored rather than revealed.
    if let Some(raw) = refresh_token {
        let hash = RefreshToken::from_client(raw).hash().0;
        if let Some(doc) = state.sessions.token(&hash).await? {
            if doc.user_id == claims.sub.as_str() && doc.family_id != claims.sid.as_str() {
                let other: SessionId = doc.family_id.into();
                revoke_session(state, &other, RevokeReason::Logout, None).await?;
            }
        }
    }
    Ok(())
}

/// Verifies a bearer token with our own keys and refuses tokens of revoked sessions.
pub async fn authenticate(state: &AppState, token: &str) -> Result<Claims, AppError> {
    let ring = state.key_ring()?;
    let claims = ring
        .verify(token, &state.tokens.issuer, &state.tokens.audience)
        .map_err(|_| AppError::Unauthenticated("invalid or expired access token"))?;
    match state.sessions.session(claims.sid.as_str()).await? {
        Some(s) if s.status == SessionStatus::Active && s.user_id == claims.sub.as_str() => {
            Ok(claims)
        }
        _ => Err(AppError::Unauthenticated("session revoked")),
    }
}

/// Every revoked session whose access tokens may still be alive.
pub async fn revocations(state: &AppState) -> Result<Vec<Revocation>, AppError> {
    Ok(state
        .sessions
        .unexpired_revocations(now())
        .await?
        .iter()
        .map(RevocationDoc::to_revocation)
        .collect())
}
