use super::RuleViolation;
use secrecy::{ExposeSecret, SecretString};

/// A password that satisfies the policy; never logged, never serialized.
#[derive(Debug)]
pub struct Password(SecretString);

impl Password {
    pub const MIN_CHARS: usize = 8;
    /// bcrypt only looks at the first 72 bytes: longer inputs would silently collide.
    pub const MAX_BYTES: usize = 72;

    pub fn parse(raw: &str) -> Result<Self, RuleViolation> {
        if raw.chars().count() < Self::MIN_CHARS {
            return Err(RuleViolation::new(
                "password",
                format!("must be at least {} characters", Self::MIN_CHARS),
            ));
        }
        if raw.len() > Self::MAX_BYTES {
            return Err(RuleViolation::new(
                "password",
                format!("must be at most {} bytes", Self::MAX_BYTES),
            ));
        }
        Ok(Password(SecretString::from(raw.to_string())))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enforces_length_bounds() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse("12345678").is_ok());
        assert!(Password::parse(&"x".repeat(73)).is_err());
    }
}
