//! Application state and the account/session rules that routes call into.

use crate::cache::{LoginThrottle, Redis, ThrottleDecision};
use crate::configuration::Settings;
use crate::domain::{
    Email, InviteCode, Nickname, Password, RefreshToken, Role, RoleSet, RuleViolation,
};
use crate::error::AppError;
use crate::events::{self, RevokeReason};
use crate::keys::{Claims, KeyRing};
use crate::metrics::Metrics;
use crate::store::{
    is_duplicate_key, OutboxDoc, OutboxStore, RefreshTokenDoc, RevocationDoc, SessionDoc,
    SessionStatus, SessionStore, TokenStatus, UserDoc, UserStore,
};
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use mongodb::Database;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use tokio::sync::Notify;
use uuid::Uuid;

pub struct AppState {
    pub db: Database,
    pub users: UserStore,
    pub sessions: SessionStore,
    pub outbox: OutboxStore,
    pub redis: Redis,
    pub throttle: LoginThrottle,
    pub keys: RwLock<Option<Arc<KeyRing>>>,
    pub metrics: Arc<Metrics>,
    pub outbox_wake: Arc<Notify>,
    pub amqp_connected: Arc<AtomicBool>,
    /// Set once indexes, keys and the bootstrap admin are in place.
    pub initialized: AtomicBool,
    pub issuer: String,
    pub audience: String,
    pub access_ttl_seconds: i64,
    pub refresh_ttl_seconds: i64,
    pub bcrypt_cost: u32,
    pub trust_forwarded_for: bool,
    dummy_hash: OnceLock<String>,
}

pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: i64,
}

fn now() -> DateTime<Utc> {
    Utc::now()
}

fn new_id() -> String {
    Uuid::now_v7().to_string()
}

fn roles_of(user: &UserDoc) -> Vec<Role> {
    let mut v: Vec<Role> = user.roles.iter().filter_map(|r| Role::parse(r)).collect();
    v.sort();
    v.dedup();
    v
}

async fn bcrypt_hash(password: String, cost: u32) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || bcrypt::hash(password, cost))
        .await
        .map_err(|e| AppError::Internal(e.into()))?
        .map_err(|e| AppError::Internal(e.into()))
}

async fn bcrypt_verify(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
        .await
        .unwrap_or(false)
}

impl AppState {
    pub fn new(settings: &Settings, db: Database, redis: Redis, metrics: Arc<Metrics>) -> Self {
        let throttle = LoginThrottle::new(
            redis.clone(),
            settings.auth.login_max_failures,
            settings.auth.login_max_failures_per_ip,
            settings.auth.login_failure_window_seconds,
        );
        AppState {
            users: UserStore::new(&db),
            sessions: SessionStore::new(&db),
            outbox: OutboxStore::new(&db),
            db,
            redis,
            throttle,
            keys: RwLock::new(None),
            metrics,
            outbox_wake: Arc::new(Notify::new()),
            amqp_connected: Arc::new(AtomicBool::new(false)),
            initialized: AtomicBool::new(false),
            issuer: settings.jwt.issuer.clone(),
            audience: settings.jwt.audience.clone(),
            access_ttl_seconds: settings.jwt.access_ttl_seconds as i64,
            refresh_ttl_seconds: settings.jwt.refresh_ttl_seconds as i64,
            bcrypt_cost: settings.auth.bcrypt_cost,
            trust_forwarded_for: settings.app.trust_forwarded_for,
            dummy_hash: OnceLock::new(),
        }
    }

    pub fn key_ring(&self) -> Result<Arc<KeyRing>, AppError> {
        self.keys
            .read()
            .unwrap()
            .clone()
            .ok_or_else(|| AppError::Unavailable("signing keys (mongodb)".into()))
    }

    pub fn set_key_ring(&self, ring: KeyRing) {
        *self.keys.write().unwrap() = Some(Arc::new(ring));
    }

    /// A hash at the configured cost to verify against when the email is unknown, so that
    /// unknown email and wrong password take the same time.
    async fn dummy_hash(&self) -> String {
        if let Some(h) = self.dummy_hash.get() {
            return h.clone();
        }
        let h = bcrypt_hash(RefreshToken::generate().into_string(), self.bcrypt_cost)
            .await
            .unwrap_or_default();
        self.dummy_hash.get_or_init(|| h).clone()
    }

    pub async fn warm_up(&self) {
        let _ = self.dummy_hash().await;
    }

    async fn emit<T: Serialize>(
        &self,
        routing_key: &str,
        message_id: String,
        body: &T,
    ) -> Result<(), AppError> {
        let doc = OutboxDoc {
            id: message_id,
            routing_key: routing_key.to_string(),
            payload: serde_json::to_string(body).map_err(|e| AppError::Internal(e.into()))?,
            locked_until: 0,
            attempts: 0,
        };
        self.outbox.insert(&doc).await?;
        self.outbox_wake.notify_one();
        Ok(())
    }

    // ---------------------------------------------------------------- accounts

    pub async fn register(
        &self,
        email: &str,
        password: &str,
        nickname: &str,
        invite_code: Option<&str>,
    ) -> Result<UserDoc, AppError> {
        let email = Email::parse(email)?;
        let password = Password::parse(password)?;
        let nickname = Nickname::parse(nickname)?;
        let unknown_code = || RuleViolation::new("inviteCode", "unknown invite code");
        let invited_by = match invite_code {
            None => None,
            Some(raw) => {
                let code = InviteCode::parse(raw).ok_or_else(unknown_code)?;
                let inviter = self
                    .users
                    .by_invite_code(code.as_str())
                    .await?
                    .ok_or_else(unknown_code)?;
                Some(inviter.id)
            }
        };
        if self.users.by_email(email.as_str()).await?.is_some() {
            return Err(AppError::EmailTaken);
        }
        let hash = bcrypt_hash(password.expose().to_string(), self.bcrypt_cost).await?;
        let user = self
            .insert_user(&email, &nickname, hash, RoleSet::new_account(), invited_by)
            .await?;
        self.emit_registered(&user).await?;
        Ok(user)
    }

    async fn emit_registered(&self, user: &UserDoc) -> Result<(), AppError> {
        let id = new_id();
        self.emit(
            "user.registered",
            id.clone(),
            &events::UserRegistered {
                message_id: id,
                user_id: user.id.clone(),
                email: user.email.clone(),
                nickname: user.nickname.clone(),
                invited_by: user.invited_by.clone(),
                occurred_at: events::rfc3339(user.created_at),
            },
        )
        .await
    }

    /// Inserts a new user; the unique email index is the real guard against a racing twin.
    async fn insert_user(
        &self,
        email: &Email,
        nickname: &Nickname,
        password_hash: String,
        roles: RoleSet,
        invited_by: Option<String>,
    ) -> Result<UserDoc, AppError> {
        let created = now();
        for _ in 0..5 {
            let user = UserDoc {
                id: new_id(),
                email: email.as_str().to_string(),
                nickname: nickname.as_str().to_string(),
                roles: roles.to_strings(),
                invite_code: InviteCode::generate().as_str().to_string(),
                invited_by: invited_by.clone(),
                password_hash: password_hash.clone(),
                version: 1,
                created_at: created,
                updated_at: created,
            };
            match self.users.insert(&user).await {
                Ok(()) => return Ok(user),
                Err(e) if is_duplicate_key(&e) => {
                    if self.users.by_email(email.as_str()).await?.is_some() {
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

    /// Creates the configured admin or makes sure the existing account holds ADMIN. Safe when
    /// several instances run it at once: the unique email index lets one insert win.
    pub async fn bootstrap_admin(
        &self,
        email: &str,
        password: &str,
        nickname: &str,
    ) -> anyhow::Result<()> {
        let email = Email::parse(email)
            .map_err(|v| anyhow::anyhow!("BOOTSTRAP_ADMIN_EMAIL: {}", v.message))?;
        let password = Password::parse(password)
            .map_err(|v| anyhow::anyhow!("BOOTSTRAP_ADMIN_PASSWORD: {}", v.message))?;
        let nickname = Nickname::parse(nickname)
            .map_err(|v| anyhow::anyhow!("BOOTSTRAP_ADMIN_NICKNAME: {}", v.message))?;
        for _ in 0..10 {
            if let Some(user) = self.users.by_email(email.as_str()).await? {
                let current =
                    RoleSet::from_roles(roles_of(&user)).unwrap_or_else(RoleSet::new_account);
                if current.contains(Role::Admin) {
                    return Ok(());
                }
                let updated = current.with(Role::Admin);
                if self.replace_roles(&user, &updated).await? {
                    self.after_roles_changed(&user, &updated, "bootstrap")
                        .await?;
                    return Ok(());
                }
                continue;
            }
            let hash = bcrypt_hash(password.expose().to_string(), self.bcrypt_cost)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let roles = RoleSet::from_roles([Role::User, Role::Admin]).expect("non-empty");
            match self.insert_user(&email, &nickname, hash, roles, None).await {
                Ok(user) => {
                    self.emit_registered(&user)
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

    async fn replace_roles(&self, user: &UserDoc, roles: &RoleSet) -> Result<bool, AppError> {
        let mut next = user.clone();
        next.roles = roles.to_strings();
        next.version = user.version + 1;
        next.updated_at = now();
        Ok(self.users.replace(&next, user.version).await?)
    }

    async fn after_roles_changed(
        &self,
        before: &UserDoc,
        roles: &RoleSet,
        changed_by: &str,
    ) -> Result<(), AppError> {
        let id = new_id();
        let previous: Vec<String> = roles_of(before)
            .iter()
            .map(|r| r.as_str().to_string())
            .collect();
        self.emit(
            "user.roles_changed",
            id.clone(),
            &events::UserRolesChanged {
                message_id: id,
                user_id: before.id.clone(),
                roles: roles.to_strings(),
                previous_roles: previous,
                changed_by: changed_by.to_string(),
                occurred_at: events::rfc3339(now()),
            },
        )
        .await?;
        for session in self.sessions.active_sessions_of(&before.id).await? {
            self.revoke_session(&session.id, RevokeReason::RolesChanged, None)
                .await?;
        }
        Ok(())
    }

    pub async fn change_roles(
        &self,
        actor: &Claims,
        target_id: &str,
        roles: Vec<Role>,
    ) -> Result<UserDoc, AppError> {
        let roles = RoleSet::from_roles(roles)
            .ok_or_else(|| RuleViolation::new("roles", "must name at least one role"))?;
        if actor.sub == target_id && !roles.contains(Role::Admin) {
            return Err(AppError::Conflict(
                "an admin cannot remove their own ADMIN role".into(),
            ));
        }
        for _ in 0..5 {
            let user = self
                .users
                .by_id(target_id)
                .await?
                .ok_or_else(|| AppError::NotFound("user not found".into()))?;
            let current = RoleSet::from_roles(roles_of(&user));
            if current.as_ref() == Some(&roles) {
                return Ok(user);
            }
            if self.replace_roles(&user, &roles).await? {
                self.after_roles_changed(&user, &roles, &actor.sub).await?;
                return self
                    .users
                    .by_id(target_id)
                    .await?
                    .ok_or_else(|| AppError::NotFound("user not found".into()));
            }
        }
        Err(AppError::Conflict(
            "user was modified concurrently, retry".into(),
        ))
    }

    // ---------------------------------------------------------------- sessions

    pub fn client_ip(&self, req: &actix_web::HttpRequest) -> String {
        if self.trust_forwarded_for {
            // The nearest trusted proxy appends the address it saw: take the last entry.
            if let Some(last) = req
                .headers()
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').map(str::trim).rfind(|s| !s.is_empty()))
            {
                return last.to_string();
            }
        }
        req.peer_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_else(|| "unknown".into())
    }

    pub async fn login(
        &self,
        email: &str,
        password: &str,
        ip: &str,
    ) -> Result<TokenPair, AppError> {
        let account = email.trim().to_lowercase();
        match self.throttle.reserve(&account, ip).await {
            Ok(ThrottleDecision::Allowed) => {}
            Ok(ThrottleDecision::Blocked {
                retry_after_seconds,
            }) => {
                self.metrics.logins.with_label_values(&["throttled"]).inc();
                return Err(AppError::TooManyRequests {
                    retry_after_seconds,
                });
            }
            Err(e) => {
                // Fail open: bcrypt still bounds guessing speed, and an outage of a cache must
                // not lock every player out.
                self.metrics.throttle_unavailable.inc();
                slog::warn!(crate::telemetry::current(), "login throttle unavailable, failing open"; "error" => format!("{e:#}"));
            }
        }
        let user = self.users.by_email(&account).await?;
        let hash = match &user {
            Some(u) => u.password_hash.clone(),
            None => self.dummy_hash().await,
        };
        self.metrics.password_checks.inc();
        let ok = bcrypt_verify(password.to_string(), hash).await;
        let user = match (ok, user) {
            (true, Some(u)) => u,
            _ => {
                self.metrics.logins.with_label_values(&["failed"]).inc();
                return Err(AppError::Unauthenticated("invalid email or password"));
            }
        };
        if let Err(e) = self.throttle.reset(&account, ip).await {
            slog::warn!(crate::telemetry::current(), "could not reset login throttle"; "error" => format!("{e:#}"));
        }
        let pair = self.open_session(&user).await?;
        let id = new_id();
        self.emit(
            "user.logged_in",
            id.clone(),
            &events::UserLoggedIn {
                message_id: id,
                user_id: user.id.clone(),
                occurred_at: events::rfc3339(now()),
            },
        )
        .await?;
        self.metrics.logins.with_label_values(&["succeeded"]).inc();
        Ok(pair)
    }

    fn access_token(
        &self,
        user: &UserDoc,
        sid: &str,
        jti: &str,
        iat: i64,
    ) -> Result<String, AppError> {
        let claims = Claims {
            sub: user.id.clone(),
            roles: roles_of(user),
            jti: jti.to_string(),
            sid: sid.to_string(),
            iat,
            nbf: iat,
            exp: iat + self.access_ttl_seconds,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
        };
        self.key_ring()?.sign(&claims).map_err(AppError::Internal)
    }

    fn refresh_doc(&self, token: &RefreshToken, family: &str, user_id: &str) -> RefreshTokenDoc {
        let t = now();
        RefreshTokenDoc {
            hash: token.hash().0,
            family_id: family.to_string(),
            user_id: user_id.to_string(),
            status: TokenStatus::Active,
            created_at: t,
            expires_at: t + ChronoDuration::seconds(self.refresh_ttl_seconds),
        }
    }

    async fn open_session(&self, user: &UserDoc) -> Result<TokenPair, AppError> {
        let sid = new_id();
        let jti = new_id();
        let iat = now().timestamp();
        let access = self.access_token(user, &sid, &jti, iat)?;
        let session = SessionDoc {
            id: sid.clone(),
            user_id: user.id.clone(),
            status: SessionStatus::Active,
            version: 1,
            access_expires_at: iat + self.access_ttl_seconds,
            last_jti: jti,
            created_at: now(),
            revoked_at: None,
            revoke_reason: None,
        };
        self.sessions.insert_session(&session).await?;
        let refresh = RefreshToken::generate();
        self.sessions
            .insert_token(&self.refresh_doc(&refresh, &sid, &user.id))
            .await?;
        Ok(TokenPair {
            access_token: access,
            refresh_token: refresh.into_string(),
            expires_in: self.access_ttl_seconds,
        })
    }

    pub async fn refresh(&self, presented: &str) -> Result<TokenPair, AppError> {
        let invalid = AppError::Unauthenticated("invalid refresh token");
        let token = RefreshToken::from_client(presented);
        let Some(doc) = self.sessions.token(&token.hash().0).await? else {
            return Err(invalid);
        };
        let Some(session) = self.sessions.session(&doc.family_id).await? else {
            return Err(invalid);
        };
        if session.status == SessionStatus::Revoked {
            return Err(invalid);
        }
        if doc.status == TokenStatus::Used || !self.sessions.mark_used(&doc.hash).await? {
            // RFC 9700 §4.14.2: a rotated token came back, so either the client or an attacker
            // holds a stolen copy. Kill the whole family.
            self.metrics.refresh_reuse.inc();
            slog::warn!(crate::telemetry::current(), "refresh token reuse; revoking family"; "session_id" => &session.id, "user_id" => &session.user_id);
            self.revoke_session(&session.id, RevokeReason::RefreshReuse, None)
                .await?;
            return Err(invalid);
        }
        if doc.expires_at <= now() {
            return Err(invalid);
        }
        let Some(user) = self.users.by_id(&doc.user_id).await? else {
            return Err(invalid);
        };
        let next = RefreshToken::generate();
        self.sessions
            .insert_token(&self.refresh_doc(&next, &session.id, &user.id))
            .await?;
        let jti = new_id();
        let iat = now().timestamp();
        let access = self.access_token(&user, &session.id, &jti, iat)?;
        let mut current = session;
        for _ in 0..5 {
            if current.status == SessionStatus::Revoked {
                return Err(invalid);
            }
            let mut updated = current.clone();
            updated.version += 1;
            updated.access_expires_at =
                updated.access_expires_at.max(iat + self.access_ttl_seconds);
            updated.last_jti = jti.clone();
            if self
                .sessions
                .replace_session(&updated, current.version)
                .await?
            {
                return Ok(TokenPair {
                    access_token: access,
                    refresh_token: next.into_string(),
                    expires_in: self.access_ttl_seconds,
                });
            }
            current = self
                .sessions
                .session(&current.id)
                .await?
                .ok_or(AppError::Unauthenticated("invalid refresh token"))?;
        }
        Err(AppError::Conflict(
            "session was modified concurrently, retry".into(),
        ))
    }

    /// Revokes a session: revocation record (what other services sync), its event, then the
    /// session status. Idempotent: revoking twice publishes once.
    pub async fn revoke_session(
        &self,
        sid: &str,
        reason: RevokeReason,
        jti: Option<String>,
    ) -> Result<(), AppError> {
        let Some(mut session) = self.sessions.session(sid).await? else {
            return Ok(());
        };
        let revoked_at = now();
        let expires_at = DateTime::<Utc>::from_timestamp(
            session.access_expires_at.max(revoked_at.timestamp())
                + crate::keys::LEEWAY_SECONDS as i64,
            0,
        )
        .unwrap_or(revoked_at);
        let jti = jti.or_else(|| Some(session.last_jti.clone()));
        let fresh = self
            .sessions
            .insert_revocation(&RevocationDoc {
                session_id: session.id.clone(),
                user_id: session.user_id.clone(),
                jti: jti.clone(),
                reason: reason.as_str().to_string(),
                revoked_at,
                expires_at,
            })
            .await?;
        if fresh {
            let id = new_id();
            self.emit(
                "session.revoked",
                id.clone(),
                &events::SessionRevoked {
                    message_id: id,
                    user_id: session.user_id.clone(),
                    session_id: session.id.clone(),
                    jti,
                    reason,
                    revoked_at: events::rfc3339(revoked_at),
                    expires_at: events::rfc3339(expires_at),
                },
            )
            .await?;
            self.metrics
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
            if self
                .sessions
                .replace_session(&updated, session.version)
                .await?
            {
                return Ok(());
            }
            match self.sessions.session(sid).await? {
                Some(s) => session = s,
                None => return Ok(()),
            }
        }
        Err(AppError::Conflict(
            "session was modified concurrently, retry".into(),
        ))
    }

    pub async fn logout(
        &self,
        claims: &Claims,
        refresh_token: Option<&str>,
    ) -> Result<(), AppError> {
        self.revoke_session(&claims.sid, RevokeReason::Logout, Some(claims.jti.clone()))
            .await?;
        // A refresh token from another session of the same user is revoked too; someone else's
        // token is ignored rather than revealed.
        if let Some(raw) = refresh_token {
            if let Some(doc) = self
                .sessions
                .token(&RefreshToken::from_client(raw).hash().0)
                .await?
            {
                if doc.user_id == claims.sub && doc.family_id != claims.sid {
                    self.revoke_session(&doc.family_id, RevokeReason::Logout, None)
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// Verifies a bearer token with our own keys and refuses tokens of revoked sessions.
    pub async fn authenticate(&self, token: &str) -> Result<Claims, AppError> {
        let ring = self.key_ring()?;
        let claims = ring
            .verify(token, &self.issuer, &self.audience)
            .map_err(|_| AppError::Unauthenticated("invalid or expired access token"))?;
        match self.sessions.session(&claims.sid).await? {
            Some(s) if s.status == SessionStatus::Active && s.user_id == claims.sub => Ok(claims),
            _ => Err(AppError::Unauthenticated("session revoked")),
        }
    }

    pub fn is_ready_flag(&self) -> bool {
        self.initialized.load(Ordering::SeqCst)
    }
}
