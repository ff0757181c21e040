//! Bearer-token verification against auth-service's JWKS, plus the session denylist.
use crate::configuration::AuthSettings;
use crate::domain::{Role, Roles, UserId};
use crate::error::ApiError;
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use futures_util::future::LocalBoxFuture;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// The authenticated caller. The bearer token is the only source of identity.
#[derive(Debug, Clone, paperclip::actix::Apiv2Security)]
#[openapi(
    apiKey,
    alias = "bearer",
    in = "header",
    name = "Authorization",
    description = "Access token from auth-service: 'Bearer <jwt>'"
)]
pub struct Identity {
    pub user_id: UserId,
    pub roles: Roles,
    pub session_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct AccessClaims {
    sub: String,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    jti: Option<String>,
    #[serde(default)]
    sid: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

#[derive(Debug, Deserialize)]
struct Jwk {
    kty: String,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    kid: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RevocationItem {
    #[serde(default)]
    session_id: Option<String>,
    #[serde(default)]
    jti: Option<String>,
    expires_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Deserialize)]
struct RevocationList {
    items: Vec<RevocationItem>,
}

pub struct Verifier {
    http: reqwest::Client,
    jwks_url: String,
    revocations_url: String,
    internal_token: Option<String>,
    issuer: String,
    audience: String,
    min_refetch: Duration,
    keys: RwLock<HashMap<String, DecodingKey>>,
    last_fetch: tokio::sync::Mutex<Option<Instant>>,
    /// sid or jti -> expiry; entries are dropped once no token of theirs can still be valid.
    denylist: Mutex<HashMap<String, chrono::DateTime<chrono::Utc>>>,
    logger: slog::Logger,
}

impl Verifier {
    pub fn new(s: &AuthSettings, logger: slog::Logger) -> Self {
        Verifier {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(3))
                .build()
                .expect("http client"),
            jwks_url: format!("{}/.well-known/jwks.json", s.service_url),
            revocations_url: format!("{}/internal/revocations", s.service_url),
            internal_token: s.internal_token.clone(),
            issuer: s.jwt_issuer.clone(),
            audience: s.jwt_audience.clone(),
            min_refetch: Duration::from_secs(s.jwks_min_refetch_seconds),
            keys: RwLock::new(HashMap::new()),
            last_fetch: tokio::sync::Mutex::new(None),
            denylist: Mutex::new(HashMap::new()),
            logger,
        }
    }

    fn key(&self, kid: &str) -> Option<DecodingKey> {
        self.keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(kid)
            .cloned()
    }

    /// Refetches the JWKS at most once per `min_refetch` (until the first success, once a second).
    pub async fn refresh_keys(&self, force: bool) -> anyhow::Result<()> {
        let mut last = self.last_fetch.lock().await;
        let have_keys = !self
            .keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty();
        let min = if have_keys {
            self.min_refetch
        } else {
            Duration::from_secs(1)
        };
        if !force {
            if let Some(t) = *last {
                if t.elapsed() < min {
                    return Ok(());
                }
            }
        }
        *last = Some(Instant::now());
        let jwks: Jwks = self
            .http
            .get(&self.jwks_url)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let mut map = HashMap::new();
        for k in jwks.keys {
            if k.kty != "OKP" || k.crv.as_deref() != Some("Ed25519") {
                continue;
            }
            if let (Some(kid), Some(x)) = (k.kid, k.x) {
                if let Ok(dk) = DecodingKey::from_ed_components(&x) {
                    map.insert(kid, dk);
                }
            }
        }
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = map;
        Ok(())
    }

    pub fn revoke(&self, id: &str, expires_at: chrono::DateTime<chrono::Utc>) {
        let mut d = self.denylist.lock().unwrap_or_else(|e| e.into_inner());
        let now = chrono::Utc::now();
        d.retain(|_, exp| *exp > now - chrono::Duration::seconds(60));
        d.insert(id.to_string(), expires_at);
    }

    fn is_revoked(&self, id: &str) -> bool {
        self.denylist
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(id)
    }

    pub fn handle_revocation_message(&self, body: &[u8]) {
        match serde_json::from_slice::<RevocationItem>(body) {
            Ok(item) => self.apply(item),
            Err(e) => {
                slog::warn!(self.logger, "bad session.revoked message"; "error" => e.to_string())
            }
        }
    }

    fn apply(&self, item: RevocationItem) {
        // Keep entries a little past expiry to cover the verification leeway.
        let until = item.expires_at + chrono::Duration::seconds(60);
        if let Some(sid) = &item.session_id {
            self.revoke(sid, until);
        }
        if let Some(jti) = &item.jti {
            self.revoke(jti, until);
        }
    }

    pub async fn sync_revocations(&self) -> anyhow::Result<usize> {
        let mut req = self.http.get(&self.revocations_url);
        if let Some(token) = &self.internal_token {
            req = req.bearer_auth(token);
        }
        let list: RevocationList = req.send().await?.error_for_status()?.json().await?;
        let n = list.items.len();
        for item in list.items {
            self.apply(item);
        }
        Ok(n)
    }

    pub async fn verify(&self, token: &str) -> Result<Identity, ApiError> {
        let unauth = |m: &str| ApiError::Unauthenticated(m.to_string());
        let header = jsonwebtoken::decode_header(token).map_err(|_| unauth("malformed token"))?;
        if header.alg != Algorithm::EdDSA {
            return Err(unauth("unsupported token algorithm"));
        }
        if header.typ.as_deref() != Some("at+jwt") {
            return Err(unauth("not an access token"));
        }
        let kid = header.kid.ok_or_else(|| unauth("token has no kid"))?;
        let key = match self.key(&kid) {
            Some(k) => k,
            None => {
                if let Err(e) = self.refresh_keys(false).await {
                    slog::warn!(self.logger, "jwks fetch failed"; "error" => format!("{e:#}"));
                }
                self.key(&kid)
                    .ok_or_else(|| unauth("unknown signing key"))?
            }
        };
        let mut v = Validation::new(Algorithm::EdDSA);
        v.leeway = 30;
        v.validate_nbf = true;
        v.set_issuer(&[&self.issuer]);
        v.set_audience(&[&self.audience]);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<AccessClaims>(token, &key, &v)
            .map_err(|_| unauth("invalid or expired token"))?;
        let c = data.claims;
        if c.sid.as_deref().is_some_and(|s| self.is_revoked(s))
            || c.jti.as_deref().is_some_and(|j| self.is_revoked(j))
        {
            return Err(unauth("session revoked"));
        }
        let user_id = UserId::parse(&c.sub).ok_or_else(|| unauth("invalid subject"))?;
        Ok(Identity {
            user_id,
            roles: Roles::new(c.roles.iter().filter_map(|r| Role::parse(r))),
            session_id: c.sid,
        })
    }
}

/// Keeps the denylist in sync with auth-service's durable list (start-up and every N seconds).
pub async fn run_revocation_sync(
    verifier: Arc<Verifier>,
    every: Duration,
    token: tokio_util::sync::CancellationToken,
) {
    let every = every.max(Duration::from_secs(1));
    let _ = verifier.refresh_keys(true).await;
    loop {
        if let Err(e) = verifier.sync_revocations().await {
            slog::debug!(verifier.logger, "revocation sync failed"; "error" => format!("{e:#}"));
        }
        tokio::select! {
            _ = token.cancelled() => break,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

impl FromRequest for Identity {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let verifier = req.app_data::<web::Data<Verifier>>().cloned();
        let header = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let req = req.clone();
        Box::pin(async move {
            let verifier =
                verifier.ok_or_else(|| ApiError::internal(anyhow::anyhow!("no verifier")))?;
            let header =
                header.ok_or_else(|| ApiError::Unauthenticated("missing bearer token".into()))?;
            let token = header
                .strip_prefix("Bearer ")
                .or_else(|| header.strip_prefix("bearer "))
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .ok_or_else(|| ApiError::Unauthenticated("missing bearer token".into()))?;
            let id = verifier.verify(token).await?;
            req.extensions_mut().insert(id.clone());
            Ok(id)
        })
    }
}
