//! A batch on its way through the decision: its claims with what was concluded so far.
use crate::domain::claim::{Claim, Decision, RejectReason};
use crate::domain::conditions::ConditionProgress;
use crate::domain::eligibility::Stock;
use crate::domain::event::Event;
use crate::domain::EventId;
use std::collections::HashMap;
use std::sync::Arc;

/// The batch's events from the catalog; `None` for one that no longer exists.
pub type Events = HashMap<EventId, Option<Arc<Event>>>;

/// A claim on its way through the batch.
pub struct Pending {
    pub claim: Claim,
    pub path: Path,
    pub decision: Option<Decision>,
}

/// How the batch evaluates a claim, which decides what it may do with stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// Under this batch's lease: it may take a unit, or give back one it holds.
    Leased,
    /// Its event's stock has no unit left and it holds none: rejected without a lease.
    SoldOut,
    /// Its event has no stock: the decision is its only write.
    NoStock,
}

impl Path {
    /// The stock the verdict sees.
    pub fn stock(self) -> Stock {
        match self {
            Path::Leased => Stock::TakenOnApproval,
            Path::SoldOut => Stock::Remaining(0),
            Path::NoStock => Stock::Unlimited,
        }
    }
}

pub fn approved(p: &Pending) -> bool {
    matches!(p.decision, Some(Decision::Approved { .. }))
}

pub fn progress_of(p: &Pending) -> Option<Vec<ConditionProgress>> {
    match &p.decision {
        Some(Decision::Approved { progress }) => Some(progress.clone()),
        Some(Decision::Rejected { progress, .. }) => progress.clone(),
        None => None,
    }
}

pub fn rejected(reason: RejectReason, progress: Option<Vec<ConditionProgress>>) -> Decision {
    Decision::Rejected { reason, progress }
}
