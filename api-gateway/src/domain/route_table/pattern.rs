//! Path patterns of the route table: `/exact`, `{param}` segments and a trailing `/**` prefix.

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern {
    raw: String,
    segments: Vec<Segment>,
    /// Ends in `/**`: matches the prefix itself and everything below it.
    prefix: bool,
}

impl PathPattern {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if !raw.starts_with('/') {
            return Err(format!("path {raw:?} must start with '/'"));
        }
        let (body, prefix) = match raw.strip_suffix("/**") {
            Some(b) => (b, true),
            None => (raw, false),
        };
        let mut segments = Vec::new();
        if body != "/" && !body.is_empty() {
            for seg in body[1..].split('/') {
                if seg.is_empty() {
                    return Err(format!("path {raw:?} has an empty segment"));
                }
                if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    let ok = !name.is_empty()
                        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                    if !ok {
                        return Err(format!("path {raw:?}: bad parameter segment {seg:?}"));
                    }
                    segments.push(Segment::Param);
                } else if seg.contains(['{', '}', '*']) {
                    return Err(format!(
                        "path {raw:?}: segment {seg:?} must be a literal, a {{param}}, or a final /**"
                    ));
                } else {
                    segments.push(Segment::Literal(seg.to_owned()));
                }
            }
        }
        Ok(PathPattern {
            raw: raw.to_owned(),
            segments,
            prefix,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// `path` is the raw request path (no query). Segments are compared verbatim.
    pub fn matches(&self, path: &str) -> bool {
        let rest = match path.strip_prefix('/') {
            Some(r) => r,
            None => return false,
        };
        let mut parts = if rest.is_empty() {
            None
        } else {
            Some(rest.split('/'))
        };
        for seg in &self.segments {
            let part = match parts.as_mut().and_then(|p| p.next()) {
                Some(p) => p,
                None => return false,
            };
            match seg {
                Segment::Literal(l) => {
                    if l != part {
                        return false;
                    }
                }
                Segment::Param => {
                    if part.is_empty() {
                        return false;
                    }
                }
            }
        }
        match parts.as_mut().and_then(|p| p.next()) {
            None => true,
            // A trailing slash on an exact route is not the same resource.
            Some(_) => self.prefix,
        }
    }

    /// Whether the first segment is this literal (e.g. `internal`).
    pub fn starts_with_literal(&self, literal: &str) -> bool {
        matches!(self.segments.first(), Some(Segment::Literal(l)) if l == literal)
    }

    /// Larger is more specific.
    pub(super) fn specificity(&self) -> (usize, bool, usize) {
        let literals = self
            .segments
            .iter()
            .filter(|s| matches!(s, Segment::Literal(_)))
            .count();
        (literals, !self.prefix, self.segments.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_match_one_non_empty_segment() {
        let p = PathPattern::parse("/users/{id}/progress").unwrap();
        assert!(p.matches("/users/abc/progress"));
        assert!(!p.matches("/users//progress"));
        assert!(!p.matches("/users/abc/progress/x"));
        assert!(!p.matches("/users/abc"));
        let w = PathPattern::parse("/auth/**").unwrap();
        assert!(w.matches("/auth"));
        assert!(w.matches("/auth/login"));
        assert!(!w.matches("/authx"));
    }
}
