use super::RuleViolation;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nickname(String);

impl Nickname {
    pub fn parse(raw: &str) -> Result<Self, RuleViolation> {
        let trimmed = raw.trim();
        let n = trimmed.chars().count();
        if !(2..=32).contains(&n) {
            return Err(RuleViolation::new("nickname", "must be 2 to 32 characters"));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(RuleViolation::new(
                "nickname",
                "must not contain control characters",
            ));
        }
        Ok(Nickname(trimmed.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds() {
        assert!(Nickname::parse("a").is_err());
        assert!(Nickname::parse("  ab ").is_ok());
        assert!(Nickname::parse("a\u{0}b").is_err());
        assert!(Nickname::parse(&"x".repeat(33)).is_err());
    }
}
