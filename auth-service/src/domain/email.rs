use super::RuleViolation;

/// An email address in its normalized form (trimmed, lower-cased): the uniqueness key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, RuleViolation> {
        let normalized = raw.trim().to_lowercase();
        let bad = || RuleViolation::new("email", "must be a valid email address");
        if normalized.is_empty() || normalized.len() > 254 {
            return Err(bad());
        }
        let (local, domain) = normalized.split_once('@').ok_or_else(bad)?;
        let ok_chars = |s: &str| {
            s.chars()
                .all(|c| !c.is_whitespace() && !c.is_control() && c != '@')
        };
        if local.is_empty()
            || local.len() > 64
            || domain.len() < 3
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
            || domain.contains("..")
            || !ok_chars(local)
            || !ok_chars(domain)
        {
            return Err(bad());
        }
        Ok(Email(normalized))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_case_and_whitespace() {
        assert_eq!(
            Email::parse(" Ann@Example.COM ").unwrap().as_str(),
            "ann@example.com"
        );
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "", "a", "a@", "@b.co", "a@b", "a b@c.de", "a@@b.co", "a@.co", "a@b..co",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }
}
