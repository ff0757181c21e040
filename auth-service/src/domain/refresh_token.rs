use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// An opaque refresh token: 256 random bits, base64url. Only its hash is ever stored.
pub struct RefreshToken(String);

/// Hex SHA-256 of a refresh token: the only form that reaches the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenHash(pub String);

impl RefreshToken {
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        RefreshToken(URL_SAFE_NO_PAD.encode(bytes))
    }

    pub fn from_client(raw: &str) -> Self {
        RefreshToken(raw.to_string())
    }

    pub fn hash(&self) -> RefreshTokenHash {
        RefreshTokenHash(hex::encode(Sha256::digest(self.0.as_bytes())))
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_unique_and_hash_stably() {
        let a = RefreshToken::generate();
        let b = RefreshToken::generate();
        assert_ne!(a.hash(), b.hash());
        assert_eq!(a.hash(), RefreshToken::from_client(&a.0).hash());
        assert!(a.0.len() >= 43);
    }
}
