use crate::domain::FieldError;
use actix_web::HttpRequest;

/// The `Idempotency-Key` header: 1 to 255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

pub const HEADER: &str = "Idempotency-Key";

impl IdempotencyKey {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        if s.is_empty() || s.len() > 255 || !s.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(FieldError::new(
                HEADER,
                "must be 1 to 255 visible ASCII characters",
            ));
        }
        Ok(IdempotencyKey(s.to_string()))
    }

    /// None when the request carries no key.
    pub fn from_request(req: &HttpRequest) -> Result<Option<Self>, FieldError> {
        req.headers()
            .get(HEADER)
            .map(|v| Self::parse(v.to_str().unwrap_or("")))
            .transpose()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_bounded_visible_ascii() {
        assert!(IdempotencyKey::parse("key-1").is_ok());
        assert!(IdempotencyKey::parse("").is_err());
        assert!(IdempotencyKey::parse("a b").is_err());
        assert!(IdempotencyKey::parse(&"k".repeat(256)).is_err());
    }
}
