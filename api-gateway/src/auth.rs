//! Bearer-token verification at the edge: JWKS cache, EdDSA-only validation, session denylist.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Refetching the JWKS because of an unknown `kid` happens at most this often (contract: 10 s),
/// so a flood of forged tokens cannot turn the gateway into a JWKS hammer.
pub const JWKS_REFETCH_MIN_INTERVAL: Duration = Duration::from_secs(10);
const LEEWAY_SECS: u64 = 30;

/// The caller as proven by a verified access token.
#[derive(Debug, Clone)]
pub struct Identity {
    pub user_id: String,
    pub roles: Vec<String>,
    pub session_id: Option<String>,
    pub jti: Option<String>,
    pub exp: i64,
}

impl Identity {
    pub fn has_any_role(&self, roles: &[crate::domain::Role]) -> bool {
        roles
            .iter()
            .any(|r| self.roles.iter().any(|have| have == r.as_str()))
    }
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    roles: Vec<String>,
    jti: Option<String>,
    sid: Option<String>,
    exp: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    Missing,
    Malformed,
    UnknownKey,
    Invalid(String),
    Expired,
    Revoked,
}

impl AuthError {
    pub fn detail(&self) -> String {
        match self {
            AuthError::Missing => "a bearer token is required".into(),
            AuthError::Malformed => "the bearer token is malformed".into(),
            AuthError::UnknownKey => "the token was signed with an unknown key".into(),
            AuthError::Invalid(why) => format!("the bearer token is invalid: {why}"),
            AuthError::Expired => "the bearer token has expired".into(),
            AuthError::Revoked => "the session of this token has been revoked".into(),
        }
    }

    pub fn metric_label(&self) -> &'static str {
        match self {
            AuthError::Missing => "missing",
            AuthError::Malformed => "malformed",
            AuthError::UnknownKey => "unknown_kid",
            AuthError::Invalid(_) => "invalid",
            AuthError::Expired => "expired",
            AuthError::Revoked => "revoked",
        }
    }
}

/// Revoked sessions (`sid`) and token ids (`jti`) -> unix time after which the entry can go.
#[derive(Default)]
pub struct Denylist {
    entries: RwLock<HashMap<String, i64>>,
}

impl Denylist {
    pub fn insert(&self, id: &str, expires_at: i64) {
        let mut m = self.entries.write().expect("denylist lock");
        let e = m.entry(id.to_owned()).or_insert(expires_at);
        *e = (*e).max(expires_at);
    }

    pub fn contains(&self, id: &str) -> bool {
        self.entries.read().expect("denylist lock").contains_key(id)
    }

    pub fn is_revoked(&self, identity: &Identity) -> bool {
        let m = self.entries.read().expect("denylist lock");
        if m.is_empty() {
            return false;
        }
        identity
            .session_id
            .as_deref()
            .is_some_and(|s| m.contains_key(s))
            || identity.jti.as_deref().is_some_and(|j| m.contains_key(j))
    }

    /// Entries whose tokens have all expired (plus leeway) are useless.
    pub fn purge_expired(&self, now: i64) {
        self.entries
            .write()
            .expect("denylist lock")
            .retain(|_, exp| *exp + LEEWAY_SECS as i64 >= now);
    }

    pub fn len(&self) -> usize {
        self.entries.read().expect("denylist lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

struct KeyState {
    keys: HashMap<String, DecodingKey>,
    last_fetch_attempt: Option<Instant>,
}

pub struct Verifier {
    jwks_url: String,
    http: reqwest::Client,
    validation: Validation,
    keys: RwLock<KeyState>,
    /// Serialises JWKS fetches so concurrent unknown-kid requests trigger one fetch.
    fetch_lock: tokio::sync::Mutex<()>,
    /// Distinguishes verifiers sharing a thread (tests run several gateways in one process).
    id: usize,
    refetch_min_interval: Duration,
    pub denylist: Arc<Denylist>,
}

const TOKEN_CACHE_CAPACITY: usize = 20_000;
const TOKEN_CACHE_TTL: Duration = Duration::from_secs(300);

/// Identity and when it was cached.
type CacheEntry = (Arc<Identity>, Instant);

thread_local! {
    /// Verified tokens (signature and claims) -> identity, per verifier, so the hot path skips
    /// the Ed25519 check. Per worker thread: no locks and no cross-thread wake-ups on the hot
    /// path. Expiry and revocation are still checked on every request.
    static TOKEN_CACHE: std::cell::RefCell<HashMap<usize, HashMap<String, CacheEntry>>> =
        std::cell::RefCell::new(HashMap::new());
}

fn cache_get(verifier: usize, token: &str) -> Option<Arc<Identity>> {
    TOKEN_CACHE.with(|c| {
        c.borrow()
            .get(&verifier)
            .and_then(|m| m.get(token))
            .filter(|(_, at)| at.elapsed() < TOKEN_CACHE_TTL)
            .map(|(id, _)| id.clone())
    })
}

fn cache_put(verifier: usize, token: &str, id: Arc<Identity>) {
    TOKEN_CACHE.with(|c| {
        let mut c = c.borrow_mut();
        let m = c.entry(verifier).or_default();
        if m.len() >= TOKEN_CACHE_CAPACITY {
            // Bounded: drop what is stale, or everything if nothing is.
            m.retain(|_, (_, at)| at.elapsed() < TOKEN_CACHE_TTL);
            if m.len() >= TOKEN_CACHE_CAPACITY {
                m.clear();
            }
        }
        m.insert(token.to_owned(), (id, Instant::now()));
    })
}

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl Verifier {
    pub fn new(
        auth_base_url: &str,
        issuer: &str,
        audience: &str,
        refetch_min_interval: Duration,
        denylist: Arc<Denylist>,
    ) -> Self {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.algorithms = vec![Algorithm::EdDSA];
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        Verifier {
            jwks_url: format!("{auth_base_url}/.well-known/jwks.json"),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(3))
                .build()
                .expect("reqwest client"),
            validation,
            keys: RwLock::new(KeyState {
                keys: HashMap::new(),
                last_fetch_attempt: None,
            }),
            fetch_lock: tokio::sync::Mutex::new(()),
            id: {
                static NEXT: std::sync::atomic::AtomicUsize =
                    std::sync::atomic::AtomicUsize::new(0);
                NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            },
            refetch_min_interval,
            denylist,
        }
    }

    pub fn key_count(&self) -> usize {
        self.keys.read().expect("keys lock").keys.len()
    }

    /// Fetches the JWKS and replaces the key set. Returns the number of usable keys.
    pub async fn refresh_keys(&self) -> anyhow::Result<usize> {
        {
            let mut st = self.keys.write().expect("keys lock");
            st.last_fetch_attempt = Some(Instant::now());
        }
        let set: JwkSet = self
            .http
            .get(&self.jwks_url)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let Some(kid) = jwk.common.key_id.clone() else {
                continue;
            };
            // Only Ed25519 keys can ever verify an EdDSA token; skip anything else.
            if let Ok(k) = DecodingKey::from_jwk(jwk) {
                if matches!(
                    jwk.algorithm,
                    jsonwebtoken::jwk::AlgorithmParameters::OctetKeyPair(_)
                ) {
                    keys.insert(kid, k);
                }
            }
        }
        let n = keys.len();
        self.keys.write().expect("keys lock").keys = keys;
        Ok(n)
    }

    fn key_for(&self, kid: &str) -> Option<DecodingKey> {
        self.keys.read().expect("keys lock").keys.get(kid).cloned()
    }

    async fn key_with_refetch(&self, kid: &str) -> Option<DecodingKey> {
        if let Some(k) = self.key_for(kid) {
            return Some(k);
        }
        let _guard = self.fetch_lock.lock().await;
        // Another request may have refreshed while we waited.
        if let Some(k) = self.key_for(kid) {
            return Some(k);
        }
        let recently = {
            let st = self.keys.read().expect("keys lock");
            // Until a first fetch succeeds (auth-service may start after the gateway), retry every
            // second instead of locking every client out for the whole refetch interval.
            let interval = if st.keys.is_empty() {
                self.refetch_min_interval.min(Duration::from_secs(1))
            } else {
                self.refetch_min_interval
            };
            st.last_fetch_attempt
                .is_some_and(|t| t.elapsed() < interval)
        };
        if recently {
            return None;
        }
        let _ = self.refresh_keys().await;
        self.key_for(kid)
    }

    pub async fn verify(&self, token: &str) -> Result<Arc<Identity>, AuthError> {
        if let Some(id) = cache_get(self.id, token) {
            return self.post_checks(id);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Malformed)?;
        if header.alg != Algorithm::EdDSA {
            return Err(AuthError::Invalid("algorithm not allowed".into()));
        }
        let typ_ok = header.typ.as_deref().is_some_and(|t| {
            t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
        });
        if !typ_ok {
            return Err(AuthError::Invalid("typ must be at+jwt".into()));
        }
        let kid = header.kid.ok_or(AuthError::Invalid("kid missing".into()))?;
        let key = self
            .key_with_refetch(&kid)
            .await
            .ok_or(AuthError::UnknownKey)?;
        let data = jsonwebtoken::decode::<Claims>(token, &key, &self.validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::ExpiredSignature => AuthError::Expired,
                ErrorKind::InvalidSignature => AuthError::Invalid("bad signature".into()),
                ErrorKind::InvalidIssuer => AuthError::Invalid("wrong issuer".into()),
                ErrorKind::InvalidAudience => AuthError::Invalid("wrong audience".into()),
                ErrorKind::ImmatureSignature => AuthError::Invalid("not valid yet".into()),
                ErrorKind::MissingRequiredClaim(c) => {
                    AuthError::Invalid(format!("claim {c} missing"))
                }
                _ => AuthError::Invalid("claims rejected".into()),
            }
        })?;
        let c = data.claims;
        let id = Arc::new(Identity {
            user_id: c.sub,
            roles: c.roles,
            session_id: c.sid,
            jti: c.jti,
            exp: c.exp,
        });
        cache_put(self.id, token, id.clone());
        self.post_checks(id)
    }

    fn post_checks(&self, id: Arc<Identity>) -> Result<Arc<Identity>, AuthError> {
        if id.exp + (LEEWAY_SECS as i64) < unix_now() {
            return Err(AuthError::Expired);
        }
        if self.denylist.is_revoked(&id) {
            return Err(AuthError::Revoked);
        }
        Ok(id)
    }
}

/// Keeps the key set fresh: retries quickly until the first successful fetch (auth-service may
/// start after the gateway), then refreshes every few minutes to pick up rotations early.
pub async fn run_jwks_refresher(
    verifier: Arc<Verifier>,
    logger: slog::Logger,
    cancel: tokio_util::sync::CancellationToken,
) {
    let mut loaded = false;
    loop {
        let wait = match verifier.refresh_keys().await {
            Ok(n) => {
                if !loaded {
                    slog::info!(logger, "jwks loaded"; "keys" => n);
                }
                loaded = true;
                Duration::from_secs(300)
            }
            Err(e) => {
                slog::warn!(logger, "jwks fetch failed"; "error" => e.to_string());
                if loaded {
                    Duration::from_secs(30)
                } else {
                    Duration::from_secs(2)
                }
            }
        };
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// `Authorization: Bearer <token>` -> token.
pub fn bearer_token(value: Option<&str>) -> Result<&str, AuthError> {
    let v = value.ok_or(AuthError::Missing)?.trim();
    let (scheme, token) = v.split_once(' ').ok_or(AuthError::Malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::Missing);
    }
    let token = token.trim();
    if token.is_empty() || token.split('.').count() != 3 {
        return Err(AuthError::Malformed);
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer_token(Some("Bearer a.b.c")), Ok("a.b.c"));
        assert_eq!(bearer_token(Some("bearer  a.b.c ")), Ok("a.b.c"));
        assert_eq!(bearer_token(None), Err(AuthError::Missing));
        assert_eq!(bearer_token(Some("Basic xyz")), Err(AuthError::Missing));
        assert_eq!(bearer_token(Some("Bearer abc")), Err(AuthError::Malformed));
    }

    #[test]
    fn denylist_matches_sid_or_jti_and_purges() {
        let d = Denylist::default();
        let id = Identity {
            user_id: "u".into(),
            roles: vec![],
            session_id: Some("s1".into()),
            jti: Some("j1".into()),
            exp: 100,
        };
        assert!(!d.is_revoked(&id));
        d.insert("j1", 100);
        assert!(d.is_revoked(&id));
        d.purge_expired(1000);
        assert!(!d.is_revoked(&id));
        d.insert("s1", 2000);
        assert!(d.is_revoked(&id));
    }
}
