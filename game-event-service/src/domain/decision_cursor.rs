//! The position of a live decision stream: the SSE `id:` of each pushed decision, and what a
//! client sends back as `Last-Event-ID` to have the decisions made after it replayed.
use super::claim::Claim;
use super::errors::FieldError;
use super::ids::ClaimId;
use std::fmt;

/// Decision time (epoch milliseconds, as stored) then claim id: two decisions of the same
/// millisecond still have an order, so a replay neither repeats nor skips one of them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DecisionCursor {
    pub at_ms: i64,
    pub claim_id: ClaimId,
}

pub const LAST_EVENT_ID: &str = "Last-Event-ID";

impl DecisionCursor {
    /// The cursor of a decided claim; none for a PENDING one.
    pub fn of(claim: &Claim) -> Option<DecisionCursor> {
        claim.decided_at.map(|t| DecisionCursor {
            at_ms: t.timestamp_millis(),
            claim_id: claim.id.clone(),
        })
    }

    /// `<millis>-<claim id>`, as `Display` writes it.
    pub fn parse(raw: &str) -> Result<DecisionCursor, FieldError> {
        let bad = || FieldError::new(LAST_EVENT_ID, "is not an event id this stream sent");
        let (ms, id) = raw.trim().split_once('-').ok_or_else(bad)?;
        let at_ms: i64 = ms.parse().map_err(|_| bad())?;
        let claim_id = ClaimId::parse(id).ok_or_else(bad)?;
        if at_ms < 0 {
            return Err(bad());
        }
        Ok(DecisionCursor { at_ms, claim_id })
    }
}

impl fmt::Display for DecisionCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.at_ms, self.claim_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_orders_by_time_then_id() {
        let a = DecisionCursor::parse("1700000000123-0190aaaa-bbbb").unwrap();
        assert_eq!(a.at_ms, 1_700_000_000_123);
        assert_eq!(a.claim_id.as_str(), "0190aaaa-bbbb");
        assert_eq!(DecisionCursor::parse(&a.to_string()).unwrap(), a);
        let b = DecisionCursor::parse("1700000000123-0190aaaa-cccc").unwrap();
        let c = DecisionCursor::parse("1700000000124-0000").unwrap();
        assert!(a < b && b < c);
    }

    #[test]
    fn refuses_what_it_never_sent() {
        for raw in ["", "abc", "12", "-5-x", "12-", "12-{\"$gt\":1}", "x-abc"] {
            let e = DecisionCursor::parse(raw).unwrap_err();
            assert_eq!(e.field, LAST_EVENT_ID, "{raw}");
        }
    }
}
