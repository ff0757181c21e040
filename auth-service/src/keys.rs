//! Ed25519 signing keys, access-token issuing and verification, and the JWKS document.

use crate::domain::{Role, SessionId, TokenId, UserId};
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use paperclip::actix::Apiv2Schema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;

pub const TOKEN_TYPE: &str = "at+jwt";
pub const LEEWAY_SECONDS: u64 = 30;

pub struct SigningKey {
    pub kid: String,
    x: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl SigningKey {
    /// `kid` defaults to the RFC 7638 thumbprint, so the same key always has the same id.
    pub fn from_pkcs8(der: &[u8], kid: Option<String>) -> anyhow::Result<Self> {
        let pair = Ed25519KeyPair::from_pkcs8(der)
            .map_err(|e| anyhow::anyhow!("not a PKCS#8 Ed25519 key: {e}"))?;
        let public = pair.public_key().as_ref().to_vec();
        let x = URL_SAFE_NO_PAD.encode(&public);
        let kid = kid.unwrap_or_else(|| thumbprint(&x));
        Ok(SigningKey {
            kid,
            x,
            encoding: EncodingKey::from_ed_der(der),
            decoding: DecodingKey::from_ed_der(&public),
        })
    }

    pub fn from_pem(pem: &str, kid: Option<String>) -> anyhow::Result<Self> {
        Self::from_pkcs8(&pem_to_der(pem)?, kid)
    }
}

pub fn generate_pkcs8() -> anyhow::Result<Vec<u8>> {
    let doc = Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new())
        .map_err(|_| anyhow::anyhow!("key generation failed"))?;
    Ok(doc.as_ref().to_vec())
}

fn thumbprint(x: &str) -> String {
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

fn pem_to_der(pem: &str) -> anyhow::Result<Vec<u8>> {
    let body: String = pem
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("-----"))
        .collect();
    STANDARD
        .decode(body)
        .map_err(|e| anyhow::anyhow!("invalid PEM: {e}"))
}

/// Reads every `*.pem` in a directory; names sort oldest first, so the last one signs.
pub fn load_dir(dir: &Path) -> anyhow::Result<Vec<SigningKey>> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "pem"))
        .collect();
    entries.sort();
    let mut keys = Vec::new();
    for path in entries {
        let kid = path
            .file_stem()
            .and_then(|s| s.to_str())
            .map(str::to_string);
        let pem = std::fs::read_to_string(&path)?;
        keys.push(
            SigningKey::from_pem(&pem, kid)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
        );
    }
    anyhow::ensure!(!keys.is_empty(), "no *.pem keys in {}", dir.display());
    Ok(keys)
}

/// Current keys: the last signs, all verify (so keys can rotate without logging anyone out).
pub struct KeyRing {
    keys: Vec<SigningKey>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    pub sub: UserId,
    pub roles: Vec<Role>,
    pub jti: TokenId,
    pub sid: SessionId,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
}

#[derive(Serialize, Deserialize, Apiv2Schema)]
pub struct Jwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    pub kid: String,
    pub alg: String,
    #[serde(rename = "use")]
    pub use_: String,
}

#[derive(Serialize, Deserialize, Apiv2Schema)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum VerifyError {
    Malformed,
    WrongAlgorithm,
    WrongType,
    UnknownKey,
    Invalid,
}

impl KeyRing {
    pub fn new(keys: Vec<SigningKey>) -> anyhow::Result<Self> {
        anyhow::ensure!(!keys.is_empty(), "key ring needs at least one key");
        Ok(KeyRing { keys })
    }

    pub fn signer(&self) -> &SigningKey {
        self.keys.last().expect("non-empty by construction")
    }

    pub fn jwks(&self) -> Jwks {
        Jwks {
            keys: self
                .keys
                .iter()
                .rev()
                .map(|k| Jwk {
                    kty: "OKP".into(),
                    crv: "Ed25519".into(),
                    x: k.x.clone(),
                    kid: k.kid.clone(),
                    alg: "EdDSA".into(),
                    use_: "sig".into(),
                })
                .collect(),
        }
    }

    pub fn sign(&self, claims: &Claims) -> anyhow::Result<String> {
        let key = self.signer();
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some(TOKEN_TYPE.into());
        header.kid = Some(key.kid.clone());
        Ok(jsonwebtoken::encode(&header, claims, &key.encoding)?)
    }

    pub fn verify(&self, token: &str, issuer: &str, audience: &str) -> Result<Claims, VerifyError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| VerifyError::Malformed)?;
        if header.alg != Algorithm::EdDSA {
            return Err(VerifyError::WrongAlgorithm);
        }
        if header.typ.as_deref() != Some(TOKEN_TYPE) {
            return Err(VerifyError::WrongType);
        }
        let kid = header.kid.ok_or(VerifyError::UnknownKey)?;
        let key = self
            .keys
            .iter()
            .find(|k| k.kid == kid)
            .ok_or(VerifyError::UnknownKey)?;
        let mut v = Validation::new(Algorithm::EdDSA);
        v.leeway = LEEWAY_SECONDS;
        v.validate_nbf = true;
        v.set_issuer(&[issuer]);
        v.set_audience(&[audience]);
        v.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        jsonwebtoken::decode::<Claims>(token, &key.decoding, &v)
            .map(|d| d.claims)
            .map_err(|_| VerifyError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(now: i64) -> Claims {
        Claims {
            sub: "u1".into(),
            roles: vec![Role::User],
            jti: "j".into(),
            sid: "s".into(),
            iat: now,
            nbf: now,
            exp: now + 900,
            iss: "iss".into(),
            aud: "aud".into(),
        }
    }

    #[test]
    fn signs_and_verifies_and_rotates() {
        let old = SigningKey::from_pkcs8(&generate_pkcs8().unwrap(), None).unwrap();
        let old_ring = KeyRing::new(vec![SigningKey::from_pkcs8(
            &generate_pkcs8().unwrap(),
            None,
        )
        .unwrap()])
        .unwrap();
        let now = chrono::Utc::now().timestamp();
        let ring_old_only = KeyRing::new(vec![old]).unwrap();
        let token = ring_old_only.sign(&claims(now)).unwrap();
        assert_eq!(
            ring_old_only.verify(&token, "iss", "aud").unwrap(),
            claims(now)
        );
        assert_eq!(
            ring_old_only.verify(&token, "other", "aud"),
            Err(VerifyError::Invalid)
        );
        assert_eq!(
            ring_old_only.verify(&token, "iss", "other"),
            Err(VerifyError::Invalid)
        );
        assert_eq!(
            old_ring.verify(&token, "iss", "aud"),
            Err(VerifyError::UnknownKey)
        );
        assert_eq!(ring_old_only.jwks().keys.len(), 1);
    }
}
