use rand::Rng;

/// Crockford base32 without ambiguous letters: easy to read aloud and type.
const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const LEN: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteCode(String);

impl InviteCode {
    pub fn generate() -> Self {
        let mut rng = rand::rng();
        InviteCode(
            (0..LEN)
                .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
                .collect(),
        )
    }

    /// Codes are matched case-insensitively; anything that cannot be a code is `None`.
    pub fn parse(raw: &str) -> Option<Self> {
        let up = raw.trim().to_ascii_uppercase();
        (up.len() == LEN && up.bytes().all(|b| ALPHABET.contains(&b))).then_some(InviteCode(up))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_codes_parse() {
        let c = InviteCode::generate();
        assert_eq!(InviteCode::parse(&c.as_str().to_lowercase()), Some(c));
        assert_eq!(InviteCode::parse("nope"), None);
    }
}
